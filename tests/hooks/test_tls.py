"""TLS is always verified, in both transports; a private CA is named with the connection extra
``ca_bundle`` (shown with the emulator on https://127.0.0.1 and a CA made for the test)."""

from __future__ import annotations

import pytest

from airflow_provider_compress.emulator.process import EmulatorProcess
from airflow_provider_compress.exceptions import CompressConnectionError
from tests.support import Twin, use_connection


@pytest.fixture(scope="module")
def tls_emulator(tmp_path_factory):
    """The emulator on https://127.0.0.1 with a certificate of a private CA made for the test."""
    folder = tmp_path_factory.mktemp("tls")
    ca, cert, key = private_ca_certificate(folder)
    with EmulatorProcess(job_seconds=2, ssl_certfile=cert, ssl_keyfile=key) as emu:
        assert emu.url.startswith("https://")
        yield emu, ca


def test_tls_is_verified_and_a_private_ca_can_be_named(transport, monkeypatch, tls_emulator):
    emu, ca = tls_emulator
    use_connection(monkeypatch, emu, retry_limit=1)
    with pytest.raises(CompressConnectionError, match=r"(?i)certificate|ssl"):
        Twin(transport).list_jobs(page_size=1)  # not trusted by default: verification is on
    use_connection(monkeypatch, emu, ca_bundle=str(ca))
    assert Twin(transport).list_jobs(page_size=1).page_size == 1


def private_ca_certificate(folder):
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    now = dt.datetime.now(dt.timezone.utc)
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(name("test private CA"))
        .issuer_name(name("test private CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(name("127.0.0.1"))
        .issuer_name(ca_cert.subject)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca_cert.public_bytes(pem))
    paths[1].write_bytes(server_cert.public_bytes(pem))
    paths[2].write_bytes(
        server_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths

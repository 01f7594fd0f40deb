"""Hostile and careless input, over real HTTP: keys with stray characters, clear-text hosts, ids
that are path segments, servers that trickle, page forever or answer in the wrong shape."""

from __future__ import annotations

import dataclasses
import json
import logging
import time

import pytest
from conftest import PLAIN_TEMPLATE, SFT_MODEL
from test_hook import Twin

from airflow_provider_compress import protocol
from airflow_provider_compress.emulator.process import EmulatorProcess
from airflow_provider_compress.exceptions import (
    CompressConnectionError,
    CompressValidationError,
    InvalidResponseError,
)
from airflow_provider_compress.hooks import base as hooks_base
from airflow_provider_compress.hooks.compress import CompressHook
from airflow_provider_compress.protocol import ClientSettings

KEY = "sk-HARDEN-0d9c41"
JOBS = r"/api/v1/fine-tunes/compress/jobs"


@pytest.fixture(params=["sync", "async"])
def kind(request):
    return request.param


@pytest.fixture(scope="module")
def keyed():
    with EmulatorProcess(api_key=KEY, job_seconds=2, log_lines=5) as emu:
        yield emu


def connection(monkeypatch, emu, password: str | None = None, **extra) -> None:
    conn = json.loads(emu.connection_json(retry_delay=0.01, retry_max_delay=0.05, **extra))
    if password is not None:
        conn["password"] = password
    monkeypatch.setenv("AIRFLOW_CONN_DASHSCOPE_DEFAULT", json.dumps(conn))


# --- keys


@pytest.mark.parametrize("stored", [KEY + "\n", f"  {KEY}\r\n", f"\t{KEY} "])
def test_a_key_with_surrounding_whitespace_is_used_stripped(kind, monkeypatch, keyed, stored):
    connection(monkeypatch, keyed, password=stored)
    assert Twin(kind).list_jobs(page_size=1).page_size == 1


@pytest.mark.parametrize("stored", [f"sk-HARDEN\n{KEY}", f"{KEY}\x00", f"sk-HARD EN-{KEY}", f"{KEY}é"])
def test_a_key_with_other_stray_characters_is_refused_without_quoting_it(kind, monkeypatch, keyed, stored):
    connection(monkeypatch, keyed, password=stored)
    before = keyed.state()["requests"]
    with pytest.raises(
        CompressValidationError, match="password: the API key must be printable ASCII"
    ) as raised:
        Twin(kind).list_jobs(page_size=1)
    assert KEY not in str(raised.value) and "HARDEN" not in repr(raised.value)
    assert keyed.state()["requests"] == before
    ok, message = CompressHook().test_connection()
    assert not ok and KEY not in message


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_request_the_http_library_refuses_is_neither_quoted_nor_retried(kind, monkeypatch, keyed, caplog):
    """Past the checks (a key that reached the transport anyway): requests' InvalidHeader and
    aiohttp's ValueError quote the header; the error and the log must not."""
    connection(monkeypatch, keyed)
    bad = dataclasses.replace(ClientSettings.from_connection(host=keyed.url, password=KEY, extra={}))
    object.__setattr__(bad, "api_key", f"{KEY}\nX-Injected: 1")
    monkeypatch.setattr(hooks_base, "_settings", lambda conn: bad)
    caplog.set_level(logging.DEBUG)
    before = keyed.state()["requests"]
    started = time.monotonic()
    with pytest.raises(CompressValidationError, match=r"request: GET .* could not be sent") as raised:
        Twin(kind).list_jobs(page_size=1)
    assert time.monotonic() - started < 2  # not retried with backoff
    assert KEY not in str(raised.value) and KEY not in caplog.text
    assert keyed.state()["requests"] == before


# --- transport security


@pytest.mark.parametrize(
    "host", ["http://dashscope.aliyuncs.com", "http://10.0.0.8:8089", "dashscope.example"]
)
def test_clear_text_to_another_host_is_refused(host):
    schema = "http" if "://" not in host else None
    with pytest.raises(CompressValidationError, match="host: http:// to a host that is not this machine"):
        ClientSettings.from_connection(host=host, password=KEY, extra={}, schema=schema)
    allowed = ClientSettings.from_connection(
        host=host, password=KEY, extra={"allow_insecure_http": "true"}, schema=schema
    )
    assert allowed.base_url.startswith("http://")


@pytest.mark.parametrize("host", ["http://127.0.0.1:8089", "http://localhost:8089", "http://[::1]:8089"])
def test_clear_text_to_this_machine_is_allowed(host):
    assert ClientSettings.from_connection(host=host, password=KEY, extra={}).base_url == host


def test_a_ca_bundle_that_is_not_a_file_is_refused(tmp_path):
    with pytest.raises(CompressValidationError, match=r"extra\.ca_bundle: must be a CA file"):
        ClientSettings.from_connection(host=None, password=KEY, extra={"ca_bundle": str(tmp_path / "no.pem")})


@pytest.fixture(scope="module")
def tls_emulator(tmp_path_factory):
    """The emulator on https://127.0.0.1 with a certificate of a private CA made for the test."""
    folder = tmp_path_factory.mktemp("tls")
    ca, cert, key = private_ca_certificate(folder)
    with EmulatorProcess(api_key=KEY, job_seconds=2, ssl_certfile=cert, ssl_keyfile=key) as emu:
        assert emu.url.startswith("https://")
        yield emu, ca


def test_tls_is_verified_and_a_private_ca_can_be_named(kind, monkeypatch, tls_emulator):
    emu, ca = tls_emulator
    connection(monkeypatch, emu, retry_limit=1)
    with pytest.raises(CompressConnectionError, match=r"(?i)certificate|ssl"):
        Twin(kind).list_jobs(page_size=1)  # not trusted by default: verification is on
    connection(monkeypatch, emu, ca_bundle=str(ca))
    assert Twin(kind).list_jobs(page_size=1).page_size == 1


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


# --- intervals, timeouts and ids


@pytest.mark.parametrize("value", [0, -1, 0.5, None])
def test_intervals_below_a_second_are_refused_where_they_are_given(value):
    from airflow_provider_compress.operators.compress import (
        CancelCompressJobOperator,
        CreateCompressJobOperator,
    )
    from airflow_provider_compress.operators.deployment import DeleteDeploymentOperator
    from airflow_provider_compress.sensors.compress import CompressJobSensor
    from airflow_provider_compress.triggers.compress import CompressJobTrigger

    builders = {
        "poll_interval": [
            lambda: CreateCompressJobOperator(
                task_id="t", model=SFT_MODEL, template_id=PLAIN_TEMPLATE, poll_interval=value
            ),
            lambda: CancelCompressJobOperator(task_id="t", job_id="j", poll_interval=value),
            lambda: DeleteDeploymentOperator(task_id="t", deployed_model="d", poll_interval=value),
            lambda: CompressJobTrigger("dashscope_default", "j", poll_interval=value),
        ],
        "poke_interval": [lambda: CompressJobSensor(task_id="t", job_id="j", poke_interval=value)],
    }
    for field, makers in builders.items():
        for make in makers:
            # Before ours, Airflow's own sensor refuses some values (on 3.1: AirflowException).
            refusals = Exception if field == "poke_interval" else ValueError
            with pytest.raises(refusals, match=field):
                make()


@pytest.mark.parametrize("value", [0, -5])
def test_timeouts_must_be_positive(value):
    from airflow_provider_compress.operators.compress import (
        CancelCompressJobOperator,
        CreateCompressJobOperator,
    )
    from airflow_provider_compress.operators.deployment import DeleteDeploymentOperator

    for make in [
        lambda: CreateCompressJobOperator(
            task_id="t", model=SFT_MODEL, template_id=PLAIN_TEMPLATE, timeout=value
        ),
        lambda: CancelCompressJobOperator(task_id="t", job_id="j", timeout=value),
        lambda: DeleteDeploymentOperator(task_id="t", deployed_model="d", timeout=value),
    ]:
        with pytest.raises(ValueError, match="timeout: must be a number of seconds > 0"):
            make()


@pytest.mark.parametrize("job_id", ["", "  ", ".", "..", "a\nb", "x\x7f"])
@pytest.mark.parametrize("method", ["get_job", "cancel_job", "delete_job", "get_logs"])
def test_ids_that_are_no_path_segment_are_refused_before_any_request(
    kind, monkeypatch, keyed, job_id, method
):
    connection(monkeypatch, keyed)
    if kind == "async" and method in ("cancel_job", "delete_job", "get_logs"):
        pytest.skip("the async hook reads; one read covers its shared path building")
    before = keyed.state()["requests"]
    with pytest.raises(CompressValidationError, match="job_id"):
        getattr(Twin(kind), method)(job_id)
    assert keyed.state()["requests"] == before


# --- a server that trickles, pages forever, or answers in the wrong shape


def test_the_timeout_is_a_total_even_when_the_answer_trickles(kind, monkeypatch, keyed):
    """The answer's body comes a byte at a time over 8 s: each read is quick, the whole is not."""
    connection(monkeypatch, keyed, timeout=2, retry_limit=1)
    keyed.set_faults(slow_seconds=8)
    keyed.fail_next(1, "trickle")
    try:
        started = time.monotonic()
        with pytest.raises(CompressConnectionError):
            Twin(kind).list_jobs(page_size=1)
        assert time.monotonic() - started < 4
    finally:
        keyed.set_faults(slow_seconds=35)


def page(total: int, page_no: int, count: int) -> str:
    jobs = [{"job_id": f"quant-x-{i}", "job_name": f"n{i}", "status": "RUNNING"} for i in range(count)]
    return json.dumps(
        {"request_id": "r", "output": {"total": total, "page_no": page_no, "page_size": 100, "jobs": jobs}}
    )


def test_paging_advances_from_the_request_not_the_echoed_page(kind, monkeypatch, keyed):
    """A server that echoes page 1 every time: the walk still ends, at ``total``."""
    connection(monkeypatch, keyed)
    keyed.answer_next(3, page(total=250, page_no=1, count=100), method="GET", path=JOBS)
    assert len(Twin(kind).iter_jobs()) == 300  # three pages asked, then total is reached


def test_paging_stops_on_an_empty_page(kind, monkeypatch, keyed):
    connection(monkeypatch, keyed)
    keyed.answer_next(1, page(total=1000, page_no=1, count=100), method="GET", path=JOBS)
    keyed.answer_next(1, page(total=1000, page_no=2, count=0), method="GET", path=JOBS)
    assert len(Twin(kind).iter_jobs()) == 100


def test_paging_is_bounded(kind, monkeypatch, keyed):
    connection(monkeypatch, keyed)
    monkeypatch.setattr(protocol, "MAX_PAGES", 4)
    keyed.answer_next(4, page(total=10**9, page_no=1, count=100), method="GET", path=JOBS)
    with pytest.raises(InvalidResponseError, match="did not end within 4 pages"):
        Twin(kind).iter_jobs()


def test_a_log_read_is_bounded_and_goes_on_next_time(kind, monkeypatch, keyed):
    connection(monkeypatch, keyed)
    monkeypatch.setattr(protocol, "MAX_PAGES", 2)
    body = json.dumps({"request_id": "r", "output": {"total": 10**9, "logs": ["a line"] * 1000}})
    keyed.answer_next(2, body, method="GET", path=JOBS + "/.*/logs")
    assert len(Twin(kind).iter_logs("quant-any")) == 2000


@pytest.mark.parametrize(
    ("output", "field"),
    [
        ({"total": 2, "logs": "two\nlines"}, "logs"),
        ({"total": 2, "logs": [1, 2]}, "logs"),
        ({"total": "lots", "logs": []}, "total"),
        ({"total": True, "logs": []}, "total"),
        (["not", "an", "object"], "JobLogs"),
    ],
)
def test_a_log_page_of_another_shape_is_an_invalid_response(kind, monkeypatch, keyed, output, field):
    connection(monkeypatch, keyed, retry_limit=1)
    keyed.answer_next(1, json.dumps({"request_id": "r", "output": output}), path=JOBS + "/.*/logs")
    with pytest.raises(InvalidResponseError, match=field) as raised:
        Twin(kind).get_logs("quant-any")
    assert raised.value.request_id == "r"


def test_a_log_page_without_lines_is_empty(kind, monkeypatch, keyed):
    connection(monkeypatch, keyed)
    keyed.answer_next(
        1, json.dumps({"request_id": "r", "output": {"total": 0, "logs": None}}), path=JOBS + "/.*/logs"
    )
    assert Twin(kind).get_logs("quant-any").logs == []


@pytest.mark.parametrize(
    ("output", "field"),
    [({"job_id": "j", "status": 3}, "status"), ({"job_id": "j", "status": {"s": "RUNNING"}}, "status")],
)
def test_a_job_of_another_shape_is_an_invalid_response(kind, monkeypatch, keyed, output, field):
    connection(monkeypatch, keyed, retry_limit=1)
    keyed.answer_next(1, json.dumps({"request_id": "r", "output": output}), path=JOBS + "/[^/]+")
    with pytest.raises(InvalidResponseError, match=field):
        Twin(kind).get_job("j")


@pytest.mark.parametrize("jobs", ["none", [1, 2], {"a": 1}])
def test_a_list_of_another_shape_is_an_invalid_response(kind, monkeypatch, keyed, jobs):
    connection(monkeypatch, keyed, retry_limit=1)
    body = {"request_id": "r", "output": {"total": 1, "page_no": 1, "page_size": 10, "jobs": jobs}}
    keyed.answer_next(1, json.dumps(body), method="GET", path=JOBS)
    with pytest.raises(InvalidResponseError, match="jobs"):
        Twin(kind).list_jobs()


# --- a log that cannot be read never fails a job that succeeded; unknown statuses are named


@pytest.fixture
def fresh(monkeypatch, keyed):
    """The keyed emulator with nothing queued afterwards (a test may leave answers unused)."""
    connection(monkeypatch, keyed)
    yield keyed
    keyed.reset()


GARBAGE_LOGS = json.dumps({"request_id": "r", "output": {"total": 3, "logs": "not a list"}})


async def test_the_trigger_reports_success_when_the_log_cannot_be_read(fresh, caplog):
    from airflow_provider_compress.triggers.compress import CompressJobTrigger

    job = CompressHook().create_job(model=SFT_MODEL, template_id=PLAIN_TEMPLATE)
    fresh.answer_next(50, GARBAGE_LOGS, path=JOBS + "/.*/logs")
    trigger = CompressJobTrigger("dashscope_default", job.job_id, poll_interval=1)
    trigger._log = logging.getLogger("test.hardening")
    caplog.set_level(logging.WARNING, logger="test.hardening")
    events = [event.payload async for event in trigger.run()]
    await hooks_base.close_async_clients()
    assert [e["status"] for e in events] == ["SUCCEEDED"]
    assert "Could not read the log of" in caplog.text


def test_a_worker_wait_succeeds_when_the_log_cannot_be_read(fresh, capsys):
    from airflow_provider_compress.operators.compress import CreateCompressJobOperator

    job = CompressHook().create_job(model=SFT_MODEL, template_id=PLAIN_TEMPLATE)
    fresh.answer_next(50, GARBAGE_LOGS, path=JOBS + "/.*/logs")
    operator = CreateCompressJobOperator(
        task_id="t", model=SFT_MODEL, template_id=PLAIN_TEMPLATE, poll_interval=1
    )
    assert operator._wait(job.job_id, None).status == "SUCCEEDED"
    assert "Could not read the log of" in capsys.readouterr().out  # the task logger writes there


async def test_an_unknown_status_is_warned_about_once_and_polled_on(fresh, caplog):
    from airflow_provider_compress.triggers.compress import CompressJobTrigger

    job = CompressHook().create_job(model=SFT_MODEL, template_id=PLAIN_TEMPLATE)
    weird = json.dumps({"request_id": "r", "output": {"job_id": job.job_id, "status": "PAUSED_FOR_AUDIT"}})
    fresh.answer_next(3, weird, method="GET", path=JOBS + "/[^/]+")
    trigger = CompressJobTrigger("dashscope_default", job.job_id, poll_interval=1)
    trigger._log = logging.getLogger("test.hardening")
    caplog.set_level(logging.WARNING, logger="test.hardening")
    events = [event.payload async for event in trigger.run()]
    await hooks_base.close_async_clients()
    assert [e["status"] for e in events] == ["SUCCEEDED"]
    assert caplog.text.count("'PAUSED_FOR_AUDIT', which the provider does not know") == 1


# --- properties: whatever the arguments or the answers, only the provider's errors escape, and
# the key appears in no error and no log line


def allowed(error: BaseException, local: bool) -> bool:
    """The provider's own errors; ValueError and TypeError too where the caller's arguments are
    to blame (``local``), never for what a server answered."""
    from airflow_provider_compress.exceptions import CompressError

    return isinstance(error, (CompressError, ValueError, TypeError) if local else CompressError)


def json_values():
    from hypothesis import strategies as st

    scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
        max_leaves=8,
    )


def answers():
    from hypothesis import strategies as st

    shaped = st.fixed_dictionaries(
        {},
        optional={
            "total": json_values(),
            "page_no": json_values(),
            "page_size": json_values(),
            "jobs": json_values(),
            "logs": json_values(),
            "status": json_values(),
            "job_id": json_values(),
            "custom_models": json_values(),
        },
    )
    envelopes = st.fixed_dictionaries(
        {"output": shaped | json_values()}, optional={"request_id": json_values(), "code": json_values()}
    )
    return st.one_of(
        envelopes.map(json.dumps), json_values().map(json.dumps), st.text(max_size=80), st.just("")
    )


CALLS = {
    "get_job": lambda hook: hook.get_job("quant-any"),
    "get_logs": lambda hook: hook.get_logs("quant-any"),
    "list_jobs": lambda hook: hook.list_jobs(),
    "iter_jobs": lambda hook: hook.iter_jobs(),
    "cancel_job": lambda hook: hook.cancel_job("quant-any"),
}


def test_any_answer_raises_nothing_but_the_providers_errors(monkeypatch, keyed, caplog):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    connection(monkeypatch, keyed, retry_limit=1)
    caplog.set_level(logging.DEBUG)

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(
        body=answers(),
        status=st.sampled_from([200, 200, 200, 201, 400, 401, 404, 409, 429, 500, 503]),
        call=st.sampled_from(sorted(CALLS)),
        kind=st.sampled_from(["sync", "async"]),
    )
    def check(body, status, call, kind):
        keyed.reset()
        keyed.answer_next(1, body, status=status)
        try:
            CALLS[call](Twin(kind))
        except BaseException as error:
            assert allowed(error, local=False), f"{type(error).__name__} escaped {call}: {error}"
            assert KEY not in str(error) and KEY not in repr(error)

    check()
    assert KEY not in caplog.text


def test_any_arguments_raise_nothing_but_the_providers_errors(monkeypatch, keyed, caplog):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    connection(monkeypatch, keyed, retry_limit=1)
    caplog.set_level(logging.DEBUG)
    anything = json_values() | st.text(max_size=20)
    calls = st.one_of(
        st.tuples(st.just("get_job"), st.fixed_dictionaries({"job_id": anything})),
        st.tuples(
            st.just("get_logs"),
            st.fixed_dictionaries({"job_id": anything, "offset": anything, "line": anything}),
        ),
        st.tuples(
            st.just("list_jobs"),
            st.fixed_dictionaries(
                {},
                optional={
                    "page_no": anything,
                    "page_size": anything,
                    "status": anything,
                    "start_time": anything,
                    "end_time": anything,
                    "sort_order": anything,
                    "job_name": anything,
                },
            ),
        ),
        st.tuples(
            st.just("create_job"),
            st.fixed_dictionaries(
                {
                    "model": st.sampled_from([SFT_MODEL, "x"]) | anything,
                    "template_id": st.just(PLAIN_TEMPLATE) | anything,
                },
                optional={
                    "job_name": anything,
                    "hyper_parameters": anything,
                    "custom_calibration_file_ids": anything,
                    "output_model_suffix": anything,
                    "job_description": anything,
                },
            ),
        ),
    )

    @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(call=calls)
    def check(call):
        method, arguments = call
        try:
            getattr(CompressHook(), method)(**arguments)
        except BaseException as error:
            assert allowed(error, local=True), (
                f"{type(error).__name__} escaped {method}({arguments!r}): {error}"
            )
            assert KEY not in str(error) and KEY not in repr(error)

    check()
    assert KEY not in caplog.text

"""The emulator reads no request body before the key is checked, and none past its size limit:
keyless uploads cost it no memory, oversized bodies are answered 413 before (or as soon as) they
pass the limit. Over plain HTTP and raw sockets, independently of our hooks."""

from __future__ import annotations

import socket

import pytest
import requests

from airflow_provider_compress.emulator.process import EmulatorProcess
from airflow_provider_compress.emulator.uploads import FILE_MAX_BYTES

MIB = 1024 * 1024
BODY_MAX = MIB  # of a request's body, besides an upload's file (docs/emulator.md)


@pytest.fixture(scope="module")
def emulator():
    with EmulatorProcess() as emu:
        yield emu


def peak_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))


def multipart(size: int):
    """A chunked multipart upload of one file of ``size`` bytes, made as it is sent."""
    yield b'--b\r\nContent-Disposition: form-data; name="files"; filename="big.jsonl"\r\n\r\n'
    block = b"x" * MIB
    for _ in range(size // MIB):
        yield block
    yield b"\r\n--b--\r\n"


def upload(emu: EmulatorProcess, size: int, key: str | None) -> requests.Response:
    headers = {"Content-Type": "multipart/form-data; boundary=b"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return requests.post(f"{emu.url}/api/v1/files", data=multipart(size), headers=headers, timeout=60)


def test_keyless_uploads_are_refused_without_being_held():
    """Three keyless uploads of 100 MiB each: 401 each time, and the peak memory (VmHWM) of a
    fresh emulator grows by far less than one of them (reading them first held each whole)."""
    with EmulatorProcess() as emulator:
        before = peak_rss_kib(emulator.pid)
        for _ in range(3):
            answer = upload(emulator, 100 * MIB, key=None)
            assert answer.status_code == 401 and answer.json()["code"] == "InvalidApiKey"
        assert peak_rss_kib(emulator.pid) - before < 20 * 1024


def test_a_body_whose_length_passes_the_limit_is_refused_before_it_is_sent(emulator):
    """Content-Length says 50 MiB on a JSON route (1 MiB at most): the 413 comes at once, with
    none of the body sent."""
    with socket.create_connection(("127.0.0.1", int(emulator.url.rsplit(":", 1)[1])), timeout=10) as sock:
        sock.sendall(
            b"POST /api/v1/fine-tunes/compress/jobs HTTP/1.1\r\nHost: emulator\r\n"
            + f"Authorization: Bearer {emulator.api_key}\r\n".encode()
            + f"Content-Type: application/json\r\nContent-Length: {50 * MIB}\r\n\r\n".encode()
        )
        status_line = sock.makefile("rb").readline()
    assert status_line.startswith(b"HTTP/1.1 413")


def test_a_chunked_body_is_cut_at_the_limit(emulator):
    """An upload with the key, chunked, larger than a file may be: 413 once the limit is passed."""
    answer = upload(emulator, FILE_MAX_BYTES + BODY_MAX + MIB, key=emulator.api_key)
    assert (
        answer.status_code == 413
        and answer.text == f"request body larger than {FILE_MAX_BYTES + BODY_MAX} bytes"
    )
    assert emulator.state()["files"] == {}


def test_bodies_within_the_limit_are_served(emulator):
    answer = upload(emulator, 2 * MIB, key=emulator.api_key)
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["uploaded_files"][0]["file_id"].startswith("file-")
    create = requests.post(
        f"{emulator.url}/api/v1/fine-tunes/compress/jobs",
        data=b"{" + b" " * (BODY_MAX - 2) + b"}",
        headers={"Authorization": f"Bearer {emulator.api_key}", "Content-Type": "application/json"},
        timeout=10,
    )
    assert create.status_code == 400 and create.json()["code"] in ("MissingModel", "MissingParameter")

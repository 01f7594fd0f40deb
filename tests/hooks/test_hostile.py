"""Both transports against hostile answers, over real HTTP: answers too large or compressed a
thousandfold, nested without end, redirects, a success carrying an error code, a request given up
at its deadline, and secrets that a server or a proxy puts into what it answers.

What the emulator can send is sent by it (its ``answer`` fault); what needs bytes it cannot
write (encodings, lying lengths, bodies without end, redirects elsewhere, a proxy) comes from a
``tests.support.hostile.HostileServer``. Properties over any answer: test_hostile_properties.py."""

from __future__ import annotations

import functools
import itertools
import json
import logging
import threading

import pytest

from airflow_provider_compress.emulator.process import EmulatorProcess
from airflow_provider_compress.exceptions import (
    CompressApiError,
    CompressConnectionError,
    CompressError,
    CompressValidationError,
    InvalidResponseError,
    ServerError,
)
from airflow_provider_compress.hooks.compress import CompressHook
from tests.support import JOBS_PATH, PLAIN_TEMPLATE, SFT_MODEL, Twin, provider_log_records, unique_name
from tests.support.hostile import Answer, HostileServer, compressed, job_answer, zeros
from tests.support.live_stack import wait_until

KEY = "sk-HOSTILE-7c1e5a90"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def keyed():
    with EmulatorProcess(api_key=KEY, job_seconds=2, log_lines=5) as emu:
        yield emu


@pytest.fixture
def hostile():
    with HostileServer() as server:
        yield server


def connect(monkeypatch, url: str, **extra) -> None:
    """The default connection to ``url``, with the key ``KEY``, fast retries and ``extra``."""
    conn = {
        "conn_type": "dashscope",
        "host": url,
        "password": KEY,
        "extra": {"retry_delay": 0.01, "retry_max_delay": 0.05, **extra},
    }
    monkeypatch.setenv("AIRFLOW_CONN_DASHSCOPE_DEFAULT", json.dumps(conn))


@functools.cache
def bomb(encoding: str, size: int = 64 * MIB) -> bytes:
    """``size`` zero bytes, compressed about a thousandfold."""
    return compressed(zeros(size), encoding)


ENCODED = {"gzip": "gzip", "deflate": "deflate", "raw-deflate": "deflate"}


# --- 1. size: counted as it arrives, decompressed and as it came


@pytest.mark.parametrize(
    "kind", ["gzip", "deflate", "raw-deflate", "chunked", "until-close", "content-length"]
)
def test_an_answer_larger_than_the_limit_is_refused_as_it_arrives(transport, monkeypatch, hostile, kind):
    """A 64 MiB bomb, 32 MiB chunked or until the connection closes, a 4 MiB body: with
    max_response_bytes at 1 MiB, each ends in an error naming the limit, tried once."""
    connect(monkeypatch, hostile.url, max_response_bytes=MIB)
    if kind in ENCODED:
        hostile.answer = Answer(headers={"Content-Encoding": ENCODED[kind]}, body=bomb(kind))
    elif kind == "content-length":
        hostile.answer = Answer(body=b"x" * 4 * MIB)
    else:
        framing = "chunked" if kind == "chunked" else "close"
        hostile.answer = Answer(body=lambda: zeros(32 * MIB, 64 * 1024), framing=framing)
    with pytest.raises(
        InvalidResponseError, match=r"larger than the connection's max_response_bytes"
    ) as raised:
        Twin(transport).get_job("quant-x")
    assert f"({MIB} bytes)" in str(raised.value) and not raised.value.retryable
    assert len(hostile.requests) == 1  # not retried: the same request gets the same answer


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw-deflate"])
def test_a_compressed_answer_within_the_limit_is_read(transport, monkeypatch, hostile, encoding):
    connect(monkeypatch, hostile.url)
    body = compressed([job_answer("SUCCEEDED")], encoding)
    hostile.answer = Answer(headers={"Content-Encoding": ENCODED[encoding]}, body=body)
    assert Twin(transport).get_job("quant-x").status == "SUCCEEDED"
    assert hostile.requests[0].headers["accept-encoding"] == "gzip, deflate"  # what it decodes


def test_an_encoding_that_was_not_asked_for_is_refused(transport, monkeypatch, hostile):
    connect(monkeypatch, hostile.url)
    hostile.answer = Answer(headers={"Content-Encoding": "br"}, body=b"\x0b\x02\x80{}\x03")
    with pytest.raises(InvalidResponseError, match="Content-Encoding 'br' was not asked for"):
        Twin(transport).get_job("quant-x")
    assert len(hostile.requests) == 1


def test_a_large_error_page_stays_the_error_its_status_says(transport, monkeypatch, hostile):
    """Of an error only the first 64 KiB are read: a 503 of 32 MiB is a 503, retried as one."""
    connect(monkeypatch, hostile.url, retry_limit=2)
    hostile.answer = Answer(503, body=b"<html>" + b"busy " * (6 * MIB) + b"</html>")
    with pytest.raises(ServerError) as raised:
        Twin(transport).get_job("quant-x")
    assert raised.value.status_code == 503 and raised.value.message.startswith("<html>busy")
    assert len(hostile.requests) == 2


@pytest.mark.parametrize("transport", ["sync", "async"])
def test_memory_stays_bounded_whatever_the_answer_claims(transport, monkeypatch, hostile):
    """In a process of its own (tests.support.memory_probe): a gzip body that unpacks to 256 MiB
    and 200 MiB chunked, against the default limit (16 MiB). The reads hold a few times the
    limit at most (without the limit: the whole answer, or twice it)."""
    import subprocess
    import sys

    from tests.support import ROOT

    def answer(seen):
        if seen.target.endswith("/warm"):
            return Answer(body=job_answer())
        if seen.target.endswith("/bomb"):
            return Answer(headers={"Content-Encoding": "gzip"}, body=bomb("gzip", 256 * MIB))
        return Answer(body=lambda: zeros(200 * MIB, 64 * 1024), framing="chunked")

    hostile.answer = answer
    connect(monkeypatch, hostile.url, retry_limit=1, timeout=120)
    probe = [sys.executable, "-m", "tests.support.memory_probe", transport, "quant-bomb", "quant-endless"]
    done = subprocess.run(probe, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    measured = json.loads(done.stdout.splitlines()[-1])
    assert measured["raised"] == ["InvalidResponseError", "InvalidResponseError"]
    assert measured["peak_kib"] < 64 * 1024, measured


# --- 2. parsing raises nothing but the provider's errors


@pytest.mark.parametrize(
    "body",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"request_id": "r", "output": ' + '{"a": ' * 50_000 + "1" + "}" * 50_000 + "}",
    ],
    ids=["array", "envelope"],
)
def test_an_answer_nested_without_end_is_an_invalid_response_tried_once(transport, monkeypatch, keyed, body):
    connect(monkeypatch, keyed.url)
    keyed.answer_next(1, body, path=JOBS_PATH + "/[^/]+")
    before = keyed.state()["requests"]
    with pytest.raises(InvalidResponseError, match="nested deeper than 64 levels") as raised:
        Twin(transport).get_job("quant-x")
    assert not raised.value.retryable and keyed.state()["requests"] - before == 1


def test_a_success_that_carries_an_error_code_is_an_error_retried_only_when_idempotent(
    transport, monkeypatch, keyed
):
    """A gateway answering 200 with an error body: a read is tried again (and gets the job), a
    create without a name is not (it may have happened) and raises with the answer's code,
    message and id. (A named create is retry-safe: the API refuses a second job of its name.)"""
    connect(monkeypatch, keyed.url)
    error = {"request_id": "gw-9", "code": "Throttling.User", "message": "try later", "output": None}
    job = CompressHook().create_job(model=SFT_MODEL, template_id=PLAIN_TEMPLATE, job_name=unique_name())
    keyed.answer_next(1, json.dumps(error), method="GET", path=JOBS_PATH + "/[^/]+")
    before = keyed.state()["requests"]
    assert Twin(transport).get_job(job.job_id).job_id == job.job_id
    assert keyed.state()["requests"] - before == 2

    keyed.answer_next(1, json.dumps(error), method="POST", path=JOBS_PATH)
    creates = lambda: keyed.state()["calls"].get("POST " + JOBS_PATH, 0)  # noqa: E731
    before = creates()
    with pytest.raises(InvalidResponseError) as raised:
        CompressHook().create_job(model=SFT_MODEL, template_id=PLAIN_TEMPLATE)
    assert (raised.value.code, raised.value.message, raised.value.request_id) == (
        "Throttling.User",
        "try later",
        "gw-9",
    )
    assert creates() - before == 1


# --- 3. no redirect is followed


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("method", ["get_job", "cancel_job"])
def test_a_redirect_is_an_error_naming_its_target_host_and_is_not_followed(
    transport, monkeypatch, hostile, status, method
):
    if transport == "async" and method == "cancel_job" and status != 302:
        pytest.skip("one POST redirect is enough for the async transport")
    with HostileServer(Answer(body=job_answer("CANCELED"))) as elsewhere:
        target = elsewhere.url.replace("http://", "http://admin:s3cr3t@") + "/api?token=t0k3n"
        hostile.answer = Answer(status, {"Location": target})
        connect(monkeypatch, hostile.url)
        with pytest.raises(CompressApiError) as raised:
            getattr(Twin(transport), method)("quant-x")
        assert elsewhere.requests == [] and len(hostile.requests) == 1
    text = str(raised.value)
    assert raised.value.status_code == status and f"a redirect to {elsewhere.url}," in text
    assert all(part not in text for part in ("admin", "s3cr3t", "t0k3n", "/api"))


def test_a_redirects_body_is_not_read_past_an_errors_first_bytes(transport, monkeypatch, hostile):
    """requests reads a redirect's whole body to prepare the next request, even when it follows
    none: a 302 whose body never ended would fill the memory (64 MiB here, so that a transport
    that reads it all still ends)."""
    connect(monkeypatch, hostile.url, timeout=30)
    large = lambda: zeros(64 * MIB, 65536)  # noqa: E731
    hostile.answer = Answer(302, {"Location": "http://127.0.0.1:9/"}, large, framing="chunked")
    with pytest.raises(CompressApiError, match=r"a redirect to http://127\.0\.0\.1:9,") as raised:
        Twin(transport).get_job("quant-x")
    assert raised.value.status_code == 302
    wait_until(lambda: hostile.hung_up == 1, 10, "the server to see the client hang up")


# --- the deadline: a request given up is closed, not left reading


def test_a_request_given_up_at_its_deadline_stops_reading(transport, monkeypatch, hostile):
    """A body that never ends, 1 KiB every 20 ms (under the size limit for minutes): the call
    fails at its 1 s timeout, and its connection is closed then (the server sees the hang-up),
    not left reading in a thread."""
    connect(monkeypatch, hostile.url, timeout=1, retry_limit=1)
    hostile.answer = Answer(body=lambda: itertools.repeat(b"x" * 1024), framing="chunked", pause=0.02)
    with pytest.raises(CompressConnectionError):
        Twin(transport).get_job("quant-x")
    wait_until(lambda: hostile.hung_up == 1, 10, "the server to see the client hang up")
    readers = lambda: [t for t in threading.enumerate() if t.name == "dashscope-request"]  # noqa: E731
    wait_until(lambda: not readers(), 10, "the request thread to end")


# --- 4. no secret in what leaves the transports


@pytest.mark.parametrize("status", [407, 502])
def test_a_proxys_error_carries_none_of_its_credentials(transport, monkeypatch, hostile, caplog, status):
    """Through a proxy with credentials that refuses the tunnel (https): aiohttp's error quotes
    the proxy's URL, password included; the error and the retry warnings must not."""
    caplog.set_level(logging.DEBUG)
    hostile.answer = Answer(status, {"Proxy-Authenticate": 'Basic realm="egress"'}, b"no")
    proxy = hostile.url.replace("http://", "http://egress:pr0xy-S3CRET@")
    connect(monkeypatch, "https://dashscope.example.com", proxy=proxy, retry_limit=2)
    with provider_log_records() as records, pytest.raises(CompressConnectionError) as raised:
        Twin(transport).get_job("quant-x")
    assert len(hostile.requests) == 2 and records  # tried again, with a warning
    for text in (str(raised.value), repr(raised.value), caplog.text, repr(records)):
        assert "pr0xy-S3CRET" not in text and "egress:" not in text


ECHOES = {
    "400": (400, json.dumps({"code": "BadHeader", "message": f"Authorization: Bearer {KEY}"})),
    "500": (500, json.dumps({"code": "Internal", "message": f"echo Bearer {KEY}", "request_id": KEY})),
    "502 page": (502, f"<html>upstream got Authorization: Bearer {KEY}</html>"),
    "200 code": (200, json.dumps({"code": KEY, "message": f"Bearer {KEY}"})),
    # JSON escapes the body-level mask does not see: the error's own texts are masked too
    "escaped": (403, '{"message": "token ' + KEY.replace("-", "\\u002d") + '"}'),
}


@pytest.mark.parametrize("echo", sorted(ECHOES))
def test_a_server_that_echoes_the_key_puts_it_in_no_error_or_log(transport, monkeypatch, keyed, caplog, echo):
    caplog.set_level(logging.DEBUG)
    connect(monkeypatch, keyed.url, retry_limit=2)
    status, body = ECHOES[echo]
    keyed.answer_next(2, body, status=status, path=JOBS_PATH + "/[^/]+")
    try:
        with provider_log_records() as records, pytest.raises(CompressError) as raised:
            Twin(transport).get_job("quant-x")
    finally:
        keyed.reset()
    for text in (str(raised.value), repr(raised.value), caplog.text, repr(records)):
        assert KEY not in text and "HOSTILE" not in text
    assert "***" in str(raised.value)


def test_an_echo_of_the_key_in_a_successful_answer_is_masked(transport, monkeypatch, keyed):
    """In what a hook returns too: a log line, a job's error message (forwarded, logged, put into
    the trigger's event)."""
    connect(monkeypatch, keyed.url)
    page = {"request_id": "r", "output": {"total": 2, "logs": [f"export KEY={KEY}", "step 2"]}}
    keyed.answer_next(1, json.dumps(page), path=JOBS_PATH + "/[^/]+/logs")
    job = {"job_id": "quant-x", "status": "FAILED", "error": {"code": "E", "message": f"bad key {KEY}"}}
    keyed.answer_next(1, json.dumps({"request_id": "r", "output": job}), path=JOBS_PATH + "/[^/]+")
    assert Twin(transport).get_logs("quant-x").logs == ["export KEY=***", "step 2"]
    assert Twin(transport).get_job("quant-x").error.message == "bad key ***"


def test_a_host_with_credentials_is_refused_without_echoing_them(monkeypatch):
    connect(monkeypatch, "https://gateway-user:g4t3-S3CRET@gw.example.com")
    with pytest.raises(CompressValidationError, match=r"^host: must not carry credentials") as raised:
        CompressHook().get_job("quant-x")
    assert "g4t3-S3CRET" not in repr(raised.value)
    ok, message = CompressHook().test_connection()
    assert not ok and message.startswith("host: must not carry credentials") and "g4t3" not in message

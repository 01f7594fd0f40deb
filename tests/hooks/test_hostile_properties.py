"""Properties (hypothesis) of both transports against any answer a hostile server on 127.0.0.1
can send (``tests.support.hostile.hostile_answers``: any status, JSON shape, bytes, nesting,
size around the limit or a 64 MiB bomb, encoding, framing, Retry-After, Location, an echo of
the key): a call raises nothing but the provider's errors, holds memory bounded by a small
multiple of the connection's ``max_response_bytes``, and the key is in no error and no log
record. The trigger's property: tests/triggers/test_hostile.py."""

from __future__ import annotations

import json
import logging
import tracemalloc

import pytest

from airflow_provider_compress.exceptions import CompressError
from tests.support import Twin, provider_log_records
from tests.support.hostile import HostileServer, hostile_answers

KEY = "sk-PROPERTY-31f0c2"
LIMIT = 64 * 1024  # the connection's max_response_bytes here: the smallest allowed
MEMORY_BOUND = 8 * 1024 * 1024  # peak bytes a call may allocate (tracemalloc), the server's included

CALLS = {
    "get_job": lambda hook: hook.get_job("quant-any"),
    "get_logs": lambda hook: hook.get_logs("quant-any"),
    "list_jobs": lambda hook: hook.list_jobs(),
    "cancel_job": lambda hook: hook.cancel_job("quant-any"),
}


@pytest.fixture
def hostile(monkeypatch):
    with HostileServer() as server:
        extra = {"retry_limit": 2, "retry_delay": 0.01, "timeout": 5, "max_response_bytes": LIMIT}
        conn = {"conn_type": "dashscope", "host": server.url, "password": KEY, "extra": extra}
        monkeypatch.setenv("AIRFLOW_CONN_DASHSCOPE_DEFAULT", json.dumps(conn))
        yield server


@pytest.mark.parametrize("transport", ["sync", "async"])
def test_any_answer_raises_only_the_providers_errors_in_bounded_memory_without_the_key(
    hostile, caplog, transport
):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    caplog.set_level(logging.DEBUG)
    peaks: list[int] = []

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(respond=hostile_answers(LIMIT), call=st.sampled_from(sorted(CALLS)))
    def check(respond, call):
        hostile.answer = respond
        respond(hostile.requests[0] if hostile.requests else _seen())  # build the bomb before measuring
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        try:
            CALLS[call](Twin(transport))
        except BaseException as error:
            assert isinstance(error, CompressError), f"{type(error).__name__} escaped {call}: {error}"
            assert KEY not in str(error) and KEY not in repr(error), error
            assert "p4ss" not in str(error) and "t0k3n" not in str(error), error
        peaks.append(tracemalloc.get_traced_memory()[1] - before)

    tracemalloc.start()
    try:
        with provider_log_records() as records:
            check()
    finally:
        tracemalloc.stop()
    assert max(peaks) < MEMORY_BOUND, max(peaks)
    assert KEY not in caplog.text and KEY not in repr(records)


def _seen():
    from tests.support.hostile import Seen

    return Seen("GET", "/", {})

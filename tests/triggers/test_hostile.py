"""CompressJobTrigger against hostile answers: whatever any endpoint answers (nested without end,
a bomb, an echo of the key, anything at all: hypothesis), the trigger ends with its one event,
never an exception, and the key is in no event and no log record."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from airflow_provider_compress.emulator.process import EmulatorProcess
from airflow_provider_compress.hooks.compress import close_async_clients
from tests.support import JOBS_PATH, provider_log_records, use_connection
from tests.support.hostile import HostileServer, Seen, hostile_answers, job_answer
from tests.support.triggers import LOGGER, events_of, make_trigger, new_job

KEY = "sk-TRIGGER-HOSTILE-5b"
DEEP = "[" * 100_000 + "]" * 100_000


@pytest.fixture(scope="module")
def keyed():
    with EmulatorProcess(api_key=KEY, job_seconds=3, log_lines=5) as emu:
        yield emu


@pytest.mark.parametrize("path", ["/logs", ""], ids=["log", "job"])
async def test_an_answer_nested_without_end_ends_in_the_jobs_event_not_a_crash(monkeypatch, keyed, path):
    """On the log endpoint it is a warning, on the job's a failed poll: the watch goes on, and
    ends with the job's own event."""
    use_connection(monkeypatch, keyed, retry_limit=1)
    job_id = new_job()
    keyed.answer_next(2 if path == "" else 1, DEEP, method="GET", path=JOBS_PATH + "/[^/]+" + path)
    (event,) = await events_of(make_trigger(job_id))
    assert event["status"] == "SUCCEEDED" and keyed.faults()["queued"] == 0


async def test_a_server_echoing_the_key_puts_it_in_no_event_or_log(monkeypatch, keyed, caplog):
    """A log read answered 500 with the key in its body (a warning, then read again), then the
    job answered 404 echoing it (the watch ends at once, the error in the event)."""
    caplog.set_level(logging.DEBUG)
    use_connection(monkeypatch, keyed, retry_limit=2)
    job_id = new_job()
    echo = json.dumps({"code": "Echo", "message": f"got Authorization: Bearer {KEY}", "request_id": KEY})
    keyed.answer_next(2, echo, status=500, method="GET", path=JOBS_PATH + "/[^/]+/logs")
    with provider_log_records() as records:
        trigger = make_trigger(job_id)
        await events_of(trigger)  # the job's own end; the log read failed on the way
        keyed.answer_next(1, echo, status=404, method="GET", path=JOBS_PATH + "/[^/]+")
        (event,) = await events_of(make_trigger(job_id))
    assert event["status"] == "error" and "HTTP 404 Echo: got Authorization: Bearer ***" in event["message"]
    assert "Could not read the log" in caplog.text
    for text in (json.dumps(event), caplog.text, repr(records)):
        assert KEY not in text


def test_any_answer_on_any_endpoint_ends_in_an_event(monkeypatch, caplog):
    """Hypothesis: the first answers, whatever they are and whichever request gets them (poll,
    log read), are drawn; after them the job is SUCCEEDED. The trigger ends with one event, the
    key in none of it. Sleeps are skipped (the trigger's pace is not what is tested)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from tests.support.hostile import Answer

    caplog.set_level(logging.DEBUG)
    # The trigger's records, whatever another test made of the logging configuration
    own_log, written = logging.getLogger(f"{LOGGER}.property"), Written()
    own_log.addHandler(written)
    monkeypatch.setattr(own_log, "disabled", False)
    monkeypatch.setattr(own_log, "level", logging.DEBUG)
    real_sleep = asyncio.sleep
    monkeypatch.setattr(asyncio, "sleep", lambda delay, *args: real_sleep(0, *args))
    with HostileServer() as server:
        extra = {"retry_limit": 2, "retry_delay": 0.01, "timeout": 5, "max_response_bytes": 64 * 1024}
        conn = {"conn_type": "dashscope", "host": server.url, "password": KEY, "extra": extra}
        monkeypatch.setenv("AIRFLOW_CONN_DASHSCOPE_DEFAULT", json.dumps(conn))

        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(drawn=st.lists(hostile_answers(64 * 1024), min_size=1, max_size=4))
        def check(drawn):
            queue = list(drawn)

            def respond(seen: Seen):
                if queue:
                    return queue.pop(0)(seen)
                if seen.target.split("?")[0].endswith("/logs"):
                    return Answer(body=json.dumps({"output": {"total": 0, "logs": []}}).encode())
                return Answer(body=job_answer("SUCCEEDED"))

            server.answer = respond

            async def watch():
                try:
                    trigger = make_trigger("quant-hostile", cancel_on_kill=False)
                    trigger._log = own_log
                    return await events_of(trigger)
                finally:
                    await close_async_clients()

            events = asyncio.run(watch())
            assert len(events) == 1 and events[0]["status"] in ("SUCCEEDED", "FAILED", "CANCELED", "error")
            assert KEY not in json.dumps(events[0])

        try:
            with provider_log_records() as records:
                check()
        finally:
            own_log.removeHandler(written)
    assert written.texts  # it logged (its failed polls): the check below is not an empty one
    assert KEY not in " ".join(written.texts) and KEY not in caplog.text and KEY not in repr(records)


class Written(logging.Handler):
    """The messages of the records a logger handled."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(record.getMessage())

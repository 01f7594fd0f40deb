"""CompressJobTrigger run in an event loop against the emulator over real HTTP: its one event,
its log forwarding, failed polls, a deadline. Kills: test_kill.py; its kwargs: test_serialization.py."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest

from airflow_provider_compress.emulator.process import EmulatorProcess
from airflow_provider_compress.hooks.compress import CompressHook
from airflow_provider_compress.triggers.compress import MAX_FAILED_POLLS
from tests.support import FAILING_MODEL, JOBS_PATH, UNREADABLE_LOG, use_connection
from tests.support.triggers import LOGGER, events_of, forwarded, make_trigger, new_job


async def test_succeeded_event_comes_at_once_after_the_lines_read_before_it(conn, caplog):
    """The trigger forwards the log as it reads it, each line once and in order, and sends its
    event as soon as the job ends: the lines after its last read are the resumed operator's
    (from the event's log_offset; every line once in the task log: tests/airflow/test_dags.py)."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    job_id = new_job()
    (event,) = await events_of(make_trigger(job_id))
    assert event["status"] == "SUCCEEDED" and event["resource_id"] == job_id
    assert event["resource"]["quantized_output"].endswith(job_id)
    full = conn.full_log(job_id)
    lines = [f"[{job_id} #{n}] {line}" for n, line in enumerate(full, 1)]
    assert forwarded(caplog, job_id) == lines[: event["log_offset"]]
    assert 0 < event["log_offset"] < len(full)  # the last lines were not waited for


async def test_failed_event_carries_the_error(conn):
    job_id = new_job(FAILING_MODEL)
    (event,) = await events_of(make_trigger(job_id))
    assert event["status"] == "FAILED" and event["resource"]["error"]["code"]
    assert event["resource"]["error"]["message"] in event["message"]


async def test_canceled_event(conn):
    job_id = new_job()
    CompressHook().cancel_job(job_id)
    (event,) = await events_of(make_trigger(job_id))
    assert event["status"] == "CANCELED" and "CANCELED" in event["message"]


async def test_log_offsets_across_pages(monkeypatch, caplog):
    """A trigger resumed at line 1200 of a running job reads on from there, 1,000 lines a page."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    with EmulatorProcess(job_seconds=10, log_lines=2500) as emu:
        use_connection(monkeypatch, emu)
        created = time.time()
        job_id = new_job()
        await asyncio.sleep(max(0.0, created + 9.2 - time.time()))  # ~90 % of the lines written
        before = emu.state()["job_reads"].get("logs RUNNING", 0)
        (event,) = await events_of(make_trigger(job_id, log_offset=1200))
        full = emu.full_log(job_id)
        lines = forwarded(caplog, job_id)
        assert (
            lines == [f"[{job_id} #{n}] {line}" for n, line in enumerate(full, 1)][1200 : event["log_offset"]]
        )
        assert event["log_offset"] > 2200
        assert emu.state()["job_reads"].get("logs RUNNING", 0) - before >= 2  # pages of 1,000 lines


async def test_transient_failures_are_survived(monkeypatch, emulator):
    use_connection(monkeypatch, emulator, retry_limit=1)  # each injected failure costs one poll
    job_id = new_job()
    emulator.fail_next(MAX_FAILED_POLLS - 1, status=503)
    (event,) = await events_of(make_trigger(job_id))
    assert event["status"] == "SUCCEEDED"


async def test_too_many_failed_polls_end_with_an_error_event(monkeypatch, emulator):
    use_connection(monkeypatch, emulator, retry_limit=1)
    job_id = new_job()
    emulator.fail_next(MAX_FAILED_POLLS, status=502)
    (event,) = await events_of(make_trigger(job_id))
    assert event["status"] == "error" and "502" in event["message"]


async def test_unknown_job_is_an_error_event_at_once(conn):
    (event,) = await events_of(make_trigger("quant-000000000000-none"))
    assert event["status"] == "error" and "404" in event["message"]


async def test_deadline_cancels_the_job(slow_conn):
    job_id = new_job()
    (event,) = await events_of(make_trigger(job_id, deadline=time.time() + 0.3))
    assert event["status"] == "timeout"
    assert slow_conn.job(job_id)["status"] == "CANCELING"


async def test_polls_use_one_request_before_the_job_starts(slow_conn):
    job_id = new_job()  # PENDING for a minute
    before = slow_conn.state()["job_reads"]
    task = asyncio.ensure_future(events_of(make_trigger(job_id)))
    await asyncio.sleep(2.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    after = slow_conn.state()["job_reads"]
    polls = after.get("status PENDING", 0) - before.get("status PENDING", 0)
    assert 2 <= polls <= 4  # the first at once, the next within each 1 s interval
    assert after.get("logs PENDING", 0) == before.get("logs PENDING", 0)  # no log reads before the start


async def test_trigger_never_looks_a_connection_up_synchronously(monkeypatch, conn):
    from airflow.sdk import BaseHook

    job_id = new_job()

    def forbidden(*args, **kwargs):
        raise AssertionError("sync connection lookup inside the event loop")

    monkeypatch.setattr(BaseHook, "get_connection", classmethod(forbidden))
    (event,) = await events_of(make_trigger(job_id))
    assert event["status"] == "SUCCEEDED"


async def test_the_trigger_reports_success_when_the_log_cannot_be_read(fresh_conn, caplog):
    job_id = new_job()
    fresh_conn.answer_next(50, UNREADABLE_LOG, path=JOBS_PATH + "/.*/logs")
    caplog.set_level(logging.WARNING, logger=LOGGER)
    events = await events_of(make_trigger(job_id))
    assert [e["status"] for e in events] == ["SUCCEEDED"]
    assert "Could not read the log of" in caplog.text


async def test_an_unknown_status_is_warned_about_once_and_polled_on(fresh_conn, caplog):
    job_id = new_job()
    weird = json.dumps({"request_id": "r", "output": {"job_id": job_id, "status": "PAUSED_FOR_AUDIT"}})
    fresh_conn.answer_next(3, weird, method="GET", path=JOBS_PATH + "/[^/]+")
    caplog.set_level(logging.WARNING, logger=LOGGER)
    events = await events_of(make_trigger(job_id))
    assert [e["status"] for e in events] == ["SUCCEEDED"]
    assert caplog.text.count("'PAUSED_FOR_AUDIT', which the provider does not know") == 1

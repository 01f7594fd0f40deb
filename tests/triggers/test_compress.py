"""CompressJobTrigger run in an event loop against the emulator over real HTTP: its one event,
its log forwarding, failed polls, a deadline. Kills: test_kill.py; its kwargs: test_serialization.py."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import threading
import time
import uuid

import pytest

from airflow_provider_compress.emulator.process import EmulatorProcess
from airflow_provider_compress.hooks.compress import CompressHook
from airflow_provider_compress.triggers import base as trigger_base
from airflow_provider_compress.triggers import log_writer
from airflow_provider_compress.triggers.compress import CompressJobTrigger
from tests.support import CANCELLED, FAILING_MODEL, JOBS_PATH, SFT_MODEL, UNREADABLE_LOG, use_connection
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


async def test_an_outage_within_the_budget_is_ridden_out(monkeypatch, fresh_conn):
    use_connection(monkeypatch, fresh_conn, retry_limit=1, outage_budget=60)
    job_id = new_job()
    fresh_conn.misbehave(outage_seconds=3)  # every request answers 503 for 3 s
    (event,) = await events_of(make_trigger(job_id))
    assert event["status"] == "SUCCEEDED"
    assert fresh_conn.faults()["injected"] == {}  # the outage, not queued faults, failed the polls


async def test_an_outage_past_the_budget_ends_with_an_error_event_naming_the_job(monkeypatch, fresh_conn):
    use_connection(monkeypatch, fresh_conn, retry_limit=1, outage_budget=2)
    job_id = new_job()
    fresh_conn.misbehave(outage_seconds=600, outage_status=502)
    (event,) = await events_of(make_trigger(job_id))
    assert event["status"] == "error" and "502" in event["message"]
    assert job_id in event["message"] and "outage_budget of 2 s" in event["message"]
    assert fresh_conn.job(job_id)["status"] not in CANCELLED  # the trigger stops nothing on error


async def test_unknown_job_is_an_error_event_at_once(conn):
    (event,) = await events_of(make_trigger("quant-000000000000-none"))
    assert event["status"] == "error" and "404" in event["message"]


async def test_deadline_cancels_the_job(slow_conn):
    job_id = new_job()
    (event,) = await events_of(make_trigger(job_id, deadline=time.time() + 0.3))
    assert event["status"] == "timeout"
    assert slow_conn.job(job_id)["status"] in CANCELLED


async def test_polls_use_one_request_before_the_job_starts(slow_conn):
    job_id = new_job()  # PENDING for a minute
    before = slow_conn.state()["job_reads"]

    def polls() -> int:
        return slow_conn.state()["job_reads"].get("status PENDING", 0) - before.get("status PENDING", 0)

    started = time.monotonic()
    task = asyncio.ensure_future(events_of(make_trigger(job_id)))
    while polls() < 3:  # the trigger is polling, however slow the machine is
        assert time.monotonic() - started < 30
        await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    elapsed = time.monotonic() - started
    assert polls() <= elapsed + 2  # the first at once, then at most one per 1 s interval
    after = slow_conn.state()["job_reads"]
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


async def test_event_does_not_wait_for_a_log_path_that_is_behind(conn, caplog):
    """With the triggerer's log path stuck (the writer blocked, as behind a full socket), the
    event comes anyway: the record still queued is withdrawn, its lines left to the resumed
    operator through the event's log_offset, and never written twice."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    release = threading.Event()
    stuck = log_writer.writer().submit(release.wait, 60)
    job_id = new_job()
    reads = conn.state()["job_reads"].get("logs RUNNING", 0)
    try:
        (event,) = await events_of(make_trigger(job_id))
    finally:
        release.set()
        stuck.result()
    log_writer.writer().submit(lambda: None).result()  # all handed over before has run
    assert event["status"] == "SUCCEEDED"
    assert event["log_offset"] == 0 and forwarded(caplog, job_id) == []
    assert conn.state()["job_reads"].get("logs RUNNING", 0) > reads  # lines were read, not written
    assert conn.full_log(job_id)  # the operator forwards them all


async def test_lines_are_forwarded_while_the_job_runs_not_at_its_end(monkeypatch):
    """Live streaming, per poll: with a read allowed at every poll (the 5 s floor between reads
    set aside), records of new lines reach the task log while the job is RUNNING, each read
    continuing where the last stopped; the job's last line is never among them (the resumed
    operator forwards it, from the event's log_offset)."""
    monkeypatch.setattr(trigger_base, "LOG_INTERVAL", 0.0)
    written: list[tuple[float, list[str]]] = []

    class Recorder(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            written.append((time.time(), record.getMessage().split("\n")))

    logger = logging.getLogger(f"test.trigger.{uuid.uuid4().hex}")
    logger.addHandler(Recorder())
    logger.setLevel(logging.INFO)
    with EmulatorProcess(job_seconds=6, log_lines=30) as emu:
        use_connection(monkeypatch, emu)
        created = time.time()
        job_id = new_job()
        trigger = make_trigger(job_id)
        trigger._log = logger
        (event,) = await events_of(trigger)
        full = emu.full_log(job_id)
    assert event["status"] == "SUCCEEDED"
    records = [(at, lines) for at, lines in written if lines[0].startswith(f"[{job_id} #")]
    # the job ends 6 s after it was created, at the earliest: these records came while it ran
    while_running = [lines for at, lines in records if at < created + 6]
    assert len(while_running) >= 2, [(round(at - created, 1), len(lines)) for at, lines in records]
    lines = [line for _, chunk in records for line in chunk]
    assert lines == [f"[{job_id} #{n}] {line}" for n, line in enumerate(full, 1)][: event["log_offset"]]
    assert event["log_offset"] < len(full)


FREEZE_PROBE = """
import asyncio, gc, sys
from airflow_provider_compress.triggers.compress import CompressJobTrigger

async def watch():
    trigger = CompressJobTrigger("dashscope_default", sys.argv[1], poll_interval=1, cancel_on_kill=False)
    return [event.payload["status"] async for event in trigger.run()]

print(gc.get_freeze_count(), *asyncio.run(watch()), gc.get_freeze_count())
"""


@pytest.mark.parametrize("setting", [None, "0"])
def test_the_first_trigger_of_a_process_freezes_the_heap_it_inherits(conn, monkeypatch, setting):
    """In a triggerer, full collections walked Airflow's whole heap every few seconds: the first
    trigger takes what exists out of them (docs/performance.md), unless opted out."""
    if setting is None:
        monkeypatch.delenv("DASHSCOPE_TRIGGERER_GC_FREEZE", raising=False)
    else:
        monkeypatch.setenv("DASHSCOPE_TRIGGERER_GC_FREEZE", setting)
    job_id = new_job()
    run = subprocess.run(
        [sys.executable, "-c", FREEZE_PROBE, job_id], capture_output=True, text=True, timeout=120
    )
    before, status, after = run.stdout.split()
    assert (before, status) == ("0", "SUCCEEDED"), run.stderr[-2000:]
    assert (int(after) > 10_000) is (setting is None)


async def test_a_job_in_an_unknown_status_is_cancelled(slow_conn):
    """The same rule for jobs: only a job known to be over (or CANCELING) is left alone."""
    job = CompressHook().create_job(model=SFT_MODEL, template_id="quant-flash-nvfp4-mlp-nomtp")
    path = f"/api/v1/fine-tunes/compress/jobs/{job.job_id}"
    body = json.dumps({"request_id": "r", "output": {**job.to_dict(), "status": "SUSPENDED"}})
    slow_conn.answer_next(1, body, method="GET", path=path)
    trigger = CompressJobTrigger("dashscope_default", job.job_id, 1)
    trigger._log = logging.getLogger(LOGGER)
    async with trigger._hook() as hook:
        assert await trigger._stop(hook, "a test") == "its cancel was accepted"
    assert slow_conn.job(job.job_id)["status"] in ("CANCELING", "CANCELED")

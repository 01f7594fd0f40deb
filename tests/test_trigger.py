"""CompressJobTrigger run in an event loop against the emulator over real HTTP."""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import subprocess
import sys
import threading
import time
import uuid

import pytest
from conftest import FAILING_MODEL, PLAIN_TEMPLATE, SFT_MODEL, use_connection

from airflow_provider_compress import _compat
from airflow_provider_compress.emulator.process import EmulatorProcess
from airflow_provider_compress.hooks.compress import CompressHook, close_async_clients
from airflow_provider_compress.triggers import base as trigger_base
from airflow_provider_compress.triggers import task_state
from airflow_provider_compress.triggers.compress import MAX_FAILED_POLLS, CompressJobTrigger


@pytest.fixture(autouse=True)
async def _close_sessions():
    yield
    await close_async_clients()


def new_job(model: str = SFT_MODEL) -> str:
    return (
        CompressHook()
        .create_job(model=model, template_id=PLAIN_TEMPLATE, job_name=f"tr-{uuid.uuid4().hex[:12]}")
        .job_id
    )


def make_trigger(job_id: str, caplog=None, **kwargs) -> CompressJobTrigger:
    trigger = CompressJobTrigger(
        dashscope_conn_id="dashscope_default", job_id=job_id, poll_interval=1, **kwargs
    )
    trigger._log = logging.getLogger("test.trigger")  # a plain logger that caplog can read
    return trigger


async def events_of(trigger: CompressJobTrigger, timeout: float = 30) -> list[dict]:
    async def collect():
        return [event.payload async for event in trigger.run()]

    return await asyncio.wait_for(collect(), timeout)


# A cancelled job is CANCELING for the emulator's 0.3 s, then CANCELED: a slow read sees either.
CANCELLED = ("CANCELING", "CANCELED")


def forwarded(caplog, job_id: str) -> list[str]:
    """The forwarded lines (a record holds the lines of one read)."""
    prefix = f"[{job_id} #"
    records = [r.getMessage() for r in caplog.records if r.getMessage().startswith(prefix)]
    return [line for record in records for line in record.split("\n")]


def test_serialize_round_trip_is_plain_json_without_secrets(monkeypatch, emulator):
    use_connection(monkeypatch, emulator)
    trigger = CompressJobTrigger("dashscope_default", "quant-1", 5.0, 12, 1.7e9, False, True)
    path, kwargs = trigger.serialize()
    module, _, name = path.rpartition(".")
    rebuilt = getattr(importlib.import_module(module), name)(**kwargs)
    assert rebuilt.serialize() == (path, kwargs)
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert emulator.api_key not in json.dumps(kwargs)
    assert set(kwargs) == {
        "dashscope_conn_id",
        "job_id",
        "poll_interval",
        "log_offset",
        "deadline",
        "forward_logs",
        "cancel_on_kill",
        "stop_on_timeout",
    }
    serde = pytest.importorskip("airflow.sdk.serde")  # Airflow >= 3.2 stores trigger kwargs with serde
    assert serde.deserialize(serde.serialize(kwargs)) == kwargs


async def test_succeeded_event_comes_at_once_after_the_lines_read_before_it(conn, caplog):
    """The trigger forwards the log as it reads it, each line once and in order, and sends its
    event as soon as the job ends: the lines after its last read are the resumed operator's
    (from the event's log_offset; every line once in the task log: test_operators)."""
    caplog.set_level(logging.INFO, logger="test.trigger")
    job_id = new_job()
    (event,) = await events_of(make_trigger(job_id))
    assert event["status"] == "SUCCEEDED" and event["job_id"] == job_id
    assert event["job"]["quantized_output"].endswith(job_id)
    full = conn.full_log(job_id)
    lines = [f"[{job_id} #{n}] {line}" for n, line in enumerate(full, 1)]
    assert forwarded(caplog, job_id) == lines[: event["log_offset"]]
    assert 0 < event["log_offset"] < len(full)  # the last lines were not waited for


async def test_event_does_not_wait_for_a_log_path_that_is_behind(conn, caplog):
    """With the triggerer's log path stuck (the writer blocked, as behind a full socket), the
    event comes anyway: the record still queued is withdrawn, its lines left to the resumed
    operator through the event's log_offset, and never written twice."""
    caplog.set_level(logging.INFO, logger="test.trigger")
    release = threading.Event()
    stuck = trigger_base._log_writer().submit(release.wait, 60)
    job_id = new_job()
    reads = conn.state()["job_reads"].get("logs RUNNING", 0)
    try:
        (event,) = await events_of(make_trigger(job_id))
    finally:
        release.set()
        stuck.result()
    trigger_base._log_writer().submit(lambda: None).result()  # all handed over before has run
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


async def test_failed_event_carries_the_error(conn):
    job_id = new_job(FAILING_MODEL)
    (event,) = await events_of(make_trigger(job_id))
    assert event["status"] == "FAILED" and event["job"]["error"]["code"]
    assert event["job"]["error"]["message"] in event["message"]


async def test_canceled_event(conn):
    job_id = new_job()
    CompressHook().cancel_job(job_id)
    (event,) = await events_of(make_trigger(job_id))
    assert event["status"] == "CANCELED" and "CANCELED" in event["message"]


async def test_log_offsets_across_pages(monkeypatch, caplog):
    """A trigger resumed at line 1200 of a running job reads on from there, 1,000 lines a page."""
    caplog.set_level(logging.INFO, logger="test.trigger")
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


def fake_task_state(monkeypatch, state):
    async def task_instance_state(ti):
        return state

    monkeypatch.setattr(task_state, "task_instance_state", task_instance_state)


def cancel_requests(emu: EmulatorProcess, job_id: str) -> int:
    return sum("Cancel requested" in line for line in emu.full_log(job_id))


async def test_on_kill_cancels_once(monkeypatch, slow_conn):
    fake_task_state(monkeypatch, "failed")
    job_id = new_job()
    trigger = make_trigger(job_id)
    await trigger.on_kill()
    assert slow_conn.job(job_id)["status"] in CANCELLED
    await trigger.on_kill()  # idempotent: the job is already on its way out
    assert cancel_requests(slow_conn, job_id) == 1


async def test_on_kill_leaves_a_finished_job_alone(monkeypatch, conn):
    fake_task_state(monkeypatch, "failed")
    job_id = new_job()
    (event,) = await events_of(make_trigger(job_id))
    assert event["status"] == "SUCCEEDED"
    await make_trigger(job_id).on_kill()
    assert conn.job(job_id)["status"] == "SUCCEEDED" and cancel_requests(conn, job_id) == 0


@pytest.mark.parametrize(
    ("state", "cancelled"),
    [
        ("failed", True),  # mark failed
        ("success", True),  # mark success
        (None, True),  # cleared, the next try not started yet
        ("running", True),  # cleared, the next try starting
        ("deferred", False),  # another triggerer took the trigger over (apache/airflow#73454)
        (task_state.UNKNOWN, False),  # this triggerer's supervisor cannot answer
    ],
)
async def test_on_kill_cancels_only_when_the_task_left_the_deferred_state(
    monkeypatch, slow_conn, state, cancelled
):
    fake_task_state(monkeypatch, state)
    job_id = new_job()
    await make_trigger(job_id).on_kill()
    assert (slow_conn.job(job_id)["status"] in CANCELLED) is cancelled
    assert cancel_requests(slow_conn, job_id) == int(cancelled)


async def test_on_kill_respects_cancel_on_kill_false(monkeypatch, slow_conn):
    fake_task_state(monkeypatch, "failed")
    job_id = new_job()
    await make_trigger(job_id, cancel_on_kill=False).on_kill()
    assert slow_conn.job(job_id)["status"] == "PENDING"


async def run_then_cancel(trigger: CompressJobTrigger) -> None:
    task = asyncio.ensure_future(events_of(trigger))
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.mark.parametrize(
    ("state", "cancelled"),
    [("failed", True), ("success", True), (None, True), ("deferred", False), (task_state.UNKNOWN, False)],
)
async def test_before_3_3_cancelled_error_cancels_only_a_killed_task(
    monkeypatch, slow_conn, state, cancelled
):
    monkeypatch.setattr(_compat, "TRIGGER_HAS_ON_KILL", False)
    fake_task_state(monkeypatch, state)
    job_id = new_job()
    await run_then_cancel(make_trigger(job_id))
    assert (slow_conn.job(job_id)["status"] in CANCELLED) is cancelled


async def test_from_3_3_cancelled_error_never_cancels(monkeypatch, slow_conn):
    monkeypatch.setattr(_compat, "TRIGGER_HAS_ON_KILL", True)
    fake_task_state(monkeypatch, "failed")  # on 3.3 the kill arrives through on_kill instead
    job_id = new_job()
    await run_then_cancel(make_trigger(job_id))
    assert slow_conn.job(job_id)["status"] == "PENDING"


async def test_no_task_instance_means_unknown_state():
    assert await task_state.task_instance_state(None) is task_state.UNKNOWN

    class TI:
        dag_id, task_id, run_id, map_index = "d", "t", "r", -1

    # outside a triggerer there is no supervisor to ask
    assert await task_state.task_instance_state(TI()) is task_state.UNKNOWN


async def test_trigger_never_looks_a_connection_up_synchronously(monkeypatch, conn):
    from airflow.sdk import BaseHook

    job_id = new_job()

    def forbidden(*args, **kwargs):
        raise AssertionError("sync connection lookup inside the event loop")

    monkeypatch.setattr(BaseHook, "get_connection", classmethod(forbidden))
    (event,) = await events_of(make_trigger(job_id))
    assert event["status"] == "SUCCEEDED"


async def test_before_3_3_a_second_cancel_does_not_interrupt_the_stop(monkeypatch, slow_conn):
    """Airflow 3.1 cancels a dropped trigger again at every loop until it ends: the decision and
    the stop must not be cut short by the second cancel."""
    monkeypatch.setattr(_compat, "TRIGGER_HAS_ON_KILL", False)

    async def slowly_failed(ti):
        await asyncio.sleep(0.5)  # a supervisor busy for a moment
        return "failed"

    monkeypatch.setattr(task_state, "task_instance_state", slowly_failed)
    job_id = new_job()
    trigger = make_trigger(job_id)

    async def run_it():  # as the triggerer runs it: the task itself is cancelled, twice
        return [event async for event in trigger.run()]

    task = asyncio.ensure_future(run_it())
    await asyncio.sleep(0.3)
    task.cancel()
    await asyncio.sleep(0.1)
    task.cancel()  # while the state is being asked
    with pytest.raises(asyncio.CancelledError):
        await task
    deadline = time.monotonic() + 10
    while slow_conn.job(job_id)["status"] not in CANCELLED and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert slow_conn.job(job_id)["status"] in CANCELLED


async def test_a_state_question_that_times_out_is_never_cancelled_once_sent(monkeypatch):
    """On 3.1 the triggerer's comms read answers in order: a request cancelled after it was sent
    would hand its answer to the runner's next request, and the runner would die."""
    from airflow.sdk.execution_time import task_runner

    answered = []

    class Comms:  # Airflow's TriggerCommsDecoder, as far as the question goes
        async def asend(self, request):
            await asyncio.sleep(0.3)
            answered.append(request)
            return None

    class TI:
        dag_id, task_id, run_id, map_index = "d", "t", "r", -1

    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", Comms(), raising=False)
    monkeypatch.setattr(task_state, "STATE_TIMEOUT", 0.05)
    assert await task_state.task_instance_state(TI()) is task_state.UNKNOWN  # timed out
    await asyncio.sleep(0.4)
    assert len(answered) == 1  # the request went on to its answer


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

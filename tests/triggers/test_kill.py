"""A trigger stops its work (cancels the job) only when its task was really killed: on Airflow 3.3
through on_kill, before 3.3 through CancelledError; never after a takeover by another triggerer,
never on doubt. The task-state question itself (``triggers.task_state``) is asked safely."""

from __future__ import annotations

import asyncio

import pytest

from airflow_provider_compress import _compat
from airflow_provider_compress.triggers import task_state
from airflow_provider_compress.triggers.compress import CompressJobTrigger
from tests.support import CANCELLED, JOB_READ, served
from tests.support.triggers import cancel_requests, events_of, fake_task_state, make_trigger, new_job, until


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


async def run_then_cancel(emulator, trigger: CompressJobTrigger) -> None:
    """Cancel the trigger's task once it watches: its first poll was served."""
    polls = served(emulator, JOB_READ)
    task = asyncio.ensure_future(events_of(trigger))
    await until(lambda: served(emulator, JOB_READ) > polls, "the trigger's first poll")
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
    asked = fake_task_state(monkeypatch, state)
    job_id = new_job()
    await run_then_cancel(slow_conn, make_trigger(job_id))
    assert asked == [None]  # the trigger asked its task's state once (this test's trigger has no task)
    assert (slow_conn.job(job_id)["status"] in CANCELLED) is cancelled


async def test_from_3_3_cancelled_error_never_cancels(monkeypatch, slow_conn):
    monkeypatch.setattr(_compat, "TRIGGER_HAS_ON_KILL", True)
    asked = fake_task_state(monkeypatch, "failed")  # on 3.3 the kill arrives through on_kill instead
    job_id = new_job()
    await run_then_cancel(slow_conn, make_trigger(job_id))
    assert asked == [] and slow_conn.job(job_id)["status"] == "PENDING"


async def test_no_task_instance_means_unknown_state():
    assert await task_state.task_instance_state(None) is task_state.UNKNOWN

    class TI:
        dag_id, task_id, run_id, map_index = "d", "t", "r", -1

    # outside a triggerer there is no supervisor to ask
    assert await task_state.task_instance_state(TI()) is task_state.UNKNOWN


async def test_before_3_3_a_second_cancel_does_not_interrupt_the_stop(monkeypatch, slow_conn):
    """Airflow 3.1 cancels a dropped trigger again at every loop until it ends: the decision and
    the stop must not be cut short by the second cancel."""
    monkeypatch.setattr(_compat, "TRIGGER_HAS_ON_KILL", False)
    asked, answer = asyncio.Event(), asyncio.Event()

    async def slowly_failed(ti):  # a supervisor busy until the test lets it answer
        asked.set()
        await answer.wait()
        return "failed"

    monkeypatch.setattr(task_state, "task_instance_state", slowly_failed)
    job_id = new_job()
    trigger = make_trigger(job_id)

    async def run_it():  # as the triggerer runs it: the task itself is cancelled, twice
        return [event async for event in trigger.run()]

    polls = served(slow_conn, JOB_READ)
    task = asyncio.ensure_future(run_it())
    await until(lambda: served(slow_conn, JOB_READ) > polls, "the trigger's first poll")
    task.cancel()
    await asyncio.wait_for(asked.wait(), 10)
    task.cancel()  # while the state is being asked
    answer.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    await until(lambda: slow_conn.job(job_id)["status"] in CANCELLED, "the job's cancel", timeout=10)


async def test_a_state_question_that_times_out_is_never_cancelled_once_sent(monkeypatch):
    """On 3.1 the triggerer's comms read answers in order: a request cancelled after it was sent
    would hand its answer to the runner's next request, and the runner would die."""
    from airflow.sdk.execution_time import task_runner

    answered, answer = [], asyncio.Event()

    class Comms:  # Airflow's TriggerCommsDecoder, as far as the question goes
        async def asend(self, request):
            await answer.wait()  # a supervisor that answers only once the question timed out
            answered.append(request)
            return None

    class TI:
        dag_id, task_id, run_id, map_index = "d", "t", "r", -1

    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", Comms(), raising=False)
    monkeypatch.setattr(task_state, "STATE_TIMEOUT", 0.05)
    assert await task_state.task_instance_state(TI()) is task_state.UNKNOWN  # timed out
    answer.set()
    await until(lambda: answered, "the request's answer")  # the request went on to its answer
    assert len(answered) == 1

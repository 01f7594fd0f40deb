"""Running a trigger in the test's event loop against the emulator, and reading what it did."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

from airflow_provider_compress.emulator.process import EmulatorProcess
from airflow_provider_compress.hooks.compress import CompressHook, close_async_clients
from airflow_provider_compress.triggers import task_state
from airflow_provider_compress.triggers.compress import CompressJobTrigger
from tests.support import PLAIN_TEMPLATE, SFT_MODEL

LOGGER = "test.trigger"  # the plain logger the triggers log to here, which caplog reads


def new_job(model: str = SFT_MODEL) -> str:
    return (
        CompressHook()
        .create_job(model=model, template_id=PLAIN_TEMPLATE, job_name=f"tr-{uuid.uuid4().hex[:12]}")
        .job_id
    )


def make_trigger(job_id: str, **kwargs: Any) -> CompressJobTrigger:
    trigger = CompressJobTrigger(
        dashscope_conn_id="dashscope_default", resource_id=job_id, poll_interval=1, **kwargs
    )
    trigger._log = logging.getLogger(LOGGER)
    return trigger


async def events_of(trigger: Any, timeout: float = 30) -> list[dict]:
    async def collect():
        return [event.payload async for event in trigger.run()]

    return await asyncio.wait_for(collect(), timeout)


async def until(check, what: str, timeout: float = 30):
    """``check()`` until it is true (its result), giving the event loop (the trigger under test)
    its turn between checks; fails after ``timeout`` seconds naming ``what``."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, f"timed out after {timeout:g} s waiting for {what}"
        await asyncio.sleep(0.05)
    return result


async def only_event(trigger: Any) -> dict:
    """The one event of a trigger, which logs to ``LOGGER``."""
    trigger._log = logging.getLogger(LOGGER)
    events = await events_of(trigger)
    assert len(events) == 1
    return events[0]


def event_of(trigger: Any) -> dict:
    """The one event of ``trigger``, run in an event loop of its own (a sync test's deferred task,
    resumed with the event as Airflow would)."""

    async def run() -> dict:
        try:
            return await only_event(trigger)
        finally:
            await close_async_clients()

    return asyncio.run(run())


def forwarded(caplog, job_id: str) -> list[str]:
    """The forwarded lines (a record holds the lines of one read)."""
    prefix = f"[{job_id} #"
    records = [r.getMessage() for r in caplog.records if r.getMessage().startswith(prefix)]
    return [line for record in records for line in record.split("\n")]


def fake_task_state(monkeypatch, state) -> list:
    """What the triggerer answers when a trigger asks for its task's state; the task instances
    it was asked about, in order (a list the test reads)."""
    asked: list = []

    async def task_instance_state(ti):
        asked.append(ti)
        return state

    monkeypatch.setattr(task_state, "task_instance_state", task_instance_state)
    return asked


def cancel_requests(emu: EmulatorProcess, job_id: str) -> int:
    return sum("Cancel requested" in line for line in emu.full_log(job_id))

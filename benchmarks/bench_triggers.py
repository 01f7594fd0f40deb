"""Triggers the triggerer benchmarks run beside the provider's, in the same triggerer process.

The triggerer imports them by classpath (``bench_triggers.LagProbeTrigger``): the benchmarks put
this folder on the triggerer's PYTHONPATH. Not part of the provider.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import random
import time
import weakref
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

TICK = 0.01  # the probe's sleep: its lateness is the event loop's lag
TERMINAL = ("SUCCEEDED", "FAILED", "CANCELED")


class LagProbeTrigger(BaseTrigger):
    """Sleeps 10 ms in a loop and writes how late each wake-up was, until ``stop_path`` exists.

    Each second it appends one JSON line to ``samples_path``: ``{"t": epoch of the first tick,
    "lags": [ms, ...], "tasks": asyncio tasks running, "gc": [[epoch, generation, ms], ...]}``
    (the garbage collections of 5 ms or more in that second). Writing a line costs microseconds.
    """

    def __init__(self, samples_path: str, stop_path: str) -> None:
        super().__init__()
        self.samples_path = samples_path
        self.stop_path = stop_path

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return f"{type(self).__module__}.{type(self).__qualname__}", {
            "samples_path": self.samples_path,
            "stop_path": self.stop_path,
        }

    async def run(self) -> AsyncIterator[TriggerEvent]:
        collections: list[list[float]] = []
        started: dict[int, float] = {}

        def on_gc(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                started[info["generation"]] = time.perf_counter()
            elif (begun := started.pop(info["generation"], None)) is not None:
                ms = (time.perf_counter() - begun) * 1000
                if ms >= 5:
                    collections.append([time.time(), info["generation"], round(ms, 1)])

        gc.callbacks.append(on_gc)
        try:
            with open(self.samples_path, "a") as out:
                while not os.path.exists(self.stop_path):
                    first, lags = time.time(), []
                    for _ in range(100):
                        before = time.perf_counter()
                        await asyncio.sleep(TICK)
                        lags.append(round((time.perf_counter() - before - TICK) * 1000, 2))
                    line = {"t": first, "lags": lags, "tasks": len(asyncio.all_tasks()), "gc": collections}
                    out.write(json.dumps(line) + "\n")
                    out.flush()
                    collections = []
        finally:
            gc.callbacks.remove(on_gc)
        yield TriggerEvent({"status": "stopped"})


# One aiohttp session per event loop, shared by every FloorTrigger on it.
_sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()


def _session() -> tuple[Any, str, dict[str, str]]:
    import aiohttp

    loop = asyncio.get_running_loop()
    if loop not in _sessions:
        # The emulator's address and key, from the same environment connection the provider reads.
        conn = json.loads(os.environ["AIRFLOW_CONN_DASHSCOPE_DEFAULT"])
        headers = {"Authorization": f"Bearer {conn['password']}"}
        _sessions[loop] = (aiohttp.ClientSession(), conn["host"].rstrip("/"), headers)
    return _sessions[loop]


class FloorTrigger(BaseTrigger):
    """The least a watcher of a job can do: one GET of the job per interval, the JSON parsed, no
    log lines, one shared aiohttp session; the event when the job has ended.

    Its polls are spread over the interval as the provider's are (a random first sleep), so that
    the two differ only in what each poll does.
    """

    def __init__(self, job_id: str, poll_interval: float) -> None:
        super().__init__()
        self.job_id = job_id
        self.poll_interval = poll_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return f"{type(self).__module__}.{type(self).__qualname__}", {
            "job_id": self.job_id,
            "poll_interval": self.poll_interval,
        }

    async def run(self) -> AsyncIterator[TriggerEvent]:
        session, base, headers = _session()
        url = f"{base}/api/v1/fine-tunes/compress/jobs/{self.job_id}"
        polls = 0
        while True:
            polls += 1
            async with session.get(url, headers=headers) as response:
                status = json.loads(await response.read())["output"]["status"]
            if status in TERMINAL:
                yield TriggerEvent({"status": status, "job_id": self.job_id})
                return
            await asyncio.sleep(self.poll_interval * (random.random() if polls == 1 else 1))


def timed(trigger_class: type[BaseTrigger]) -> type[BaseTrigger]:
    """``trigger_class`` with the moment of its event in the payload (``yielded_at``, epoch), which
    the benchmark reads back from the task's log: the triggerer's own log timestamps are the
    supervisor's, written when it gets to the line."""

    class Timed(trigger_class):  # type: ignore[valid-type, misc]
        async def run(self) -> AsyncIterator[TriggerEvent]:
            async for event in super().run():
                event.payload["yielded_at"] = time.time()
                yield event

    Timed.__name__ = Timed.__qualname__ = f"Timed{trigger_class.__name__}"
    return Timed


def _compress_trigger() -> type[BaseTrigger]:
    from airflow_provider_compress.triggers.compress import CompressJobTrigger

    return CompressJobTrigger


TimedCompressJobTrigger = timed(_compress_trigger())
TimedFloorTrigger = timed(FloorTrigger)

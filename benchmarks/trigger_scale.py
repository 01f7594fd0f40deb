"""The triggerer at scale: N CompressJobTriggers in one event loop, as Airflow's triggerer runs them,
against the emulator in another process (each pinned to its own core when there are two).

For each N, in a fresh process (so that RSS is not memory freed by a previous size): CPU per
request of the trigger loop against a floor (one shared aiohttp session doing one GET per job per
interval with the same JSON parse and nothing else), RSS per trigger, event-loop lag (a 10 ms
ticker in the same loop: p50/p99/max), the delay from a job's end to its event (p50/p99),
requests per poll before and after the job starts (counted by the emulator), and how busy the
emulator's core was. Then the emulator's own capacity: requests/s on its one core when it is
kept saturated. JSON report.

    python benchmarks/trigger_scale.py --sizes 100 500 1000 --output trigger_scale.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="scale-airflow-"))

import psutil

from airflow_provider_compress.emulator.process import EmulatorProcess
from airflow_provider_compress.hooks.base import close_async_clients
from airflow_provider_compress.hooks.compress import CompressHook
from airflow_provider_compress.protocol import COMPRESS
from airflow_provider_compress.triggers.compress import CompressJobTrigger

MODEL = "qwen3.5-flash-2026-02-23-ft-202604010000-a1b2"
TEMPLATE = "quant-flash-nvfp4-mlp-nomtp"
T = TypeVar("T")


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def process_cpu(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def pin(emulator: EmulatorProcess) -> None:
    """The emulator on core 1, this process on core 0: neither steals the other's CPU."""
    if len(os.sched_getaffinity(0)) > 1 and emulator.pid:
        os.sched_setaffinity(emulator.pid, {1})
        os.sched_setaffinity(0, {0})


async def with_lag_probe(work: Awaitable[T]) -> tuple[T, dict[str, float]]:
    """Await ``work`` while a 10 ms ticker in the same loop records how late it wakes up."""
    lags: list[tuple[float, float]] = []  # (seconds since start, lag in ms)
    done = False

    async def ticker() -> None:
        first = time.perf_counter()
        while not done:
            started = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append((started - first, (time.perf_counter() - started - 0.01) * 1000))

    tick = asyncio.ensure_future(ticker())
    result = await work
    done = True
    await tick
    worst = max(lags, key=lambda sample: sample[1])
    return result, {
        "p50": round(percentile([lag for _, lag in lags], 0.5), 1),
        "p99": round(percentile([lag for _, lag in lags], 0.99), 1),
        "max": round(worst[1], 1),
        "max_at_second": round(worst[0], 1),
    }


async def run_triggers(jobs: dict[str, float], job_seconds: float, poll: float) -> dict[str, Any]:
    # Lines go nowhere: the cost measured is the polling; writing lines is log_throughput's.
    quiet = logging.getLogger("scale")
    quiet.disabled = True
    delays: list[float] = []
    outcomes: dict[str, int] = {}

    async def one(job_id: str, created: float) -> None:
        trigger = CompressJobTrigger("dashscope_default", job_id, poll_interval=poll, forward_logs=True)
        trigger._log = quiet
        async for event in trigger.run():
            delays.append((time.time() - (created + job_seconds)) * 1000)
            outcomes[event.payload["status"]] = outcomes.get(event.payload["status"], 0) + 1

    rss_before = psutil.Process().memory_info().rss
    cpu_before = cpu_seconds()

    async def all_triggers() -> int:
        tasks = [asyncio.ensure_future(one(job_id, created)) for job_id, created in jobs.items()]
        await asyncio.sleep(job_seconds / 2)  # every job running, its lines being forwarded
        rss_running = psutil.Process().memory_info().rss
        await asyncio.gather(*tasks)
        return rss_running

    rss_running, lag = await with_lag_probe(all_triggers())
    cpu = cpu_seconds() - cpu_before
    await close_async_clients()
    return {
        "cpu_seconds": cpu,
        "outcomes": outcomes,
        "rss_per_trigger_kb": round((rss_running - rss_before) / 1024 / len(jobs), 1),
        "loop_lag_ms": lag,
        "event_delay_ms": {"p50": round(percentile(delays, 0.5)), "p99": round(percentile(delays, 0.99))},
    }


async def run_floor(url: str, key: str, job_ids: list[str], seconds: float, poll: float) -> dict[str, Any]:
    """One shared aiohttp session, one GET per job per interval, the JSON parsed: nothing else
    (but the same lag probe)."""
    import aiohttp

    requests_made = 0
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as session:

        async def one(job_id: str) -> None:
            nonlocal requests_made
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                async with session.get(f"{url}/api/v1/fine-tunes/compress/jobs/{job_id}") as response:
                    json.loads(await response.read())
                requests_made += 1
                await asyncio.sleep(poll)

        cpu_before = cpu_seconds()
        _, lag = await with_lag_probe(asyncio.gather(*(one(j) for j in job_ids)))
        return {"cpu_ms_per_request": (cpu_seconds() - cpu_before) / requests_made * 1000, "loop_lag_ms": lag}


def per_poll(reads: dict[str, int], started: bool) -> float:
    """Requests per status poll, among the polls that found the job started (or not yet)."""

    def counted(kind: str) -> int:
        return sum(
            n
            for key, n in reads.items()
            if key.split()[0] == kind and (key.split()[1] not in COMPRESS.not_started) == started
        )

    polls = counted("status")
    return round((polls + counted("logs")) / polls, 3) if polls else float("nan")


def measure(size: int, job_seconds: float, poll: float) -> dict[str, Any]:
    """One size, in this process."""
    import aiohttp  # noqa: F401  (loaded once per triggerer, by its first trigger: not a per-poll cost)

    with EmulatorProcess(job_seconds=job_seconds, log_lines=20) as emulator:
        pin(emulator)
        os.environ["AIRFLOW_CONN_DASHSCOPE_DEFAULT"] = emulator.connection_json()
        hook = CompressHook()
        jobs = {}
        for i in range(size):
            jobs[hook.create_job(model=MODEL, template_id=TEMPLATE, job_name=f"scale-{size}-{i}").job_id] = (
                time.time()
            )
        before = emulator.state()["requests"]
        emulator_cpu, started = process_cpu(emulator.pid), time.monotonic()
        result = asyncio.run(run_triggers(jobs, job_seconds, poll))
        emulator_busy = (process_cpu(emulator.pid) - emulator_cpu) / (time.monotonic() - started)
        state = emulator.state()
        trigger_requests = state["requests"] - before
        floor = asyncio.run(run_floor(emulator.url, emulator.api_key, list(jobs), job_seconds, poll))
    cpu_per_request = result.pop("cpu_seconds") / trigger_requests * 1000
    floor_per_request = floor["cpu_ms_per_request"]
    reads = state["job_reads"]
    return {
        "triggers": size,
        "requests": trigger_requests,
        "requests_per_poll": {
            "before_start": per_poll(reads, started=False),
            "after_start": per_poll(reads, started=True),
        },
        "cpu_ms_per_request": round(cpu_per_request, 3),
        "floor_cpu_ms_per_request": round(floor_per_request, 3),
        "ratio_to_floor": round(cpu_per_request / floor_per_request, 2),
        "emulator_core_busy": round(emulator_busy, 2),
        **result,
        "floor_loop_lag_ms": floor["loop_lag_ms"],
    }


def emulator_capacity(seconds: float = 5.0, concurrency: int = 64) -> dict[str, Any]:
    """Requests/s the emulator serves on its one core when kept saturated with job polls."""
    with EmulatorProcess(job_seconds=3600, log_lines=20) as emulator:
        pin(emulator)
        os.environ["AIRFLOW_CONN_DASHSCOPE_DEFAULT"] = emulator.connection_json()
        hook = CompressHook()
        job_ids = [
            hook.create_job(model=MODEL, template_id=TEMPLATE, job_name=f"cap-{i}").job_id for i in range(100)
        ]

        async def hammer() -> int:
            import aiohttp

            done = 0
            headers = {"Authorization": f"Bearer {emulator.api_key}"}
            async with aiohttp.ClientSession(headers=headers) as session:

                async def worker(n: int) -> None:
                    nonlocal done
                    deadline = time.monotonic() + seconds
                    while time.monotonic() < deadline:
                        path = f"jobs/{job_ids[(n + done) % len(job_ids)]}" + ("/logs" if done % 2 else "")
                        async with session.get(f"{emulator.url}/api/v1/fine-tunes/compress/{path}") as r:
                            await r.read()
                        done += 1

                await asyncio.gather(*(worker(n) for n in range(concurrency)))
            return done

        cpu, started = process_cpu(emulator.pid), time.monotonic()
        served = asyncio.run(hammer())
        wall = time.monotonic() - started
        busy = (process_cpu(emulator.pid) - cpu) / wall
    cpu_ms = busy * wall / served * 1000
    return {
        "requests_per_second": round(served / wall),
        "core_busy": round(busy, 2),  # below 1: the load generator on the other core was the limit
        "cpu_ms_per_request": round(cpu_ms, 3),
        "requests_per_second_at_full_core": round(1000 / cpu_ms),
    }


def in_fresh_process(size: int, job_seconds: float, poll: float) -> dict[str, Any]:
    args = [sys.executable, __file__, "--one", str(size), "--job-seconds", str(job_seconds)]
    run = subprocess.run([*args, "--poll", str(poll)], capture_output=True, text=True)
    if run.returncode:
        raise RuntimeError(f"trigger_scale --one {size} failed:\n{run.stderr[-3000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 500, 1000])
    parser.add_argument("--job-seconds", type=float, default=20)
    parser.add_argument("--poll", type=float, default=1.0)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # one size, in this process
    parser.add_argument("--output")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.job_seconds, args.poll)))
        return 0
    report = {
        "job_seconds": args.job_seconds,
        "poll_interval": args.poll,
        "runs": [in_fresh_process(size, args.job_seconds, args.poll) for size in args.sizes],
        "emulator_capacity": emulator_capacity(),
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.output:
        with open(args.output, "w") as out:
            out.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

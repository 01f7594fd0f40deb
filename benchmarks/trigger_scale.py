"""The triggerer at scale: N CompressJobTriggers in one event loop, as Airflow's triggerer runs them,
against the emulator in another process (each pinned to its own core when there are two).

Measures, for each N: CPU per request of the trigger loop against a floor (one shared aiohttp
session doing one GET per job per interval with the same JSON parse and nothing else), RSS per
trigger, event-loop lag (a 10 ms ticker in the same loop: p50/p99/max), the delay from a job's end
to its event (p50/p99), and requests per poll. JSON report.

    python benchmarks/trigger_scale.py --sizes 100 500 1000 --output trigger_scale.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import statistics
import sys
import tempfile
import time

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="scale-airflow-"))

import psutil

from airflow_provider_compress.emulator.process import EmulatorProcess
from airflow_provider_compress.hooks.base import close_async_clients
from airflow_provider_compress.hooks.compress import CompressHook
from airflow_provider_compress.triggers.compress import CompressJobTrigger

MODEL = "qwen3.5-flash-2026-02-23-ft-202604010000-a1b2"
TEMPLATE = "quant-flash-nvfp4-mlp-nomtp"


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def ticker(lags: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(0.01)
        lags.append((time.perf_counter() - started - 0.01) * 1000)


async def run_triggers(jobs: dict[str, float], job_seconds: float, poll: float) -> dict:
    lags: list[float] = []
    stop = asyncio.Event()
    tick = asyncio.ensure_future(ticker(lags, stop))
    quiet = logging.getLogger("scale")
    quiet.disabled = True
    delays: list[float] = []

    async def one(job_id: str, created: float) -> None:
        trigger = CompressJobTrigger("dashscope_default", job_id, poll_interval=poll, forward_logs=True)
        trigger._log = quiet
        async for _event in trigger.run():
            delays.append((time.time() - (created + job_seconds)) * 1000)
            return

    rss_before = psutil.Process().memory_info().rss
    cpu_before = cpu_seconds()
    tasks = [asyncio.ensure_future(one(job_id, created)) for job_id, created in jobs.items()]
    await asyncio.sleep(poll * 2)
    rss_running = psutil.Process().memory_info().rss
    await asyncio.gather(*tasks)
    cpu = cpu_seconds() - cpu_before
    stop.set()
    await tick
    await close_async_clients()
    return {
        "cpu_seconds": cpu,
        "rss_per_trigger_kb": round((rss_running - rss_before) / 1024 / len(jobs), 1),
        "loop_lag_ms": {
            "p50": round(percentile(lags, 0.5), 1),
            "p99": round(percentile(lags, 0.99), 1),
            "max": round(max(lags), 1),
        },
        "event_delay_ms": {"p50": round(percentile(delays, 0.5)), "p99": round(percentile(delays, 0.99))},
    }


async def run_floor(url: str, key: str, job_ids: list[str], seconds: float, poll: float) -> tuple[float, int]:
    """One shared aiohttp session, one GET per job per interval, the JSON parsed: nothing else."""
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
        await asyncio.gather(*(one(j) for j in job_ids))
        return cpu_seconds() - cpu_before, requests_made


def measure(size: int, job_seconds: float, poll: float) -> dict:
    with EmulatorProcess(job_seconds=job_seconds, log_lines=20) as emulator:
        if len(os.sched_getaffinity(0)) > 1 and emulator.pid:
            os.sched_setaffinity(emulator.pid, {1})
            os.sched_setaffinity(0, {0})
        os.environ["AIRFLOW_CONN_DASHSCOPE_DEFAULT"] = emulator.connection_json()
        hook = CompressHook()
        jobs = {}
        for i in range(size):
            jobs[hook.create_job(MODEL, TEMPLATE, job_name=f"scale-{size}-{i}").job_id] = time.time()
        before = emulator.state()["requests"]
        result = asyncio.run(run_triggers(jobs, job_seconds, poll))
        trigger_requests = emulator.state()["requests"] - before
        polls = size * (job_seconds / poll)
        floor_cpu, floor_requests = asyncio.run(
            run_floor(emulator.url, emulator.api_key, list(jobs), job_seconds, poll)
        )
    cpu_per_request = result["cpu_seconds"] / trigger_requests * 1000
    floor_per_request = floor_cpu / floor_requests * 1000
    return {
        "triggers": size,
        "requests": trigger_requests,
        "requests_per_poll": round(trigger_requests / polls, 2),
        "cpu_ms_per_request": round(cpu_per_request, 3),
        "floor_cpu_ms_per_request": round(floor_per_request, 3),
        "ratio_to_floor": round(cpu_per_request / floor_per_request, 2),
        **{k: v for k, v in result.items() if k != "cpu_seconds"},
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 500, 1000])
    parser.add_argument("--job-seconds", type=float, default=20)
    parser.add_argument("--poll", type=float, default=1.0)
    parser.add_argument("--output")
    args = parser.parse_args()
    report = {"runs": [measure(size, args.job_seconds, args.poll) for size in args.sizes]}
    report["median_ratio_to_floor"] = statistics.median(run["ratio_to_floor"] for run in report["runs"])
    text = json.dumps(report, indent=2)
    print(text)
    if args.output:
        with open(args.output, "w") as out:
            out.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Log forwarding throughput: a finished job with 100,000 log lines, forwarded by CompressJobTrigger.

Counts the log requests (target: at most 101) and the lines per second end to end (target: at
least 20,000), and checks that every line arrives once and in order. JSON report.

    python benchmarks/log_throughput.py --lines 100000 --output log_throughput.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import tempfile
import time

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="logbench-airflow-"))


from airflow_provider_compress.emulator.process import EmulatorProcess
from airflow_provider_compress.hooks.base import close_async_clients
from airflow_provider_compress.hooks.compress import CompressHook
from airflow_provider_compress.triggers.compress import CompressJobTrigger


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def run(lines: int) -> dict:
    with EmulatorProcess(job_seconds=1, log_lines=lines) as emulator:
        os.environ["AIRFLOW_CONN_DASHSCOPE_DEFAULT"] = emulator.connection_json()
        job_id = (
            CompressHook()
            .create_job(
                model="qwen3.5-flash-2026-02-23-ft-202604010000-a1b2",
                template_id="quant-flash-nvfp4-mlp-nomtp",
                job_name="log-bench",
            )
            .job_id
        )
        time.sleep(1.5)
        expected = emulator.full_log(job_id)  # also makes the emulator write the whole log first
        collect = Collect()
        logger = logging.getLogger("log-bench")
        logger.addHandler(collect)
        logger.setLevel(logging.INFO)
        logger.propagate = False
        trigger = CompressJobTrigger("dashscope_default", job_id, poll_interval=1)
        trigger._log = logger
        before = emulator.state()["requests"]
        started = time.perf_counter()

        async def watch() -> dict:
            try:
                async for event in trigger.run():
                    return event.payload
                raise AssertionError("no event")
            finally:
                await close_async_clients()

        event = asyncio.run(watch())
        seconds = time.perf_counter() - started
        requests_made = emulator.state()["requests"] - before
        forwarded = [m.split("] ", 1)[1] for m in collect.messages]
        numbers = [int(m.split(" #", 1)[1].split("]", 1)[0]) for m in collect.messages]
        faults = emulator.faults()["injected"]
    log_requests = requests_made - 1  # one GET of the job itself
    report = {
        "lines": len(expected),
        "status": event["status"],
        "seconds": round(seconds, 3),
        "lines_per_second": round(len(forwarded) / seconds),
        "log_requests": log_requests,
        "target_log_requests": 101,
        "target_lines_per_second": 20000,
        "exact": forwarded == expected and numbers == list(range(1, len(expected) + 1)),
        "faults_injected": faults,
    }
    report["within_target"] = (
        report["exact"]
        and log_requests <= 101
        and report["lines_per_second"] >= report["target_lines_per_second"]
    )
    return report


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--output")
    args = parser.parse_args()
    report = run(args.lines)
    text = json.dumps(report, indent=2)
    print(text)
    if args.output:
        with open(args.output, "w") as out:
            out.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

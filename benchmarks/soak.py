"""Soak: N compression jobs through CreateCompressJobOperator (deferrable) and CompressJobTrigger,
all triggers in one event loop as a triggerer runs them, against the emulator with mixed faults.

Checks that every job reaches its true end state, that no job is created twice, and that every
log line is forwarded exactly once (compared with the emulator's own log). Prints a JSON report.

    python benchmarks/soak.py --jobs 200 --fault-rate 0.2 --output soak.json
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import logging
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="soak-airflow-"))

from airflow_provider_compress import protocol
from airflow_provider_compress.emulator.process import EmulatorProcess
from airflow_provider_compress.hooks.base_async import close_async_clients
from airflow_provider_compress.operators.compress import CreateCompressJobOperator

SFT_MODEL = "qwen3.5-flash-2026-02-23-ft-202604010000-a1b2"
FAIL_MODEL = "qwen3.5-flash-2026-02-23-ft-202603150000-fail"
TEMPLATE = "quant-flash-nvfp4-mlp-nomtp"
FAULTS = ("429", "500", "502", "503", "reset", "lost", "truncated", "invalid", "slow")
LINE = re.compile(r"^\[(?P<job>\S+) #(?P<n>\d+)\] ")


class Lines(logging.Handler):
    """Collects the forwarded remote log lines: job id -> line numbers, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.by_job: dict[str, list[int]] = collections.defaultdict(list)

    def emit(self, record: logging.LogRecord) -> None:
        for line in record.getMessage().split("\n"):  # a trigger writes the lines of a read at once
            if match := LINE.match(line):
                self.by_job[match["job"]].append(int(match["n"]))


class TaskInstanceStub:
    """The little of a task instance the operator uses: its identity and xcom_push."""

    def __init__(self, index: int) -> None:
        self.dag_id, self.run_id, self.task_id, self.map_index, self.try_number = (
            "soak",
            "manual__soak",
            f"compress_{index}",
            -1,
            1,
        )
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


@contextlib.contextmanager
def count_retries() -> Iterator[collections.Counter[str]]:
    """Count the hooks' retries, sync and async, by wrapping ``protocol.retry.log_retry``, which
    both call before each retry (benchmark instrumentation)."""
    retries: collections.Counter[str] = collections.Counter()
    original = protocol.retry.log_retry

    def counted(log, request, *args, **kwargs):
        endpoint = re.sub(r"/jobs/[^/]+", "/jobs/{id}", request.path)
        retries[f"{request.method} {endpoint}"] += 1
        original(log, request, *args, **kwargs)

    protocol.retry.log_retry = counted  # type: ignore[assignment]
    try:
        yield retries
    finally:
        protocol.retry.log_retry = original  # type: ignore[assignment]


def run(jobs: int, fault_rate: float, job_seconds: float, seed: int) -> dict[str, Any]:
    lines = Lines()
    logger = logging.getLogger("soak")
    logger.addHandler(lines)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    started = time.monotonic()
    with (
        count_retries() as retries,
        EmulatorProcess(
            job_seconds=job_seconds,
            log_lines=20,
            fault_rate=fault_rate,
            fault_kinds=",".join(FAULTS),
            slow_seconds=1.0,
            fault_seed=seed,
        ) as emulator,
    ):
        os.environ["AIRFLOW_CONN_DASHSCOPE_DEFAULT"] = emulator.connection_json(
            retry_delay=0.05, retry_max_delay=0.5, timeout=0.5
        )
        operators, contexts, triggers = [], [], []
        for i in range(jobs):
            operator = CreateCompressJobOperator(
                task_id=f"compress_{i}",
                model=FAIL_MODEL if i % 10 == 9 else SFT_MODEL,
                template_id=TEMPLATE,
                deferrable=True,
                poll_interval=1,
            )
            operator._log = operator._cached_logger = logger  # where Airflow 3.1 / 3.3 look
            context: dict[str, Any] = {"ti": TaskInstanceStub(i), "outlet_events": {}}
            try:
                operator.execute(context)  # type: ignore[arg-type]
                raise AssertionError("the operator did not defer")
            except BaseException as deferred:  # TaskDeferred is a BaseException
                if type(deferred).__name__ != "TaskDeferred":
                    raise
                trigger = deferred.trigger  # type: ignore[attr-defined]
            trigger._log = logger
            operators.append(operator)
            contexts.append(context)
            triggers.append(trigger)

        async def triggerer() -> list[dict[str, Any]]:
            async def one(trigger) -> dict[str, Any]:
                async for event in trigger.run():
                    return event.payload
                raise AssertionError("the trigger ended without an event")

            try:
                return await asyncio.gather(*(one(t) for t in triggers))
            finally:
                await close_async_clients()

        events = asyncio.run(triggerer())
        outcomes = []
        for operator, context, event in zip(operators, contexts, events, strict=True):
            try:
                operator.execute_complete(context, event)  # type: ignore[arg-type]
                outcomes.append("SUCCEEDED")
            except Exception as failure:
                outcomes.append("FAILED" if "failed" in str(failure) else f"error: {failure}")
        state = emulator.state()
        names = collections.Counter(job["job_name"] for job in state["jobs"].values())
        job_ids = [context["ti"].xcom["job_id"] for context in contexts]
        log_mismatches = [
            job_id
            for job_id in job_ids
            if lines.by_job[job_id] != list(range(1, len(emulator.full_log(job_id)) + 1))
        ]
        outcome_mismatches = [
            job_id
            for job_id, outcome in zip(job_ids, outcomes, strict=True)
            if state["jobs"][job_id]["status"] != outcome
        ]
        faults = emulator.faults()["injected"]
    report = {
        "jobs": jobs,
        "fault_rate": fault_rate,
        "job_seconds": job_seconds,
        "seconds": round(time.monotonic() - started, 1),
        "requests": state["requests"],
        "faults_injected": faults,
        "retries": sum(retries.values()),
        "retries_by_call": dict(retries),
        "creates": state["creates"],
        "duplicate_names": sum(1 for count in names.values() if count > 1),
        "lines_forwarded": sum(len(numbers) for numbers in lines.by_job.values()),
        "log_mismatches": log_mismatches,
        "outcome_mismatches": outcome_mismatches,
        "outcomes": dict(collections.Counter(outcomes)),
    }
    report["ok"] = (
        report["creates"] == jobs
        and not report["duplicate_names"]
        and not log_mismatches
        and not outcome_mismatches
    )
    return report


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--fault-rate", type=float, default=0.2)
    parser.add_argument("--job-seconds", type=float, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output", help="also write the JSON report here")
    args = parser.parse_args()
    report = run(args.jobs, args.fault_rate, args.job_seconds, args.seed)
    text = json.dumps(report, indent=2)
    print(text)
    if args.output:
        with open(args.output, "w") as out:
            out.write(text + "\n")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

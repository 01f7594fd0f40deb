"""Log forwarding through Airflow's triggerer: a job with 100,000 log lines, forwarded by a deferred
task's CompressJobTrigger into the task's log (the triggerer's per-trigger log routing).

The task defers when the job has written 95 % of its lines and is still RUNNING (a backlog: as
after a triggerer restart, or a task deferring late), so the trigger's first read takes them all
as fast as it can: 1,000 lines a request. (Lines written after its last read, before the job's
end, are the resumed operator's to forward: the event does not wait for them.) Measures the lines
per second that reach the task log file (its first to its last line), whether the forwarded lines
are the job's log exactly, once and in order, the log requests made, and whether the triggerer
stays healthy
meanwhile: the lag probe in the same event loop, the longest gap between the triggerer's heartbeats
(another triggerer takes the triggers over after ``triggerer_health_check_threshold``, 30 s) and
the supervisor's "deadlocked" and the runner's "blocked" warnings. Same stack as
``triggerer_scale.py``. JSON report.

    python benchmarks/log_throughput.py --lines 100000 --output log_throughput.json
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from typing import Any

import triggerer_scale as scale
import triggerer_stack as ts

from airflow_provider_compress.emulator.process import EmulatorProcess

BIG_JOB_SECONDS = 50.0


def run(lines: int, stack: ts.Stack | None = None) -> dict[str, Any]:
    if stack is None:
        with ts.Stack([1]) as own:
            return run(lines, own)
    # Airflow reads its configuration on import: only once the stack has set it.
    from bench_triggers import TimedCompressJobTrigger, TimedFloorTrigger

    dag_id, run_id = stack.dag_id(1), f"logs-{time.time_ns()}"
    stack.create_run(dag_id, run_id)
    with EmulatorProcess(job_seconds=2, log_lines=lines) as emulator:
        ts.pin(emulator.pid, ts.OTHER_CORE)
        triggerer = stack.triggerer(emulator.connection_json(), capacity=10)
        try:
            probe = scale.Probe(stack.home)
            stack.defer(dag_id, run_id, "probe", [probe.trigger()])
            (warm,), (warm_floor,) = (
                scale.create_jobs(emulator, 1, f"{run_id}-w"),
                scale.create_jobs(emulator, 1, f"{run_id}-wf"),
            )
            stack.defer(dag_id, run_id, "warmup", [TimedCompressJobTrigger("dashscope_default", warm[0], 1)])
            stack.defer(dag_id, run_id, "warmup_floor", [TimedFloorTrigger(warm_floor[0], 1)])
            for task_id in ("warmup", "warmup_floor"):
                ts.wait_for(lambda t=task_id: not stack.deferred(dag_id, run_id, t), 180, "warm-up")
            # RUNNING from 20 % to 100 % of its time, writing its lines evenly: at 96 % it has
            # written 95 % of them, and runs on for BIG_JOB_SECONDS / 25 more.
            emulator.set_timing(job_seconds=BIG_JOB_SECONDS)
            jobs = scale.create_jobs(emulator, 1, f"{run_id}-big")
            (job_id, created) = jobs[0]
            time.sleep(max(0.0, created + 0.96 * BIG_JOB_SECONDS - time.time()))
            trigger = TimedCompressJobTrigger("dashscope_default", job_id, poll_interval=1)
            where = (dag_id, run_id, "compress")
            result = scale.phase(
                stack, triggerer, emulator, probe, where, [trigger], jobs, BIG_JOB_SECONDS, True
            )
            expected = emulator.full_log(job_id)
            probe.stop.touch()
            ts.wait_for(lambda: not stack.deferred(dag_id, run_id, "probe"), 60, "the probe did not stop")
        finally:
            triggerer.stop()
    # When the supervisor wrote each record of forwarded lines (a record holds the lines of a read).
    stamps = [
        datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00")).timestamp()
        for entry in stack.trigger_logs(dag_id, run_id, "compress")[0]
        if scale.LINE.match(str(entry.get("event", "")))
    ]
    seconds = stamps[-1] - stamps[0] if len(stamps) > 1 else float("nan")
    lines_after_first = result["lines_forwarded"] - scale.LOG_PAGE  # the first record's are before
    return {
        "lines": len(expected),
        "backlog": f"{result['lines_forwarded'] / len(expected):.0%} of the log, read while the job ran",
        "lines_in_task_log": result["lines_forwarded"],
        "exact": result["logs_exact"] == "1/1",
        "prefix": result["logs_prefix"] == "1/1",  # in order, none repeated (maybe not all: Airflow's race)
        "log_requests": result["whole_phase"]["requests"] - 1,  # and one read of the job itself
        "seconds_first_to_last_line": round(seconds, 2),
        "records": len(stamps),
        "lines_per_second": round(lines_after_first / seconds) if seconds > 0 else None,
        "loop_lag_ms": result["whole_phase"].pop("loop_lag_ms"),
        "longest_heartbeat_gap_s": result["longest_heartbeat_gap_s"],
        "blocked_warnings": result["blocked_warnings"],
        "deadlock_warnings": result["deadlock_warnings"],
        "whole_phase": result["whole_phase"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--output")
    args = parser.parse_args()
    ts.report(run(args.lines), args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())

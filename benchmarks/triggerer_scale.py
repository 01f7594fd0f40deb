"""The provider's job trigger at scale in Airflow's own triggerer, against a floor in the same one.

For each size N, a fresh ``airflow triggerer`` (supervisor and runner pinned to core 0; the
emulator, PostgreSQL and this process on core 1; ``triggerer_stack.py``) runs, one after the other:

1. a lag probe (``bench_triggers.LagProbeTrigger``: sleeps 10 ms in a loop and records how late it
   wakes up) for the whole run, and a warm-up (one provider and one floor trigger: imports, the
   supervisor's first Execution API client);
2. N deferred ``CompressJobTrigger`` tasks on N jobs of the emulator, log forwarding on (the jobs
   write about a line a second), each trigger's lines routed by the triggerer to its task's log;
3. the floor: N deferred ``FloorTrigger`` tasks (one GET per interval on a shared session, no log
   lines) on N new jobs.

Per phase: the runner's CPU per API request (psutil) and the ratio to the floor's, the runner's RSS
growth per trigger (peak during the phase), the probe's loop lag p50/p99/max, the delay from a
job's end to its event (p50/p99), requests per poll before and after the job starts (counted by
the emulator), whether the lines each trigger forwarded are exactly the job's log up to its event's
``log_offset`` (once, in order; the resumed operator forwards the rest), and the triggerer's
health (longest gap between heartbeats, "blocked" and "deadlocked" warnings). JSON.

    python benchmarks/triggerer_scale.py --sizes 1000 --poll 1 --job-seconds 30 --output out.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import triggerer_stack as ts

from airflow_provider_compress.emulator.process import EmulatorProcess

NOT_STARTED = ("PENDING", "QUEUING")
WARMUP_SECONDS = 20
SUPERVISOR_CORE = ts.TRIGGERER_CORE  # --supervisor-core: the supervisor apart from its runner
LOG_PAGE = 1000  # lines a log request reads, and a trigger writes as one record
LINE = re.compile(r"^\[(?P<job>[^ \]]+) #(?P<n>\d+)\] (?P<text>.*)$", re.S)
YIELDED = re.compile(r"'yielded_at': ([0-9.]+)")


def create_jobs(emulator: EmulatorProcess, count: int, prefix: str) -> list[tuple[str, float]]:
    """``count`` jobs, created concurrently so that they start within a second or two: (id, a time
    just before the create, so that an end computed from it is never later than the real one).
    Plain HTTP to the emulator: the jobs are the benchmark's setup, not what it measures."""
    import requests

    url = f"{emulator.url}/api/v1/fine-tunes/compress/jobs"
    headers = {"Authorization": f"Bearer {emulator.api_key}"}

    def one(i: int) -> tuple[str, float]:
        before = time.time()
        body = {"model": ts.MODEL, "template_id": ts.TEMPLATE, "job_name": f"{prefix}-{i}"}
        answer = requests.post(url, json=body, headers=headers, timeout=60)
        answer.raise_for_status()
        return answer.json()["output"]["job_id"], before

    with ThreadPoolExecutor(32) as pool:
        return list(pool.map(one, range(count)))


def per_poll(before: dict[str, int], after: dict[str, int], started: bool) -> float:
    """Requests per status poll among the polls that found the job started (or not yet)."""
    reads = {key: after.get(key, 0) - before.get(key, 0) for key in after}

    def counted(endpoint: str) -> int:
        return sum(
            n
            for key, n in reads.items()
            if key.split()[0] == endpoint and (key.split()[1] not in NOT_STARTED) == started
        )

    polls = counted("status")
    return round((polls + counted("logs")) / polls, 3) if polls else float("nan")


class Probe:
    def __init__(self, home: Path) -> None:
        self.samples = home / f"probe-{time.time_ns()}.jsonl"
        self.stop = home / f"probe-{time.time_ns()}.stop"

    def trigger(self) -> Any:
        from bench_triggers import LagProbeTrigger

        return LagProbeTrigger(str(self.samples), str(self.stop))

    def tasks(self) -> int:
        """The asyncio tasks in the triggerer's loop at the probe's last report."""
        if not self.samples.exists():
            return 0
        with open(self.samples, "rb") as samples:
            samples.seek(max(0, samples.seek(0, 2) - 65536))
            last = samples.read().splitlines()[-1:]
        return json.loads(last[0])["tasks"] if last else 0

    def window(self, start: float, end: float) -> dict[str, Any]:
        """Loop lag (ms) in [start, end], and the garbage collections of 5 ms or more there."""
        lags: list[float] = []
        collections: list[list[float]] = []
        if self.samples.exists():
            for line in ts.read_lines(self.samples):
                sample = json.loads(line)
                if start <= sample["t"] <= end:
                    lags += sample["lags"]
                    collections += sample["gc"]
        by_generation: dict[str, dict[str, float]] = {}
        for _, generation, ms in collections:
            stats = by_generation.setdefault(
                str(int(generation)), {"count": 0, "total_ms": 0.0, "max_ms": 0.0}
            )
            stats["count"] += 1
            stats["total_ms"] = round(stats["total_ms"] + ms, 1)
            stats["max_ms"] = max(stats["max_ms"], ms)
        return {
            **ts.percentiles(lags),
            "over_50ms": sum(lag > 50 for lag in lags),
            "gc_pauses_over_5ms": by_generation,
        }


PROFILE_DIR: Path | None = None  # --profile: py-spy profiles of the runner and supervisor, per phase


def profile(triggerer: ts.Triggerer, task_id: str, seconds: float) -> list[subprocess.Popen[bytes]]:
    """py-spy (installed by hand: a diagnosis, not a dependency) samples the runner and the
    supervisor from outside for ``seconds``: collapsed stacks per thread, idle ones included
    (``--idle``: a loop blocked in a syscall shows where)."""
    assert PROFILE_DIR is not None
    PROFILE_DIR.mkdir(parents=True, exist_ok=True)
    spy = Path(sys.executable).with_name("py-spy")
    return [
        subprocess.Popen(
            [
                str(spy),
                "record",
                "--pid",
                str(pid),
                "--duration",
                str(max(1, int(seconds))),
                "--rate",
                "250",
                "--format",
                "raw",
                "--output",
                str(PROFILE_DIR / f"{task_id}-{name}.txt"),
                "--nonblocking",
                "--idle",
                "--threads",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, pid in (("runner", triggerer.runner.pid), ("supervisor", triggerer.proc.pid))
    ]


def resumed(stack: ts.Stack, where: tuple[str, str, str], expected: int) -> int:
    """Task instances resumed by an event: their last ones may be written a moment after every one
    left the deferred state."""
    deadline = time.monotonic() + 30
    while (count := stack.resumed(*where)) < expected and time.monotonic() < deadline:
        time.sleep(1)
    return count


class Snapshot:
    """The runner's and supervisor's CPU seconds, the runner's RSS and the emulator's request count."""

    def __init__(self, triggerer: ts.Triggerer, emulator: EmulatorProcess) -> None:
        self.time = time.time()
        (self.runner_cpu, self.supervisor_cpu), self.rss = triggerer.cpu(), triggerer.rss()
        self.requests = emulator.state(jobs=False)["requests"]


def window(start: Snapshot, end: Snapshot, probe: Probe, size: int) -> dict[str, Any]:
    served = end.requests - start.requests
    runner, supervisor = end.runner_cpu - start.runner_cpu, end.supervisor_cpu - start.supervisor_cpu
    return {
        "seconds": round(end.time - start.time, 1),
        "requests": served,
        "runner_cpu_ms_per_request": round(runner / served * 1000, 4) if served else None,
        "supervisor_cpu_ms_per_request": round(supervisor / served * 1000, 4) if served else None,
        "runner_core_busy": round(runner / (end.time - start.time), 2),
        "loop_lag_ms": probe.window(start.time, end.time),
    }


def phase(
    stack: ts.Stack,
    triggerer: ts.Triggerer,
    emulator: EmulatorProcess,
    probe: Probe,
    where: tuple[str, str, str],
    triggers: list[Any],
    jobs: list[tuple[str, float]],
    job_seconds: float,
    forwards_logs: bool,
) -> dict[str, Any]:
    """Defer the task's N instances on ``triggers`` and measure until every one has its event.

    CPU, requests and loop lag are measured in the steady window: from when all N triggers run
    (the triggerer starts at most ``max_trigger_to_select_per_loop`` a loop) to the end of the
    first job. Requests per poll, events, log lines and health over the whole phase.
    """
    dag_id, run_id, task_id = where
    before, reads = Snapshot(triggerer, emulator), emulator.state(jobs=False)["job_reads"]
    warnings = {text: triggerer.log_count(text) for text in ("was blocked for", "appears deadlocked")}
    stack.defer(dag_id, run_id, task_id, triggers)
    first_end = min(created for _, created in jobs) + job_seconds - 1
    steady: Snapshot | None = None
    steady_end: Snapshot | None = None
    profilers: list[subprocess.Popen[bytes]] = []
    heartbeat_gap, last_beat = 0.0, time.time()
    while stack.deferred(dag_id, run_id, task_id):
        time.sleep(0.5)
        now = time.time()
        beat = stack.latest_heartbeat()
        heartbeat_gap = max(heartbeat_gap, now - max(beat, last_beat))
        last_beat = max(beat, last_beat)
        if steady is None and now < first_end - 5 and probe.tasks() > len(triggers):
            steady = Snapshot(triggerer, emulator)
            profilers = profile(triggerer, task_id, first_end - now) if PROFILE_DIR else []
        if steady is not None and steady_end is None and now >= first_end:
            steady_end = Snapshot(triggerer, emulator)
        if now - before.time > 10 * job_seconds + 300:
            raise TimeoutError(f"{task_id}: triggers still deferred after {now - before.time:.0f} s")
    ended = Snapshot(triggerer, emulator)
    for profiler in profilers:
        profiler.wait()
    state = emulator.state(jobs=False)
    logs = stack.trigger_logs(dag_id, run_id, task_id)
    offsets = stack.event_offsets(dag_id, run_id, task_id) if forwards_logs else {}
    delays, exact, prefix, lines = [], 0, 0, 0
    for index, (job_id, created) in enumerate(jobs):
        entries = logs.get(index, [])
        fired = [
            float(m.group(1))
            for entry in entries
            if entry.get("event") == "Trigger fired event" and (m := YIELDED.search(str(entry.get("result"))))
        ]
        delays += [(fired[0] - (created + job_seconds)) * 1000] if fired else []
        if forwards_logs:
            # A trigger writes the lines of one read as one record. It forwards a prefix of the
            # log, up to the event's log_offset; the resumed operator forwards the rest (there is
            # no worker here), so its lines must be exactly that prefix.
            events = (line for entry in entries for line in str(entry.get("event", "")).split("\n"))
            forwarded = [m.group("text") for e in events if (m := LINE.match(e)) and m.group("job") == job_id]
            lines += len(forwarded)
            full = emulator.full_log(job_id)
            exact += index in offsets and forwarded == full[: offsets[index]]
            # Airflow may close a finished trigger's log file before its supervisor has read the
            # trigger's last records (docs/performance.md): then only a prefix reached the file.
            prefix += forwarded == full[: len(forwarded)]
    result = {
        "steady": (
            {
                **window(steady, steady_end, probe, len(triggers)),
                "rss_per_trigger_kib": round((steady_end.rss - before.rss) / 1024 / len(triggers), 1),
            }
            if steady and steady_end
            else None  # every trigger was never running at once: raise --job-seconds
        ),
        "whole_phase": window(before, ended, probe, len(triggers)),
        "events": resumed(stack, where, len(jobs)),
        "events_timed": len(delays),  # of which the task log shows when (the supervisor may drop lines)
        "event_delay_ms": {k: v for k, v in ts.percentiles(delays).items() if k in ("p50", "p99", "max")},
        "requests_per_poll": {
            "before_start": per_poll(reads, state["job_reads"], started=False),
            "after_start": per_poll(reads, state["job_reads"], started=True),
        },
        "longest_heartbeat_gap_s": round(heartbeat_gap, 1),
        "blocked_warnings": triggerer.log_count("was blocked for") - warnings["was blocked for"],
        "deadlock_warnings": triggerer.log_count("appears deadlocked") - warnings["appears deadlocked"],
    }
    if forwards_logs:
        result["lines_forwarded"] = lines
        result["logs_exact"] = f"{exact}/{len(jobs)}"
        result["logs_prefix"] = f"{prefix}/{len(jobs)}"
    return result


def measure(
    stack: ts.Stack, size: int, poll: float, job_seconds: float, run_id: str, forward_logs: bool = True
) -> dict[str, Any]:
    """One run at one size in a fresh triggerer: warm-up, the provider's triggers, then the floor's."""
    from bench_triggers import TimedCompressJobTrigger, TimedFloorTrigger

    dag_id = stack.dag_id(size)
    stack.create_run(dag_id, run_id)
    # About a line a second: the emulator writes its progress lines over the last 80 % of a job.
    with EmulatorProcess(job_seconds=job_seconds, log_lines=max(1, round(0.8 * job_seconds))) as emulator:
        ts.pin(emulator.pid, ts.OTHER_CORE)
        triggerer = stack.triggerer(emulator.connection_json(), size + 10, SUPERVISOR_CORE)
        try:
            probe = Probe(stack.home)
            stack.defer(dag_id, run_id, "probe", [probe.trigger()])
            (warm,), (warm_floor,) = (
                create_jobs(emulator, 1, f"{run_id}-w"),
                create_jobs(emulator, 1, f"{run_id}-wf"),
            )
            started = time.time()
            stack.defer(
                dag_id, run_id, "warmup", [TimedCompressJobTrigger("dashscope_default", warm[0], poll)]
            )
            stack.defer(dag_id, run_id, "warmup_floor", [TimedFloorTrigger(warm_floor[0], poll)])
            # Long enough for the imports and the supervisor's first Execution API client (5-6 s
            # here); the two warm-up triggers then poll on beside the phases until their jobs end.
            time.sleep(min(WARMUP_SECONDS, job_seconds))
            warmup_seconds = time.time() - started
            cores = {
                "runner": ts.cores_of(triggerer.runner.pid),
                "supervisor": ts.cores_of(triggerer.proc.pid),
                "emulator": ts.cores_of(emulator.pid),
            }
            runs = {}
            for task_id, make, logs in (
                (
                    "compress",
                    lambda job: TimedCompressJobTrigger(
                        "dashscope_default", job, poll, forward_logs=forward_logs
                    ),
                    forward_logs,
                ),
                ("floor", lambda job: TimedFloorTrigger(job, poll), False),
            ):
                jobs = create_jobs(emulator, size, f"{run_id}-{task_id}")
                triggers = [make(job_id) for job_id, _ in jobs]
                where = (dag_id, run_id, task_id)
                runs[task_id] = phase(
                    stack, triggerer, emulator, probe, where, triggers, jobs, job_seconds, logs
                )
            probe.stop.touch()
            for task_id in ("probe", "warmup", "warmup_floor"):
                ts.wait_for(
                    lambda t=task_id: not stack.deferred(dag_id, run_id, t), job_seconds + 60, task_id
                )
        finally:
            triggerer.stop()
    provider, floor = runs["compress"], runs["floor"]
    return {
        "triggers": size,
        "poll_interval": poll,
        "job_seconds": job_seconds,
        "forward_logs": forward_logs,
        "warmup_seconds": round(warmup_seconds, 1),
        "cores": cores,  # as pinned: the emulator on a core of its own when there are two
        "cpu_ratio_to_floor": ratio(provider, floor),
        "provider": provider,
        "floor": floor,
    }


def ratio(provider: dict[str, Any], floor: dict[str, Any]) -> float | None:
    """The provider's runner CPU per request over the floor's, in their steady windows."""
    if not (provider["steady"] and floor["steady"]):
        return None
    return round(
        provider["steady"]["runner_cpu_ms_per_request"] / floor["steady"]["runner_cpu_ms_per_request"], 2
    )


TARGETS = {
    "loop_lag_p99_ms": 50,
    "cpu_ratio_to_floor": 1.3,
    "rss_per_trigger_kib": 30,
    "event_delay_p99_over_poll_ms": 100,
    "requests_per_poll_running": 2,
    "requests_per_poll_before_start": 1,
}


def verdict(run: dict[str, Any]) -> dict[str, bool]:
    """Which of the issue's targets a run meets (lag, CPU and RSS in the steady window)."""
    provider, steady = run["provider"], run["provider"]["steady"] or {}
    return {
        "loop_lag_p99": steady.get("loop_lag_ms", {}).get("p99", 1e9) <= TARGETS["loop_lag_p99_ms"],
        "cpu_ratio_to_floor": (run["cpu_ratio_to_floor"] or 1e9) <= TARGETS["cpu_ratio_to_floor"],
        "rss_per_trigger": steady.get("rss_per_trigger_kib", 1e9) <= TARGETS["rss_per_trigger_kib"],
        "event_delay_p99": provider["event_delay_ms"]["p99"]
        <= run["poll_interval"] * 1000 + TARGETS["event_delay_p99_over_poll_ms"],
        "requests_per_poll": provider["requests_per_poll"]["after_start"] <= 2
        and provider["requests_per_poll"]["before_start"] <= 1,
        "every_event": provider["events"] == run["triggers"] and run["floor"]["events"] == run["triggers"],
        "logs_exact": provider.get("logs_exact") == f"{run['triggers']}/{run['triggers']}"
        if run["forward_logs"]
        else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000])
    parser.add_argument("--poll", type=float, default=1.0)
    parser.add_argument("--job-seconds", type=float, default=60)
    parser.add_argument("--repeat", type=int, default=1, help="runs per size, each in a fresh triggerer")
    parser.add_argument("--output")
    parser.add_argument(
        "--no-logs",
        action="store_true",
        help="the provider's triggers with forward_logs=False (polling alone)",
    )
    parser.add_argument(
        "--supervisor-core",
        type=int,
        default=ts.TRIGGERER_CORE,
        help="pin the triggerer's supervisor here (default: with its runner, on core 0)",
    )
    parser.add_argument("--keep-home", action="store_true", help="keep the Airflow home (task logs, probe)")
    parser.add_argument("--profile", type=Path, help="write py-spy profiles of each phase to this folder")
    args = parser.parse_args()
    global PROFILE_DIR, SUPERVISOR_CORE
    PROFILE_DIR, SUPERVISOR_CORE = args.profile, args.supervisor_core
    runs = []
    with ts.Stack(args.sizes, keep_home=args.keep_home) as stack:
        for size in args.sizes:
            for k in range(args.repeat):
                run = measure(stack, size, args.poll, args.job_seconds, f"run-{k}", not args.no_logs)
                run["targets_met"] = verdict(run)
                runs.append(run)
                print(json.dumps(run), file=sys.stderr, flush=True)
    report = {
        "targets": TARGETS,
        "cores": len(os.sched_getaffinity(0)),
        "runner_core": ts.TRIGGERER_CORE,
        "supervisor_core": args.supervisor_core,
        "runs": runs,
    }
    ts.report(report, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())

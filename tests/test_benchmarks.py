"""Reduced runs of the benchmarks that have non-timing invariants (the timings are the benchmarks' job)."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_log_forwarding_reads_a_thousand_lines_a_request(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_DASHSCOPE_DEFAULT", "{}")  # restored after; the run sets its own
    report = load("log_throughput").run(lines=5000)
    assert report["exact"] and report["status"] == "SUCCEEDED"
    assert report["log_requests"] == math.ceil(report["lines"] / 1000)


def test_soak_under_mixed_faults(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_DASHSCOPE_DEFAULT", "{}")  # restored after; the run sets its own
    report = load("soak").run(jobs=30, fault_rate=0.2, job_seconds=3, seed=3)
    assert report["creates"] == 30 and report["duplicate_names"] == 0
    assert report["log_mismatches"] == [] and report["outcome_mismatches"] == []
    assert report["outcomes"] == {"SUCCEEDED": 27, "FAILED": 3}
    assert sum(report["faults_injected"].values()) > 0 and report["retries"] > 0
    assert report["lines_forwarded"] > 30 * 20


def test_triggers_at_scale_poll_once_before_start_and_twice_after():
    """100 triggers in one loop (in a child process, which pins itself and the emulator to cores).
    Jobs of 10 s are PENDING or QUEUING for their first 2 s, so there are polls before the start."""
    report = load("trigger_scale").in_fresh_process(size=100, job_seconds=10, poll=1)
    assert report["outcomes"] == {"SUCCEEDED": 100}  # one event per trigger
    assert report["requests_per_poll"]["before_start"] == 1.0  # no log reads before the job starts
    assert 1.0 < report["requests_per_poll"]["after_start"] <= 2.0  # a status read and one log page
    for figure in ("cpu_ms_per_request", "floor_cpu_ms_per_request", "rss_per_trigger_kb"):
        assert report[figure] > 0

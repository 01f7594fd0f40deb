"""A reduced soak run (benchmarks/soak.py) under 20 % mixed faults, as a test."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SOAK = Path(__file__).resolve().parent.parent / "benchmarks" / "soak.py"


def test_soak_under_mixed_faults(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_DASHSCOPE_DEFAULT", "{}")  # restored after; the run sets its own
    spec = importlib.util.spec_from_file_location("soak", SOAK)
    soak = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(soak)
    report = soak.run(jobs=30, fault_rate=0.2, job_seconds=3, seed=3)
    assert report["creates"] == 30 and report["duplicate_names"] == 0
    assert report["log_mismatches"] == [] and report["outcome_mismatches"] == []
    assert report["outcomes"] == {"SUCCEEDED": 27, "FAILED": 3}
    assert sum(report["faults_injected"].values()) > 0 and report["retries"] > 0
    assert report["lines_forwarded"] > 30 * 20

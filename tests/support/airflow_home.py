"""An Airflow home on SQLite that runs tests/dags (or example_dags/) with ``airflow dags test`` and
reads the results from its database."""

from __future__ import annotations

import dataclasses
import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

from airflow_provider_compress.emulator.process import EmulatorProcess

DAGS = Path(__file__).resolve().parent.parent / "dags"
EXAMPLES = Path(__file__).resolve().parents[2] / "example_dags"


class Airflow:
    def __init__(self, home: Path, env: dict[str, str], emulator: EmulatorProcess) -> None:
        self.home, self.env, self.emulator = home, env, emulator

    def dags_test(self, dag_id: str, logical_date: str | None = None, env: dict | None = None, **conf) -> str:
        at = [logical_date] if logical_date else []
        done = subprocess.run(
            [sys.executable, "-m", "airflow", "dags", "test", dag_id, *at, "--conf", json.dumps(conf)],
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=300,
        )
        return done.stdout + done.stderr

    def query(self, sql: str, *args) -> list[tuple]:
        with sqlite3.connect(self.home / "airflow.db") as db:
            return db.execute(sql, args).fetchall()

    def last_run(self, dag_id: str) -> str:
        return self.query("SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", dag_id)[0][
            0
        ]

    def states(self, dag_id: str) -> dict[str, str]:
        rows = self.query(
            "SELECT task_id, state FROM task_instance WHERE dag_id = ? AND run_id = ?",
            dag_id,
            self.last_run(dag_id),
        )
        return dict(rows)

    def xcom(self, dag_id: str, task_id: str, key: str = "return_value"):
        rows = self.query(
            "SELECT value FROM xcom WHERE dag_id = ? AND run_id = ? AND task_id = ? AND key = ?",
            dag_id,
            self.last_run(dag_id),
            task_id,
            key,
        )
        return json.loads(rows[0][0]) if rows else None


def forwarded(output: str, job_id: str) -> list[int]:
    """Line numbers of the job's log lines as they appear in the task output."""
    return [int(n) for n in re.findall(rf"\[{re.escape(job_id)} #(\d+)\]", output)]


class ExampleRuns:
    """The example DAGs run with ``airflow dags test`` in one Airflow home against one emulator,
    each once (on first request), with OpenLineage's listener writing its events to ``events``
    through its file transport: shared by the examples' tests and the lineage tests."""

    def __init__(self, airflow: Airflow, events: Path) -> None:
        self.airflow, self.events_file = airflow, events
        self._runs: dict[str, ExampleRun] = {}

    # Run before any other: it compresses the newest fine-tuned model, which another run's
    # fine-tune would change.
    FIRST = "example_compress_nightly"

    def run(self, dag_id: str, **conf) -> ExampleRun:
        if dag_id != self.FIRST and self.FIRST not in self._runs:
            self.run(self.FIRST)
        if dag_id not in self._runs:
            emulator = self.airflow.emulator
            before = emulator.state(jobs=False)["calls"]
            output = self.airflow.dags_test(dag_id, **conf)
            self._runs[dag_id] = ExampleRun(dag_id, output, before, emulator.state())
        return self._runs[dag_id]

    def events(self, dag_id: str) -> dict[str, list[dict]]:
        """The COMPLETE and FAIL events of each task of ``dag_id``, in the order they came (a
        mapped task has one per map index)."""
        ended: dict[str, list[dict]] = {}
        for line in self.events_file.read_text().splitlines():
            event = json.loads(line)
            dag, _, task_id = event["job"]["name"].partition(".")
            if dag == dag_id and task_id and event["eventType"] in ("COMPLETE", "FAIL"):
                ended.setdefault(task_id, []).append(event)
        return ended


@dataclasses.dataclass(frozen=True)
class ExampleRun:
    dag_id: str
    output: str  # what `airflow dags test` printed
    calls_before: dict  # the emulator's calls by route before the run
    state: dict  # the emulator's state right after it

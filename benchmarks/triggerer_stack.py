"""Airflow's own triggerer on deferred tasks made directly in its metadata database: the harness of
the triggerer benchmarks (``triggerer_scale.py``, ``log_throughput.py``).

No scheduler, executor or worker: the benchmark writes a dag run, its task instances and their
trigger rows as a deferring task would (``Trigger`` row, task instance ``deferred`` with
``trigger_id``), and ``airflow triggerer`` does the rest as in production: its supervisor assigns the
triggers (at most ``max_trigger_to_select_per_loop`` a loop) and routes each trigger's log lines to
its task's log file; its runner subprocess runs them in one event loop. PostgreSQL is a private
cluster (``tests/support/postgres.py``). The whole triggerer (supervisor and runner) is pinned to core 0
(the supervisor elsewhere on request); the emulator, PostgreSQL and this process to core 1.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil

HERE = Path(__file__).resolve().parent


def _postgres_cluster() -> type:
    """The tests' private PostgreSQL cluster (tests/support/postgres.py, standard library only),
    loaded from its file: the benchmarks need none of the test suite's helpers."""
    path = HERE.parent / "tests" / "support" / "postgres.py"
    spec = importlib.util.spec_from_file_location("postgres_cluster", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.PostgresCluster


PostgresCluster = _postgres_cluster()

MODEL = "qwen3.5-flash-2026-02-23-ft-202604010000-a1b2"
TEMPLATE = "quant-flash-nvfp4-mlp-nomtp"
TRIGGERER_CORE, OTHER_CORE = 0, 1

DAG_FILE = '''"""Written by benchmarks/triggerer_stack.py: the tasks whose triggers the benchmark defers."""
import datetime

from airflow.sdk import DAG, BaseOperator

from airflow_provider_compress.operators.compress import CreateCompressJobOperator


class Watch(BaseOperator):
    """A task whose trigger (probe, floor) the benchmark writes into the database itself."""

    def __init__(self, *, item=None, **kwargs):
        super().__init__(**kwargs)

    def execute(self, context):
        pass


COMMON = dict(model="{model}", template_id="{template}", deferrable=True, poll_interval=1)
with DAG("{dag_id}", schedule=None, start_date=datetime.datetime(2026, 1, 1), catchup=False):
    Watch(task_id="probe")
    CreateCompressJobOperator(task_id="warmup", **COMMON)
    Watch(task_id="warmup_floor")
    compress = CreateCompressJobOperator.partial(task_id="compress", **COMMON)
    compress.expand(job_name=[str(i) for i in range({n})])
    Watch.partial(task_id="floor").expand(item=list(range({n})))
'''


# The cores this process may use as it starts. Not asked again later: the stack pins this process
# itself to OTHER_CORE, and asking then made every later pin look impossible, so every process of
# the benchmark ran on that one core (until 2026-11-29; see docs/performance.md).
CORES = frozenset(os.sched_getaffinity(0))


def pinnable() -> bool:
    return {TRIGGERER_CORE, OTHER_CORE} <= CORES


def pin(pid: int, core: int) -> None:
    if pinnable():
        with contextlib.suppress(psutil.NoSuchProcess):
            for process in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
                process.cpu_affinity([core])


def cores_of(pid: int) -> list[int]:
    """The cores a process (its main thread) may run on, as the report records them."""
    return sorted(psutil.Process(pid).cpu_affinity() or [])


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def wait_for(what: Callable[[], Any], timeout: float, message: str, every: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := what():
            return result
        time.sleep(every)
    raise TimeoutError(message)


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {}

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)

    return {"p50": at(0.5), "p99": at(0.99), "max": round(ordered[-1], 1), "samples": len(ordered)}


class Triggerer:
    """``airflow triggerer`` in a process group of its own: the supervisor and its runner."""

    def __init__(
        self, env: dict[str, str], home: Path, capacity: int, supervisor_core: int = TRIGGERER_CORE
    ) -> None:
        self.output = home / f"triggerer-{time.time_ns()}.log"
        with open(self.output, "w") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "airflow",
                    "triggerer",
                    "--capacity",
                    str(capacity),
                    "--skip-serve-logs",
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        pin(self.proc.pid, supervisor_core)
        self._runner: psutil.Process | None = None
        self.runner  # noqa: B018 - waits for it and pins it

    @property
    def runner(self) -> psutil.Process:
        """The runner: the supervisor's child, forked once the supervisor is up. Found again when
        the child seen before is gone: under load a short-lived child of the supervisor was once
        taken for it (psutil.NoSuchProcess at the next CPU reading)."""
        if self._runner is None or not self._runner.is_running():
            self._runner = wait_for(self._find_runner, 180, "the triggerer's runner did not start")
            pin(self._runner.pid, TRIGGERER_CORE)
        return self._runner

    def _find_runner(self) -> psutil.Process | None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"airflow triggerer exited:\n{self.output.read_text()[-3000:]}")
        for child in psutil.Process(self.proc.pid).children():
            with contextlib.suppress(psutil.NoSuchProcess):
                if child.status() != psutil.STATUS_ZOMBIE:
                    return child
        return None

    def cpu(self) -> tuple[float, float]:
        """CPU seconds so far of the runner, and of the supervisor."""
        return cpu_seconds(self.runner.pid), cpu_seconds(self.proc.pid)

    def rss(self) -> int:
        return self.runner.memory_info().rss

    def log_count(self, text: str) -> int:
        return self.output.read_text(errors="replace").count(text)

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


class Stack:
    """A PostgreSQL metadata database and an Airflow home with one benchmark DAG per size."""

    def __init__(self, sizes: list[int], keep_home: bool = False) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="triggerer-bench-"))
        self.keep_home = keep_home  # the task logs, the probe's samples, the triggerer's output
        self.dags = self.home / "dags"
        self.dags.mkdir()
        self.sizes = sizes
        self.db: Any = None  # a PostgresCluster
        self.env: dict[str, str] = {}

    def __enter__(self) -> Stack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        from cryptography.fernet import Fernet

        self.db = PostgresCluster().start()
        pid = int((self.db.data / "postmaster.pid").read_text().split()[0])
        pin(pid, OTHER_CORE)
        pin(os.getpid(), OTHER_CORE)
        for n in self.sizes:
            dag = DAG_FILE.format(model=MODEL, template=TEMPLATE, dag_id=self.dag_id(n), n=n)
            (self.dags / f"{self.dag_id(n)}.py").write_text(dag)
        self.env = {
            **os.environ,
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.db.url,
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        }
        # This process reads and writes the same database through Airflow's models.
        os.environ.update({k: v for k, v in self.env.items() if k.startswith("AIRFLOW")})
        for command in (["db", "migrate"], ["dags", "reserialize"]):
            subprocess.run(
                [sys.executable, "-m", "airflow", *command], env=self.env, check=True, capture_output=True
            )

    def stop(self) -> None:
        if self.db is not None:
            self.db.stop()
        if self.keep_home:
            print(f"Airflow home kept: {self.home}", file=sys.stderr)
        else:
            shutil.rmtree(self.home, ignore_errors=True)

    @staticmethod
    def dag_id(n: int) -> str:
        return f"triggerer_bench_{n}"

    def triggerer(
        self, connection_json: str, capacity: int, supervisor_core: int = TRIGGERER_CORE
    ) -> Triggerer:
        env = {**self.env, "AIRFLOW_CONN_DASHSCOPE_DEFAULT": connection_json}
        return Triggerer(env, self.home, capacity, supervisor_core)

    def create_run(self, dag_id: str, run_id: str) -> None:
        from airflow.models.dagbag import DBDagBag
        from airflow.utils import timezone
        from airflow.utils.session import create_session
        from airflow.utils.state import DagRunState
        from airflow.utils.types import DagRunTriggeredByType, DagRunType

        with create_session() as session:
            dag = DBDagBag().get_latest_version_of_dag(dag_id, session=session)
            if dag is None:
                raise RuntimeError(f"{dag_id} is not in the database: does {self.dags} parse?")
            dag.create_dagrun(
                run_id=run_id,
                logical_date=None,
                data_interval=None,
                run_after=timezone.utcnow(),
                run_type=DagRunType.MANUAL,
                triggered_by=DagRunTriggeredByType.TEST,
                state=DagRunState.RUNNING,
                session=session,
            )

    def defer(self, dag_id: str, run_id: str, task_id: str, triggers: list[Any]) -> None:
        """Defer the task's instances (map index i to ``triggers[i]``) in one transaction, as
        their workers would: a trigger row each, the instance ``deferred`` on it."""
        from airflow.models.taskinstance import TaskInstance
        from airflow.models.trigger import Trigger
        from airflow.utils.session import create_session
        from airflow.utils.state import TaskInstanceState
        from sqlalchemy import select

        with create_session() as session:
            query = select(TaskInstance).where(
                TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id, TaskInstance.task_id == task_id
            )
            tis = sorted(session.scalars(query), key=lambda ti: ti.map_index)
            if len(tis) != len(triggers):
                raise RuntimeError(f"{task_id}: {len(tis)} task instances for {len(triggers)} triggers")
            rows = [Trigger(*trigger.serialize()) for trigger in triggers]
            session.add_all(rows)
            session.flush()
            for ti, row in zip(tis, rows, strict=True):
                ti.state = TaskInstanceState.DEFERRED
                ti.trigger_id = row.id
                ti.next_method = "execute_complete"
                ti.try_number = 1

    def deferred(self, dag_id: str, run_id: str, task_id: str) -> int:
        assert self.db is not None
        sql = (
            "SELECT count(*) FROM task_instance"
            " WHERE dag_id=%s AND run_id=%s AND task_id=%s AND state='deferred'"
        )
        return self.db.query(sql, dag_id, run_id, task_id)[0][0]

    def resumed(self, dag_id: str, run_id: str, task_id: str) -> int:
        """Task instances that an event of their trigger made ready to resume (and not failed)."""
        assert self.db is not None
        sql = (
            "SELECT count(*) FROM task_instance WHERE dag_id=%s AND run_id=%s AND task_id=%s"
            " AND state='scheduled' AND next_method='execute_complete' AND next_kwargs IS NOT NULL"
        )
        return self.db.query(sql, dag_id, run_id, task_id)[0][0]

    def event_offsets(self, dag_id: str, run_id: str, task_id: str) -> dict[int, int]:
        """Each map index's ``log_offset`` in the event that resumed it, as the database keeps it
        (the "Trigger fired event" line in the task log is Airflow's own, and can be lost)."""
        assert self.db is not None
        sql = (
            "SELECT map_index, next_kwargs FROM task_instance"
            " WHERE dag_id=%s AND run_id=%s AND task_id=%s AND next_kwargs IS NOT NULL"
        )
        offsets = {}
        for index, kwargs in self.db.query(sql, dag_id, run_id, task_id):
            text = kwargs if isinstance(kwargs, str) else json.dumps(kwargs)
            if match := re.search(r'"log_offset":\s*(\d+)', text):
                offsets[index] = int(match[1])
        return offsets

    def latest_heartbeat(self) -> float:
        """Epoch of the running triggerer's last heartbeat (0 when there is none)."""
        assert self.db is not None
        sql = (
            "SELECT extract(epoch FROM max(latest_heartbeat)) FROM job"
            " WHERE job_type='TriggererJob' AND state='running'"
        )
        beat = self.db.query(sql)[0][0]
        return float(beat) if beat is not None else 0.0

    def trigger_logs(self, dag_id: str, run_id: str, task_id: str) -> dict[int, list[dict[str, Any]]]:
        """Each map index's trigger log (what the UI shows under the task's try), as JSON lines."""
        base = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        logs: dict[int, list[dict[str, Any]]] = {}
        for path in base.glob("**/attempt=1.log.trigger.*.log"):
            index = (
                int(path.parent.name.split("=", 1)[1]) if path.parent.name.startswith("map_index=") else -1
            )
            logs[index] = [json.loads(line) for line in read_lines(path)]
        return logs


def report(result: dict[str, Any], output: str | None) -> None:
    """Print the JSON report, and write it to ``output`` too when given."""
    text = json.dumps(result, indent=2)
    print(text)
    if output:
        Path(output).write_text(text + "\n")


def read_lines(path: Path) -> Iterator[str]:
    with open(path) as log:
        yield from (line for line in log if line.strip())

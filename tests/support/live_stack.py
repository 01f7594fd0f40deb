"""A live Airflow stack for the live and browser tests: api-server, scheduler (LocalExecutor),
dag-processor and two triggerers on 127.0.0.1, on PostgreSQL, driven through the REST API. With a
Celery broker (tests/support/redis.py): the CeleryExecutor, one triggerer and two Celery workers."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import requests

from airflow_provider_compress.emulator.process import EmulatorProcess
from tests.support import ROOT
from tests.support.postgres import PostgresCluster
from tests.support.redis import RedisServer

DAGS = ROOT / "tests" / "live_dags"
DAG_IDS = (
    "live_deferred",
    "live_worker",
    "live_worker_kill",
    "live_asset_producer",
    "live_asset_consumer",
    "live_takeover",
    "live_takeover_deploy",
    "exit_execution_timeout_deferred",
    "exit_execution_timeout_worker",
    "exit_dagrun_timeout_deferred",
    "exit_dagrun_timeout_worker",
    "exit_execution_timeout_deploy",
    "exit_execution_timeout_sensor",
)
AUDIT_KEY = "sk-LIVE-AUDIT-7c1e9f3a"  # recognisable, so that any leak is found by a plain search


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


WORKER_NAME = "COMPRESS_LIVE_WORKER"  # a Celery worker's name, in its environment


def worker_hostname() -> str:
    """``[core] hostname_callable`` of the Celery workers: the worker's name, as if each ran on a
    host of its own, so that a task instance's ``hostname`` tells which worker ran it."""
    return os.environ[WORKER_NAME]


class Stack:
    """The Airflow components as process groups, so that stopping one stops its children too.

    Two triggerers, as in an HA deployment: ``triggerer`` and ``triggerer-2``. They heartbeat every
    second and one takes the other's triggers over after 8 s without a heartbeat.

    With a ``celery_broker``: the CeleryExecutor, one triggerer and two Celery workers
    ``worker-1`` and ``worker-2`` (their Celery nodes ``celery@worker-1``, ``celery@worker-2``),
    Celery's results in the metadata database.
    """

    COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer", "triggerer-2")
    # The workers first: they boot while the triggerer registers.
    CELERY_COMPONENTS = ("api-server", "scheduler", "dag-processor", "worker-1", "worker-2", "triggerer")

    def __init__(
        self,
        home: Path,
        db: PostgresCluster,
        emulator: EmulatorProcess,
        slow: EmulatorProcess | None = None,
        dags: Path = DAGS,
        celery_broker: RedisServer | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        port = free_port()
        self.home, self.db, self.emulator, self.slow = home, db, emulator, slow
        self.components = self.CELERY_COMPONENTS if celery_broker else self.COMPONENTS
        self.url = f"http://127.0.0.1:{port}"
        self.triggerer_ids: dict[str, int] = {}  # triggerer name -> its job id
        self.env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db.url,
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "15",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "3",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
            "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "8",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW_CONN_DASHSCOPE_DEFAULT": emulator.connection_json(lang="en-US", retry_delay=0.2),
        }
        if slow is not None:
            self.env["AIRFLOW_CONN_DASHSCOPE_SLOW"] = slow.connection_json(lang="en-US", retry_delay=0.2)
        if celery_broker is not None:
            self.env |= {
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__CELERY__BROKER_URL": celery_broker.url,
                # psycopg2, as Airflow's own: "db+postgresql://" would ask for psycopg 3
                "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + db.url,
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
                # Workers present the scheduler's tokens to the api-server: one secret for all. (On
                # 3.1 the airflow.cfg written with the Celery provider installed leaves it empty,
                # and each process would make its own.)
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(16),
            }
        self.env.update(env or {})  # a module's own settings: users, auth manager, metrics
        self.procs: dict[str, subprocess.Popen] = {}
        self.log_starts: dict[str, int] = {}  # where the current start of a component's log begins
        self.token = ""

    @classmethod
    @contextlib.contextmanager
    def up(
        cls,
        home: Path,
        db: PostgresCluster,
        emulator: EmulatorProcess,
        *,
        slow: EmulatorProcess | None = None,
        dags: Path = DAGS,
        dag_ids: tuple[str, ...] = DAG_IDS,
        celery_broker: RedisServer | None = None,
        env: dict[str, str] | None = None,
    ) -> Iterator[Stack]:
        """The whole stack, started, logged in and with ``dag_ids`` parsed; stopped at the end."""
        live = cls(home, db, emulator, slow, dags, celery_broker, env)
        live.airflow("db", "migrate")
        try:
            for component in live.components:
                live.start(component, wait=False)
            for component in live.components:
                live.wait_ready(component)
            wait_until(
                lambda: requests.get(f"{live.url}/api/v2/monitor/health", timeout=5).ok, 120, "the api-server"
            )
            wait_until(live.login, 60, "a token")
            for dag_id in dag_ids:
                wait_until(lambda d=dag_id: live.api("GET", f"/dags/{d}").ok, 120, f"{dag_id} to be parsed")
            yield live
        finally:
            live.stop_all()

    def airflow(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "airflow", *args], env=self.env, check=True, capture_output=True
        )

    def start(self, name: str, wait: bool = True) -> None:
        """Start a component (``triggerer-2``: a second triggerer; ``worker-1``: a Celery worker) in a
        process group of its own; return when it is ready (a worker: unless ``wait`` is false)."""
        env, log_path = dict(self.env), self.log_path(name)
        self.log_starts[name] = log_path.stat().st_size if log_path.exists() else 0
        command = [name.split("-2")[0]]
        if command == ["triggerer"]:
            env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] = str(free_port())
            known = set(self.running_triggerers())
        if name.startswith("worker-"):
            # The api-server reads the task logs from the shared AIRFLOW_HOME: no log server.
            command = ["celery", "worker", "--celery-hostname", name, "--skip-serve-logs"]
            command += ["--pid", str(self.home / f"{name}.pid")]
            env |= {
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"{__name__}.{worker_hostname.__name__}",
                WORKER_NAME: name,
                "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
            }
        log = open(log_path, "a")  # noqa: SIM115 - closed with the process
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "airflow", *command],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        if command == ["triggerer"]:  # its job row tells which triggerer owns a trigger
            new = wait_until(lambda: set(self.running_triggerers()) - known, 120, f"{name}'s job")
            self.triggerer_ids[name] = max(new)
        if wait:
            self.wait_ready(name)

    def wait_ready(self, name: str) -> None:
        """Until a Celery worker takes tasks (other components are ready once started)."""
        if name.startswith("worker-"):  # Celery logs "celery@worker-1 ready." (after its earlier starts')
            ready, since = f"@{name} ready.".encode(), self.log_starts[name]
            wait_until(lambda: ready in self.log_path(name).read_bytes()[since:], 120, f"{name} to be ready")

    def log_path(self, name: str) -> Path:
        """The component's output (both streams), kept across its restarts."""
        return self.home / f"{name}.log"

    def running_triggerers(self) -> list[int]:
        rows = self.db.query("SELECT id FROM job WHERE job_type = 'TriggererJob' AND state = 'running'")
        return [row[0] for row in rows]

    def trigger_owner(self, dag_id: str, run_id: str, task_id: str) -> str | None:
        """The name of the triggerer running the task's trigger, None while none is."""
        rows = self.db.query(
            "SELECT t.triggerer_id FROM task_instance ti JOIN trigger t ON t.id = ti.trigger_id"
            " WHERE ti.dag_id = %s AND ti.run_id = %s AND ti.task_id = %s",
            dag_id,
            run_id,
            task_id,
        )
        owner = rows[0][0] if rows else None
        return next((name for name, job_id in self.triggerer_ids.items() if job_id == owner), None)

    def send_signal(self, name: str, sig: int) -> None:
        os.killpg(self.procs[name].pid, sig)

    def stop(self, component: str, sig: int = signal.SIGTERM, wait: float = 30) -> None:
        """Send ``sig`` to the component's process group; SIGKILL after ``wait`` s whatever is left of
        it, and of the processes under it that live in groups of their own (on Airflow 3.3 a task
        process gets one)."""
        import psutil

        proc = self.procs.pop(component)
        self.triggerer_ids.pop(component, None)
        family: list[psutil.Process] = []
        with contextlib.suppress(psutil.NoSuchProcess):
            family = psutil.Process(proc.pid).children(recursive=True)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(wait)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # whatever is left of the group (executor workers)
        for process in family:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        proc.wait()

    def kill_busy_workers(self) -> list[int]:
        """SIGKILL the scheduler's executor workers that run a task, and their task processes."""
        import psutil

        scheduler = psutil.Process(self.procs["scheduler"].pid)
        busy = [
            p
            for p in scheduler.children(recursive=True)
            if "LocalExecutor" in " ".join(p.cmdline()) and "<idle>" not in " ".join(p.cmdline())
        ]
        doomed = busy + [child for p in busy for child in p.children(recursive=True)]
        for process in doomed:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        return [p.pid for p in doomed]

    def stop_all(self) -> None:
        """Stop every component, side by side: each takes seconds (a triggerer about ten)."""
        with ThreadPoolExecutor(max(1, len(self.procs))) as pool:
            list(pool.map(self.stop, list(self.procs)))

    # --- REST
    def login(self) -> bool:
        password = json.loads((self.home / "simple_auth_manager_passwords.json.generated").read_text())[
            "admin"
        ]
        answer = requests.post(
            f"{self.url}/auth/token", json={"username": "admin", "password": password}, timeout=30
        )
        answer.raise_for_status()
        self.token = answer.json()["access_token"]
        return True

    def api(self, method: str, path: str, headers: dict | None = None, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        response = requests.request(method, f"{self.url}/api/v2{path}", headers=headers, timeout=30, **kwargs)
        response.raise_for_status()
        return response

    def trigger(self, dag_id: str) -> str:
        self.api("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
        return self.api("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None}).json()["dag_run_id"]

    def ti(self, dag_id: str, run_id: str, task_id: str = "compress") -> dict:
        return self.api("GET", f"/dags/{dag_id}/dagRuns/{quote(run_id)}/taskInstances/{task_id}").json()

    def xcom(self, dag_id: str, run_id: str, key: str, task_id: str = "compress"):
        path = f"/dags/{dag_id}/dagRuns/{quote(run_id)}/taskInstances/{task_id}/xcomEntries/{key}"
        return self.api("GET", path).json()["value"]

    def task_log_records(self, dag_id: str, run_id: str, try_number: int, task_id: str = "compress") -> list:
        """The records of a task's log, as the REST API serves them (dicts: event, error_detail...)."""
        path = f"/dags/{dag_id}/dagRuns/{quote(run_id)}/taskInstances/{task_id}/logs/{try_number}"
        content = self.api("GET", path, headers={"Accept": "application/json"}).json()["content"]
        return [record for record in content if isinstance(record, dict)]

    def task_log(self, dag_id: str, run_id: str, try_number: int, task_id: str = "compress") -> str:
        records = self.task_log_records(dag_id, run_id, try_number, task_id)
        return "\n".join(str(record.get("event", "")) for record in records)

    def task_error(self, dag_id: str, run_id: str, try_number: int, task_id: str = "compress") -> str:
        """The exception the task failed with, "type: message" ("" if none is in its log). Only
        Airflow's own failure record: a trigger's warning may carry an exception of its own."""
        records = self.task_log_records(dag_id, run_id, try_number, task_id)
        failed = [r for r in records if r.get("event") == "Task failed with exception"]
        details = [d for r in failed for d in r.get("error_detail") or [] if isinstance(d, dict)]
        return f"{details[0].get('exc_type')}: {details[0].get('exc_value')}" if details else ""


def wait_until(check, timeout: float, what: str, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException, KeyError):
            result = check()
            if result:
                return result
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")

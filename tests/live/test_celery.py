"""The provider under Airflow's CeleryExecutor, as a platform team runs it with workers on hosts of
their own: a private ``redis-server`` as the broker (tests/support/redis.py), PostgreSQL as the
metadata database and Celery's result backend, two ``airflow celery worker`` processes,
``worker-1`` and ``worker-2`` (each reports its own hostname, as on a host of its own), a
scheduler, a dag-processor, an api-server and one triggerer (tests/support/live_stack.py).

One stack for the module; a worker an earlier test stopped is started again. Marked
``live``: every process and directory the stack starts or makes is stopped or removed at the end.
"""

from __future__ import annotations

import re
import signal
from pathlib import Path
from urllib.parse import quote

import psutil
import pytest

from airflow_provider_compress.emulator.process import EmulatorProcess
from tests.support import ROOT
from tests.support.live_stack import DAGS, Stack, wait_until
from tests.support.postgres import PostgresCluster
from tests.support.redis import RedisServer

pytestmark = pytest.mark.live
WORKERS = ("worker-1", "worker-2")
PIPELINE = "example_compress_pipeline"
UPLOADS = ("upload_training_data", "upload_calibration_data")
DEFERRABLE = ("fine_tune", "compress", "deploy", "scale")  # the pipeline's deferrable tasks
REPEATED = "Its log is forwarded again from #1"  # what a try that reattaches says of the job's log


@pytest.fixture(scope="module")
def celery_stack(tmp_path_factory):
    # One DAGs folder: the live DAGs and the pipeline example as it ships (links to the files).
    dags = tmp_path_factory.mktemp("celery-dags")
    (dags / "live_dags.py").symlink_to(DAGS / "live_dags.py")
    for name in ("example_compress_pipeline.py", "data"):
        (dags / name).symlink_to(ROOT / "example_dags" / name)
    with (
        PostgresCluster() as db,
        RedisServer() as broker,
        EmulatorProcess(log_lines=10, cancel_seconds=1) as emulator,
        Stack.up(
            tmp_path_factory.mktemp("celery-airflow"),
            db,
            emulator,
            dags=dags,
            dag_ids=("live_worker", "live_worker_kill", PIPELINE),
            celery_broker=broker,
        ) as live,
    ):
        yield live


@pytest.fixture
def stack(celery_stack):
    """The module's Celery stack with both workers running (an earlier test may have stopped one);
    in this module it stands for the LocalExecutor ``stack`` of tests/live/conftest.py."""
    for name in WORKERS:
        if name not in celery_stack.procs:
            celery_stack.start(name)
    return celery_stack


def job_of(stack: Stack, dag_id: str, run_id: str, task_id: str = "compress") -> str:
    return wait_until(lambda: stack.xcom(dag_id, run_id, "job_id", task_id), 60, "the job id in XCom")


def job_lines(log: str, job_id: str) -> list[int]:
    return [int(n) for n in re.findall(rf"\[{re.escape(job_id)} #(\d+)\]", log)]


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def other(worker: str) -> str:
    return next(name for name in WORKERS if name != worker)


def test_a_worker_lost_mid_wait_the_retry_reattaches_on_the_other_worker(stack):
    """``live_worker`` waits in its worker (``deferrable=False``, one retry). Its worker is
    SIGKILLed as a lost host would be: no ``on_kill``, nothing stops the job. Airflow notices the
    missing heartbeats, and the retry runs on the other worker, reattaches and waits the job out."""
    emulator = stack.emulator
    # The job outlives the heartbeat timeout (15 s), the retry's start and its 10 s grace.
    emulator.set_timing(job_seconds=75)
    run_id = stack.trigger("live_worker")
    job_id = job_of(stack, "live_worker", run_id)
    wait_until(
        lambda: (
            emulator.job(job_id)["status"] == "RUNNING"
            and job_lines(stack.task_log("live_worker", run_id, 1), job_id)
        ),
        60,
        "the first try to forward the job's lines",
    )
    running = stack.ti("live_worker", run_id)
    first, task_process = running["hostname"], running["pid"]
    assert first in WORKERS
    creates = emulator.state()["creates"]

    stack.stop(first, signal.SIGKILL)  # its process group, and the task's own on Airflow 3.3
    wait_until(lambda: gone(task_process), 10, f"the task process {task_process} to end")

    ti = wait_until(
        lambda: (t := stack.ti("live_worker", run_id))["state"] == "success" and t,
        180,
        "the retry to succeed",
    )
    tries = f"/dags/live_worker/dagRuns/{quote(run_id)}/taskInstances/compress/tries/1"
    assert stack.api("GET", tries).json()["state"] == "failed"  # the heartbeat timeout
    assert (ti["try_number"], ti["hostname"]) == (2, other(first))
    assert stack.xcom("live_worker", run_id, "job_id") == job_id
    assert emulator.state()["creates"] == creates
    assert emulator.job(job_id)["status"] == "SUCCEEDED"
    retry_log = stack.task_log("live_worker", run_id, 2)
    assert f"Reattaching to compression job {job_id} (" in retry_log
    assert ", RUNNING)" in retry_log  # it waited the job out in the other worker
    # The first try forwarded the job's first lines; the retry forwards all of them, from #1 again,
    # and says so before it starts.
    forwarded = job_lines(stack.task_log("live_worker", run_id, 1), job_id)
    assert forwarded == list(range(1, len(forwarded) + 1))
    again = job_lines(retry_log, job_id)
    assert again == list(range(1, len(emulator.full_log(job_id)) + 1))
    assert REPEATED in retry_log
    assert retry_log.index(REPEATED) < retry_log.index(f"[{job_id} #1]")


def test_marking_a_task_waiting_in_a_celery_worker_failed_cancels_its_job(stack):
    """No trigger here: the worker's supervisor hears from the api-server that the task is no longer
    running, stops the task process, and the operator's ``on_kill`` cancels the job."""
    emulator = stack.emulator
    emulator.set_timing(job_seconds=20)
    run_id = stack.trigger("live_worker_kill")
    job_id = job_of(stack, "live_worker_kill", run_id)
    wait_until(lambda: emulator.job(job_id)["status"] == "RUNNING", 30, "the job to run")
    ti = stack.ti("live_worker_kill", run_id)
    assert ti["state"] == "running"
    assert ti["hostname"] in WORKERS
    task_path = f"/dags/live_worker_kill/dagRuns/{quote(run_id)}/taskInstances/compress"
    stack.api("PATCH", task_path, json={"new_state": "failed"})
    wait_until(
        lambda: emulator.job(job_id)["status"] in ("CANCELING", "CANCELED"),
        30,
        "the job to be cancelled after mark failed",
    )
    assert stack.ti("live_worker_kill", run_id)["state"] == "failed"
    assert sum("Cancel requested" in line for line in emulator.full_log(job_id)) == 1


def trigger_logs(stack: Stack, run_id: str, task_id: str) -> list[Path]:
    folder = stack.home / "logs" / f"dag_id={PIPELINE}" / f"run_id={run_id}" / f"task_id={task_id}"
    return list(folder.glob("attempt=1.log.trigger.*.log"))


def test_the_pipeline_example_succeeds_with_deferred_tasks_resumed_on_either_worker(stack):
    """The example pipeline as it ships (upload, fine-tune, compress, deploy, scale). While its
    compress task is deferred, the worker that deferred it is stopped (SIGTERM: a host drained): the
    task resumes on the other worker, and forwards the job's log with none lost or repeated."""
    emulator = stack.emulator
    # Deployments take 8 s and a scale is UPDATING for 30 % of that: long enough for the scale to defer.
    emulator.set_timing(job_seconds=10, deploy_seconds=8)
    stack.api("PATCH", f"/dags/{PIPELINE}", json={"is_paused": False})
    run_id = stack.api("POST", f"/dags/{PIPELINE}/dagRuns", json={"logical_date": None}).json()["dag_run_id"]
    deferred = wait_until(
        lambda: (t := stack.ti(PIPELINE, run_id, "compress"))["state"] == "deferred" and t,
        120,
        "the compress task to defer",
    )
    drained = deferred["hostname"]
    assert drained in WORKERS
    stack.stop(drained)

    wait_until(
        lambda: stack.api("GET", f"/dags/{PIPELINE}/dagRuns/{quote(run_id)}").json()["state"] != "running",
        240,
        "the pipeline to end",
    )
    tis = {task_id: stack.ti(PIPELINE, run_id, task_id) for task_id in (*UPLOADS, *DEFERRABLE)}
    assert {task_id: ti["state"] for task_id, ti in tis.items()} == dict.fromkeys(tis, "success")
    assert all(ti["hostname"] in WORKERS for ti in tis.values())
    for task_id in DEFERRABLE:  # each deferred: its trigger ran in the triggerer; then it resumed
        assert trigger_logs(stack, run_id, task_id), f"{task_id} never deferred"
    assert tis["compress"]["hostname"] == other(drained)
    job_id = job_of(stack, PIPELINE, run_id)
    lines = job_lines(stack.task_log(PIPELINE, run_id, 1), job_id)
    assert lines == list(range(1, len(emulator.full_log(job_id)) + 1))
    assert (
        stack.xcom(PIPELINE, run_id, "return_value", "compress") == emulator.job(job_id)["quantized_output"]
    )

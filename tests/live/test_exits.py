"""The exits of a wait that Airflow drives, on the live stack (tests/support/live_stack.py,
PostgreSQL, two triggerers): Airflow's ``execution_timeout`` and a DAG run's ``dagrun_timeout``,
in the worker and while deferred (Airflow enforces neither on a deferred task by itself). The DAGs
(tests/live_dags/exit_dags.py) run side by side, started once for the module. The table of every
exit: docs/exits.md."""

from __future__ import annotations

import pytest

from tests.support.live_stack import Stack, wait_until

pytestmark = pytest.mark.live
STOPPED = ("CANCELING", "CANCELED")
DAGS = {  # dag id -> the task whose exit is tested
    "exit_execution_timeout_deferred": "compress",
    "exit_execution_timeout_worker": "compress",
    "exit_dagrun_timeout_deferred": "compress",
    "exit_dagrun_timeout_worker": "compress",
    "exit_execution_timeout_deploy": "deploy",
    "exit_execution_timeout_sensor": "sensor",
}


@pytest.fixture(scope="module")
def runs(stack: Stack) -> dict[str, str]:
    """A run of each exit DAG, started together (each waits 20 s for its timeout): dag id -> run id."""
    return {dag_id: stack.trigger(dag_id) for dag_id in DAGS}


def ended(stack: Stack, dag_id: str, run_id: str) -> dict:
    """The task instance once it has ended (each timeout is 20 s, their jobs a minute)."""
    task_id = DAGS[dag_id]
    return wait_until(
        lambda: (t := stack.ti(dag_id, run_id, task_id))["state"] in ("failed", "skipped", "success") and t,
        120,
        f"{dag_id}.{task_id} to end",
    )


@pytest.mark.parametrize("mode", ["deferred", "worker"])
def test_execution_timeout_cancels_the_job_and_fails_the_task(stack, runs, mode):
    dag_id = f"exit_execution_timeout_{mode}"
    ti = ended(stack, dag_id, runs[dag_id])
    job_id = stack.xcom(dag_id, runs[dag_id], "job_id")
    assert ti["state"] == "failed"
    wait_until(lambda: stack.slow.job(job_id)["status"] in STOPPED, 30, "the job to be cancelled")
    # as Airflow's own timeout in the worker, so that retries apply
    error = stack.task_error(dag_id, runs[dag_id], ti["try_number"])
    assert error.startswith("AirflowTaskTimeout")
    if mode == "deferred":
        assert f"{job_id} did not finish within Airflow's execution_timeout" in error


def test_execution_timeout_deletes_a_deferred_deployment(stack, runs):
    dag_id = "exit_execution_timeout_deploy"
    assert ended(stack, dag_id, runs[dag_id])["state"] == "failed"
    deployed = stack.xcom(dag_id, runs[dag_id], "deployed_model", "deploy")
    wait_until(
        lambda: stack.slow.state()["deployments"].get(deployed, {}).get("status") in (None, "DELETING"),
        30,
        "the deployment to be deleted",
    )


def test_execution_timeout_of_a_deferred_sensor_leaves_the_job_running(stack, runs):
    dag_id = "exit_execution_timeout_sensor"
    ti = ended(stack, dag_id, runs[dag_id])
    assert ti["state"] == "failed"
    watched = stack.xcom(dag_id, runs[dag_id], "job_id", "start")
    assert stack.slow.job(watched)["status"] in ("QUEUING", "RUNNING")
    error = stack.task_error(dag_id, runs[dag_id], ti["try_number"], "sensor")
    assert error.startswith("AirflowTaskTimeout") and "it was kept (not cancelled)" in error


@pytest.mark.parametrize("mode", ["deferred", "worker"])
def test_a_dagrun_timeout_cancels_the_job_within_30_seconds(stack, runs, mode):
    """Airflow fails the run and skips its unfinished tasks: a deferred task's trigger is dropped
    (and asks whether its task was killed: it was), a worker's task process is stopped (on_kill)."""
    dag_id = f"exit_dagrun_timeout_{mode}"
    run_id = runs[dag_id]
    job_id = stack.xcom(dag_id, run_id, "job_id")
    wait_until(
        lambda: stack.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}").json()["state"] == "failed",
        120,
        "the DAG run to time out",
    )
    wait_until(lambda: stack.slow.job(job_id)["status"] in STOPPED, 30, "the job to be cancelled")
    assert ended(stack, dag_id, run_id)["state"] in ("skipped", "failed")

"""Airflow's execution_timeout while each kind of task is deferred, in real Airflow (`airflow dags
test` runs the triggers inline): the work the task owns is stopped, a sensor's is left, and the task
fails as Airflow's own timeout fails it, so its retries apply. The live stack's run of the same:
tests/live/test_exits.py; the table of every exit: docs/exits.md."""

from __future__ import annotations

import pytest

from airflow_provider_compress.emulator.process import EmulatorProcess
from tests.support import FAST_RETRY, migrated_airflow_home
from tests.support.airflow_home import DAGS, Airflow

DAG_ID = "test_exits_execution_timeout"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One run of the DAG, its jobs and deployments a minute long: (states, output, airflow)."""
    home = tmp_path_factory.mktemp("airflow-exits")
    env = {**migrated_airflow_home(home, DAGS), "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO"}
    with EmulatorProcess(job_seconds=60, log_lines=6, cancel_seconds=0.5) as emulator:
        env["AIRFLOW_CONN_DASHSCOPE_DEFAULT"] = emulator.connection_json(lang="en-US", **FAST_RETRY)
        airflow = Airflow(home, env, emulator)
        output = airflow.dags_test(DAG_ID)
        (home / "dags-test.out").write_text(output)
        yield airflow.states(DAG_ID), output, airflow


def tries(airflow: Airflow, task_id: str) -> int:
    rows = airflow.query(
        "SELECT try_number FROM task_instance WHERE dag_id = ? AND task_id = ?", DAG_ID, task_id
    )
    return rows[0][0]


def test_every_deferred_task_fails_at_its_execution_timeout(run):
    states, output, _ = run
    assert states == {
        "compress": "failed",
        "fine_tune": "failed",
        "deploy": "failed",
        "start": "success",
        "sensor": "failed",
    }, output[-4000:]
    assert output.count("AirflowTaskTimeout") >= 4


def test_the_jobs_are_cancelled_and_the_retry_started_a_new_one(run):
    _, output, airflow = run
    emulator = airflow.emulator
    state = emulator.state()
    assert tries(airflow, "compress") == 2  # retries apply, as to Airflow's own timeout
    second = state["jobs"][airflow.xcom(DAG_ID, "compress", "job_id")]
    base = second["job_name"].removesuffix("-g2")  # the retry made a new generation, not adopted
    compress_jobs = [j for j in state["jobs"].values() if j["job_name"] in (base, f"{base}-g2")]
    assert len(compress_jobs) == 2 and second["job_name"] == f"{base}-g2"
    assert {j["status"] for j in compress_jobs} <= {"CANCELING", "CANCELED"}
    fine_tune = airflow.xcom(DAG_ID, "fine_tune", "job_id")
    assert state["fine_tunes"][fine_tune]["status"] in ("CANCELING", "CANCELED")
    assert "did not finish within Airflow's execution_timeout" in output


def test_the_deployment_is_deleted(run):
    _, _, airflow = run
    deployed = airflow.xcom(DAG_ID, "deploy", "deployed_model")
    assert airflow.emulator.state()["deployments"].get(deployed, {}).get("status") in (None, "DELETING")


def test_the_sensor_leaves_the_job_it_watched_running(run):
    _, _, airflow = run
    watched = airflow.xcom(DAG_ID, "start", "job_id")
    assert airflow.emulator.job(watched)["status"] in ("PENDING", "QUEUING", "RUNNING")

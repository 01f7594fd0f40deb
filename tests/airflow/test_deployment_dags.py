"""Deployment operations in real Airflow: `airflow dags test` of tests/dags/deployment_test_dags.py
against the emulator (deploy, watch, scale, delete; a delete refused while deploying; a sensor
that times out)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from types import SimpleNamespace

import pytest

from airflow_provider_compress.emulator.process import EmulatorProcess
from tests.support import FAST_RETRY, migrated_airflow_home
from tests.support.airflow_home import DAGS
from tests.support.deployments import deletes, status_of


@pytest.fixture(scope="module")
def airflow(tmp_path_factory):
    """Deployments take 6 s (the sensor timeout DAG gives up after 2), scales 1.8 s."""
    home = tmp_path_factory.mktemp("airflow-deploy-ops")
    env = {**migrated_airflow_home(home, DAGS), "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO"}
    with EmulatorProcess(job_seconds=3, deploy_seconds=6, delete_seconds=0.5) as emulator:
        env["AIRFLOW_CONN_DASHSCOPE_DEFAULT"] = emulator.connection_json(**FAST_RETRY)
        yield SimpleNamespace(home=home, env=env, emulator=emulator)


def dags_test(airflow, dag_id: str) -> tuple[dict[str, str], str]:
    done = subprocess.run(
        [sys.executable, "-m", "airflow", "dags", "test", dag_id],
        env=airflow.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    with sqlite3.connect(airflow.home / "airflow.db") as db:
        (run_id,) = db.execute(
            "SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", (dag_id,)
        ).fetchone()
        rows = db.execute(
            "SELECT task_id, state FROM task_instance WHERE dag_id = ? AND run_id = ?", (dag_id, run_id)
        ).fetchall()
        xcom = db.execute(
            "SELECT value FROM xcom WHERE dag_id = ? AND run_id = ? AND task_id = 'deploy' "
            "AND key = 'deployed_model'",
            (dag_id, run_id),
        ).fetchone()
    return {**dict(rows), "deployed": json.loads(xcom[0]) if xcom else None}, done.stdout + done.stderr


@pytest.mark.parametrize("mode", ["deferred", "worker"])
def test_deploy_watch_scale_and_delete_in_airflow(airflow, mode):
    emu = airflow.emulator
    scales = emu.state(jobs=False)["calls"].get("PUT /api/v1/deployments/{deployed_model}/scale", 0)
    states, output = dags_test(airflow, f"test_deploy_scale_{mode}")
    deployed = states.pop("deployed")
    assert states == dict.fromkeys(["deploy", "running", "scale", "delete"], "success"), output[-3000:]
    assert f"Deployment {deployed} is RUNNING with capacity 2 (ready: 2)" in output
    assert emu.state(jobs=False)["calls"]["PUT /api/v1/deployments/{deployed_model}/scale"] == scales + 1
    assert deployed not in emu.state()["deployments"]  # waited for until gone


@pytest.mark.parametrize("mode", ["deferred", "worker"])
def test_a_delete_refused_while_deploying_is_sent_again_in_airflow(airflow, mode):
    emu = airflow.emulator
    emu.refuse_deletes_in("PENDING", "DEPLOYING")
    try:
        before = deletes(emu)
        states, output = dags_test(airflow, f"test_delete_while_deploying_{mode}")
    finally:
        emu.refuse_deletes_in()
    deployed = states.pop("deployed")
    assert states == {"deploy": "success", "delete": "success"}, output[-3000:]
    assert "was refused while it is" in output and deletes(emu) - before >= 2
    assert status_of(emu, deployed) in ("DELETING", "gone")


def test_a_sensor_that_times_out_leaves_the_deployment_alone(airflow):
    emu = airflow.emulator
    before = deletes(emu)
    states, output = dags_test(airflow, "test_deployment_sensor_timeout")
    deployed = states.pop("deployed")
    assert states == {"deploy": "success", "running": "failed"}, output[-3000:]
    assert deletes(emu) == before and status_of(emu, deployed) in ("PENDING", "DEPLOYING", "RUNNING")

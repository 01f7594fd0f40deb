"""DAGs that tests/airflow/test_deployment_dags.py runs with `airflow dags test`: scale, the deployment
sensor, and deletes the API refuses while a deployment is still being created."""

from __future__ import annotations

import datetime

from airflow.sdk import DAG

from airflow_provider_compress.operators.deployment import (
    DeleteDeploymentOperator,
    DeployModelOperator,
    ScaleDeploymentOperator,
)
from airflow_provider_compress.sensors.deployment import DeploymentSensor

SFT_MODEL = "qwen3.5-flash-2026-02-23-ft-202604010000-a1b2"
COMMON = {"schedule": None, "start_date": datetime.datetime(2026, 1, 1), "catchup": False}
DEPLOYED = "{{ ti.xcom_pull(task_ids='deploy', key='deployed_model') }}"

for mode in ("deferred", "worker"):
    deferrable = mode == "deferred"
    with DAG(f"test_deploy_scale_{mode}", **COMMON):
        deploy = DeployModelOperator(
            task_id="deploy",
            model_name=SFT_MODEL,
            suffix=f"s{mode[:7]}",
            deploy_spec="MU1",
            capacity=1,
            wait_for_completion=False,
        )
        running = DeploymentSensor(
            task_id="running",
            deployed_model=DEPLOYED,
            poke_interval=1,
            deferrable=deferrable,
            mode="poke",
        )
        scale = ScaleDeploymentOperator(
            task_id="scale", deployed_model=DEPLOYED, capacity="2", deferrable=deferrable, poll_interval=1
        )
        delete = DeleteDeploymentOperator(
            task_id="delete",
            deployed_model=DEPLOYED,
            wait_for_deletion=True,
            deferrable=deferrable,
            poll_interval=1,
        )
        deploy >> running >> scale >> delete

    with DAG(f"test_delete_while_deploying_{mode}", **COMMON):
        deploy = DeployModelOperator(
            task_id="deploy",
            model_name=SFT_MODEL,
            suffix=f"r{mode[:7]}",
            deploy_spec="MU1",
            capacity=1,
            wait_for_completion=False,
        )
        deploy >> DeleteDeploymentOperator(
            task_id="delete", deployed_model=DEPLOYED, deferrable=deferrable, poll_interval=1, timeout=120
        )

with DAG("test_deployment_sensor_timeout", **COMMON):
    deploy = DeployModelOperator(
        task_id="deploy",
        model_name=SFT_MODEL,
        suffix="sensor",
        deploy_spec="MU1",
        capacity=1,
        wait_for_completion=False,
    )
    deploy >> DeploymentSensor(
        task_id="running", deployed_model=DEPLOYED, poke_interval=1, timeout=2, mode="poke"
    )

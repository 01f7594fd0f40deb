"""Deploy a model with a spec checked against what it may be deployed with, scale it up for a
busy period and set its rate limits, then delete it.

The deploy task only creates the deployment (its plan, MU spec and capacity are checked against
``GET /deployments/models`` first); a sensor waits until it is RUNNING. The scale waits deferred
until the deployment is RUNNING again with the new capacity. The delete runs whatever happened
before it (``trigger_rule="all_done"``), so a failed step never leaves a deployment billing.
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG, Param, task

from airflow_provider_compress.hooks.deployment import DeploymentHook
from airflow_provider_compress.operators.deployment import (
    DeleteDeploymentOperator,
    DeployModelOperator,
    ScaleDeploymentOperator,
)
from airflow_provider_compress.sensors.deployment import DeploymentSensor

DEPLOYED = "{{ ti.xcom_pull(task_ids='deploy', key='deployed_model') }}"

with DAG(
    dag_id="example_deploy_scale",
    schedule=None,
    start_date=datetime.datetime(2026, 1, 1),
    catchup=False,
    tags=["example", "dashscope"],
    params={
        "model": Param("qwen3.5-flash-2026-02-23-ft-202604010000-a1b2", type="string"),
        "busy_capacity": Param(2, type="integer", minimum=0),
    },
) as dag:
    # [START howto_operator_deploy_checked]
    deploy = DeployModelOperator(
        task_id="deploy",
        model_name="{{ params.model }}",
        plan="mu",
        deploy_spec="MU1",  # checked: the model's MU templates list it
        capacity=1,  # checked: a multiple of MU1's base capacity
        suffix="scale",
        wait_for_completion=False,  # returns at once; the sensor below waits
    )
    # [END howto_operator_deploy_checked]
    # [START howto_sensor_deployment]
    running = DeploymentSensor(
        task_id="running",
        deployed_model=DEPLOYED,
        deferrable=True,
        poke_interval=5,
        timeout=3600,
    )
    # [END howto_sensor_deployment]
    # [START howto_operator_scale]
    scale = ScaleDeploymentOperator(
        task_id="scale_up",
        deployed_model=DEPLOYED,
        capacity="{{ params.busy_capacity }}",
        deferrable=True,  # waits for UPDATING -> RUNNING in the triggerer
        poll_interval=5,
    )
    # [END howto_operator_scale]

    # [START howto_rate_limits]
    @task
    def rate_limits(deployed_model: str) -> None:
        """Rate limits of an MU deployment: a hook call (PUT .../update)."""
        DeploymentHook().update_deployment(deployed_model, rpm_limit=600, tpm_limit=100_000)

    # [END howto_rate_limits]
    # [START howto_operator_delete_deployment_deferred]
    undeploy = DeleteDeploymentOperator(
        task_id="undeploy",
        deployed_model=DEPLOYED,
        wait_for_deletion=True,
        deferrable=True,  # retries a refused delete and waits until it is gone, in the triggerer
        poll_interval=5,
        trigger_rule="all_done",
    )
    # [END howto_operator_delete_deployment_deferred]
    deploy >> running >> scale >> rate_limits(scale.output) >> undeploy

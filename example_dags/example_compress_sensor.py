"""Start a compression without holding a worker slot, wait for it with a sensor, and tidy up.

The compress task only creates the job; a sensor in reschedule mode waits for it (no worker slot
and no triggerer held between pokes). If the wait fails (the sensor's timeout, or the job
failed) the job is cancelled, since the sensor never cancels what it watches. On success the
compressed model is deployed for a trial, checked, and the trial deployment is deleted again.
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG, Param, task

from airflow_provider_compress.operators.compress import (
    CancelCompressJobOperator,
    CreateCompressJobOperator,
    DeleteCompressJobOperator,
)
from airflow_provider_compress.operators.deployment import DeleteDeploymentOperator, DeployModelOperator
from airflow_provider_compress.sensors.compress import CompressJobSensor

with DAG(
    dag_id="example_compress_sensor",
    schedule=None,
    start_date=datetime.datetime(2026, 1, 1),
    catchup=False,
    tags=["example", "dashscope"],
    params={"model": Param("qwen3.5-flash-2026-02-23-ft-202604010000-a1b2", type="string")},
) as dag:
    # [START howto_operator_compress_no_wait]
    start = CreateCompressJobOperator(
        task_id="start",
        model="{{ params.model }}",
        template_id="quant-flash-nvfp4-mlp-nomtp",
        wait_for_completion=False,  # returns the job id right after the create
    )
    # [END howto_operator_compress_no_wait]
    # [START howto_sensor_compress]
    wait = CompressJobSensor(
        task_id="wait",
        job_id=start.output,
        mode="reschedule",  # frees the worker slot between pokes
        poke_interval=60,
        timeout=12 * 3600,
    )
    # [END howto_sensor_compress]
    # [START howto_operator_cancel]
    cancel = CancelCompressJobOperator(
        task_id="cancel",
        job_id=start.output,
        wait_for_cancellation=True,
        trigger_rule="one_failed",  # only when the wait failed; a finished job is left alone
    )
    wait >> cancel
    # [END howto_operator_cancel]
    # [START howto_operator_delete]
    delete_record = DeleteCompressJobOperator(task_id="delete_job_record", job_id=start.output)
    wait >> delete_record  # the job's record goes, its compressed model stays
    # [END howto_operator_delete]

    trial = DeployModelOperator(
        task_id="trial_deploy",
        model_name=wait.output,
        plan="mu",
        deploy_spec="MU1",
        capacity=1,
        timeout=3600,
    )

    @task
    def check(deployed_model: str) -> None:
        """Call your evaluation of the deployed model here."""
        print(f"trial deployment {deployed_model} is RUNNING")

    # [START howto_operator_delete_deployment]
    undeploy = DeleteDeploymentOperator(
        task_id="undeploy",
        # pushed as soon as the deployment exists, so it is there even when a later step failed
        deployed_model="{{ ti.xcom_pull(task_ids='trial_deploy', key='deployed_model') }}",
        wait_for_deletion=True,
        trigger_rule="all_done",  # stop the billing whatever happened
    )
    check(trial.output) >> undeploy
    # [END howto_operator_delete_deployment]

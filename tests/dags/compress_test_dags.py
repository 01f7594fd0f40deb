"""DAGs that tests/airflow/test_dags.py and test_links_and_lineage.py run with `airflow dags test`
against the emulator."""

from __future__ import annotations

import datetime

from airflow.sdk import DAG, Asset, Param, task

from airflow_provider_compress.hooks.compress import CompressHook
from airflow_provider_compress.operators.compress import (
    CancelCompressJobOperator,
    CreateCompressJobOperator,
    DeleteCompressJobOperator,
)
from airflow_provider_compress.operators.deployment import DeleteDeploymentOperator, DeployModelOperator
from airflow_provider_compress.operators.finetune import CreateFineTuneJobOperator
from airflow_provider_compress.sensors.compress import CompressJobSensor

SFT_MODEL = "qwen3.5-flash-2026-02-23-ft-202604010000-a1b2"
TEMPLATE = "quant-flash-nvfp4-mlp-nomtp"
COMPRESSED = Asset("dashscope://cn-beijing/ws-test/models")
COMMON = {"schedule": None, "start_date": datetime.datetime(2026, 1, 1), "catchup": False}
PARAMS = {
    "model": Param(SFT_MODEL, type="string"),
    "job_name": Param("", type="string"),
    "suffix": Param("t", type="string"),
}

for mode in ("deferred", "worker"):
    with DAG(f"test_compress_{mode}", params=PARAMS, **COMMON):
        CreateCompressJobOperator(
            task_id="compress",
            model="{{ params.model }}",
            template_id=TEMPLATE,
            job_name="{{ params.job_name }}",
            output_model_suffix="{{ params.suffix }}",
            custom_calibration_file_ids=["file-calib"],
            deferrable=mode == "deferred",
            poll_interval=1,
            outlets=[COMPRESSED],
        )

    with DAG(f"test_compress_timeout_{mode}", **COMMON):
        CreateCompressJobOperator(
            task_id="compress",
            model=SFT_MODEL,
            template_id=TEMPLATE,
            deferrable=mode == "deferred",
            poll_interval=1,
            timeout=1,
        )

with DAG("test_compress_sensor", **COMMON):
    start = CreateCompressJobOperator(
        task_id="start", model=SFT_MODEL, template_id=TEMPLATE, wait_for_completion=False
    )
    job_id = "{{ ti.xcom_pull(task_ids='start', key='job_id') }}"
    sensors = [
        CompressJobSensor(task_id="poke", job_id=job_id, mode="poke", poke_interval=1),
        CompressJobSensor(task_id="reschedule", job_id=job_id, mode="reschedule", poke_interval=1),
        CompressJobSensor(task_id="deferred", job_id=job_id, deferrable=True, poke_interval=1),
    ]
    start >> sensors >> DeleteCompressJobOperator(task_id="delete", job_id=job_id)

with DAG("test_compress_cancel", **COMMON):
    start = CreateCompressJobOperator(
        task_id="start", model=SFT_MODEL, template_id=TEMPLATE, wait_for_completion=False
    )
    job_id = "{{ ti.xcom_pull(task_ids='start', key='job_id') }}"
    cancel = CancelCompressJobOperator(
        task_id="cancel", job_id=job_id, wait_for_cancellation=True, poll_interval=1
    )
    start >> cancel >> CompressJobSensor(task_id="sensor", job_id=job_id, poke_interval=1)

with DAG("test_compress_reattach", params=PARAMS, **COMMON):
    first = CreateCompressJobOperator(
        task_id="first",
        model=SFT_MODEL,
        template_id=TEMPLATE,
        job_name="{{ params.job_name }}",
        wait_for_completion=False,
    )
    second = CreateCompressJobOperator(
        task_id="second",
        model=SFT_MODEL,
        template_id=TEMPLATE,
        job_name="{{ params.job_name }}",
        deferrable=True,
        poll_interval=1,
    )
    first >> second


with DAG("test_pipeline", **COMMON):
    tuned = CreateFineTuneJobOperator(
        task_id="fine_tune",
        model="qwen3.5-flash-2026-02-23",
        training_file_ids=["file-train-1"],
        training_type="sft",
        deferrable=True,
        poll_interval=1,
    )
    compressed = CreateCompressJobOperator(
        task_id="compress",
        model=tuned.output,
        template_id=TEMPLATE,
        output_model_suffix="p",
        deferrable=True,
        poll_interval=1,
    )
    DeployModelOperator(
        task_id="deploy",
        model_name=compressed.output,
        capacity=2,
        deploy_spec="MU1",
        deferrable=True,
        poll_interval=1,
        outlets=[Asset("dashscope://cn-beijing/ws-test/deployments")],
    )

for mode in ("deferred", "worker"):
    with DAG(f"test_deploy_{mode}", params={"capacity": Param(2, type="integer")}, **COMMON):
        deploy = DeployModelOperator(
            task_id="deploy",
            model_name=SFT_MODEL,
            suffix=mode[:8],
            capacity="{{ params.capacity }}",
            deploy_spec="MU1",
            deferrable=mode == "deferred",
            poll_interval=1,
        )
        deploy >> DeleteDeploymentOperator(
            task_id="delete", deployed_model=deploy.output, wait_for_deletion=True, poll_interval=1
        )

    with DAG(f"test_deploy_timeout_{mode}", **COMMON):
        DeployModelOperator(
            task_id="deploy",
            model_name=SFT_MODEL,
            suffix=f"t{mode[:7]}",
            capacity=1,
            deploy_spec="MU1",
            deferrable=mode == "deferred",
            poll_interval=1,
            timeout=1,
        )

# keep_deployment=True: neither a FAILED deployment nor a timeout deletes it (kills: the kill tests).
with DAG("test_deploy_keep", **COMMON):
    for mode in ("deferred", "worker"):
        for case, arguments in (("failed", {"capacity": 500}), ("timeout", {"capacity": 1, "timeout": 1})):
            DeployModelOperator(
                task_id=f"{case}_{mode}",
                model_name=SFT_MODEL,
                suffix=f"k{case[0]}{mode[0]}",
                deploy_spec="MU1",
                deferrable=mode == "deferred",
                poll_interval=1,
                keep_deployment=True,
                **arguments,
            )

# Hourly data intervals (with [scheduler] create_cron_data_intervals): `airflow dags test
# test_list_by_interval <logical date>` lists the jobs that started in the hour before it, through
# Airflow's data_interval_start and data_interval_end (aware, in UTC).
with DAG(
    "test_list_by_interval",
    schedule=datetime.timedelta(hours=1),
    start_date=datetime.datetime(2026, 1, 1),
    catchup=False,
    params={"job_name": Param("", type="string")},
):

    @task
    def started_in_interval(data_interval_start=None, data_interval_end=None, params=None) -> list[str]:
        jobs = CompressHook().iter_jobs(
            job_name=params["job_name"], start_time=data_interval_start, end_time=data_interval_end
        )
        return [job.job_id for job in jobs]

    started_in_interval()

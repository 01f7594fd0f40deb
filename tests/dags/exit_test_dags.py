"""DAGs that tests/airflow/test_exits.py runs with `airflow dags test`: Airflow's
execution_timeout while each kind of task is deferred (docs/exits.md). Their connection's jobs and
deployments take a minute, far longer than the 4 s execution_timeout."""

from __future__ import annotations

import datetime

from airflow.sdk import DAG

from airflow_provider_compress.operators.compress import CreateCompressJobOperator
from airflow_provider_compress.operators.deployment import DeployModelOperator
from airflow_provider_compress.operators.finetune import CreateFineTuneJobOperator
from airflow_provider_compress.sensors.compress import CompressJobSensor

SFT_MODEL = "qwen3.5-flash-2026-02-23-ft-202604010000-a1b2"
BASE_MODEL = "qwen3.5-flash-2026-02-23"
TEMPLATE = "quant-flash-nvfp4-mlp-nomtp"
TIMED = {
    "deferrable": True,
    "poll_interval": 1,
    "execution_timeout": datetime.timedelta(seconds=4),
    "retry_delay": datetime.timedelta(seconds=0),
}

with DAG(
    "test_exits_execution_timeout", schedule=None, start_date=datetime.datetime(2026, 1, 1), catchup=False
):
    # retried once: each try's job is cancelled when its execution_timeout passes
    CreateCompressJobOperator(task_id="compress", model=SFT_MODEL, template_id=TEMPLATE, retries=1, **TIMED)
    CreateFineTuneJobOperator(
        task_id="fine_tune", model=BASE_MODEL, training_file_ids=["file-train"], retries=0, **TIMED
    )
    DeployModelOperator(
        task_id="deploy", model_name=SFT_MODEL, deploy_spec="MU1", capacity=1, retries=0, **TIMED
    )
    started = CreateCompressJobOperator(
        task_id="start", model=SFT_MODEL, template_id=TEMPLATE, wait_for_completion=False
    )
    started >> CompressJobSensor(
        task_id="sensor",
        job_id=started.output,
        deferrable=True,
        poke_interval=1,
        execution_timeout=datetime.timedelta(seconds=4),
        retries=0,
    )

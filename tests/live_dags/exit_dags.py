"""DAGs for tests/live/test_exits.py: the ways a wait ends that Airflow drives (its
``execution_timeout`` and a DAG run's ``dagrun_timeout``), on a real scheduler and triggerer.

Their jobs and deployments use the "dashscope_slow" connection: a minute long, so a timeout of
20 s ends the wait while the work still runs."""

from __future__ import annotations

import datetime

from airflow.sdk import DAG

from airflow_provider_compress.operators.compress import CreateCompressJobOperator
from airflow_provider_compress.operators.deployment import DeployModelOperator
from airflow_provider_compress.sensors.compress import CompressJobSensor

MODEL = "qwen3.5-flash-2026-02-23-ft-202604010000-a1b2"
TEMPLATE = "quant-flash-nvfp4-mlp-nomtp"
COMMON = {"schedule": None, "start_date": datetime.datetime(2026, 1, 1), "catchup": False}
SLOW = {"dashscope_conn_id": "dashscope_slow", "poll_interval": 1, "retries": 0}
TWENTY_SECONDS = datetime.timedelta(seconds=20)
COMPRESS = {"task_id": "compress", "model": MODEL, "template_id": TEMPLATE, **SLOW}

for mode in ("deferred", "worker"):
    with DAG(f"exit_execution_timeout_{mode}", **COMMON):
        CreateCompressJobOperator(deferrable=mode == "deferred", execution_timeout=TWENTY_SECONDS, **COMPRESS)

    with DAG(f"exit_dagrun_timeout_{mode}", dagrun_timeout=TWENTY_SECONDS, **COMMON):
        CreateCompressJobOperator(deferrable=mode == "deferred", **COMPRESS)

with DAG("exit_execution_timeout_deploy", **COMMON):
    DeployModelOperator(
        task_id="deploy",
        model_name=MODEL,
        deploy_spec="MU1",
        capacity=1,
        deferrable=True,
        execution_timeout=TWENTY_SECONDS,
        **SLOW,
    )

with DAG("exit_execution_timeout_sensor", **COMMON):
    started = CreateCompressJobOperator(
        task_id="start", model=MODEL, template_id=TEMPLATE, wait_for_completion=False, **SLOW
    )
    started >> CompressJobSensor(
        task_id="sensor",
        job_id=started.output,
        dashscope_conn_id="dashscope_slow",
        deferrable=True,
        poke_interval=1,
        execution_timeout=TWENTY_SECONDS,
        retries=0,
    )

EXIT_DAG_IDS = (
    "exit_execution_timeout_deferred",
    "exit_execution_timeout_worker",
    "exit_dagrun_timeout_deferred",
    "exit_dagrun_timeout_worker",
    "exit_execution_timeout_deploy",
    "exit_execution_timeout_sensor",
)

"""DAGs for tests/live/test_exits.py: the ways a wait ends that Airflow drives (its
``execution_timeout`` and a DAG run's ``dagrun_timeout``), on a real scheduler and triggerer.

Their jobs and deployments use the "dashscope_slow" connection: a minute long, so a timeout of
20 s ends the wait while the work still runs."""

from __future__ import annotations

import datetime

from airflow.sdk import DAG

from airflow_provider_compress.operators.compress import CreateCompressJobOperator

MODEL = "qwen3.5-flash-2026-02-23-ft-202604010000-a1b2"
TEMPLATE = "quant-flash-nvfp4-mlp-nomtp"
COMMON = {"schedule": None, "start_date": datetime.datetime(2026, 1, 1), "catchup": False}
SLOW = {"dashscope_conn_id": "dashscope_slow", "poll_interval": 1, "retries": 0}
EXECUTION_TIMEOUT = datetime.timedelta(seconds=20)

with DAG("exit_execution_timeout_deferred", **COMMON):
    CreateCompressJobOperator(
        task_id="compress",
        model=MODEL,
        template_id=TEMPLATE,
        deferrable=True,
        execution_timeout=EXECUTION_TIMEOUT,
        **SLOW,
    )

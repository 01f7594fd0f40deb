"""DAGs that tests/live/test_live_stack.py runs on a real scheduler, triggerer and api-server."""

from __future__ import annotations

import datetime

from airflow.sdk import DAG, Asset, task

from airflow_provider_compress.operators.compress import CreateCompressJobOperator
from airflow_provider_compress.operators.deployment import DeployModelOperator

MODEL = "qwen3.5-flash-2026-02-23-ft-202604010000-a1b2"
TEMPLATE = "quant-flash-nvfp4-mlp-nomtp"
COMPRESSED = Asset("dashscope://cn-beijing/ws-live/models")
COMMON = {"schedule": None, "start_date": datetime.datetime(2026, 1, 1), "catchup": False}

with DAG("live_deferred", **COMMON) as live_deferred:
    CreateCompressJobOperator(
        task_id="compress", model=MODEL, template_id=TEMPLATE, deferrable=True, poll_interval=1
    )

with DAG("live_worker", **COMMON) as live_worker:
    CreateCompressJobOperator(
        task_id="compress",
        model=MODEL,
        template_id=TEMPLATE,
        deferrable=False,
        poll_interval=1,
        retries=1,
        retry_delay=datetime.timedelta(seconds=1),
    )

# Waits in the worker, no retry: marking it failed must cancel its job through on_kill.
with DAG("live_worker_kill", **COMMON) as live_worker_kill:
    CreateCompressJobOperator(
        task_id="compress", model=MODEL, template_id=TEMPLATE, deferrable=False, poll_interval=1
    )

with DAG("live_asset_producer", **COMMON) as live_asset_producer:
    CreateCompressJobOperator(
        task_id="compress",
        model=MODEL,
        template_id=TEMPLATE,
        deferrable=True,
        poll_interval=1,
        outlets=[COMPRESSED],
    )

with DAG("live_asset_consumer", schedule=[COMPRESSED], start_date=datetime.datetime(2026, 1, 1)) as consumer:

    @task
    def compressed_model(triggering_asset_events=None) -> str:
        return triggering_asset_events[COMPRESSED][-1].extra["quantized_output"]

    compressed_model()

# Jobs and deployments on the "dashscope_slow" connection take a minute: long enough to freeze
# the triggerer that watches them, let the other one take over, and thaw it while they still run.
with DAG("live_takeover", **COMMON) as live_takeover:
    CreateCompressJobOperator(
        task_id="compress",
        dashscope_conn_id="dashscope_slow",
        model=MODEL,
        template_id=TEMPLATE,
        deferrable=True,
        poll_interval=1,
    )

with DAG("live_takeover_deploy", **COMMON) as live_takeover_deploy:
    DeployModelOperator(
        task_id="deploy",
        dashscope_conn_id="dashscope_slow",
        model_name=MODEL,
        deploy_spec="MU1",
        capacity=1,
        deferrable=True,
        poll_interval=1,
    )

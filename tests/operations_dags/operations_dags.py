"""DAGs of tests/live/test_operations_browser.py: work a task owns, work made without waiting that
nothing waits for (an orphan, on purpose), and a deployment kept serving; on two connections."""

from __future__ import annotations

import datetime

from airflow.sdk import DAG

from airflow_provider_compress.operators.compress import CreateCompressJobOperator
from airflow_provider_compress.operators.deployment import DeployModelOperator

SFT_MODEL = "qwen3.5-flash-2026-02-23-ft-202604010000-a1b2"
TEMPLATE = "quant-flash-nvfp4-mlp-nomtp"
COMMON = {"schedule": None, "start_date": datetime.datetime(2026, 1, 1), "catchup": False}

for suffix, conn_id in (("", "dashscope_default"), ("_elsewhere", "dashscope_slow")):
    with DAG(f"ops_owned{suffix}", **COMMON):  # deferred while its job runs
        CreateCompressJobOperator(
            task_id="compress",
            dashscope_conn_id=conn_id,
            model=SFT_MODEL,
            template_id=TEMPLATE,
            deferrable=True,
            poll_interval=2,
        )

    with DAG(f"ops_orphan_maker{suffix}", **COMMON):  # its run ends at once; nothing waits for the job
        CreateCompressJobOperator(
            task_id="start",
            dashscope_conn_id=conn_id,
            model=SFT_MODEL,
            template_id=TEMPLATE,
            wait_for_completion=False,
        )

with DAG("ops_serving", **COMMON):  # a deployment its task made and keeps serving
    DeployModelOperator(
        task_id="deploy",
        model_name=SFT_MODEL,
        capacity=1,
        deploy_spec="MU1",
        deferrable=True,
        poll_interval=1,
    )

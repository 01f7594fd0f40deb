"""Compress many models at once within the account's quota of active compression jobs: the tasks
run in an Airflow pool with as many slots as the quota, so that Airflow queues the others instead
of the API refusing their creates (HTTP 429). Deferred tasks count in the pool only when it is made
with --include-deferred:

    airflow pools set dashscope_compress_jobs 2 "Model Studio: active compression jobs" --include-deferred
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG

from airflow_provider_compress.operators.compress import CreateCompressJobOperator

POOL = "dashscope_compress_jobs"
MODELS = [
    "qwen3.5-flash-2026-02-23-ft-202604010000-a1b2",
    "qwen3.5-flash-2026-02-23-ft-202604020000-c3d4",
]

with DAG(
    dag_id="example_compress_pool",
    schedule=None,
    start_date=datetime.datetime(2026, 1, 1),
    catchup=False,
    tags=["example", "dashscope"],
) as dag:
    # [START howto_pool]
    CreateCompressJobOperator.partial(
        task_id="compress",
        template_id="quant-flash-nvfp4-mlp-nomtp",
        output_model_suffix="pool",
        pool=POOL,  # a slot per job: the pool has as many slots as the account's quota
        deferrable=True,  # keeps its slot while deferred: the pool's --include-deferred
        poll_interval=5,
    ).expand(model=MODELS)
    # [END howto_pool]

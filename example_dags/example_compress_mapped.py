"""Compress many fine-tuned models at once with .expand(), then deploy the ones that succeeded."""

from __future__ import annotations

import datetime
import hashlib

from airflow.sdk import DAG, Param, task

from airflow_provider_compress.operators.compress import CreateCompressJobOperator
from airflow_provider_compress.operators.deployment import DeployModelOperator

with DAG(
    dag_id="example_compress_mapped",
    schedule=None,
    start_date=datetime.datetime(2026, 1, 1),
    catchup=False,
    tags=["example", "dashscope"],
    params={
        "models": Param(
            [
                "qwen3.5-flash-2026-02-23-ft-202604010000-a1b2",
                "qwen3.5-flash-2026-02-23-ft-202604020000-c3d4",
                "qwen3.5-flash-2026-02-23-ft-202603150000-fail",
            ],
            type="array",
        ),
    },
) as dag:
    # [START howto_mapped]
    @task
    def models_to_compress(params=None) -> list[str]:
        return list(params["models"])

    compressed = CreateCompressJobOperator.partial(
        task_id="compress",
        template_id="quant-flash-nvfp4-mlp-nomtp",
        deferrable=True,
        poll_interval=5,
    ).expand(model=models_to_compress())

    @task(trigger_rule="all_done")
    def deployments(models: list[str | None], run_id=None) -> list[dict[str, str]]:
        """A deployment for each compressed model (failed map indexes return nothing), named
        after the run and the model: clearing a failed index and running again shifts the
        positions, and the name, not the position, is what a deploy reattaches by."""
        return [
            {
                "model_name": model,
                "name": "deploy-" + hashlib.sha256(f"{run_id}/{model}".encode()).hexdigest()[:16],
            }
            for model in models
            if model
        ]

    DeployModelOperator.partial(
        task_id="deploy",
        plan="mu",
        deploy_spec="MU1",
        capacity=1,
        deferrable=True,
        poll_interval=5,
    ).expand_kwargs(deployments(compressed.output))
    # [END howto_mapped]

"""Nightly: compress the newest fine-tuned model that the compression API offers."""

from __future__ import annotations

import datetime

from airflow.sdk import DAG, task

from airflow_provider_compress.operators.compress import CreateCompressJobOperator

TEMPLATE = "quant-flash-nvfp4-mlp-nomtp"

with DAG(
    dag_id="example_compress_nightly",
    schedule="@daily",
    start_date=datetime.datetime(2026, 1, 1),
    catchup=False,
    tags=["example", "dashscope"],
) as dag:
    # [START howto_nightly]
    @task
    def newest_model() -> str:
        """Custom model ids end in -ft-{yyyyMMddHHmm}-{id}: the greatest stamp is the newest."""
        from airflow_provider_compress.hooks.compress import CompressHook  # at run time, not parse time

        listing = CompressHook().list_templates()
        candidates = [
            m.model for m in listing.custom_models if any(t.template_id == TEMPLATE for t in m.templates)
        ]
        if not candidates:
            raise ValueError(f"no fine-tuned model offers template {TEMPLATE}")
        return max(candidates, key=lambda model: model.rsplit("-ft-", 1)[-1])

    CreateCompressJobOperator(
        task_id="compress",
        model=newest_model(),
        template_id=TEMPLATE,
        output_model_suffix="nightly",
        deferrable=True,
        timeout=12 * 3600,
    )
    # [END howto_nightly]

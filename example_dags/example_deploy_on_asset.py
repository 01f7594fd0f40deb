"""Deploy every model the compress pipeline produces: scheduled on its Asset.

Triggered by hand (or with ``airflow dags test``), it deploys the model given in the run's
config instead: ``{"model": "<compressed model id>"}``.
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG, Asset, Param, task

from airflow_provider_compress.operators.deployment import DeployModelOperator

# The asset that the compress task of example_compress_pipeline.py lists in its outlets.
COMPRESSED_MODELS = Asset(name="compressed_models", uri="dashscope://cn-beijing/models")

with DAG(
    dag_id="example_deploy_on_asset",
    schedule=[COMPRESSED_MODELS],
    start_date=datetime.datetime(2026, 1, 1),
    catchup=False,
    tags=["example", "dashscope"],
    params={"model": Param(None, type=["null", "string"])},
) as dag:
    # [START howto_asset]
    @task
    def compressed_model(triggering_asset_events=None, params=None) -> str:
        """The compress operator puts job_id, quantized_output and template_id in the event's extra."""
        if params["model"]:  # a run by hand
            return params["model"]
        events = triggering_asset_events[COMPRESSED_MODELS]
        return events[-1].extra["quantized_output"]

    DeployModelOperator(
        task_id="deploy",
        model_name=compressed_model(),
        plan="mu",
        deploy_spec="MU1",
        capacity=1,
        suffix="asset",  # the producing DAG may have deployed the model too: a deployment of its own
        deferrable=True,
        poll_interval=5,
    )
    # [END howto_asset]

"""Upload the data -> fine-tune -> compress (deferrable) -> deploy -> scale, driven by DAG params.

The training and calibration data are the small files in data/ next to this file. Trigger it
with a config to train on other files or another base model, or to change the template and plan.
The deploy checks its MU spec and capacity against what the model may be deployed with before it
creates anything; the deployment starts at ``capacity`` and is then scaled to
``serving_capacity`` (a later run of the scale alone can move it up or down).
"""

from __future__ import annotations

import datetime
from pathlib import Path

from airflow.sdk import DAG, Asset, Param

from airflow_provider_compress.operators.compress import CreateCompressJobOperator
from airflow_provider_compress.operators.deployment import DeployModelOperator, ScaleDeploymentOperator
from airflow_provider_compress.operators.files import UploadFileOperator
from airflow_provider_compress.operators.finetune import CreateFineTuneJobOperator

# Deploy DAGs can be scheduled on this asset (see example_deploy_on_asset.py): the models of the
# region cn-beijing, an Asset of the provider's dashscope:// scheme (dashscope://<region>/<dataset>).
COMPRESSED_MODELS = Asset(name="compressed_models", uri="dashscope://cn-beijing/models")
DATA = Path(__file__).parent / "data"

with DAG(
    dag_id="example_compress_pipeline",
    schedule=None,
    start_date=datetime.datetime(2026, 1, 1),
    catchup=False,
    tags=["example", "dashscope"],
    params={
        "base_model": Param("qwen3.5-flash-2026-02-23", type="string"),
        "epochs": Param(1, type="integer", minimum=1),
        "training_data": Param(str(DATA / "train.jsonl"), type="string"),
        "calibration_data": Param(str(DATA / "calibration.jsonl"), type="string"),
        "template_id": Param("quant-flash-nvfp4-mlp-nomtp", type="string"),
        "deploy_spec": Param("MU1", type="string"),
        "capacity": Param(1, type="integer", minimum=1),
        "serving_capacity": Param(2, type="integer", minimum=1),
    },
    render_template_as_native_obj=True,
) as dag:
    # [START howto_pipeline]
    # [START howto_operator_upload]
    training_data = UploadFileOperator(task_id="upload_training_data", path="{{ params.training_data }}")
    calibration_data = UploadFileOperator(
        task_id="upload_calibration_data", path="{{ params.calibration_data }}"
    )
    # [END howto_operator_upload]
    # [START howto_operator_finetune]
    fine_tune = CreateFineTuneJobOperator(
        task_id="fine_tune",
        model="{{ params.base_model }}",
        training_file_ids=[training_data.output],
        training_type="sft",
        # a .json file next to the DAG file, rendered with Jinja, then read as JSON
        hyper_parameters="data/finetune_hyper_parameters.json",
        deferrable=True,
        poll_interval=5,
    )
    # [END howto_operator_finetune]
    # [START howto_operator_compress]
    compress = CreateCompressJobOperator(
        task_id="compress",
        model=fine_tune.output,
        template_id="{{ params.template_id }}",
        custom_calibration_file_ids=[calibration_data.output],
        output_model_suffix="demo",
        deferrable=True,
        poll_interval=5,
        timeout=6 * 3600,
        outlets=[COMPRESSED_MODELS],
    )
    # [END howto_operator_compress]
    # [START howto_operator_deploy]
    deploy = DeployModelOperator(
        task_id="deploy",
        model_name=compress.output,
        plan="mu",
        deploy_spec="{{ params.deploy_spec }}",
        capacity="{{ params.capacity }}",
        deferrable=True,
        poll_interval=5,
        timeout=3600,
    )
    # [END howto_operator_deploy]
    scale = ScaleDeploymentOperator(
        task_id="scale",
        deployed_model=deploy.output,
        capacity="{{ params.serving_capacity }}",
        deferrable=True,  # waits for UPDATING -> RUNNING in the triggerer
        poll_interval=5,
    )
    # [END howto_pipeline]

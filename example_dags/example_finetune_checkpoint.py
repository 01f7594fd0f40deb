"""Start a fine-tune, wait for it with a sensor, export an earlier checkpoint and compress that.

A later checkpoint is not always the better model (over-fitting): here the one before the last
is published as a model of its own and compressed. The sensor stands for a fine-tune that
another DAG or a person in the console started; it never cancels it.
"""

from __future__ import annotations

import datetime
from pathlib import Path

from airflow.sdk import DAG, task

from airflow_provider_compress.hooks.finetune import FineTuneHook
from airflow_provider_compress.operators.compress import CreateCompressJobOperator
from airflow_provider_compress.operators.files import UploadFileOperator
from airflow_provider_compress.operators.finetune import CreateFineTuneJobOperator, ExportCheckpointOperator
from airflow_provider_compress.sensors.finetune import FineTuneJobSensor

DATA = Path(__file__).parent / "data"

with DAG(
    dag_id="example_finetune_checkpoint",
    schedule=None,
    start_date=datetime.datetime(2026, 1, 1),
    catchup=False,
    tags=["example", "dashscope"],
) as dag:
    training_data = UploadFileOperator(task_id="upload_training_data", path=str(DATA / "train.jsonl"))
    start = CreateFineTuneJobOperator(
        task_id="start",
        model="qwen3.5-flash-2026-02-23",
        training_file_ids=[training_data.output],
        training_type="sft",
        wait_for_completion=False,  # returns the job id
    )
    # [START howto_sensor_finetune]
    trained = FineTuneJobSensor(
        task_id="wait_for_training",
        job_id=start.output,
        deferrable=True,
        poke_interval=5,
        timeout=12 * 3600,  # fails the task; the job runs on
    )
    # [END howto_sensor_finetune]

    @task
    def earlier_checkpoint(job_id: str) -> str:
        """The checkpoint before the last (the last one is the job's finetuned_output already)."""
        checkpoints = FineTuneHook().list_checkpoints(job_id)  # the newest first
        return checkpoints[min(1, len(checkpoints) - 1)].checkpoint

    chosen = earlier_checkpoint(start.output)
    trained >> chosen
    # [START howto_operator_export_checkpoint]
    exported = ExportCheckpointOperator(
        task_id="export",
        job_id=start.output,
        checkpoint=chosen,
        model_name="earlier-checkpoint",
        poll_interval=5,
    )
    compress = CreateCompressJobOperator(
        task_id="compress",
        model=exported.output,
        template_id="quant-flash-nvfp4-mlp-nomtp",
        deferrable=True,
        poll_interval=5,
    )
    # [END howto_operator_export_checkpoint]

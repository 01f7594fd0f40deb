"""CreateFineTuneJobOperator's reattach, against the emulator (the full runs: tests/airflow)."""

from __future__ import annotations

import uuid

import pytest
from airflow.sdk.exceptions import AirflowException

from airflow_provider_compress.hooks.finetune import FineTuneHook
from airflow_provider_compress.operators.finetune import CreateFineTuneJobOperator, ExportCheckpointOperator
from tests.support import BASE_MODEL, refusal, task_context
from tests.support.files import EXPORTS, calls, finished


def test_reattach_compares_fine_tune_files_and_hyper_parameters(slow_conn):
    name = f"ft-{uuid.uuid4().hex[:8]}"
    FineTuneHook().create_job(
        model="qwen3-8b", training_file_ids=["file-a"], hyper_parameters={"n_epochs": 1}, job_name=name
    )
    changed = CreateFineTuneJobOperator(
        task_id="t",
        model="qwen3-8b",
        training_file_ids=["file-b"],
        validation_file_ids=["file-v"],
        hyper_parameters={"n_epochs": 2, "learning_rate": "1e-5"},
        job_name=name,
    )
    message = refusal(changed)
    assert "training_file_ids: this task asks for ['file-b'], it has ['file-a']" in message
    assert "validation_file_ids: this task asks for ['file-v'], it has []" in message
    assert "hyper_parameters.n_epochs: this task asks for 2, it has 1" in message
    assert "learning_rate" not in message  # the job's answer does not carry it: nothing to compare
    same = CreateFineTuneJobOperator(
        task_id="t", model="qwen3-8b", training_file_ids=["file-a"], job_name=name
    )
    assert same._create_or_reattach(task_context()).job_name == name


def test_export_operator_waits_once_and_its_retry_exports_nothing(conn):
    done = finished(FineTuneHook().create_job(model=BASE_MODEL, training_file_ids=["file-x"]).job_id)
    before = calls(conn, EXPORTS)
    operator = ExportCheckpointOperator(
        task_id="export", job_id=done.job_id, checkpoint="checkpoint-70", poll_interval=1
    )
    model = operator.execute({})
    assert model == f"{done.finetuned_output}-c70"
    assert operator.execute({}) == model  # a retry: exported already
    assert calls(conn, EXPORTS) == before + 1
    last = ExportCheckpointOperator(task_id="last", job_id=done.job_id, checkpoint="checkpoint-100")
    assert last.execute({}) == done.finetuned_output and calls(conn, EXPORTS) == before + 1
    missing = ExportCheckpointOperator(task_id="m", job_id=done.job_id, checkpoint="checkpoint-5")
    with pytest.raises(AirflowException, match=r"has no checkpoint-5 .*checkpoint-100, checkpoint-70"):
        missing.execute({})

"""FineTuneHook against the emulator over real HTTP (its trigger: tests/triggers/test_finetune.py)."""

from __future__ import annotations

import uuid

import pytest

from airflow_provider_compress.exceptions import (
    BadRequestError,
    CompressValidationError,
    NotFoundError,
    ServerError,
)
from airflow_provider_compress.hooks.compress import CompressHook
from airflow_provider_compress.hooks.finetune import FineTuneHook
from airflow_provider_compress.models import JobStatus
from tests.support import BASE_MODEL, PLAIN_TEMPLATE, job_ended, wait_for_status


def test_fine_tune_output_becomes_a_compressible_model(conn):
    hook = FineTuneHook()
    job = hook.create_job(
        model=BASE_MODEL,
        training_file_ids=["file-train-1"],
        training_type="sft",
        finetuned_output_suffix="v1",
    )
    assert job.job_id.startswith("ft-") and job.status == JobStatus.PENDING and job.finetuned_output is None
    done = wait_for_status(hook.get_job, job.job_id, job_ended)
    assert done.status == JobStatus.SUCCEEDED and done.finetuned_output == f"{BASE_MODEL}-v1-{job.job_id}"
    assert done.usage is not None
    assert list(hook.iter_logs(job.job_id)) == conn.full_log(job.job_id)
    assert "##FT_COMPLETE##" in conn.full_log(job.job_id)[-1]
    # the hand-off: the compression API now lists it, and compresses it
    compress = CompressHook()
    assert compress.get_template(done.finetuned_output, PLAIN_TEMPLATE) is not None
    compressed = compress.create_job(
        model=done.finetuned_output, template_id=PLAIN_TEMPLATE, job_name=f"c-{uuid.uuid4().hex[:8]}"
    )
    assert compressed.model == done.finetuned_output


def test_fine_tune_failure_carries_code_and_message(conn):
    hook = FineTuneHook()
    done = wait_for_status(
        hook.get_job, hook.create_job(model=BASE_MODEL, training_file_ids=["file-bad-data"]).job_id, job_ended
    )
    assert done.status == JobStatus.FAILED and done.code and done.message and done.finetuned_output is None


def test_fine_tune_list_cancel_delete(slow_conn):
    hook = FineTuneHook()
    name = f"ft-{uuid.uuid4().hex[:8]}"
    job = hook.create_job(
        model="qwen3-8b", training_file_ids=["file-1"], training_type="efficient_sft", job_name=name
    )
    assert hook.find_job_by_name(name).job_id == job.job_id
    page = hook.list_jobs(model="qwen3-8b", page_size=100)
    assert job.job_id in [j.job_id for j in page.jobs]
    with pytest.raises(BadRequestError):  # still training: cancel first
        hook.delete_job(job.job_id)
    assert hook.cancel_job(job.job_id).status == "success"
    done = wait_for_status(hook.get_job, job.job_id, job_ended)
    assert done.status == JobStatus.CANCELED
    with pytest.raises(BadRequestError):
        hook.cancel_job(job.job_id)
    hook.delete_job(job.job_id)
    with pytest.raises(NotFoundError):
        hook.get_job(job.job_id)


@pytest.mark.parametrize(
    ("args", "error", "status"),
    [
        ({"model": "no-such-model", "training_file_ids": ["f"]}, NotFoundError, 404),
        (
            {"model": BASE_MODEL, "training_file_ids": ["f"], "training_type": "efficient_sft"},
            BadRequestError,
            400,
        ),
    ],
)
def test_fine_tune_api_errors(conn, args, error, status):
    with pytest.raises(error) as raised:
        FineTuneHook().create_job(**args)
    assert raised.value.status_code == status and raised.value.request_id


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"model": BASE_MODEL}, "training_file_ids"),
        ({"model": BASE_MODEL, "training_file_ids": "file-1"}, "training_file_ids"),
        ({"model": BASE_MODEL, "training_file_ids": ["f"], "training_type": "full"}, "training_type"),
        ({"model": "", "training_file_ids": ["f"]}, "model"),
        ({"model": BASE_MODEL, "training_file_ids": iter([])}, "training_file_ids"),
        ({"model": BASE_MODEL, "training_datasets": [{"file_id": "f"}, "f"]}, "training_datasets"),
        ({"model": BASE_MODEL, "training_file_ids": ["f"], "hyper_parameters": [1]}, "hyper_parameters"),
    ],
)
def test_fine_tune_local_validation(conn, args, field):
    before = conn.state()["requests"]
    with pytest.raises(CompressValidationError) as raised:
        FineTuneHook().create_job(**args)
    assert raised.value.field == field and conn.state()["requests"] == before


def test_fine_tune_inputs_are_read_once_and_echoed_as_sent(conn):
    hook = FineTuneHook()
    from_files = hook.create_job(model=BASE_MODEL, training_file_ids=(f"file-{i}" for i in range(2)))
    assert from_files.training_file_ids == ["file-0", "file-1"]
    dataset = {"data_source_type": "file_id", "file_id": "file-d"}
    from_datasets = hook.create_job(model=BASE_MODEL, training_datasets=iter([dataset]))
    assert from_datasets.training_datasets == [dataset] and from_datasets.training_file_ids == []


def test_fine_tune_create_is_never_repeated_after_an_unknown_outcome(conn):
    creates = conn.state()["fine_tune_creates"]
    conn.fail_next(1, status=503, after=True)
    with pytest.raises(ServerError):
        FineTuneHook().create_job(model=BASE_MODEL, training_file_ids=["file-1"])
    assert conn.state()["fine_tune_creates"] == creates + 1

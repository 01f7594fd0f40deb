"""File uploads (FileHook, UploadFileOperator) and fine-tune checkpoints (list, export,
ExportCheckpointOperator) against the emulator over real HTTP."""

from __future__ import annotations

import hashlib
import json
import time
import uuid

import pytest
import requests
from airflow.sdk.exceptions import AirflowException
from conftest import BASE_MODEL, PLAIN_TEMPLATE

from airflow_provider_compress.emulator.app import Config, Emulator
from airflow_provider_compress.exceptions import (
    BadRequestError,
    CompressValidationError,
    FileUploadError,
    NotFoundError,
    ServerError,
)
from airflow_provider_compress.hooks.compress import CompressHook
from airflow_provider_compress.hooks.deployment import DeploymentHook
from airflow_provider_compress.hooks.files import FileHook
from airflow_provider_compress.hooks.finetune import FineTuneHook
from airflow_provider_compress.models import TERMINAL_STATUSES
from airflow_provider_compress.operators.files import UploadFileOperator
from airflow_provider_compress.operators.finetune import ExportCheckpointOperator

UPLOADS = "POST /api/v1/files"
EXPORTS = "GET /api/v1/fine-tunes/{job_id}/export/{checkpoint}"
SAMPLE = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}


def jsonl() -> bytes:
    """Training data (JSON lines) of a content no other test uploads."""
    return (json.dumps(SAMPLE) + "\n" + json.dumps({**SAMPLE, "id": uuid.uuid4().hex}) + "\n").encode()


def calls(emulator, route: str) -> int:
    return emulator.state()["calls"].get(route, 0)


def wait_until(check, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
    return result


def finished(job_id: str):
    return wait_until(lambda: (job := FineTuneHook().get_job(job_id)).status in TERMINAL_STATUSES and job)


# --- uploads -----------------------------------------------------------------------------------


def test_upload_a_path_or_bytes(conn, tmp_path):
    content = jsonl()
    path = tmp_path / "train.jsonl"
    path.write_bytes(content)
    hook = FileHook()
    from_path = hook.upload_file(path)
    from_bytes = hook.upload_file(content, name="copy.jsonl", purpose="batch", description="a copy")
    assert from_path.name == "train.jsonl" and from_path.request_id
    assert from_path.file_id != from_bytes.file_id
    stored = conn.state()["files"]
    md5 = hashlib.md5(content).hexdigest()
    assert stored[from_path.file_id] | {"gmt_create": None} == {
        "file_id": from_path.file_id,
        "name": "train.jsonl",
        "description": None,
        "purpose": "fine-tune",
        "size": len(content),
        "md5": md5,
        "gmt_create": None,
    }
    assert (stored[from_bytes.file_id]["purpose"], stored[from_bytes.file_id]["description"]) == (
        "batch",
        "a copy",
    )
    assert hook.get_file(from_path.file_id).md5 == md5
    assert {from_path.file_id, from_bytes.file_id} <= {f.file_id for f in hook.iter_files()}


def test_reuse_existing_uploads_the_same_content_once(conn):
    hook, content = FileHook(), jsonl()
    before = calls(conn, UPLOADS)
    first = hook.upload_file(content, name="reuse.jsonl", reuse_existing=True)
    again = hook.upload_file(content, name="reuse.jsonl", reuse_existing=True)
    assert again.file_id == first.file_id and calls(conn, UPLOADS) == before + 1
    changed = hook.upload_file(content + b"{}\n", name="reuse.jsonl", reuse_existing=True)
    renamed = hook.upload_file(content, name="other.jsonl", reuse_existing=True)
    assert len({first.file_id, changed.file_id, renamed.file_id}) == 3


def test_an_upload_whose_answer_was_lost_is_found_not_sent_again(conn):
    content = jsonl()
    before = calls(conn, UPLOADS)
    conn.fail_next(1, status=503, after=True, method="POST", path="/api/v1/files")  # served, answer lost
    file = FileHook().upload_file(content, name="lost.jsonl")
    same = [f for f in conn.state()["files"].values() if f["md5"] == hashlib.md5(content).hexdigest()]
    assert [f["file_id"] for f in same] == [file.file_id]
    assert calls(conn, UPLOADS) == before + 1


def test_an_upload_that_never_arrived_fails_without_a_blind_second_try(conn):
    content = jsonl()
    before = calls(conn, UPLOADS)
    conn.fail_next(1, status=503, method="POST", path="/api/v1/files")  # refused before serving
    with pytest.raises(ServerError):
        FileHook().upload_file(content, name="never.jsonl")
    assert calls(conn, UPLOADS) == before + 1
    assert hashlib.md5(content).hexdigest() not in {f["md5"] for f in conn.state()["files"].values()}


def test_a_refused_file_raises_the_apis_reason(conn):
    refusal = {"name": "big.jsonl", "code": "BadRequest.TooLarge", "message": "Out of space"}
    body = {"request_id": "req-7", "data": {"uploaded_files": [], "failed_uploads": [refusal]}}
    conn.answer_next(1, json.dumps(body), method="POST", path="/api/v1/files")
    with pytest.raises(FileUploadError) as raised:
        FileHook().upload_file(jsonl(), name="big.jsonl")
    assert raised.value.code == "BadRequest.TooLarge" and raised.value.request_id == "req-7"
    assert "big.jsonl: Out of space" in str(raised.value)


@pytest.mark.parametrize(
    ("source", "kwargs", "field"),
    [
        ("missing", {}, "path"),
        (b"{}", {}, "name"),
        (b"", {"name": "empty.jsonl"}, "content"),
        (b"{}", {"name": "x.jsonl", "purpose": ""}, "purpose"),
    ],
)
def test_bad_uploads_are_refused_before_any_request(conn, tmp_path, source, kwargs, field):
    before = conn.state()["requests"]
    source = tmp_path / source if isinstance(source, str) else source
    with pytest.raises(CompressValidationError) as raised:
        FileHook().upload_file(source, **kwargs)
    assert raised.value.field == field
    assert conn.state()["requests"] == before


def test_the_emulators_file_api(conn):
    url, headers = f"{conn.url}/api/v1/files", {"Authorization": f"Bearer {conn.api_key}"}
    two = [("files", ("a.jsonl", b'{"a": 1}\n')), ("files", ("b.jsonl", b'{"b": 2}\n'))]
    form = {"purpose": "fine-tune", "descriptions": ["first", "second"]}
    answer = requests.post(url, headers=headers, files=two, data=form, timeout=10).json()
    assert "output" not in answer and answer["data"]["failed_uploads"] == []  # the "data" envelope
    assert [f["name"] for f in answer["data"]["uploaded_files"]] == ["a.jsonl", "b.jsonl"]
    first = answer["data"]["uploaded_files"][0]["file_id"]
    got = requests.get(f"{url}/{first}", headers=headers, timeout=10).json()["data"]
    assert (got["name"], got["description"], got["size"]) == ("a.jsonl", "first", 9)
    page = requests.get(url, headers=headers, params={"page_size": 1}, timeout=10).json()["data"]
    assert page["total"] >= 2 and len(page["files"]) == 1
    for bad in ({"data": {"purpose": "fine-tune"}}, {"files": two, "data": {"purpose": "training"}}):
        refused = requests.post(url, headers=headers, timeout=10, **bad)
        assert refused.status_code == 400 and refused.json()["code"] == "InvalidParameter"
    assert requests.get(f"{url}/file-none", headers=headers, timeout=10).status_code == 404


# --- the uploaded files in jobs ----------------------------------------------------------------


def test_uploaded_files_reach_the_fine_tune_and_the_compression_job(conn):
    files = FileHook()
    training = files.upload_file(jsonl(), name="train.jsonl")
    calibration = files.upload_file(jsonl(), name="calibration.jsonl")
    tuned = FineTuneHook().create_job(model=BASE_MODEL, training_file_ids=[training.file_id])
    tuned = finished(tuned.job_id)
    assert tuned.status == "SUCCEEDED" and tuned.training_file_ids == [training.file_id]
    assert f"Data processing: train.jsonl ({training.file_id})" in "\n".join(conn.full_log(tuned.job_id))
    job = CompressHook().create_job(
        model=tuned.finetuned_output,
        template_id=PLAIN_TEMPLATE,
        custom_calibration_file_ids=[calibration.file_id],
    )
    assert job.custom_calibration_file_ids == [calibration.file_id]
    wait_until(lambda: conn.job(job.job_id)["status"] == "SUCCEEDED")
    log = "\n".join(conn.full_log(job.job_id))
    assert f"Processing calibration data: calibration.jsonl ({calibration.file_id})" in log


def test_the_emulator_checks_uploaded_training_files(conn):
    files = FileHook()
    for_batch = files.upload_file(jsonl(), name="batch.jsonl", purpose="batch")
    with pytest.raises(BadRequestError, match="uploaded for batch"):
        FineTuneHook().create_job(model=BASE_MODEL, training_file_ids=[for_batch.file_id])
    not_json = files.upload_file(b"just text\n" + uuid.uuid4().hex.encode(), name="notes.txt")
    job = FineTuneHook().create_job(model=BASE_MODEL, training_file_ids=[not_json.file_id])
    assert finished(job.job_id).status == "FAILED"


def test_upload_operator_returns_the_file_id_and_a_retry_uploads_nothing(conn, tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_bytes(jsonl())
    before = calls(conn, UPLOADS)
    first = UploadFileOperator(task_id="upload", path=str(path)).execute({})
    retry = UploadFileOperator(task_id="upload", path=str(path)).execute({})
    assert first == retry and first in conn.state()["files"]
    assert calls(conn, UPLOADS) == before + 1
    with pytest.raises(ValueError, match="exactly one of path and data"):
        UploadFileOperator(task_id="both", path=str(path), data=b"{}")


# --- checkpoints -------------------------------------------------------------------------------


def test_checkpoints_are_listed_and_an_exported_one_compresses(conn):
    hook = FineTuneHook()
    done = finished(hook.create_job(model=BASE_MODEL, training_file_ids=["file-ckpt"]).job_id)
    checkpoints = hook.list_checkpoints(done.job_id)
    # 10 progress lines in this emulator, a checkpoint saved with lines 4, 7 and 10; the newest first
    assert [c.checkpoint for c in checkpoints] == ["checkpoint-100", "checkpoint-70", "checkpoint-40"]
    assert (checkpoints[0].status, checkpoints[0].model_name) == ("SUCCEEDED", done.finetuned_output)
    assert [(c.status, c.model_name) for c in checkpoints[1:]] == [("PENDING", None)] * 2
    assert checkpoints[2].full_name == f"{done.job_id}:checkpoint-40"
    assert hook.export_checkpoint(done.job_id, "checkpoint-40", model_name="early") is True
    assert hook.list_checkpoints(done.job_id)[2].status in ("PROCESSING", "SUCCEEDED")  # 1 s later
    exported = wait_until(lambda: hook.list_checkpoints(done.job_id)[2].model_name)
    assert exported == f"{done.finetuned_output}-c40"
    job = CompressHook().create_job(model=exported, template_id=PLAIN_TEMPLATE)  # a custom model now
    assert job.model == exported


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


def test_exports_the_api_refuses(conn):
    hook = FineTuneHook()
    running = hook.create_job(model=BASE_MODEL, training_file_ids=["file-x"])
    with pytest.raises(BadRequestError):  # not trained yet
        hook.export_checkpoint(running.job_id, "checkpoint-100")
    dpo = finished(
        hook.create_job(model="qwen3-8b", training_file_ids=["file-x"], training_type="dpo_full").job_id
    )
    with pytest.raises(BadRequestError):  # only sft and efficient_sft checkpoints export
        hook.export_checkpoint(dpo.job_id, "checkpoint-100")
    with pytest.raises(NotFoundError):
        hook.export_checkpoint(finished(running.job_id).job_id, "checkpoint-1")


def test_a_lora_output_is_named_as_documented_and_still_known_as_lora(conn):
    """No "-lora" in the name (fact sheet B.10): the emulator knows LoRA outputs by how they were made."""
    lora = finished(
        FineTuneHook()
        .create_job(model="qwen3-8b", training_file_ids=["file-x"], training_type="efficient_sft")
        .job_id
    )
    assert lora.finetuned_output == f"qwen3-8b-{lora.job_id}"
    with pytest.raises(BadRequestError, match="LoRA"):
        CompressHook().create_job(model=lora.finetuned_output, template_id=PLAIN_TEMPLATE)
    deployed = DeploymentHook().create_deployment(model_name=lora.finetuned_output, plan="lora", capacity=1)
    assert deployed.deployed_model == lora.finetuned_output
    DeploymentHook().delete_deployment(deployed.deployed_model)


def test_checkpoints_are_saved_while_training_and_an_export_is_processing_for_a_second():
    """On the emulator's own clock: no wall-clock race in what a transitional state shows."""
    now = [1_780_000_000.0]
    emulator = Emulator(Config(job_seconds=10, log_lines=9), clock=lambda: now[0])
    job = emulator.create_fine_tune({"model": BASE_MODEL, "training_file_ids": ["f"]})
    now[0] += 2 + 8 * 5.5 / 9  # RUNNING from 2 s to 10 s: 5 of its 9 progress lines written
    assert [c["checkpoint"] for c in emulator.list_checkpoints(job.job_id)] == ["checkpoint-30"]
    now[0] += 10
    assert [c["checkpoint"] for c in emulator.list_checkpoints(job.job_id)] == [
        "checkpoint-90",
        "checkpoint-60",
        "checkpoint-30",
    ]
    emulator.export_checkpoint(job.job_id, "checkpoint-60", "mid")
    exported = emulator.list_checkpoints(job.job_id)[1]
    assert (exported["status"], exported.get("model_name")) == ("PROCESSING", None)
    now[0] += Config.export_seconds
    exported = emulator.list_checkpoints(job.job_id)[1]
    assert exported["status"] == "SUCCEEDED" and exported["model_display_name"] == "mid"
    assert exported["model_name"] == f"{job.output()}-c60"

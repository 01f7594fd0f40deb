"""File uploads through FileHook against the emulator over real HTTP: a path or bytes, reuse,
an upload whose answer was lost, refusals, the uploaded files in jobs."""

from __future__ import annotations

import hashlib
import json

import pytest

from airflow_provider_compress import protocol
from airflow_provider_compress.exceptions import (
    CompressValidationError,
    FileUploadError,
    InvalidResponseError,
    ServerError,
)
from airflow_provider_compress.hooks.compress import CompressHook
from airflow_provider_compress.hooks.deployment import DeploymentHook
from airflow_provider_compress.hooks.files import FileHook
from airflow_provider_compress.hooks.finetune import FineTuneHook
from tests.support import BASE_MODEL, PLAIN_TEMPLATE
from tests.support.files import UPLOADS, calls, finished, jsonl, wait_until

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
        ("empty.jsonl", {}, "content"),
    ],
)
@pytest.mark.parametrize("reuse_existing", [False, True])  # the look-up of a copy is a request too
def test_bad_uploads_are_refused_before_any_request(conn, tmp_path, source, kwargs, field, reuse_existing):
    before = conn.state()["requests"]
    (tmp_path / "empty.jsonl").write_bytes(b"")
    source = tmp_path / source if isinstance(source, str) else source
    with pytest.raises(CompressValidationError) as raised:
        FileHook().upload_file(source, reuse_existing=reuse_existing, **kwargs)
    assert raised.value.field == field
    assert conn.state()["requests"] == before


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


# --- checkpoints -------------------------------------------------------------------------------


# --- the lists walked by the hooks' one pager -------------------------------------------------


@pytest.mark.parametrize(
    ("walk", "path", "items_field", "noun"),
    [
        (lambda: FileHook().iter_files(), "/api/v1/files", "files", "file"),
        (
            lambda: DeploymentHook().iter_deployable_models(),
            "/api/v1/deployments/models",
            "models",
            "deployable model",
        ),
    ],
)
def test_a_list_that_never_ends_is_bounded_and_named(fresh_conn, monkeypatch, walk, path, items_field, noun):
    """The files and the deployable models are walked by the pager of the resources' lists:
    bounded by ``protocol.MAX_PAGES``, and the error names the list that did not end."""
    monkeypatch.setattr(protocol, "MAX_PAGES", 3)
    items = [{"file_id": f"file-{i}", "model_name": f"m{i}"} for i in range(100)]
    body = json.dumps({"request_id": "r", "output": {"total": 10**9, "page_no": 1, items_field: items}})
    fresh_conn.answer_next(3, body, method="GET", path=path)
    before = fresh_conn.state()["requests"]
    with pytest.raises(
        InvalidResponseError, match=f"the {noun} list did not end within 3 pages \\(is its total"
    ):
        list(walk())
    assert fresh_conn.state()["requests"] - before == 3

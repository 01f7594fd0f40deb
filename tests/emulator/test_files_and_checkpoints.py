"""The emulated file API and checkpoints: uploads over plain HTTP, training files checked,
checkpoints saved while training and exports processing (in process, on a clock of the test's)."""

from __future__ import annotations

import uuid

import pytest
import requests

from airflow_provider_compress.emulator.service import Config, Emulator
from airflow_provider_compress.exceptions import BadRequestError
from airflow_provider_compress.hooks.files import FileHook
from airflow_provider_compress.hooks.finetune import FineTuneHook
from tests.support import BASE_MODEL
from tests.support.files import finished, jsonl


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


def test_the_emulator_checks_uploaded_training_files(conn):
    files = FileHook()
    for_batch = files.upload_file(jsonl(), name="batch.jsonl", purpose="batch")
    with pytest.raises(BadRequestError, match="uploaded for batch"):
        FineTuneHook().create_job(model=BASE_MODEL, training_file_ids=[for_batch.file_id])
    not_json = files.upload_file(b"just text\n" + uuid.uuid4().hex.encode(), name="notes.txt")
    job = FineTuneHook().create_job(model=BASE_MODEL, training_file_ids=[not_json.file_id])
    assert finished(job.job_id).status == "FAILED"


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

"""UploadFileOperator against the emulator: the file id, and a retry that uploads nothing."""

from __future__ import annotations

import pytest

from airflow_provider_compress.operators.files import UploadFileOperator
from tests.support.files import UPLOADS, calls, jsonl


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

"""Files uploaded and fine-tunes finished for the file and checkpoint tests."""

from __future__ import annotations

import json
import time
import uuid

from airflow_provider_compress.hooks.finetune import FineTuneHook
from airflow_provider_compress.protocol import FINE_TUNE

SAMPLE = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
UPLOADS = "POST /api/v1/files"
EXPORTS = "GET /api/v1/fine-tunes/{job_id}/export/{checkpoint}"


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
    """The fine-tune job once it ended."""
    return wait_until(lambda: FINE_TUNE.is_terminal((job := FineTuneHook().get_job(job_id)).status) and job)

"""FineTuneJobTrigger against the emulator over real HTTP: its log forwarded live."""

from __future__ import annotations

import logging

from airflow_provider_compress.hooks.finetune import FineTuneHook
from airflow_provider_compress.triggers.finetune import FineTuneJobTrigger
from tests.support import BASE_MODEL
from tests.support.triggers import LOGGER, forwarded, only_event


async def test_fine_tune_trigger_forwards_the_log(conn, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    job = FineTuneHook().create_job(model=BASE_MODEL, training_file_ids=["file-1"])
    event = await only_event(FineTuneJobTrigger("dashscope_default", job.job_id, poll_interval=1))
    assert event["status"] == "SUCCEEDED" and event["resource"]["finetuned_output"]
    lines = forwarded(caplog, job.job_id)
    full = conn.full_log(job.job_id)  # the lines after the trigger's last read are the operator's
    assert 0 < len(lines) == event["log_offset"]
    assert lines == [f"[{job.job_id} #{n}] {line}" for n, line in enumerate(full, 1)][: event["log_offset"]]

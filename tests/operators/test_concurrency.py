"""A create refused for too many active jobs (HTTP 429 from the emulator's quota): tried again as the
server's Retry-After asks within the connection's retry budget, then the task fails saying to run
such tasks in a pool sized to the quota, having created nothing."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowException

from airflow_provider_compress.emulator.process import EmulatorProcess
from airflow_provider_compress.hooks.compress import CompressHook
from airflow_provider_compress.hooks.finetune import FineTuneHook
from airflow_provider_compress.operators.compress import CreateCompressJobOperator
from airflow_provider_compress.operators.finetune import CreateFineTuneJobOperator
from tests.support import BASE_MODEL, PLAIN_TEMPLATE, SFT_MODEL, task_context, use_connection


@pytest.fixture(scope="module")
def quota_emulator():
    """One active job per kind at most; jobs run for 10 minutes, so the first keeps the slot."""
    with EmulatorProcess(job_seconds=600, max_active_jobs=1) as emulator:
        yield emulator


CASES = {
    "compress": (
        lambda: CompressHook().create_job(model=SFT_MODEL, template_id=PLAIN_TEMPLATE),
        lambda: CreateCompressJobOperator(task_id="t", model=SFT_MODEL, template_id=PLAIN_TEMPLATE),
        "POST /api/v1/fine-tunes/compress/jobs",
    ),
    "fine_tune": (
        lambda: FineTuneHook().create_job(model=BASE_MODEL, training_file_ids=["file-1"]),
        lambda: CreateFineTuneJobOperator(task_id="t", model=BASE_MODEL, training_file_ids=["file-1"]),
        "POST /api/v1/fine-tunes",
    ),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_a_create_over_the_quota_fails_saying_to_use_a_pool(monkeypatch, quota_emulator, kind):
    create_first, operator, route = CASES[kind]
    use_connection(monkeypatch, quota_emulator, retry_limit=2)
    create_first()  # the one active job the quota allows
    before = quota_emulator.state(jobs=False)
    with pytest.raises(AirflowException) as raised:
        operator()._create_or_reattach(task_context())
    message = str(raised.value)
    assert "HTTP 429 after 2 tries" in message and "Throttling" in message
    assert "pool" in message and "docs/operations.md#concurrency" in message
    after = quota_emulator.state(jobs=False)
    assert after["calls"][route] == before["calls"][route] + 2  # tried again once, as Retry-After said
    creates = "creates" if kind == "compress" else "fine_tune_creates"
    assert after[creates] == before[creates]  # nothing was created

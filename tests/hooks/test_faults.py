"""Injected faults: both hooks ride them out (what the emulator does with each: tests/emulator)."""

from __future__ import annotations

import uuid

import pytest

from airflow_provider_compress.exceptions import CompressConnectionError, InvalidResponseError
from airflow_provider_compress.hooks.compress import CompressHook
from tests.support import PLAIN_TEMPLATE, SFT_MODEL, Twin, use_connection


def injected(emu, kind: str) -> int:
    """Faults of ``kind`` the emulator injected so far."""
    return emu.faults()["injected"].get(kind, 0)


@pytest.mark.parametrize("fault", ["reset", "truncated", "invalid", "500", "502", "503", "429"])
def test_hooks_ride_out_every_fault_on_reads(transport, monkeypatch, slow_emulator, fault):
    use_connection(monkeypatch, slow_emulator)
    before = injected(slow_emulator, fault)
    slow_emulator.fail_next(2, fault, retry_after=0)
    assert Twin(transport).list_jobs(page_size=1).page_size == 1
    assert injected(slow_emulator, fault) == before + 2  # both fired: the third try was answered


@pytest.mark.parametrize(
    ("fault", "error"), [("reset", CompressConnectionError), ("truncated", InvalidResponseError)]
)
def test_without_retries_the_fault_is_named(transport, monkeypatch, slow_emulator, fault, error):
    use_connection(monkeypatch, slow_emulator, retry_limit=1)
    before = injected(slow_emulator, fault)
    slow_emulator.fail_next(1, fault)
    with pytest.raises(error):
        Twin(transport).list_jobs(page_size=1)
    assert injected(slow_emulator, fault) == before + 1


def test_a_slow_answer_times_out_and_the_retry_succeeds(transport, monkeypatch, slow_emulator):
    use_connection(monkeypatch, slow_emulator, timeout=0.5)
    slow_emulator.set_faults(slow_seconds=1.5)
    try:
        before = injected(slow_emulator, "slow")
        slow_emulator.fail_next(1, "slow")
        assert Twin(transport).list_jobs(page_size=1).page_size == 1
        assert injected(slow_emulator, "slow") == before + 1
    finally:
        slow_emulator.set_faults(slow_seconds=35)


@pytest.mark.parametrize("fault", ["lost", "truncated", "slow"])
def test_a_named_create_whose_answer_is_spoiled_makes_one_job(monkeypatch, slow_emulator, fault):
    use_connection(monkeypatch, slow_emulator, timeout=0.5)
    slow_emulator.set_faults(slow_seconds=1.5)
    try:
        hook = CompressHook()  # creating is the sync hook's
        hook.get_template(SFT_MODEL, PLAIN_TEMPLATE)  # cached: the next request is the create
        name = f"spoiled-{uuid.uuid4().hex[:8]}"
        creates, before = slow_emulator.state()["creates"], injected(slow_emulator, fault)
        slow_emulator.fail_next(1, fault)
        job = hook.create_job(model=SFT_MODEL, template_id=PLAIN_TEMPLATE, job_name=name)
        assert job.job_name == name and slow_emulator.state()["creates"] == creates + 1
        assert injected(slow_emulator, fault) == before + 1  # it fired (on the create, the next request)
    finally:
        slow_emulator.set_faults(slow_seconds=35)


def test_random_faults_at_a_rate_and_their_counts(transport, monkeypatch, slow_emulator):
    use_connection(monkeypatch, slow_emulator)
    before = slow_emulator.set_faults(
        rate=0.3, kinds=["429", "503", "reset", "invalid"], seed=7, retry_after=0
    )
    try:
        hook = Twin(transport)
        for _ in range(20):
            assert hook.list_jobs(page_size=1).page_size == 1
        injected = slow_emulator.faults()["injected"]
        assert sum(injected.values()) > sum(before["injected"].values())
    finally:
        slow_emulator.set_faults(rate=0)

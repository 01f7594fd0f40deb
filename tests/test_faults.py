"""Injected faults: what the emulator does with each kind, and that both hooks ride them out."""

from __future__ import annotations

import uuid

import pytest
import requests
from conftest import PLAIN_TEMPLATE, SFT_MODEL, RawClient, use_connection
from test_hook import Twin

from airflow_provider_compress.emulator.faults import KINDS
from airflow_provider_compress.exceptions import CompressConnectionError, InvalidResponseError
from airflow_provider_compress.hooks.compress import CompressHook


@pytest.fixture(params=["sync", "async"])
def kind(request):
    return request.param


def test_reset_drops_the_connection(slow_emulator):
    slow_emulator.fail_next(1, "reset")
    with pytest.raises(requests.RequestException):
        RawClient(slow_emulator).call("GET", "/templates")


@pytest.mark.parametrize("fault", ["truncated", "invalid"])
def test_broken_bodies_are_served_with_200(slow_emulator, fault):
    slow_emulator.fail_next(1, fault)
    answer = RawClient(slow_emulator).call("GET", "/templates")
    assert answer.status_code == 200
    with pytest.raises(ValueError):
        answer.json()


@pytest.mark.parametrize("fault", ["reset", "truncated", "invalid", "500", "502", "503", "429"])
def test_hooks_ride_out_every_fault_on_reads(kind, monkeypatch, slow_emulator, fault):
    use_connection(monkeypatch, slow_emulator)
    slow_emulator.fail_next(2, fault, retry_after=0)
    assert Twin(kind).list_jobs(page_size=1).page_size == 1


@pytest.mark.parametrize(
    ("fault", "error"), [("reset", CompressConnectionError), ("truncated", InvalidResponseError)]
)
def test_without_retries_the_fault_is_named(kind, monkeypatch, slow_emulator, fault, error):
    use_connection(monkeypatch, slow_emulator, retry_limit=1)
    slow_emulator.fail_next(1, fault)
    with pytest.raises(error):
        Twin(kind).list_jobs(page_size=1)


def test_a_slow_answer_times_out_and_the_retry_succeeds(kind, monkeypatch, slow_emulator):
    use_connection(monkeypatch, slow_emulator, timeout=0.5)
    slow_emulator.set_faults(slow_seconds=1.5)
    try:
        slow_emulator.fail_next(1, "slow")
        assert Twin(kind).list_jobs(page_size=1).page_size == 1
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
        creates = slow_emulator.state()["creates"]
        slow_emulator.fail_next(1, fault)
        job = hook.create_job(model=SFT_MODEL, template_id=PLAIN_TEMPLATE, job_name=name)
        assert job.job_name == name and slow_emulator.state()["creates"] == creates + 1
    finally:
        slow_emulator.set_faults(slow_seconds=35)


def test_random_faults_at_a_rate_and_their_counts(kind, monkeypatch, slow_emulator):
    use_connection(monkeypatch, slow_emulator)
    before = slow_emulator.set_faults(
        rate=0.3, kinds=["429", "503", "reset", "invalid"], seed=7, retry_after=0
    )
    try:
        hook = Twin(kind)
        for _ in range(20):
            assert hook.list_jobs(page_size=1).page_size == 1
        injected = slow_emulator.faults()["injected"]
        assert sum(injected.values()) > sum(before["injected"].values())
    finally:
        slow_emulator.set_faults(rate=0)


def test_fault_admin_rejects_unknown_kinds(slow_emulator):
    answer = slow_emulator.admin("POST", "/faults", json={"kinds": ["flood"]})
    assert answer.status_code == 400 and "flood" in answer.text
    assert "flood" not in slow_emulator.set_faults()["kinds"]  # a refused change changes nothing
    answer = slow_emulator.admin("POST", "/fail-next", json={"kind": "flood"})
    assert answer.status_code == 400 and all(k in answer.text for k in KINDS)

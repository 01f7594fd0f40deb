"""Fault injection, over plain HTTP: what the emulator does with each kind of fault, and who
spends a queued one. Both hooks riding them out: tests/hooks/test_faults.py."""

from __future__ import annotations

import pytest
import requests

from airflow_provider_compress.emulator.faults import KINDS
from tests.support import RawClient


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


def test_fault_admin_rejects_unknown_kinds(slow_emulator):
    answer = slow_emulator.admin("POST", "/faults", json={"kinds": ["flood"]})
    assert answer.status_code == 400 and "flood" in answer.text
    assert "flood" not in slow_emulator.set_faults()["kinds"]  # a refused change changes nothing
    answer = slow_emulator.admin("POST", "/fail-next", json={"kind": "flood"})
    assert answer.status_code == 400 and all(k in answer.text for k in KINDS)


def test_injected_faults(raw, slow_emulator):
    slow_emulator.fail_next(1, status=429, retry_after=2)
    throttled = raw.call("GET", "/templates")
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "2"
    assert throttled.json()["code"] == "Throttling"
    slow_emulator.fail_next(1, status=502)
    assert raw.call("GET", "/templates").status_code == 502
    assert raw.call("GET", "/templates").status_code == 200


def test_a_request_without_the_key_spends_no_queued_fault(raw, slow_emulator):
    slow_emulator.fail_next(1, 503)
    stranger = RawClient(slow_emulator, key="sk-wrong")
    assert stranger.call("GET", "/templates").status_code == 401
    assert raw.call("GET", "/templates").status_code == 503  # the fault is still there for the client
    assert raw.call("GET", "/templates").status_code == 200

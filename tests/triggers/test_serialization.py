"""What the triggers leave in the metadata database: their kwargs, plain JSON without the key, and
kwargs stored by an earlier version of the provider, which still rebuild the trigger."""

from __future__ import annotations

import importlib
import json

import pytest
from airflow.exceptions import AirflowProviderDeprecationWarning

from airflow_provider_compress.triggers.compress import CompressJobTrigger
from airflow_provider_compress.triggers.deployment import DeploymentTrigger
from airflow_provider_compress.triggers.finetune import FineTuneJobTrigger
from tests.support import use_connection


@pytest.mark.parametrize("trigger_class", [FineTuneJobTrigger, DeploymentTrigger])
def test_serialize_round_trip(trigger_class):
    path, kwargs = trigger_class("dashscope_default", "id-1", 5.0, 0, None, True, True).serialize()
    module, _, name = path.rpartition(".")
    assert getattr(importlib.import_module(module), name) is trigger_class
    assert trigger_class(**kwargs).serialize() == (path, kwargs)
    assert json.loads(json.dumps(kwargs)) == kwargs


def test_serialize_round_trip_is_plain_json_without_secrets(monkeypatch, emulator):
    use_connection(monkeypatch, emulator)
    flags = (False, True, True)  # forward_logs, cancel_on_kill, stop_on_timeout
    trigger = CompressJobTrigger(
        "dashscope_default", "quant-1", 5.0, 12, 1.7e9, *flags, "execution_timeout", {"capacity": 4}
    )
    path, kwargs = trigger.serialize()
    module, _, name = path.rpartition(".")
    rebuilt = getattr(importlib.import_module(module), name)(**kwargs)
    assert rebuilt.serialize() == (path, kwargs)
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert emulator.api_key not in json.dumps(kwargs)
    assert set(kwargs) == {
        "dashscope_conn_id",
        "resource_id",
        "poll_interval",
        "log_offset",
        "deadline",
        "forward_logs",
        "cancel_on_kill",
        "stop_on_timeout",
        "deadline_reason",
        "expect",
    }
    serde = pytest.importorskip("airflow.sdk.serde")  # Airflow >= 3.2 stores trigger kwargs with serde
    assert serde.deserialize(serde.serialize(kwargs)) == kwargs


@pytest.mark.parametrize("trigger_class", [CompressJobTrigger, FineTuneJobTrigger, DeploymentTrigger])
def test_kwargs_stored_before_the_rename_of_job_id_still_rebuild_the_trigger(trigger_class):
    """A trigger row written by an earlier version names the resource ``job_id``: the triggerer
    that runs this version must still build it (with a warning), and it serializes the new name."""
    stored = {
        "dashscope_conn_id": "dashscope_default",
        "job_id": "id-1",
        "poll_interval": 5.0,
        "log_offset": 3,
        "deadline": None,
        "forward_logs": True,
        "cancel_on_kill": True,
    }
    with pytest.warns(AirflowProviderDeprecationWarning, match="job_id is deprecated: use resource_id"):
        trigger = trigger_class(**stored)
    assert trigger.resource_id == "id-1" and trigger.log_offset == 3
    _, kwargs = trigger.serialize()
    assert kwargs["resource_id"] == "id-1" and "job_id" not in kwargs


def test_an_event_is_plain_json_and_a_watch_end_is_told_from_a_status():
    from airflow_provider_compress.events import ResourceEvent, WatchEnd, payload

    sent = payload(WatchEnd.TIMEOUT, "q-1", {"job_id": "q-1", "status": "RUNNING"}, 7, "too late")
    assert json.loads(json.dumps(sent)) == sent and type(sent["status"]) is str
    read = ResourceEvent.read(json.loads(json.dumps(sent)))
    assert read is not None and read.watch_ended and (read.resource_id, read.log_offset) == ("q-1", 7)
    settled = ResourceEvent.read(payload("SUCCEEDED", "q-1", None, 0, "done"))
    assert settled is not None and not settled.watch_ended
    assert ResourceEvent.read({"resource_id": "q-1"}) is None and ResourceEvent.read("SUCCEEDED") is None

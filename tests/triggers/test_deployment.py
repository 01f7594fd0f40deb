"""DeploymentTrigger against the emulator over real HTTP: RUNNING ends the wait; a deadline or a
kill deletes the deployment, a takeover does not."""

from __future__ import annotations

import logging
import time

from airflow_provider_compress.hooks.deployment import DeploymentHook
from airflow_provider_compress.triggers.deployment import DeploymentTrigger
from tests.support import SFT_MODEL, new_suffix
from tests.support.triggers import LOGGER, fake_task_state, only_event


async def test_deployment_trigger_fires_on_running_without_log_requests(conn):
    deployed = DeploymentHook().create_deployment(
        model_name=SFT_MODEL, capacity=1, deploy_spec="MU1", suffix=new_suffix()
    )
    before = conn.state()["requests"]
    trigger = DeploymentTrigger("dashscope_default", deployed.deployed_model, poll_interval=1)
    event = await only_event(trigger)
    assert event["status"] == "RUNNING" and event["resource"]["deployed_model"] == deployed.deployed_model
    polls = conn.state()["requests"] - before
    assert polls <= 2.5 / 0.2  # one GET per poll over the ~2 s deploy: no log reads
    DeploymentHook().delete_deployment(deployed.deployed_model)


async def test_deployment_trigger_deadline_deletes(slow_conn):
    deployed = DeploymentHook().create_deployment(
        model_name=SFT_MODEL, capacity=1, deploy_spec="MU1", suffix=new_suffix()
    )
    trigger = DeploymentTrigger("dashscope_default", deployed.deployed_model, 1, deadline=time.time() + 0.3)
    event = await only_event(trigger)
    assert event["status"] == "timeout" and "deleted" in event["message"]
    assert slow_conn.state()["deployments"][deployed.deployed_model]["status"] == "DELETING"


async def test_deployment_on_kill_deletes(monkeypatch, slow_conn):
    fake_task_state(monkeypatch, "failed")
    deployed = DeploymentHook().create_deployment(
        model_name=SFT_MODEL, capacity=1, deploy_spec="MU1", suffix=new_suffix()
    )
    trigger = DeploymentTrigger("dashscope_default", deployed.deployed_model, 1)
    trigger._log = logging.getLogger(LOGGER)
    await trigger.on_kill()
    assert slow_conn.state()["deployments"][deployed.deployed_model]["status"] == "DELETING"
    await trigger.on_kill()  # idempotent: a DELETING deployment is left alone
    assert slow_conn.state()["deployments"][deployed.deployed_model]["status"] == "DELETING"


async def test_deployment_on_kill_after_a_takeover_deletes_nothing(monkeypatch, slow_conn):
    fake_task_state(monkeypatch, "deferred")
    deployed = DeploymentHook().create_deployment(
        model_name=SFT_MODEL, capacity=1, deploy_spec="MU1", suffix=new_suffix()
    )
    trigger = DeploymentTrigger("dashscope_default", deployed.deployed_model, 1)
    trigger._log = logging.getLogger(LOGGER)
    before = slow_conn.state()["calls"].get("DELETE /api/v1/deployments/{deployed_model}", 0)
    await trigger.on_kill()
    state = slow_conn.state()
    assert state["calls"].get("DELETE /api/v1/deployments/{deployed_model}", 0) == before
    assert state["deployments"][deployed.deployed_model]["status"] != "DELETING"
    DeploymentHook().delete_deployment(deployed.deployed_model)

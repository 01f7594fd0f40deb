"""DeploymentTrigger against the emulator over real HTTP: RUNNING ends the wait; a deadline or a
kill deletes the deployment, a takeover does not."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest

from airflow_provider_compress import _compat
from airflow_provider_compress.hooks.deployment import DeploymentHook
from airflow_provider_compress.operators.deployment import DeployModelOperator
from airflow_provider_compress.triggers import task_state
from airflow_provider_compress.triggers.deployment import DeploymentDeletionTrigger, DeploymentTrigger
from tests.support import SFT_MODEL, new_suffix, served, task_context, use_connection
from tests.support.deployments import POLL, UNKNOWN, deletes, deploy, status_of
from tests.support.forward_proxy import ForwardProxy
from tests.support.triggers import LOGGER, events_of, fake_task_state, only_event, until

DELETES = "DELETE /api/v1/deployments/{deployed_model}"


def deleted(emulator, deployed_model: str) -> bool:
    """DELETING, or already gone: the emulator's DELETING lasts a second, which a busy machine may miss."""
    return emulator.state()["deployments"].get(deployed_model, {}).get("status") in (None, "DELETING")


async def test_deployment_trigger_fires_on_running_without_log_requests(monkeypatch, conn):
    """Deployments have no log: the trigger's only requests are its polls. Seen through a proxy,
    which sees every request, also one the emulator has no route for (and so does not count)."""
    with ForwardProxy() as proxy:
        use_connection(monkeypatch, conn, proxy=proxy.url, allow_insecure_http=True)
        deployed = deploy()
        created = len(proxy.requests)
        trigger = DeploymentTrigger("dashscope_default", deployed, poll_interval=1)
        event = await only_event(trigger)
        made = proxy.requests[created:]
        DeploymentHook().delete_deployment(deployed)
    assert event["status"] == "RUNNING" and event["resource"]["deployed_model"] == deployed
    assert made and set(made) == {f"GET /api/v1/deployments/{deployed}"}


@pytest.mark.parametrize("stop", [True, False])
async def test_deployment_trigger_deadline_deletes_unless_told_not_to(slow_conn, stop):
    deployed = DeploymentHook().create_deployment(
        model_name=SFT_MODEL, capacity=1, deploy_spec="MU1", suffix=new_suffix()
    )
    trigger = DeploymentTrigger(
        "dashscope_default", deployed.deployed_model, 1, deadline=time.time() + 0.3, stop_on_timeout=stop
    )
    event = await only_event(trigger)
    if stop:
        assert event["status"] == "timeout" and event["message"].endswith("and its delete was accepted")
        assert deleted(slow_conn, deployed.deployed_model)
    else:
        assert event["status"] == "timeout" and event["message"].endswith("and it was kept (not deleted)")
        assert not deleted(slow_conn, deployed.deployed_model)
        DeploymentHook().delete_deployment(deployed.deployed_model)


async def test_deployment_on_kill_deletes(monkeypatch, slow_conn):
    fake_task_state(monkeypatch, "failed")
    deployed = DeploymentHook().create_deployment(
        model_name=SFT_MODEL, capacity=1, deploy_spec="MU1", suffix=new_suffix()
    )
    trigger = DeploymentTrigger("dashscope_default", deployed.deployed_model, 1)
    trigger._log = logging.getLogger(LOGGER)
    deletes = slow_conn.state()["calls"].get(DELETES, 0)
    await trigger.on_kill()
    assert deleted(slow_conn, deployed.deployed_model)
    await trigger.on_kill()  # idempotent: a DELETING (or gone) deployment is left alone
    assert deleted(slow_conn, deployed.deployed_model)
    assert slow_conn.state()["calls"].get(DELETES, 0) == deletes + 1


@pytest.mark.parametrize("kill", ["on_kill", "cancelled"])  # Airflow >= 3.3; before 3.3
@pytest.mark.parametrize("keep", [False, True])
async def test_a_killed_deferred_deploy_deletes_its_deployment_unless_kept(
    slow_conn, monkeypatch, keep, kill
):
    """The trigger the operator defers to, killed: ``keep_deployment`` reaches it."""
    fake_task_state(monkeypatch, "failed")
    monkeypatch.setattr(_compat, "TRIGGER_HAS_ON_KILL", kill == "on_kill")
    operator = DeployModelOperator(
        task_id="t",
        model_name=SFT_MODEL,
        suffix=new_suffix(),
        capacity=1,
        deploy_spec="MU1",
        deferrable=True,
        poll_interval=1,
        keep_deployment=keep,
    )
    context = task_context()
    context["ti"].xcom_push = lambda **_: None
    with pytest.raises(BaseException) as deferred:  # TaskDeferred (its module depends on the version)
        operator.execute(context)
    trigger = deferred.value.trigger
    assert isinstance(trigger, DeploymentTrigger) and trigger.resource_id == operator.resource_id
    trigger._log = logging.getLogger(LOGGER)
    if kill == "on_kill":
        await trigger.on_kill()
    else:
        polls = served(slow_conn, POLL)
        watching = asyncio.ensure_future(events_of(trigger))
        await until(lambda: served(slow_conn, POLL) > polls, "the trigger's first poll")  # it watches
        watching.cancel()
        with pytest.raises(asyncio.CancelledError):
            await watching
    status = slow_conn.state()["deployments"][operator.resource_id]["status"]
    if keep:
        assert status != "DELETING"
        DeploymentHook().delete_deployment(operator.resource_id)
    else:
        assert status == "DELETING"


async def test_deployment_on_kill_after_a_takeover_deletes_nothing(monkeypatch, slow_conn):
    fake_task_state(monkeypatch, "deferred")
    deployed = DeploymentHook().create_deployment(
        model_name=SFT_MODEL, capacity=1, deploy_spec="MU1", suffix=new_suffix()
    )
    trigger = DeploymentTrigger("dashscope_default", deployed.deployed_model, 1)
    trigger._log = logging.getLogger(LOGGER)
    before = slow_conn.state()["calls"].get(DELETES, 0)
    await trigger.on_kill()
    state = slow_conn.state()
    assert state["calls"].get(DELETES, 0) == before
    assert state["deployments"][deployed.deployed_model]["status"] != "DELETING"
    DeploymentHook().delete_deployment(deployed.deployed_model)


@pytest.mark.parametrize("running", [True, False])
async def test_a_task_that_succeeded_keeps_its_running_deployment(monkeypatch, request, running):
    """A takeover's old owner may read "success" once the new owner finished the task: a RUNNING
    deployment is what the task asked for and stays; one still DEPLOYING was marked success."""
    emulator = request.getfixturevalue("conn" if running else "slow_conn")
    fake_task_state(monkeypatch, "success")
    deployed = deploy()
    if running:
        await until(lambda: status_of(emulator, deployed) == "RUNNING", "the deployment runs")
    before = emulator.state()["calls"].get(DELETES, 0)
    await DeploymentTrigger("dashscope_default", deployed, 1).on_kill()
    assert emulator.state()["calls"].get(DELETES, 0) == before + (0 if running else 1)
    if running:
        DeploymentHook().delete_deployment(deployed)


@pytest.mark.parametrize("status", [UNKNOWN, "WAIT_PRE_PAID_BILLING_TO_SCALING"])
async def test_the_deadline_deletes_a_deployment_in_a_status_the_provider_may_not_know(
    slow_conn, caplog, status
):
    """Billing stops only on DELETE: a status outside the known ones is deleted, not skipped;
    an unknown one is warned about once and polled on until the deadline."""
    caplog.set_level(logging.INFO, logger="test.trigger")
    deployed = deploy()
    slow_conn.force_deployment_status(deployed, status)
    before = deletes(slow_conn)
    trigger = DeploymentTrigger("dashscope_default", deployed, 1, deadline=time.time() + 2.5)
    event = await only_event(trigger)
    assert event["status"] == "timeout" and event["message"].endswith("and its delete was accepted")
    assert deletes(slow_conn) == before + 1
    assert status_of(slow_conn, deployed) in ("DELETING", "gone")
    warned = [r for r in caplog.records if "which the provider does not know" in r.getMessage()]
    assert len(warned) == (1 if status == UNKNOWN else 0)


async def test_a_kill_deletes_a_deployment_in_an_unknown_status(monkeypatch, slow_conn):
    async def killed(ti):
        return "failed"

    monkeypatch.setattr(task_state, "task_instance_state", killed)
    deployed = deploy()
    slow_conn.force_deployment_status(deployed, UNKNOWN)
    trigger = DeploymentTrigger("dashscope_default", deployed, 1)
    trigger._log = logging.getLogger(LOGGER)
    await trigger.on_kill()
    assert status_of(slow_conn, deployed) in ("DELETING", "gone")


async def test_a_deployment_already_being_deleted_is_not_said_to_be_deleted(slow_conn):
    deployed = deploy()
    DeploymentHook().delete_deployment(deployed)
    before = deletes(slow_conn)
    trigger = DeploymentTrigger("dashscope_default", deployed, 1)
    trigger._log = logging.getLogger(LOGGER)
    async with trigger._hook() as hook:
        assert await trigger._stop(hook, "a test") in ("it was DELETING already", "it no longer exists")
    assert deletes(slow_conn) == before


async def test_a_delete_that_fails_is_reported_as_not_done(monkeypatch, slow_emulator):
    use_connection(monkeypatch, slow_emulator, retry_limit=1)
    deployed = deploy()
    slow_emulator.fail_next(1, status=500, method="DELETE")
    trigger = DeploymentTrigger("dashscope_default", deployed, 1, deadline=time.time())
    event = await only_event(trigger)
    assert event["status"] == "timeout" and "could NOT be deleted" in event["message"]
    assert "was accepted" not in event["message"]
    DeploymentHook().delete_deployment(deployed)


async def test_the_deletion_trigger_deletes_a_deployment_in_an_unknown_status(slow_conn):
    """A status the provider does not know is no delete under way: the delete is sent."""
    deployed = deploy()
    slow_conn.force_deployment_status(deployed, UNKNOWN)
    before = deletes(slow_conn)
    trigger = DeploymentDeletionTrigger("dashscope_default", deployed, 1, wait_until_gone=False)
    event = await only_event(trigger)
    assert event["status"] == "deleting"
    assert deletes(slow_conn) == before + 1 and status_of(slow_conn, deployed) in ("DELETING", "gone")


async def test_the_deletion_trigger_sends_a_refused_delete_again_until_it_is_accepted(conn):
    deployed = deploy()  # PENDING, then DEPLOYING, then RUNNING after 2 s
    conn.refuse_deletes_in("PENDING", "DEPLOYING")
    try:
        before = deletes(conn)
        trigger = DeploymentDeletionTrigger("dashscope_default", deployed, 1, time.time() + 30, True)
        event = await only_event(trigger)
    finally:
        conn.refuse_deletes_in()
    assert event["status"] == "deleted" and deletes(conn) - before >= 2  # refused, then accepted
    path, kwargs = trigger.serialize()
    assert json.loads(json.dumps(kwargs)) == kwargs  # plain JSON: the connection id, never the key
    assert DeploymentDeletionTrigger(**kwargs).serialize() == (path, kwargs)

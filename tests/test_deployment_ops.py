"""Deployments, issue 18 part A, over real HTTP to the emulator (and in real Airflow where an
operator is new): billing-safe stops, the emulator following the fact sheet, ``extra`` merged with
the named fields, the deployable-models check, scale and rate limits, the sensor, deletes refused
while a deployment is being created, and the defaults that protect money."""

from __future__ import annotations

import json
import logging
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from airflow.exceptions import TaskDeferred  # 3.1 and 3.3 alike (the SDK has it only since 3.2)
from airflow.sdk.exceptions import AirflowException
from conftest import FAST_RETRY, SFT_MODEL, migrated_airflow_home, use_connection

from airflow_provider_compress.emulator.process import EmulatorProcess
from airflow_provider_compress.exceptions import BadRequestError, CompressValidationError
from airflow_provider_compress.hooks.base import close_async_clients
from airflow_provider_compress.hooks.compress import CompressHook
from airflow_provider_compress.hooks.deployment import DeploymentHook
from airflow_provider_compress.hooks.finetune import FineTuneHook
from airflow_provider_compress.operators.deployment import (
    DEFAULT_DEPLOY_TIMEOUT,
    DeleteDeploymentOperator,
    DeployModelOperator,
    ScaleDeploymentOperator,
)
from airflow_provider_compress.sensors.deployment import DeploymentSensor
from airflow_provider_compress.specs import DeploymentSpec
from airflow_provider_compress.triggers import task_state
from airflow_provider_compress.triggers.compress import CompressJobTrigger
from airflow_provider_compress.triggers.deployment import DeploymentDeletionTrigger, DeploymentTrigger

DAGS = Path(__file__).parent / "dags"
LORA_MODEL = "qwen3-8b-ft-202511132025-0260"  # named as the fact sheet's LoRA example (A.11)
DELETE = "DELETE /api/v1/deployments/{deployed_model}"
UNKNOWN = "HIBERNATING"  # a status no source lists: the service may add more


@pytest.fixture(autouse=True)
async def _close_sessions():
    yield
    await close_async_clients()


def suffix() -> str:
    return uuid.uuid4().hex[:8]


def deploy(**fields) -> str:
    fields = {"model_name": SFT_MODEL, "capacity": 1, "deploy_spec": "MU1", "suffix": suffix(), **fields}
    return DeploymentHook().create_deployment(**fields).deployed_model


def deletes(emu: EmulatorProcess) -> int:
    return emu.state(jobs=False)["calls"].get(DELETE, 0)


def status_of(emu: EmulatorProcess, deployed_model: str) -> str:
    """Its status, "gone" once deleted: a DELETING one may be gone by the time it is read."""
    return emu.state()["deployments"].get(deployed_model, {"status": "gone"})["status"]


def wait_for(hook: DeploymentHook, deployed_model: str, *statuses: str, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        deployment = hook.get_deployment(deployed_model)
        if deployment.status in statuses:
            return deployment
        time.sleep(0.1)
    raise AssertionError(f"{deployed_model} stayed {deployment.status}, not {statuses}")


async def only_event(trigger, timeout: float = 30) -> dict:
    import asyncio

    trigger._log = logging.getLogger("test.trigger")
    events = await asyncio.wait_for(_collect(trigger), timeout)
    assert len(events) == 1
    return events[0]


async def _collect(trigger) -> list[dict]:
    return [event.payload async for event in trigger.run()]


def task_context() -> dict:
    ti = SimpleNamespace(
        dag_id="ops", run_id=f"manual__{uuid.uuid4().hex}", task_id="t", map_index=-1, try_number=1
    )
    ti.xcom_push = lambda key, value: None
    return {"ti": ti}


# --- 1. billing-safe stops -------------------------------------------------------------------


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
    assert event["status"] == "timeout" and event["message"].endswith(
        "did not finish in time and was deleted"
    )
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
    trigger._log = logging.getLogger("test.trigger")
    await trigger.on_kill()
    assert status_of(slow_conn, deployed) in ("DELETING", "gone")


def test_the_worker_deadline_and_on_kill_delete_an_unknown_status(slow_conn):
    operator = DeployModelOperator(task_id="t", model_name=SFT_MODEL, deploy_spec="MU1", capacity=1)
    operator.job_id = deploy()
    slow_conn.force_deployment_status(operator.job_id, UNKNOWN)
    before = deletes(slow_conn)
    operator.timeout = 1.5
    with pytest.raises(AirflowException, match=r"did not finish within 1\.5 s and was deleted$"):
        operator._wait(operator.job_id, time.time() + 1.5)
    assert deletes(slow_conn) == before + 1
    operator.job_id = deploy()
    slow_conn.force_deployment_status(operator.job_id, UNKNOWN)
    operator.on_kill()
    assert deletes(slow_conn) == before + 2


async def test_a_job_in_an_unknown_status_is_cancelled(slow_conn):
    """The same rule for jobs: only a job known to be over (or CANCELING) is left alone."""
    job = CompressHook().create_job(model=SFT_MODEL, template_id="quant-flash-nvfp4-mlp-nomtp")
    path = f"/api/v1/fine-tunes/compress/jobs/{job.job_id}"
    body = json.dumps({"request_id": "r", "output": {**job.to_dict(), "status": "SUSPENDED"}})
    slow_conn.answer_next(1, body, method="GET", path=path)
    trigger = CompressJobTrigger("dashscope_default", job.job_id, 1)
    trigger._log = logging.getLogger("test.trigger")
    async with trigger._hook() as hook:
        assert await trigger._cancel(hook, "a test") == "was cancelled"
    assert slow_conn.job(job.job_id)["status"] in ("CANCELING", "CANCELED")


async def test_a_deployment_already_being_deleted_is_not_said_to_be_deleted(slow_conn):
    deployed = deploy()
    DeploymentHook().delete_deployment(deployed)
    before = deletes(slow_conn)
    trigger = DeploymentTrigger("dashscope_default", deployed, 1)
    trigger._log = logging.getLogger("test.trigger")
    async with trigger._hook() as hook:
        assert await trigger._cancel(hook, "a test") in ("was DELETING already", "no longer exists")
    assert deletes(slow_conn) == before


async def test_a_delete_that_fails_is_reported_as_not_done(monkeypatch, slow_emulator):
    use_connection(monkeypatch, slow_emulator, retry_limit=1)
    deployed = deploy()
    slow_emulator.fail_next(1, status=500, method="DELETE")
    trigger = DeploymentTrigger("dashscope_default", deployed, 1, deadline=time.time())
    event = await only_event(trigger)
    assert event["status"] == "timeout" and "could NOT be deleted" in event["message"]
    assert "was deleted" not in event["message"]
    DeploymentHook().delete_deployment(deployed)


# --- 2. the emulator follows the fact sheet ----------------------------------------------------


def test_scaling_to_zero_keeps_the_deployment_and_stops_its_billing(conn):
    hook = DeploymentHook()
    deployed = deploy(capacity=2)
    wait_for(hook, deployed, "RUNNING")
    scaled = hook.scale_deployment(deployed, 0)
    assert scaled.status == "UPDATING" and scaled.capacity == 0 and scaled.ready_capacity == 2
    idle = wait_for(hook, deployed, "RUNNING")
    assert (idle.capacity, idle.ready_capacity) == (0, 0)
    billed = conn.state()["deployments"][deployed]["billed_seconds"]
    time.sleep(0.5)
    assert conn.state()["deployments"][deployed]["billed_seconds"] == billed  # no unit serves
    hook.scale_deployment(deployed, 1)
    back = wait_for(hook, deployed, "RUNNING")
    assert (back.capacity, back.ready_capacity) == (1, 1)
    time.sleep(0.3)
    assert conn.state()["deployments"][deployed]["billed_seconds"] > billed
    hook.delete_deployment(deployed)


def test_a_deployment_can_be_scaled_while_it_is_being_created(slow_conn):
    hook = DeploymentHook()
    deployed = deploy()
    scaled = hook.scale_deployment(deployed, 2)
    assert scaled.status in ("PENDING", "DEPLOYING") and scaled.capacity == 2  # the target, at once
    hook.delete_deployment(deployed)
    with pytest.raises(BadRequestError):  # going away: nothing left to scale
        hook.scale_deployment(deployed, 1)


def test_a_scale_beyond_the_free_units_ends_updating_failed_and_the_old_capacity_serves(conn):
    hook = DeploymentHook()
    deployed = deploy(capacity=1)
    wait_for(hook, deployed, "RUNNING")
    hook.scale_deployment(deployed, 40)  # the emulator has 32 units
    failed = wait_for(hook, deployed, "UPDATING_FAILED")
    assert (failed.capacity, failed.ready_capacity) == (1, 1)
    hook.delete_deployment(deployed)


def test_plan_lora_for_a_model_named_the_documented_way(conn):
    """The fact sheet's LoRA example: ``qwen3-8b-ft-202511132025-0260``, capacity 1 sent (the
    spec sends it when not given), deployed under its own name, no capacities in the answer."""
    hook = DeploymentHook()
    creates = conn.state()["deployment_creates"]
    made = hook.create_deployment(model_name=LORA_MODEL, plan="lora", name=f"lora-{suffix()}")
    assert made.deployed_model == LORA_MODEL and made.plan == "lora"
    assert "capacity" not in made.to_dict() and conn.state()["deployment_creates"] == creates + 1
    with pytest.raises(BadRequestError):  # LoRA deployments are scaled in the console
        hook.scale_deployment(LORA_MODEL, 2)
    hook.delete_deployment(LORA_MODEL)


def test_plan_lora_serves_the_output_of_a_lora_fine_tune_whatever_its_name(conn):
    tune = FineTuneHook()
    job = tune.create_job(model="qwen3-8b", training_file_ids=["file-1"], training_type="efficient_sft")
    deadline = time.monotonic() + 20
    while (done := tune.get_job(job.job_id)).status != "SUCCEEDED" and time.monotonic() < deadline:
        time.sleep(0.2)
    listed = DeploymentHook().find_deployable_model(done.finetuned_output)
    assert listed is not None and listed.plan_names() == ["lora", "mu"]
    made = DeploymentHook().create_deployment(model_name=done.finetuned_output, plan="lora")
    assert made.deployed_model == done.finetuned_output
    DeploymentHook().delete_deployment(made.deployed_model)


def test_the_emulator_wants_capacity_on_a_lora_create(conn):
    """The guide's side of D.5 (capacity must be sent for lora): a create without it is refused."""
    answer = requests.post(
        f"{conn.url}/api/v1/deployments",
        json={"model_name": LORA_MODEL, "plan": "lora", "name": "no-capacity"},
        headers={"Authorization": f"Bearer {conn.api_key}"},
        timeout=10,
    )
    assert answer.status_code == 400 and "capacity" in answer.json()["message"]
    assert DeploymentSpec(model_name=LORA_MODEL, plan="lora").body()["capacity"] == 1


# --- 3. create_deployment: named fields and extra ---------------------------------------------


def test_a_field_given_both_named_and_in_extra_with_other_values_is_an_error(conn):
    before = conn.state()["requests"]
    with pytest.raises(CompressValidationError) as raised:
        DeploymentHook().create_deployment(
            model_name=SFT_MODEL, capacity=1, deploy_spec="MU1", extra={"capacity": 2}
        )
    assert raised.value.field == "capacity" and "extra" in str(raised.value)
    with pytest.raises(CompressValidationError, match=r"^name: "):
        DeploymentHook().create_deployment(
            model_name=SFT_MODEL, name="a", capacity=1, deploy_spec="MU1", extra={"name": "b"}
        )
    assert conn.state()["requests"] == before


def test_fields_given_in_extra_are_sent(conn):
    name = f"extra-{suffix()}"
    made = DeploymentHook().create_deployment(
        model_name=SFT_MODEL,
        deploy_spec="MU1",
        capacity="2",
        suffix=suffix(),
        extra={"name": name, "capacity": 2, "plan": "mu", "rpm_limit": 60},
    )
    assert (made.name, made.capacity, made.plan, made.rpm_limit) == (name, 2, "mu", 60)
    DeploymentHook().delete_deployment(made.deployed_model)


def test_the_operator_takes_its_name_from_extra(slow_conn):
    name = f"from-extra-{suffix()}"
    operator = DeployModelOperator(
        task_id="t", model_name=SFT_MODEL, deploy_spec="MU1", capacity=1, extra={"name": name}
    )
    made = operator._create_or_reattach(task_context())
    assert made.name == name  # not a derived name over the one asked for
    DeploymentHook().delete_deployment(made.deployed_model)


# --- 4. deployable models, scale, rate limits --------------------------------------------------


def test_the_deployable_models_list_plans_specs_and_base_capacities(conn):
    hook = DeploymentHook()
    custom = {m.model_name: m for m in hook.iter_deployable_models("custom")}
    assert SFT_MODEL in custom and "qwen3-8b" not in custom
    model = custom[SFT_MODEL]
    assert model.plan_names() == ["mu"] and model.model_source == "custom"
    specs = {t.spec_ids()[0]: t.base_capacity for t in model.mu_templates()}
    assert specs == {"MU1": 1, "MU2": 8}
    base = hook.find_deployable_model("qwen3-8b")
    assert base is not None and base.model_source == "base" and "ptu" in base.plan_names()
    assert hook.find_deployable_model("no-such-model") is None
    with pytest.raises(CompressValidationError, match="model_source"):
        hook.list_deployable_models("public")


@pytest.mark.parametrize(
    ("fields", "field", "allowed"),
    [
        ({"deploy_spec": "MU9", "capacity": 1}, "deploy_spec", "MU1, MU2"),
        ({"deploy_spec": "MU2", "capacity": 4}, "capacity", "multiple of 8"),
        ({"plan": "lora", "capacity": 1}, "plan", "plan mu"),
    ],
)
def test_the_operator_checks_the_spec_against_the_deployable_models_before_creating(
    conn, fields, field, allowed
):
    creates = conn.state()["deployment_creates"]
    operator = DeployModelOperator(task_id="t", model_name=SFT_MODEL, **fields)
    with pytest.raises(CompressValidationError) as raised:
        operator._create_or_reattach(task_context())
    assert raised.value.field == field and allowed in str(raised.value)
    assert conn.state()["deployment_creates"] == creates


def test_scale_ptu_and_update_rate_limits(conn):
    hook = DeploymentHook()
    ptu = hook.create_deployment(
        model_name="qwen3-8b", plan="ptu", ptu_capacity={"input_tpm": 10000, "output_tpm": 1000}
    )
    wait_for(hook, ptu.deployed_model, "RUNNING")
    wanted = {"input_tpm": 20000, "output_tpm": 2000}
    assert hook.scale_deployment(ptu.deployed_model, ptu_capacity=wanted).status == "UPDATING"
    assert wait_for(hook, ptu.deployed_model, "RUNNING").ptu_capacity == wanted
    with pytest.raises(BadRequestError):  # rate limits are an MU setting
        hook.update_deployment(ptu.deployed_model, rpm_limit=10)
    mu = deploy()
    wait_for(hook, mu, "RUNNING")
    hook.update_deployment(mu, rpm_limit=100, tpm_limit=50000)
    limited = wait_for(hook, mu, "RUNNING")
    assert (limited.rpm_limit, limited.tpm_limit) == (100, 50000)
    with pytest.raises(CompressValidationError, match="rpm_limit"):
        hook.update_deployment(mu)
    with pytest.raises(CompressValidationError, match=r"ptu_capacity\.output_tpm"):
        hook.scale_deployment(mu, ptu_capacity={"input_tpm": 1})
    for deployed in (ptu.deployed_model, mu):
        hook.delete_deployment(deployed)


def test_scale_checks_the_deployment_before_asking(conn):
    before = conn.state()["calls"].get("PUT /api/v1/deployments/{deployed_model}/scale", 0)
    deployed = deploy(deploy_spec="MU2", capacity=8)
    with pytest.raises(CompressValidationError, match=r"multiple of .* base capacity 8"):
        ScaleDeploymentOperator(task_id="t", deployed_model=deployed, capacity=4).execute(task_context())
    lora = DeploymentHook().create_deployment(model_name=LORA_MODEL, plan="lora", name=f"l-{suffix()}")
    with pytest.raises(CompressValidationError, match="LoRA"):
        ScaleDeploymentOperator(task_id="t", deployed_model=lora.deployed_model, capacity=2).execute(
            task_context()
        )
    assert conn.state()["calls"].get("PUT /api/v1/deployments/{deployed_model}/scale", 0) == before
    for name in (deployed, lora.deployed_model):
        DeploymentHook().delete_deployment(name)


def test_the_sensor_and_the_scale_defer_without_a_deadline_and_never_stop(slow_conn):
    """They do not own the deployment: their trigger must not delete it on kill or timeout."""
    deployed = deploy()
    sensor = DeploymentSensor(
        task_id="s", deployed_model=deployed, deferrable=True, poke_interval=5, timeout=60
    )
    scale = ScaleDeploymentOperator(task_id="c", deployed_model=deployed, capacity=2, deferrable=True)
    for operator in (sensor, scale):
        with pytest.raises(TaskDeferred) as deferred:
            operator.execute(task_context())
        trigger = deferred.value.trigger
        assert isinstance(trigger, DeploymentTrigger) and trigger.cancel_on_kill is False
        assert trigger.deadline is None and deferred.value.timeout is not None
    DeploymentHook().delete_deployment(deployed)


# --- 5. defaults that protect money ---------------------------------------------------------


def test_deploy_has_a_default_deadline(slow_conn):
    operator = DeployModelOperator(
        task_id="t", model_name=SFT_MODEL, deploy_spec="MU1", capacity=1, suffix=suffix(), deferrable=True
    )
    assert operator.timeout == DEFAULT_DEPLOY_TIMEOUT == 3600
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(task_context())
    assert deferred.value.trigger.deadline == pytest.approx(time.time() + 3600, abs=30)
    assert DeployModelOperator(task_id="u", model_name=SFT_MODEL, timeout=None).timeout is None
    DeploymentHook().delete_deployment(operator.job_id)


def test_arrears_down_fails_the_task_without_deleting(slow_conn):
    operator = DeployModelOperator(task_id="t", model_name=SFT_MODEL, deploy_spec="MU1", capacity=1)
    deployed = operator.job_id = deploy()
    slow_conn.force_deployment_status(deployed, "ARREARS_DOWN")
    before = deletes(slow_conn)
    with pytest.raises(AirflowException, match="ARREARS_DOWN"):
        operator._finish({}, DeploymentHook().get_deployment(deployed))
    assert deletes(slow_conn) == before and status_of(slow_conn, deployed) == "ARREARS_DOWN"
    slow_conn.force_deployment_status(deployed, "FAILED")  # a failed one is still deleted
    with pytest.raises(AirflowException, match="failed"):
        operator._finish({}, DeploymentHook().get_deployment(deployed))
    assert deletes(slow_conn) == before + 1


def test_a_delete_refused_in_a_settled_state_fails_with_the_api_message(slow_conn):
    deployed = deploy()
    slow_conn.force_deployment_status(deployed, "RUNNING")
    slow_conn.refuse_deletes_in("RUNNING")
    try:
        with pytest.raises(AirflowException, match=r"is RUNNING and the API refused to delete it: HTTP 400"):
            DeleteDeploymentOperator(task_id="d", deployed_model=deployed, deferrable=False).execute(
                task_context()
            )
    finally:
        slow_conn.refuse_deletes_in()
    DeploymentHook().delete_deployment(deployed)


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


# --- in Airflow: `airflow dags test` of tests/dags/deployment_test_dags.py -------------------------


@pytest.fixture(scope="module")
def airflow(tmp_path_factory):
    """Deployments take 6 s (the sensor timeout DAG gives up after 2), scales 1.8 s."""
    home = tmp_path_factory.mktemp("airflow-deploy-ops")
    env = {**migrated_airflow_home(home, DAGS), "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO"}
    with EmulatorProcess(job_seconds=3, deploy_seconds=6, delete_seconds=0.5) as emulator:
        env["AIRFLOW_CONN_DASHSCOPE_DEFAULT"] = emulator.connection_json(**FAST_RETRY)
        yield SimpleNamespace(home=home, env=env, emulator=emulator)


def dags_test(airflow, dag_id: str) -> tuple[dict[str, str], str]:
    done = subprocess.run(
        [sys.executable, "-m", "airflow", "dags", "test", dag_id],
        env=airflow.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    with sqlite3.connect(airflow.home / "airflow.db") as db:
        (run_id,) = db.execute(
            "SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", (dag_id,)
        ).fetchone()
        rows = db.execute(
            "SELECT task_id, state FROM task_instance WHERE dag_id = ? AND run_id = ?", (dag_id, run_id)
        ).fetchall()
        xcom = db.execute(
            "SELECT value FROM xcom WHERE dag_id = ? AND run_id = ? AND task_id = 'deploy' "
            "AND key = 'deployed_model'",
            (dag_id, run_id),
        ).fetchone()
    return {**dict(rows), "deployed": json.loads(xcom[0]) if xcom else None}, done.stdout + done.stderr


@pytest.mark.parametrize("mode", ["deferred", "worker"])
def test_deploy_watch_scale_and_delete_in_airflow(airflow, mode):
    emu = airflow.emulator
    scales = emu.state(jobs=False)["calls"].get("PUT /api/v1/deployments/{deployed_model}/scale", 0)
    states, output = dags_test(airflow, f"test_deploy_scale_{mode}")
    deployed = states.pop("deployed")
    assert states == dict.fromkeys(["deploy", "running", "scale", "delete"], "success"), output[-3000:]
    assert f"Deployment {deployed} is RUNNING with capacity 2 (ready: 2)" in output
    assert emu.state(jobs=False)["calls"]["PUT /api/v1/deployments/{deployed_model}/scale"] == scales + 1
    assert deployed not in emu.state()["deployments"]  # waited for until gone


@pytest.mark.parametrize("mode", ["deferred", "worker"])
def test_a_delete_refused_while_deploying_is_sent_again_in_airflow(airflow, mode):
    emu = airflow.emulator
    emu.refuse_deletes_in("PENDING", "DEPLOYING")
    try:
        before = deletes(emu)
        states, output = dags_test(airflow, f"test_delete_while_deploying_{mode}")
    finally:
        emu.refuse_deletes_in()
    deployed = states.pop("deployed")
    assert states == {"deploy": "success", "delete": "success"}, output[-3000:]
    assert "was refused while it is" in output and deletes(emu) - before >= 2
    assert status_of(emu, deployed) in ("DELETING", "gone")


def test_a_sensor_that_times_out_leaves_the_deployment_alone(airflow):
    emu = airflow.emulator
    before = deletes(emu)
    states, output = dags_test(airflow, "test_deployment_sensor_timeout")
    deployed = states.pop("deployed")
    assert states == {"deploy": "success", "running": "failed"}, output[-3000:]
    assert deletes(emu) == before and status_of(emu, deployed) in ("PENDING", "DEPLOYING", "RUNNING")

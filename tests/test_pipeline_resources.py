"""Fine-tune jobs and deployments: hooks and triggers against the emulator over real HTTP."""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import time
import uuid
from types import SimpleNamespace

import pytest
from conftest import PLAIN_TEMPLATE, SFT_MODEL

from airflow_provider_compress import _compat
from airflow_provider_compress.exceptions import (
    BadRequestError,
    CompressApiError,
    CompressValidationError,
    NotFoundError,
    ServerError,
)
from airflow_provider_compress.hooks.base import close_async_clients
from airflow_provider_compress.hooks.compress import CompressHook
from airflow_provider_compress.hooks.deployment import DeploymentHook
from airflow_provider_compress.hooks.finetune import FineTuneHook
from airflow_provider_compress.models import DeploymentStatus, JobStatus
from airflow_provider_compress.operators.deployment import DeployModelOperator
from airflow_provider_compress.triggers import task_state
from airflow_provider_compress.triggers.deployment import DeploymentTrigger
from airflow_provider_compress.triggers.finetune import FineTuneJobTrigger

BASE = "qwen3.5-flash-2026-02-23"


@pytest.fixture(autouse=True)
async def _close_sessions():
    yield
    await close_async_clients()


def wait(get, resource_id: str, done, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resource = get(resource_id)
        if done(resource.status):
            return resource
        time.sleep(0.1)
    raise AssertionError(f"{resource_id} stayed {resource.status}")


def terminal(status) -> bool:
    return status in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED)


# --- fine-tunes -------------------------------------------------------------------------------


def test_fine_tune_output_becomes_a_compressible_model(conn):
    hook = FineTuneHook()
    job = hook.create_job(
        model=BASE, training_file_ids=["file-train-1"], training_type="sft", finetuned_output_suffix="v1"
    )
    assert job.job_id.startswith("ft-") and job.status == JobStatus.PENDING and job.finetuned_output is None
    done = wait(hook.get_job, job.job_id, terminal)
    assert done.status == JobStatus.SUCCEEDED and done.finetuned_output == f"{BASE}-v1-{job.job_id}"
    assert done.usage is not None
    assert list(hook.iter_logs(job.job_id)) == conn.full_log(job.job_id)
    assert "##FT_COMPLETE##" in conn.full_log(job.job_id)[-1]
    # the hand-off: the compression API now lists it, and compresses it
    compress = CompressHook()
    assert compress.get_template(done.finetuned_output, PLAIN_TEMPLATE) is not None
    compressed = compress.create_job(
        model=done.finetuned_output, template_id=PLAIN_TEMPLATE, job_name=f"c-{uuid.uuid4().hex[:8]}"
    )
    assert compressed.model == done.finetuned_output


def test_fine_tune_failure_carries_code_and_message(conn):
    hook = FineTuneHook()
    done = wait(
        hook.get_job, hook.create_job(model=BASE, training_file_ids=["file-bad-data"]).job_id, terminal
    )
    assert done.status == JobStatus.FAILED and done.code and done.message and done.finetuned_output is None


def test_fine_tune_list_cancel_delete(slow_conn):
    hook = FineTuneHook()
    name = f"ft-{uuid.uuid4().hex[:8]}"
    job = hook.create_job(
        model="qwen3-8b", training_file_ids=["file-1"], training_type="efficient_sft", job_name=name
    )
    assert hook.find_job_by_name(name).job_id == job.job_id
    page = hook.list_jobs(model="qwen3-8b", page_size=100)
    assert job.job_id in [j.job_id for j in page.jobs]
    with pytest.raises(BadRequestError):  # still training: cancel first
        hook.delete_job(job.job_id)
    assert hook.cancel_job(job.job_id).status == "success"
    done = wait(hook.get_job, job.job_id, terminal)
    assert done.status == JobStatus.CANCELED
    with pytest.raises(BadRequestError):
        hook.cancel_job(job.job_id)
    hook.delete_job(job.job_id)
    with pytest.raises(NotFoundError):
        hook.get_job(job.job_id)


@pytest.mark.parametrize(
    ("args", "error", "status"),
    [
        ({"model": "no-such-model", "training_file_ids": ["f"]}, NotFoundError, 404),
        ({"model": BASE, "training_file_ids": ["f"], "training_type": "efficient_sft"}, BadRequestError, 400),
    ],
)
def test_fine_tune_api_errors(conn, args, error, status):
    with pytest.raises(error) as raised:
        FineTuneHook().create_job(**args)
    assert raised.value.status_code == status and raised.value.request_id


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"model": BASE}, "training_file_ids"),
        ({"model": BASE, "training_file_ids": "file-1"}, "training_file_ids"),
        ({"model": BASE, "training_file_ids": ["f"], "training_type": "full"}, "training_type"),
        ({"model": "", "training_file_ids": ["f"]}, "model"),
        ({"model": BASE, "training_file_ids": iter([])}, "training_file_ids"),
        ({"model": BASE, "training_datasets": [{"file_id": "f"}, "f"]}, "training_datasets"),
        ({"model": BASE, "training_file_ids": ["f"], "hyper_parameters": [1]}, "hyper_parameters"),
    ],
)
def test_fine_tune_local_validation(conn, args, field):
    before = conn.state()["requests"]
    with pytest.raises(CompressValidationError) as raised:
        FineTuneHook().create_job(**args)
    assert raised.value.field == field and conn.state()["requests"] == before


def test_fine_tune_inputs_are_read_once_and_echoed_as_sent(conn):
    hook = FineTuneHook()
    from_files = hook.create_job(model=BASE, training_file_ids=(f"file-{i}" for i in range(2)))
    assert from_files.training_file_ids == ["file-0", "file-1"]
    dataset = {"data_source_type": "file_id", "file_id": "file-d"}
    from_datasets = hook.create_job(model=BASE, training_datasets=iter([dataset]))
    assert from_datasets.training_datasets == [dataset] and from_datasets.training_file_ids == []


def test_fine_tune_create_is_never_repeated_after_an_unknown_outcome(conn):
    creates = conn.state()["fine_tune_creates"]
    conn.fail_next(1, status=503, after=True)
    with pytest.raises(ServerError):
        FineTuneHook().create_job(model=BASE, training_file_ids=["file-1"])
    assert conn.state()["fine_tune_creates"] == creates + 1


# --- deployments ------------------------------------------------------------------------------


DELETES = "DELETE /api/v1/deployments/{deployed_model}"


def deleted(emulator, deployed_model: str) -> bool:
    """DELETING, or already gone: the emulator's DELETING lasts a second, which a busy machine may miss."""
    return emulator.state()["deployments"].get(deployed_model, {}).get("status") in (None, "DELETING")


def suffix() -> str:
    return uuid.uuid4().hex[:8]


def test_deployment_lifecycle_scale_delete(conn):
    hook = DeploymentHook()
    created = hook.create_deployment(
        model_name=SFT_MODEL, name="life", capacity=2, deploy_spec="MU1", suffix=suffix()
    )
    assert created.status == DeploymentStatus.PENDING and created.model_name == SFT_MODEL
    running = wait(hook.get_deployment, created.deployed_model, lambda s: s == DeploymentStatus.RUNNING)
    assert running.ready_capacity == 2
    assert hook.scale_deployment(created.deployed_model, 4).status == DeploymentStatus.UPDATING
    scaled = wait(hook.get_deployment, created.deployed_model, lambda s: s == DeploymentStatus.RUNNING)
    assert scaled.capacity == 4
    assert created.deployed_model in [d.deployed_model for d in hook.iter_deployments()]
    assert hook.find_deployment_by_name("life").deployed_model == created.deployed_model
    assert hook.delete_deployment(created.deployed_model).status == DeploymentStatus.DELETING
    billed = conn.state()["deployments"].get(created.deployed_model, {}).get("billed_seconds")
    time.sleep(0.3)
    assert conn.state()["deployments"].get(created.deployed_model, {}).get("billed_seconds", billed) == billed
    wait_gone = time.monotonic() + 10
    while time.monotonic() < wait_gone:
        try:
            hook.get_deployment(created.deployed_model)
        except NotFoundError:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the deployment did not go away")


def test_a_compressed_model_outlives_its_deleted_job_record(conn):
    """Section 5.7: deleting a finished job's record keeps the model it produced, deployable."""
    hook = CompressHook()
    job = hook.create_job(model=SFT_MODEL, template_id=PLAIN_TEMPLATE)
    done = wait(hook.get_job, job.job_id, lambda s: s == JobStatus.SUCCEEDED)
    hook.delete_job(job.job_id)
    assert job.job_id not in conn.state()["jobs"]
    deployed = DeploymentHook().create_deployment(
        model_name=done.quantized_output, capacity=1, deploy_spec="MU1"
    )
    assert deployed.model_name == done.quantized_output


def test_deploying_the_same_model_twice_needs_a_suffix(slow_conn):
    hook = DeploymentHook()
    tag = suffix()
    hook.create_deployment(model_name=SFT_MODEL, capacity=1, deploy_spec="MU1", suffix=tag)
    with pytest.raises(CompressApiError) as raised:
        hook.create_deployment(model_name=SFT_MODEL, capacity=1, deploy_spec="MU1", suffix=tag)
    assert raised.value.status_code == 409


@pytest.mark.parametrize(
    ("args", "status"),
    [
        ({"model_name": "no-such-model", "capacity": 1, "deploy_spec": "MU1"}, 404),
        ({"model_name": SFT_MODEL, "plan": "lora", "capacity": 1}, 400),
    ],
)
def test_deployment_api_errors(conn, args, status):
    with pytest.raises(CompressApiError) as raised:
        DeploymentHook().create_deployment(**args)
    assert raised.value.status_code == status and raised.value.message


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"plan": "spot"}, "plan"),
        ({"capacity": None, "deploy_spec": "MU1"}, "capacity"),
        ({"capacity": 1, "deploy_spec": None}, "deploy_spec"),
        ({"capacity": 1000, "deploy_spec": "MU1"}, "capacity"),
        ({"capacity": 1, "deploy_spec": "MU1", "suffix": "Bad_Suffix"}, "suffix"),
        ({"plan": "ptu"}, "ptu_capacity"),
    ],
)
def test_deployment_local_validation(conn, args, field):
    before = conn.state()["requests"]
    with pytest.raises(CompressValidationError) as raised:
        DeploymentHook().create_deployment(model_name=SFT_MODEL, **args)
    assert raised.value.field == field and conn.state()["requests"] == before


# --- triggers -----------------------------------------------------------------------------------


@pytest.mark.parametrize("trigger_class", [FineTuneJobTrigger, DeploymentTrigger])
def test_serialize_round_trip(trigger_class):
    path, kwargs = trigger_class("dashscope_default", "id-1", 5.0, 0, None, True, True).serialize()
    module, _, name = path.rpartition(".")
    assert getattr(importlib.import_module(module), name) is trigger_class
    assert trigger_class(**kwargs).serialize() == (path, kwargs)
    assert json.loads(json.dumps(kwargs)) == kwargs


async def only_event(trigger) -> dict:
    trigger._log = logging.getLogger("test.trigger")
    events = await asyncio.wait_for(_collect(trigger), 30)
    assert len(events) == 1
    return events[0]


async def _collect(trigger) -> list[dict]:
    return [event.payload async for event in trigger.run()]


async def test_fine_tune_trigger_forwards_the_log(conn, caplog):
    caplog.set_level(logging.INFO, logger="test.trigger")
    job = FineTuneHook().create_job(model=BASE, training_file_ids=["file-1"])
    event = await only_event(FineTuneJobTrigger("dashscope_default", job.job_id, poll_interval=1))
    assert event["status"] == "SUCCEEDED" and event["job"]["finetuned_output"]
    records = [r.getMessage() for r in caplog.records if r.getMessage().startswith(f"[{job.job_id} #")]
    lines = [line for record in records for line in record.split("\n")]  # a record per read
    full = conn.full_log(job.job_id)  # the lines after the trigger's last read are the operator's
    assert 0 < len(lines) == event["log_offset"]
    assert lines == [f"[{job.job_id} #{n}] {line}" for n, line in enumerate(full, 1)][: event["log_offset"]]


async def test_deployment_trigger_fires_on_running_without_log_requests(conn):
    deployed = DeploymentHook().create_deployment(
        model_name=SFT_MODEL, capacity=1, deploy_spec="MU1", suffix=suffix()
    )
    before = conn.state()["requests"]
    trigger = DeploymentTrigger("dashscope_default", deployed.deployed_model, poll_interval=1)
    event = await only_event(trigger)
    assert event["status"] == "RUNNING" and event["job"]["deployed_model"] == deployed.deployed_model
    polls = conn.state()["requests"] - before
    assert polls <= 2.5 / 0.2  # one GET per poll over the ~2 s deploy: no log reads
    DeploymentHook().delete_deployment(deployed.deployed_model)


@pytest.mark.parametrize("stop", [True, False])
async def test_deployment_trigger_deadline_deletes_unless_told_not_to(slow_conn, stop):
    deployed = DeploymentHook().create_deployment(
        model_name=SFT_MODEL, capacity=1, deploy_spec="MU1", suffix=suffix()
    )
    trigger = DeploymentTrigger(
        "dashscope_default", deployed.deployed_model, 1, deadline=time.time() + 0.3, stop_on_timeout=stop
    )
    event = await only_event(trigger)
    if stop:
        assert event["status"] == "timeout" and event["message"].endswith("and was deleted")
        assert deleted(slow_conn, deployed.deployed_model)
    else:
        assert event["status"] == "timeout" and event["message"].endswith("and was kept (not deleted)")
        assert not deleted(slow_conn, deployed.deployed_model)
        DeploymentHook().delete_deployment(deployed.deployed_model)


async def test_deployment_on_kill_deletes(monkeypatch, slow_conn):
    async def killed(ti):
        return "failed"

    monkeypatch.setattr(task_state, "task_instance_state", killed)
    deployed = DeploymentHook().create_deployment(
        model_name=SFT_MODEL, capacity=1, deploy_spec="MU1", suffix=suffix()
    )
    trigger = DeploymentTrigger("dashscope_default", deployed.deployed_model, 1)
    trigger._log = logging.getLogger("test.trigger")
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

    async def killed(ti):
        return "failed"

    monkeypatch.setattr(task_state, "task_instance_state", killed)
    monkeypatch.setattr(_compat, "TRIGGER_HAS_ON_KILL", kill == "on_kill")
    operator = DeployModelOperator(
        task_id="t",
        model_name=SFT_MODEL,
        suffix=suffix(),
        capacity=1,
        deploy_spec="MU1",
        deferrable=True,
        poll_interval=1,
        keep_deployment=keep,
    )
    ti = SimpleNamespace(dag_id="d", run_id=f"r-{suffix()}", task_id="t", map_index=-1, try_number=1)
    ti.xcom_push = lambda **_: None
    with pytest.raises(BaseException) as deferred:  # TaskDeferred (its module depends on the version)
        operator.execute({"ti": ti})
    trigger = deferred.value.trigger
    assert isinstance(trigger, DeploymentTrigger) and trigger.job_id == operator.job_id
    trigger._log = logging.getLogger("test.trigger")
    if kill == "on_kill":
        await trigger.on_kill()
    else:
        watching = asyncio.ensure_future(_collect(trigger))
        await asyncio.sleep(0.3)
        watching.cancel()
        with pytest.raises(asyncio.CancelledError):
            await watching
    status = slow_conn.state()["deployments"][operator.job_id]["status"]
    if keep:
        assert status != "DELETING"
        DeploymentHook().delete_deployment(operator.job_id)
    else:
        assert status == "DELETING"


async def test_deployment_on_kill_after_a_takeover_deletes_nothing(monkeypatch, slow_conn):
    async def still_deferred(ti):
        return "deferred"

    monkeypatch.setattr(task_state, "task_instance_state", still_deferred)
    deployed = DeploymentHook().create_deployment(
        model_name=SFT_MODEL, capacity=1, deploy_spec="MU1", suffix=suffix()
    )
    trigger = DeploymentTrigger("dashscope_default", deployed.deployed_model, 1)
    trigger._log = logging.getLogger("test.trigger")
    before = slow_conn.state()["calls"].get(DELETES, 0)
    await trigger.on_kill()
    state = slow_conn.state()
    assert state["calls"].get(DELETES, 0) == before
    assert state["deployments"][deployed.deployed_model]["status"] != "DELETING"
    DeploymentHook().delete_deployment(deployed.deployed_model)

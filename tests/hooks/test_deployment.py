"""DeploymentHook against the emulator over real HTTP (its trigger: tests/triggers/test_deployment.py)."""

from __future__ import annotations

import time

import pytest

from airflow_provider_compress.exceptions import CompressApiError, CompressValidationError, NotFoundError
from airflow_provider_compress.hooks.compress import CompressHook
from airflow_provider_compress.hooks.deployment import DeploymentHook
from airflow_provider_compress.models import DeploymentStatus, JobStatus
from tests.support import PLAIN_TEMPLATE, SFT_MODEL, new_suffix, wait_for_status


def test_deployment_lifecycle_scale_delete(conn):
    hook = DeploymentHook()
    created = hook.create_deployment(
        model_name=SFT_MODEL, name="life", capacity=2, deploy_spec="MU1", suffix=new_suffix()
    )
    assert created.status == DeploymentStatus.PENDING and created.model_name == SFT_MODEL
    running = wait_for_status(
        hook.get_deployment, created.deployed_model, lambda s: s == DeploymentStatus.RUNNING
    )
    assert running.ready_capacity == 2
    assert hook.scale_deployment(created.deployed_model, 4).status == DeploymentStatus.UPDATING
    scaled = wait_for_status(
        hook.get_deployment, created.deployed_model, lambda s: s == DeploymentStatus.RUNNING
    )
    assert scaled.capacity == 4
    assert created.deployed_model in [d.deployed_model for d in hook.iter_deployments()]
    assert hook.find_deployment_by_name("life").deployed_model == created.deployed_model
    assert hook.delete_deployment(created.deployed_model).status == DeploymentStatus.DELETING
    billed = conn.state()["deployments"][created.deployed_model]["billed_seconds"]
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
    done = wait_for_status(hook.get_job, job.job_id, lambda s: s == JobStatus.SUCCEEDED)
    hook.delete_job(job.job_id)
    assert job.job_id not in conn.state()["jobs"]
    deployed = DeploymentHook().create_deployment(
        model_name=done.quantized_output, capacity=1, deploy_spec="MU1"
    )
    assert deployed.model_name == done.quantized_output


def test_deploying_the_same_model_twice_needs_a_suffix(slow_conn):
    hook = DeploymentHook()
    tag = new_suffix()
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

"""DeploymentHook against the emulator over real HTTP (its trigger: tests/triggers/test_deployment.py)."""

from __future__ import annotations

import time

import pytest

from airflow_provider_compress.exceptions import (
    BadRequestError,
    CompressApiError,
    CompressValidationError,
    NotFoundError,
)
from airflow_provider_compress.hooks.compress import CompressHook
from airflow_provider_compress.hooks.deployment import DeploymentHook
from airflow_provider_compress.models import DeploymentStatus, JobStatus
from tests.support import PLAIN_TEMPLATE, SFT_MODEL, new_suffix, wait_for_status
from tests.support.deployments import billing_clock, deploy, wait_for_deployment


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
    clock = billing_clock(conn)
    assert hook.delete_deployment(created.deployed_model).status == DeploymentStatus.DELETING
    bills = bills_until_gone(conn, created.deployed_model, clock)
    assert len({bill for bill, _ in bills}) == 1  # while DELETING its bill stood still,
    assert bills[-1][1] > bills[0][1]  # while the emulator's time went on
    hook.delete_deployment(clock)
    wait_gone = time.monotonic() + 10
    while time.monotonic() < wait_gone:
        try:
            hook.get_deployment(created.deployed_model)
        except NotFoundError:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the deployment did not go away")


def bills_until_gone(emulator, deployed_model: str, clock: str) -> list[tuple[float, float]]:
    """The deployment's billed seconds, with the clock deployment's, read until it is gone."""
    bills, deadline = [], time.monotonic() + 30
    while deployed_model in (deployments := emulator.state()["deployments"]):
        assert time.monotonic() < deadline, f"{deployed_model} is still there"
        bills.append((deployments[deployed_model]["billed_seconds"], deployments[clock]["billed_seconds"]))
    return bills


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
    name = f"extra-{new_suffix()}"
    made = DeploymentHook().create_deployment(
        model_name=SFT_MODEL,
        deploy_spec="MU1",
        capacity="2",
        suffix=new_suffix(),
        extra={"name": name, "capacity": 2, "plan": "mu", "rpm_limit": 60},
    )
    assert (made.name, made.capacity, made.plan, made.rpm_limit) == (name, 2, "mu", 60)
    DeploymentHook().delete_deployment(made.deployed_model)


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


def test_scale_ptu_and_update_rate_limits(conn):
    hook = DeploymentHook()
    ptu = hook.create_deployment(
        model_name="qwen3-8b", plan="ptu", ptu_capacity={"input_tpm": 10000, "output_tpm": 1000}
    )
    wait_for_deployment(hook, ptu.deployed_model, "RUNNING")
    wanted = {"input_tpm": 20000, "output_tpm": 2000}
    assert hook.scale_deployment(ptu.deployed_model, ptu_capacity=wanted).status == "UPDATING"
    assert wait_for_deployment(hook, ptu.deployed_model, "RUNNING").ptu_capacity == wanted
    with pytest.raises(BadRequestError):  # rate limits are an MU setting
        hook.update_deployment(ptu.deployed_model, rpm_limit=10)
    mu = deploy()
    wait_for_deployment(hook, mu, "RUNNING")
    hook.update_deployment(mu, rpm_limit=100, tpm_limit=50000)
    limited = wait_for_deployment(hook, mu, "RUNNING")
    assert (limited.rpm_limit, limited.tpm_limit) == (100, 50000)
    with pytest.raises(CompressValidationError, match="rpm_limit"):
        hook.update_deployment(mu)
    with pytest.raises(CompressValidationError, match=r"ptu_capacity\.output_tpm"):
        hook.scale_deployment(mu, ptu_capacity={"input_tpm": 1})
    for deployed in (ptu.deployed_model, mu):
        hook.delete_deployment(deployed)

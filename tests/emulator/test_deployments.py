"""The emulated deployments follow the fact sheet (shown through DeploymentHook over real HTTP):
scaling (to zero, while being created, beyond the free units), LoRA plans, capacity on a LoRA
create."""

from __future__ import annotations

import time

import pytest
import requests

from airflow_provider_compress.exceptions import BadRequestError
from airflow_provider_compress.hooks.deployment import DeploymentHook
from airflow_provider_compress.hooks.finetune import FineTuneHook
from airflow_provider_compress.specs import DeploymentSpec
from tests.support import new_suffix, wait_until
from tests.support.deployments import (
    LORA_MODEL,
    billing_clock,
    deploy,
    deployments_later,
    wait_for_deployment,
)


def test_scaling_to_zero_keeps_the_deployment_and_stops_its_billing(conn):
    hook = DeploymentHook()
    deployed = deploy(capacity=2)
    wait_for_deployment(hook, deployed, "RUNNING")
    scaled = hook.scale_deployment(deployed, 0)
    assert scaled.status == "UPDATING" and scaled.capacity == 0 and scaled.ready_capacity == 2
    idle = wait_for_deployment(hook, deployed, "RUNNING")
    assert (idle.capacity, idle.ready_capacity) == (0, 0)
    clock = billing_clock(conn)
    billed = conn.state()["deployments"][deployed]["billed_seconds"]
    assert deployments_later(conn, clock)[deployed]["billed_seconds"] == billed  # no unit serves
    hook.scale_deployment(deployed, 1)
    back = wait_for_deployment(hook, deployed, "RUNNING")
    assert (back.capacity, back.ready_capacity) == (1, 1)
    wait_until(lambda: conn.state()["deployments"][deployed]["billed_seconds"] > billed, "billing again")
    for name in (deployed, clock):
        hook.delete_deployment(name)


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
    wait_for_deployment(hook, deployed, "RUNNING")
    hook.scale_deployment(deployed, 40)  # the emulator has 32 units
    failed = wait_for_deployment(hook, deployed, "UPDATING_FAILED")
    assert (failed.capacity, failed.ready_capacity) == (1, 1)
    hook.delete_deployment(deployed)


def test_plan_lora_for_a_model_named_the_documented_way(conn):
    """The fact sheet's LoRA example: ``qwen3-8b-ft-202511132025-0260``, capacity 1 sent (the
    spec sends it when not given), deployed under its own name, no capacities in the answer."""
    hook = DeploymentHook()
    creates = conn.state()["deployment_creates"]
    made = hook.create_deployment(model_name=LORA_MODEL, plan="lora", name=f"lora-{new_suffix()}")
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

"""Deployments made and read for the tests, against the emulator."""

from __future__ import annotations

import time

from airflow_provider_compress.emulator.process import EmulatorProcess
from airflow_provider_compress.hooks.deployment import DeploymentHook
from tests.support import SFT_MODEL, new_suffix

LORA_MODEL = "qwen3-8b-ft-202511132025-0260"  # named as the fact sheet's LoRA example (A.11)


DELETE = "DELETE /api/v1/deployments/{deployed_model}"
POLL = "GET /api/v1/deployments/{deployed_model}"  # a deployment's read: a trigger's poll


UNKNOWN = "HIBERNATING"  # a status no source lists: the service may add more


def deploy(**fields) -> str:
    fields = {"model_name": SFT_MODEL, "capacity": 1, "deploy_spec": "MU1", "suffix": new_suffix(), **fields}
    return DeploymentHook().create_deployment(**fields).deployed_model


def deletes(emu: EmulatorProcess) -> int:
    return emu.state(jobs=False)["calls"].get(DELETE, 0)


def status_of(emu: EmulatorProcess, deployed_model: str) -> str:
    """Its status, "gone" once deleted: a DELETING one may be gone by the time it is read."""
    return emu.state()["deployments"].get(deployed_model, {"status": "gone"})["status"]


def billing_clock(emu: EmulatorProcess) -> str:
    """A deployment billed from now on: its billed seconds, read in the same answer as another
    deployment's, tell whether the emulator's time went on (the test deletes it)."""
    clock = deploy()
    emu.force_deployment_status(clock, "RUNNING")
    return clock


def deployments_later(emu: EmulatorProcess, clock: str) -> dict:
    """Every deployment, as read once the emulator's time went on since this call."""
    start = emu.state()["deployments"][clock]["billed_seconds"]
    deadline = time.monotonic() + 30
    while (deployments := emu.state()["deployments"])[clock]["billed_seconds"] <= start:
        assert time.monotonic() < deadline, "the emulator's clock stood still"
    return deployments


def wait_for_deployment(hook: DeploymentHook, deployed_model: str, *statuses: str, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        deployment = hook.get_deployment(deployed_model)
        if deployment.status in statuses:
            return deployment
        time.sleep(0.1)
    raise AssertionError(f"{deployed_model} stayed {deployment.status}, not {statuses}")

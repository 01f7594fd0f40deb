"""DeployModelOperator's reattach and DeleteDeploymentOperator, against the emulator (the full
runs: tests/airflow)."""

from __future__ import annotations

import uuid

import pytest
from airflow.sdk.exceptions import AirflowException

from airflow_provider_compress.emulator.process import EmulatorProcess
from airflow_provider_compress.hooks.deployment import DeploymentHook
from airflow_provider_compress.operators.deployment import DeleteDeploymentOperator, DeployModelOperator
from tests.support import SFT_MODEL, refusal, task_context, use_connection


def test_reattach_compares_the_deployment_plan_capacity_and_spec(slow_conn):
    name = f"dep-{uuid.uuid4().hex[:8]}"
    made = DeploymentHook().create_deployment(
        model_name=SFT_MODEL, name=name, capacity=1, deploy_spec="MU1", suffix=uuid.uuid4().hex[:8]
    )
    creates = slow_conn.state()["deployment_creates"]
    changed = DeployModelOperator(
        task_id="t", model_name=SFT_MODEL, name=name, capacity="2", deploy_spec="MU2"
    )
    message = refusal(changed)
    assert "capacity: this task asks for 2, it has 1" in message
    assert "deploy_spec: this task asks for 'MU2', it has 'MU1'" in message
    assert "or delete it and clear the task" in message
    assert slow_conn.state()["deployment_creates"] == creates
    same = DeployModelOperator(task_id="t", model_name=SFT_MODEL, name=name, capacity=1, deploy_spec="MU1")
    assert same._create_or_reattach(task_context()).deployed_model == made.deployed_model
    DeploymentHook().delete_deployment(made.deployed_model)


def test_a_deletion_that_does_not_end_in_time_fails_the_task_like_its_siblings(monkeypatch):
    """An AirflowException, as the other operators' timeouts: Airflow's own retry and failure
    handling apply, and no builtin TimeoutError leaks out."""
    with EmulatorProcess(job_seconds=600, delete_seconds=600) as emu:
        use_connection(monkeypatch, emu)
        made = DeploymentHook().create_deployment(model_name=SFT_MODEL, capacity=1, deploy_spec="MU1")
        operator = DeleteDeploymentOperator(
            task_id="t",
            deployed_model=made.deployed_model,
            wait_for_deletion=True,
            poll_interval=1,
            timeout=1.5,
        )
        with pytest.raises(
            AirflowException, match=f"Deployment {made.deployed_model} still exists after 1.5 s"
        ):
            operator.execute({})
        assert emu.state()["deployments"][made.deployed_model]["status"] == "DELETING"

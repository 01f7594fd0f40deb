"""The deployment operators without a DAG run, against the emulator: DeployModelOperator's reattach,
checks before the create, deadline, kill and money-protecting defaults; ScaleDeploymentOperator;
DeleteDeploymentOperator; DeploymentSensor's deferral. Their runs in Airflow: tests/airflow."""

from __future__ import annotations

import time
import uuid

import pytest
from airflow.exceptions import TaskDeferred  # 3.1 and 3.3 alike (the SDK has it only since 3.2)
from airflow.sdk.exceptions import AirflowException

from airflow_provider_compress.emulator.process import EmulatorProcess
from airflow_provider_compress.exceptions import CompressValidationError
from airflow_provider_compress.hooks.deployment import DeploymentHook
from airflow_provider_compress.operators.deployment import (
    DEFAULT_DEPLOY_TIMEOUT,
    DeleteDeploymentOperator,
    DeployModelOperator,
    ScaleDeploymentOperator,
)
from airflow_provider_compress.sensors.deployment import DeploymentSensor
from airflow_provider_compress.triggers.deployment import DeploymentTrigger
from tests.support import SFT_MODEL, new_suffix, refusal, task_context, use_connection
from tests.support.deployments import LORA_MODEL, UNKNOWN, deletes, deploy, status_of


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
            AirflowException, match=f"Deployment {made.deployed_model} still exists by the task's deadline"
        ):
            operator.execute({})
        assert emu.state()["deployments"][made.deployed_model]["status"] == "DELETING"


@pytest.mark.parametrize("keep", [False, True])
def test_worker_on_kill_deletes_the_deployment_unless_kept(slow_conn, keep):
    made = DeploymentHook().create_deployment(
        model_name=SFT_MODEL, capacity=1, deploy_spec="MU1", suffix=uuid.uuid4().hex[:8]
    )
    deployed = made.deployed_model
    operator = DeployModelOperator(
        task_id="t", model_name=SFT_MODEL, capacity=1, deploy_spec="MU1", keep_deployment=keep
    )
    operator.resource_id = deployed
    operator.on_kill()
    status = slow_conn.state()["deployments"][deployed]["status"]
    if keep:
        assert status != "DELETING"
        DeploymentHook().delete_deployment(deployed)
    else:
        assert status == "DELETING"


def test_the_worker_deadline_and_on_kill_delete_an_unknown_status(slow_conn):
    operator = DeployModelOperator(task_id="t", model_name=SFT_MODEL, deploy_spec="MU1", capacity=1)
    operator.resource_id = deploy()
    slow_conn.force_deployment_status(operator.resource_id, UNKNOWN)
    before = deletes(slow_conn)
    operator.timeout = 1.5
    deleted = r"did not finish within the operator's timeout \(1\.5 s\) and its delete was accepted$"
    with pytest.raises(AirflowException, match=deleted):
        operator._wait({}, operator.resource_id, time.time() + 1.5)
    assert deletes(slow_conn) == before + 1
    operator.resource_id = deploy()
    slow_conn.force_deployment_status(operator.resource_id, UNKNOWN)
    operator.on_kill()
    assert deletes(slow_conn) == before + 2


def test_the_operator_takes_its_name_from_extra(slow_conn):
    name = f"from-extra-{new_suffix()}"
    operator = DeployModelOperator(
        task_id="t", model_name=SFT_MODEL, deploy_spec="MU1", capacity=1, extra={"name": name}
    )
    made = operator._create_or_reattach(task_context())
    assert made.name == name  # not a derived name over the one asked for
    DeploymentHook().delete_deployment(made.deployed_model)


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


def test_scale_checks_the_deployment_before_asking(conn):
    before = conn.state()["calls"].get("PUT /api/v1/deployments/{deployed_model}/scale", 0)
    deployed = deploy(deploy_spec="MU2", capacity=8)
    with pytest.raises(CompressValidationError, match=r"multiple of .* base capacity 8"):
        ScaleDeploymentOperator(task_id="t", deployed_model=deployed, capacity=4).execute(task_context())
    lora = DeploymentHook().create_deployment(model_name=LORA_MODEL, plan="lora", name=f"l-{new_suffix()}")
    with pytest.raises(CompressValidationError, match="LoRA"):
        ScaleDeploymentOperator(task_id="t", deployed_model=lora.deployed_model, capacity=2).execute(
            task_context()
        )
    assert conn.state()["calls"].get("PUT /api/v1/deployments/{deployed_model}/scale", 0) == before
    for name in (deployed, lora.deployed_model):
        DeploymentHook().delete_deployment(name)


def test_the_sensor_and_the_scale_defer_with_a_deadline_and_never_stop(slow_conn):
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
        assert isinstance(trigger, DeploymentTrigger)
        assert (trigger.cancel_on_kill, trigger.stop_on_timeout) == (False, False)
        assert trigger.deadline is not None and deferred.value.timeout is not None
    DeploymentHook().delete_deployment(deployed)


def test_deploy_has_a_default_deadline(slow_conn):
    operator = DeployModelOperator(
        task_id="t", model_name=SFT_MODEL, deploy_spec="MU1", capacity=1, suffix=new_suffix(), deferrable=True
    )
    assert operator.timeout == DEFAULT_DEPLOY_TIMEOUT == 3600
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(task_context())
    assert deferred.value.trigger.deadline == pytest.approx(time.time() + 3600, abs=30)
    assert DeployModelOperator(task_id="u", model_name=SFT_MODEL, timeout=None).timeout is None
    DeploymentHook().delete_deployment(operator.resource_id)


def test_arrears_down_fails_the_task_without_deleting(slow_conn):
    operator = DeployModelOperator(task_id="t", model_name=SFT_MODEL, deploy_spec="MU1", capacity=1)
    deployed = operator.resource_id = deploy()
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

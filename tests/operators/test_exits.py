"""How an operator's or sensor's wait ends, in the worker and when the trigger's event comes back,
against the emulator over real HTTP: an error stops the work on the task's last try and leaves it
for the retry otherwise, naming the resource, its last status and its console page; Airflow's
timeouts fail the task as Airflow's own do; a success is one the answer proves. The trigger's side:
tests/triggers/test_exits.py; under Airflow: tests/airflow/test_exits.py, tests/live/test_exits.py.
The table of every exit: docs/exits.md."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from airflow.sdk.exceptions import AirflowException

from airflow_provider_compress import _compat
from airflow_provider_compress.exceptions import NameTakenError
from airflow_provider_compress.hooks.compress import CompressHook
from airflow_provider_compress.hooks.deployment import DeploymentHook
from airflow_provider_compress.operators.compress import CreateCompressJobOperator
from airflow_provider_compress.operators.deployment import (
    DeleteDeploymentOperator,
    DeployModelOperator,
    ScaleDeploymentOperator,
)
from airflow_provider_compress.operators.finetune import ExportCheckpointOperator
from airflow_provider_compress.sensors.compress import CompressJobSensor
from tests.support import (
    CANCELLED,
    JOBS_PATH,
    PARAM_TEMPLATE,
    PLAIN_TEMPLATE,
    SFT_MODEL,
    task_context,
    use_connection,
)

CONSOLE = "https://bailian.console.aliyun.com"  # the emulator's host is no region: the default
CANCEL = f"POST {JOBS_PATH}/{{job_id}}/cancel"


def compress(**kwargs) -> CreateCompressJobOperator:
    return CreateCompressJobOperator(
        task_id="t", model=SFT_MODEL, template_id=PLAIN_TEMPLATE, poll_interval=1, **kwargs
    )


def new_job() -> str:
    return CompressHook().create_job(model=SFT_MODEL, template_id=PLAIN_TEMPLATE).job_id


def event(status: str, resource: dict | None, message: str = "the watch ended") -> dict:
    resource_id = (resource or {}).get("job_id") or (resource or {}).get("deployed_model") or "none"
    return {
        "status": status,
        "resource_id": resource_id,
        "resource": resource,
        "log_offset": 0,
        "message": message,
    }


@pytest.mark.parametrize("tries_left", [True, False], ids=["tries-left", "last-try"])
def test_an_error_event_stops_the_job_on_the_last_try_only(slow_conn, tries_left):
    job_id = new_job()
    context = task_context(max_tries=1 if tries_left else 0)
    with pytest.raises(AirflowException) as raised:
        compress().execute_complete(context, event("error", {"job_id": job_id, "status": "RUNNING"}))
    message = str(raised.value)
    assert "last known status: RUNNING" in message
    assert f"console: {CONSOLE}/?tab=model#/model-compression/{job_id}" in message
    if tries_left:
        assert "left running: the task's retry will reattach to it" in message
        assert slow_conn.job(job_id)["status"] not in CANCELLED
    else:
        assert "on the task's last try, its cancel was accepted" in message
        assert slow_conn.job(job_id)["status"] in CANCELLED


def test_a_kept_deployment_is_not_deleted_on_an_error_of_the_last_try(slow_conn):
    hook = DeploymentHook()
    deployed = hook.create_deployment(model_name=SFT_MODEL, capacity=1, deploy_spec="MU1").deployed_model
    operator = DeployModelOperator(
        task_id="t", model_name=SFT_MODEL, capacity=1, deploy_spec="MU1", keep_deployment=True
    )
    with pytest.raises(AirflowException, match="it was kept \\(not deleted\\), as asked"):
        operator.execute_complete(task_context(), event("error", {"deployed_model": deployed}))
    assert slow_conn.state()["deployments"][deployed]["status"] != "DELETING"
    hook.delete_deployment(deployed)


@pytest.mark.parametrize("tries_left", [True, False], ids=["tries-left", "last-try"])
def test_an_outage_past_the_budget_in_the_worker_ends_the_wait_by_the_same_rule(
    monkeypatch, slow_conn, tries_left
):
    """The API is down for good: the wait gives up after the outage budget (a time, not a count of
    polls); on the last try the cancel cannot go through either, and the message says so."""
    use_connection(monkeypatch, slow_conn, retry_limit=1, outage_budget=2)
    job_id = new_job()
    slow_conn.misbehave(outage_seconds=600)
    try:
        with pytest.raises(AirflowException) as raised:
            operator = compress()
            operator.resource_id = job_id
            operator._wait(task_context(max_tries=1 if tries_left else 0), job_id, None)
    finally:
        slow_conn.misbehave(outage_seconds=0)
    message = str(raised.value)
    assert f"compression job {job_id} could not be watched: HTTP 503" in message
    assert ("left running" in message) is tries_left
    assert ("on the task's last try, it could NOT be cancelled" in message) is not tries_left
    assert slow_conn.job(job_id)["status"] not in CANCELLED


def test_an_outage_within_the_budget_is_ridden_out_in_the_worker(monkeypatch, fresh_conn):
    use_connection(monkeypatch, fresh_conn, retry_limit=1, outage_budget=60)
    job_id = new_job()
    fresh_conn.misbehave(outage_seconds=3)
    operator = compress()
    operator.resource_id = job_id
    assert operator._wait(task_context(), job_id, None).status == "SUCCEEDED"


def test_a_403_ends_the_worker_wait_at_once(monkeypatch, slow_conn):
    use_connection(monkeypatch, slow_conn, outage_budget=600)
    job_id = new_job()
    forbidden = json.dumps({"request_id": "r", "code": "AccessDenied", "message": "no"})
    slow_conn.answer_next(1, forbidden, status=403, method="GET", path=JOBS_PATH + "/[^/]+")
    operator = compress()
    operator.resource_id = job_id
    with pytest.raises(AirflowException, match=f"compression job {job_id} could not be watched: HTTP 403"):
        operator._wait(task_context(), job_id, None)
    assert slow_conn.job(job_id)["status"] in CANCELLED  # the last try: the stop went through


def test_an_execution_timeout_event_fails_as_airflows_own_timeout(slow_conn):
    job_id = new_job()
    with pytest.raises(_compat.AirflowTaskTimeout, match="execution_timeout"):
        compress().execute_complete(
            task_context(), event("execution_timeout", {"job_id": job_id}, "past Airflow's execution_timeout")
        )


def test_a_deferred_wait_ends_at_the_earlier_of_timeout_and_execution_timeout(slow_conn):
    import datetime

    started = time.time() - 5
    operator = compress(deferrable=True, timeout=600, execution_timeout=datetime.timedelta(seconds=20))
    with pytest.raises(BaseException) as deferred:  # TaskDeferred, whose module moved in 3.2
        operator.execute(task_context(started=started))
    trigger = deferred.value.trigger
    assert trigger.deadline == pytest.approx(started + 20, abs=0.01)
    assert trigger.deadline_reason == "execution_timeout"
    # Airflow's own timeout is a backstop a minute later, should no triggerer run the trigger
    assert deferred.value.timeout.total_seconds() == pytest.approx(15 + 60, abs=5)
    operator = compress(deferrable=True, timeout=10, execution_timeout=datetime.timedelta(seconds=600))
    with pytest.raises(BaseException) as deferred:
        operator.execute(task_context(started=started))
    assert deferred.value.trigger.deadline_reason == "timeout"
    CompressHook().cancel_job(operator.resource_id)
    CompressHook().cancel_job(trigger.resource_id)


@pytest.mark.parametrize("tries_left", [True, False], ids=["tries-left", "last-try"])
def test_a_failed_trigger_is_an_error_exit_too(slow_conn, tries_left):
    """Airflow resumes a task whose trigger raised with ``__fail__``: the same rule applies."""
    job_id = new_job()
    context = task_context(max_tries=1 if tries_left else 0)
    context["ti"].xcom_push("job_id", job_id)
    with pytest.raises(AirflowException, match=f"the trigger watching compression job {job_id} failed"):
        compress().resume_execution("__fail__", {"error": "Trigger failure", "traceback": ["boom"]}, context)
    assert (slow_conn.job(job_id)["status"] in CANCELLED) is not tries_left


def test_airflows_deferral_timeout_stops_the_job_and_fails_as_a_timeout(slow_conn):
    """No triggerer ran the trigger by its deadline: Airflow resumes the task to fail it."""
    job_id = new_job()
    context = task_context(max_tries=1)
    context["ti"].xcom_push("job_id", job_id)
    with pytest.raises(_compat.AirflowTaskTimeout, match="no triggerer watched it"):
        compress().resume_execution("__fail__", {"error": "Trigger timeout"}, context)
    assert slow_conn.job(job_id)["status"] in CANCELLED


def test_a_success_without_an_output_fails_the_task(slow_conn):
    job_id = new_job()
    succeeded = {"job_id": job_id, "status": "SUCCEEDED", "quantized_output": None}
    with pytest.raises(AirflowException, match="names no quantized_output: nothing to hand on"):
        compress().execute_complete(task_context(), event("SUCCEEDED", succeeded))


def test_the_hook_adopts_a_job_of_the_same_name_only_when_it_was_made_as_asked(fresh_conn):
    """A 503 on the create, retried, refused as a duplicate: the job of that name is compared."""
    name = f"adopt-{uuid.uuid4().hex[:8]}"
    hook = CompressHook()
    other = hook.create_job(model=SFT_MODEL, template_id=PLAIN_TEMPLATE, job_name=name)
    fresh_conn.fail_next(1, 503, method="POST")
    with pytest.raises(NameTakenError, match=f"template_id: this task asks for {PARAM_TEMPLATE!r}") as raised:
        hook.create_job(
            model=SFT_MODEL,
            template_id=PARAM_TEMPLATE,
            job_name=name,
            hyper_parameters={"calib_seq_len": 2048},
        )
    assert raised.value.resource_id == other.job_id and fresh_conn.state()["creates"] == 1
    fresh_conn.fail_next(1, 503, method="POST")
    assert hook.create_job(model=SFT_MODEL, template_id=PLAIN_TEMPLATE, job_name=name).job_id == other.job_id


def scaled_deployment(emulator) -> str:
    hook = DeploymentHook()
    deployed = hook.create_deployment(model_name=SFT_MODEL, capacity=1, deploy_spec="MU1").deployed_model
    deadline = time.monotonic() + 30
    while hook.get_deployment(deployed).status != "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    return deployed


@pytest.fixture
def quick_deploys(fresh_conn):
    """Deployments RUNNING within a second; the emulator's timing put back afterwards."""
    before = fresh_conn.set_timing()
    fresh_conn.set_timing(deploy_seconds=1)
    yield fresh_conn
    fresh_conn.set_timing(**{name: value or before["job_seconds"] for name, value in before.items()})


def test_a_scale_in_the_worker_waits_for_the_capacity_asked(quick_deploys):
    deployed = scaled_deployment(quick_deploys)
    quick_deploys.misbehave(capacity_lag=2)
    scale = ScaleDeploymentOperator(task_id="s", deployed_model=deployed, capacity=2, poll_interval=1)
    assert scale.execute(task_context()) == deployed
    shown = quick_deploys.state()["deployments"][deployed]
    assert (shown["capacity"], shown["ready_capacity"]) == (2, 2)
    DeploymentHook().delete_deployment(deployed)


def test_a_scale_that_never_lands_fails_naming_what_it_got(quick_deploys):
    deployed = scaled_deployment(quick_deploys)
    quick_deploys.misbehave(capacity_lag="inf")
    scale = ScaleDeploymentOperator(
        task_id="s", deployed_model=deployed, capacity=4, poll_interval=1, timeout=3
    )
    with pytest.raises(AirflowException, match=r"it is RUNNING, capacity 1 \(asked: 4\)"):
        scale.execute(task_context())
    assert quick_deploys.state()["deployments"][deployed]["status"] == "RUNNING"  # not the task's to delete
    DeploymentHook().delete_deployment(deployed)


def test_a_deferred_scale_gives_its_trigger_the_capacity_to_wait_for(quick_deploys):
    deployed = scaled_deployment(quick_deploys)
    scale = ScaleDeploymentOperator(task_id="s", deployed_model=deployed, capacity=2, deferrable=True)
    with pytest.raises(BaseException) as deferred:
        scale.execute(task_context())
    assert deferred.value.trigger.expect == {"capacity": 2, "ready_capacity": 2}
    running_at_1 = {"deployed_model": deployed, "status": "RUNNING", "capacity": 1}
    with pytest.raises(AirflowException, match="the scale goes on"):
        scale.execute_complete(task_context(), event("timeout", running_at_1, "not scaled in time"))
    DeploymentHook().delete_deployment(deployed)


def test_a_delete_that_answers_200_and_stays_fails_by_default(quick_deploys):
    deployed = scaled_deployment(quick_deploys)
    quick_deploys.misbehave(sticky_deletes=True)
    delete = DeleteDeploymentOperator(task_id="d", deployed_model=deployed, poll_interval=1, timeout=3)
    with pytest.raises(
        AirflowException, match=r"still exists by the task's deadline .*it may still be billing"
    ):
        delete.execute(task_context())
    unchecked = DeleteDeploymentOperator(task_id="d", deployed_model=deployed, wait_for_deletion=False)
    unchecked.execute(task_context())  # the flag to skip the check: success on the 200
    quick_deploys.misbehave(sticky_deletes=False)
    DeploymentHook().delete_deployment(deployed)


def test_the_sensor_ends_a_wait_as_airflows_sensors_do_and_stops_nothing(slow_conn):
    job_id = new_job()
    sensor = CompressJobSensor(task_id="s", job_id=job_id, forward_logs=False)
    cancels = slow_conn.state()["calls"].get(CANCEL, 0)
    running = {"job_id": job_id, "status": "RUNNING"}
    with pytest.raises(_compat.AirflowSensorTimeout):
        sensor.execute_complete(task_context(), event("timeout", running))
    with pytest.raises(_compat.AirflowTaskTimeout):
        sensor.execute_complete(task_context(), event("execution_timeout", running))
    with pytest.raises(AirflowException, match="the sensor leaves it as it is"):
        sensor.execute_complete(task_context(), event("error", running))
    assert slow_conn.state()["calls"].get(CANCEL, 0) == cancels


def test_the_worker_forwards_each_line_once_from_a_server_that_ignores_the_offset(fresh_conn, capsys):
    fresh_conn.misbehave(log_offsets="ignore")
    job_id = new_job()
    operator = compress(forward_logs=True)
    offset = 0
    while CompressHook().get_job(job_id).status != "SUCCEEDED":
        offset = operator.forward_logs_from(job_id, offset)
        time.sleep(0.3)
    offset = operator.forward_logs_from(job_id, offset)
    out = capsys.readouterr().out
    numbers = [int(n) for n in __import__("re").findall(rf"\[{job_id} #(\d+)\]", out)]
    assert numbers == list(range(1, len(fresh_conn.full_log(job_id)) + 1)) and offset == len(numbers)
    assert out.count("did not page as asked") == 1


def test_an_export_that_cannot_be_watched_says_it_goes_on(monkeypatch, fresh_conn):
    use_connection(monkeypatch, fresh_conn, retry_limit=1, outage_budget=1)
    fresh_conn.misbehave(outage_seconds=600)
    export = ExportCheckpointOperator(task_id="e", job_id="ft-1", checkpoint="checkpoint-1", poll_interval=1)
    with pytest.raises(AirflowException, match=r"could not be watched: HTTP 503 .*it goes on"):
        export.execute(task_context())


def test_a_scale_that_fails_fails_the_task_and_deletes_nothing(quick_deploys):
    deployed = scaled_deployment(quick_deploys)
    scale = ScaleDeploymentOperator(task_id="s", deployed_model=deployed, capacity=40, poll_interval=1)
    with pytest.raises(AirflowException, match=f"deployment {deployed} failed"):  # 32 units in the emulator
        scale.execute(task_context())
    assert quick_deploys.state()["deployments"][deployed]["status"] == "UPDATING_FAILED"
    DeploymentHook().delete_deployment(deployed)


def test_an_export_that_ends_unsupported_fails_the_task(fresh_conn):
    listing = json.dumps(
        {"request_id": "r", "output": [{"checkpoint": "checkpoint-1", "status": "UNSUPPORTED"}]}
    )
    fresh_conn.answer_next(1, listing, path="/api/v1/fine-tunes/[^/]+/checkpoints")
    export = ExportCheckpointOperator(task_id="e", job_id="ft-1", checkpoint="checkpoint-1", poll_interval=1)
    with pytest.raises(AirflowException, match="Export of checkpoint-1 of ft-1 ended UNSUPPORTED"):
        export.execute(task_context())


def test_the_deployment_tasks_wait_deferred_until_the_earlier_deadline_and_fail_as_a_timeout(quick_deploys):
    import datetime

    deployed = scaled_deployment(quick_deploys)
    started, twenty = time.time() - 5, datetime.timedelta(seconds=20)
    scale = ScaleDeploymentOperator(
        task_id="s", deployed_model=deployed, capacity=2, deferrable=True, execution_timeout=twenty
    )
    delete = DeleteDeploymentOperator(
        task_id="d", deployed_model=deployed, deferrable=True, execution_timeout=twenty, timeout=600
    )
    quick_deploys.misbehave(sticky_deletes=True)  # the delete is accepted, the deployment stays
    for operator in (scale, delete):
        with pytest.raises(BaseException) as deferred:  # TaskDeferred
            operator.execute(task_context(started=started))
        trigger = deferred.value.trigger
        assert trigger.deadline == pytest.approx(started + 20, abs=0.01)
        assert trigger.deadline_reason == "execution_timeout"
    running = {"deployed_model": deployed, "status": "RUNNING", "capacity": 1}
    with pytest.raises(_compat.AirflowTaskTimeout, match="the scale goes on"):
        scale.execute_complete(task_context(), event("execution_timeout", running, "not scaled"))
    with pytest.raises(_compat.AirflowTaskTimeout, match="still exists"):
        delete.execute_complete(
            task_context(), {"status": "execution_timeout", "message": "still exists (accepted)"}
        )
    quick_deploys.misbehave(sticky_deletes=False)
    DeploymentHook().delete_deployment(deployed)

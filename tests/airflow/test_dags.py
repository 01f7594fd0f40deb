"""The operators and the sensor in real Airflow: `airflow dags test` of tests/dags against the emulator."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
import uuid

import pytest

from airflow_provider_compress.emulator.process import EmulatorProcess
from airflow_provider_compress.hooks.deployment import DeploymentHook
from tests.support import (
    FAST_RETRY,
    PLAIN_TEMPLATE,
    SFT_MODEL,
    RawClient,
    files_containing,
    migrated_airflow_home,
    use_connection,
)
from tests.support.airflow_home import DAGS, Airflow, forwarded

AUDIT_KEY = "sk-DAGS-AUDIT-5b2d8e61"  # recognisable, so that any leak is found by a plain search
FAIL_MODEL = "qwen3.5-flash-2026-02-23-ft-202603150000-fail"


@pytest.fixture(scope="module")
def airflow(tmp_path_factory):
    """An Airflow home on SQLite with tests/dags, and an emulator whose jobs take 3 s."""
    home = tmp_path_factory.mktemp("airflow-home")
    env = {**migrated_airflow_home(home, DAGS), "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO"}
    with EmulatorProcess(api_key=AUDIT_KEY, job_seconds=3, log_lines=6, cancel_seconds=0.5) as emulator:
        env["AIRFLOW_CONN_DASHSCOPE_DEFAULT"] = emulator.connection_json(lang="en-US", **FAST_RETRY)
        yield Airflow(home, env, emulator)


@pytest.mark.parametrize("mode", ["deferred", "worker"])
def test_compress_succeeds_and_forwards_every_line_once(airflow, mode):
    dag_id = f"test_compress_{mode}"
    output = airflow.dags_test(dag_id)
    assert airflow.states(dag_id) == {"compress": "success"}, output[-3000:]
    job_id = airflow.xcom(dag_id, "compress", "job_id")
    job = airflow.emulator.job(job_id)
    assert job["status"] == "SUCCEEDED"
    assert airflow.xcom(dag_id, "compress") == job["quantized_output"]
    full_log = airflow.emulator.full_log(job_id)
    assert forwarded(output, job_id) == list(range(1, len(full_log) + 1))
    for number, line in enumerate(full_log, 1):
        assert f"[{job_id} #{number}] {line}" in output
    # the job got the deterministic name of this task instance
    assert job["job_name"].startswith(f"{dag_id}.compress-")
    # the extra link points at the console
    link = airflow.xcom(dag_id, "compress", "_link_CompressJobLink")
    assert link.endswith(job_id) and link.startswith("https://bailian.console.aliyun.com/")
    # the asset event carries the compressed model, and what it cost
    extras = [json.loads(e) for (e,) in airflow.query("SELECT extra FROM asset_event")]
    assert {
        "job_id": job_id,
        "quantized_output": job["quantized_output"],
        "template_id": job["template_id"],
        "usage": job["usage"],
        "usage_unit": "GPU seconds",
    } in extras
    if mode == "deferred":
        assert "Pausing task as DEFERRED" in output
    assert airflow.emulator.api_key not in output


@pytest.mark.parametrize("mode", ["deferred", "worker"])
def test_failed_job_fails_the_task_with_its_error(airflow, mode):
    dag_id = f"test_compress_{mode}"
    output = airflow.dags_test(dag_id, model=FAIL_MODEL)
    assert airflow.states(dag_id) == {"compress": "failed"}
    job_id = airflow.xcom(dag_id, "compress", "job_id")
    job = airflow.emulator.job(job_id)
    assert job["status"] == "FAILED"
    assert f"job {job_id} failed: {job['error']['code']}: {job['error']['message']}" in output


@pytest.mark.parametrize("mode", ["deferred", "worker"])
def test_timeout_cancels_the_job_and_fails(airflow, mode):
    dag_id = f"test_compress_timeout_{mode}"
    output = airflow.dags_test(dag_id)
    assert airflow.states(dag_id) == {"compress": "failed"}
    job_id = airflow.xcom(dag_id, "compress", "job_id")
    assert airflow.emulator.job(job_id)["status"] in ("CANCELING", "CANCELED")
    assert "and its cancel was accepted" in output and "could NOT" not in output


def test_sensor_in_every_mode_then_delete(airflow):
    output = airflow.dags_test("test_compress_sensor")
    states = airflow.states("test_compress_sensor")
    assert states == dict.fromkeys(["start", "poke", "reschedule", "deferred", "delete"], "success"), output[
        -3000:
    ]
    job_id = airflow.xcom("test_compress_sensor", "start")
    assert job_id == airflow.xcom("test_compress_sensor", "start", "job_id")
    outputs = {airflow.xcom("test_compress_sensor", task) for task in ("poke", "reschedule", "deferred")}
    assert len(outputs) == 1 and outputs.pop().endswith(job_id)
    assert job_id not in airflow.emulator.state()["jobs"]  # deleted


def test_cancel_then_the_sensor_fails_fast(airflow):
    # Jobs of 10 minutes: the cancel task starts seconds after the create, and must find it active.
    with EmulatorProcess(api_key=AUDIT_KEY, job_seconds=600, cancel_seconds=0.5) as slow:
        connection = slow.connection_json(lang="en-US", **FAST_RETRY)
        output = airflow.dags_test("test_compress_cancel", env={"AIRFLOW_CONN_DASHSCOPE_DEFAULT": connection})
        job_id = airflow.xcom("test_compress_cancel", "start")
        assert slow.job(job_id)["status"] == "CANCELED"
    states = airflow.states("test_compress_cancel")
    assert states["start"] == "success" and states["cancel"] == "success"
    assert states["sensor"] == "failed"
    assert airflow.xcom("test_compress_cancel", "cancel") == "CANCELED"
    assert f"job {job_id} ended CANCELED" in output


def test_second_task_with_the_same_name_reattaches(airflow):
    name = f"reattach-{uuid.uuid4().hex[:8]}"
    creates = airflow.emulator.state()["creates"]
    airflow.dags_test("test_compress_reattach", job_name=name)
    assert airflow.states("test_compress_reattach") == {"first": "success", "second": "success"}
    first = airflow.xcom("test_compress_reattach", "first", "job_id")
    assert airflow.xcom("test_compress_reattach", "second", "job_id") == first
    assert airflow.emulator.state()["creates"] == creates + 1


def test_a_second_try_with_another_suffix_fails_before_creating(airflow):
    name = f"suffix-{uuid.uuid4().hex[:8]}"
    airflow.dags_test("test_compress_worker", job_name=name, suffix="a")
    assert airflow.states("test_compress_worker") == {"compress": "success"}
    first = airflow.emulator.job(airflow.xcom("test_compress_worker", "compress", "job_id"))
    creates = airflow.emulator.state()["creates"]
    output = airflow.dags_test("test_compress_worker", job_name=name, suffix="b")
    assert airflow.states("test_compress_worker") == {"compress": "failed"}
    assert airflow.emulator.state()["creates"] == creates  # nothing created
    assert f"compression job {first['job_id']} ({name!r}, SUCCEEDED) of an earlier try differs" in output
    assert "output_model_suffix: this task asks for 'b', it has 'a'" in output
    assert "if_exists='create_new'" in output


def test_data_interval_start_filters_the_jobs_that_started_in_the_interval(airflow):
    """Airflow's aware UTC interval is converted to the service's UTC+08:00 before it is sent."""
    emulator, tag = airflow.emulator, f"interval-{uuid.uuid4().hex[:8]}"

    def create(job_name: str) -> str:
        body = {"model": SFT_MODEL, "template_id": PLAIN_TEMPLATE, "job_name": job_name}
        return RawClient(emulator).call("POST", "/jobs", json=body).json()["output"]["job_id"]

    early = create(f"{tag}-early")
    while (started := emulator.job(early)["start_time"]) is None:
        time.sleep(0.05)
    service_tz = dt.timezone(dt.timedelta(hours=8))
    boundary = dt.datetime.strptime(started, "%Y-%m-%d %H:%M:%S").replace(tzinfo=service_tz)
    boundary += dt.timedelta(seconds=1)  # the first whole second after the early job started
    while dt.datetime.now(dt.timezone.utc) <= boundary + dt.timedelta(seconds=0.1):
        time.sleep(0.05)
    late = create(f"{tag}-late")  # starts after the boundary
    while {emulator.job(j)["status"] for j in (early, late)} != {"SUCCEEDED"}:
        time.sleep(0.1)
    # hourly data intervals: the run at boundary + 1 h covers [boundary, boundary + 1 h]
    logical_date = (boundary + dt.timedelta(hours=1)).astimezone(dt.timezone.utc).isoformat()
    intervals = {"AIRFLOW__SCHEDULER__CREATE_CRON_DATA_INTERVALS": "True"}  # else they are empty
    output = airflow.dags_test("test_list_by_interval", logical_date, intervals, job_name=tag)
    assert airflow.states("test_list_by_interval") == {"started_in_interval": "success"}, output[-3000:]
    assert airflow.xcom("test_list_by_interval", "started_in_interval") == [late]


def test_a_failed_job_is_replaced_by_a_new_generation(airflow):
    name = f"regen-{uuid.uuid4().hex[:8]}"
    airflow.dags_test("test_compress_worker", model=FAIL_MODEL, job_name=name)
    failed = airflow.xcom("test_compress_worker", "compress", "job_id")
    airflow.dags_test("test_compress_worker", job_name=name)
    assert airflow.states("test_compress_worker") == {"compress": "success"}
    replaced = airflow.emulator.job(airflow.xcom("test_compress_worker", "compress", "job_id"))
    assert replaced["job_id"] != failed and replaced["job_name"] == f"{name}-g2"


def test_fine_tune_compress_deploy_pipeline(airflow):
    output = airflow.dags_test("test_pipeline")
    assert airflow.states("test_pipeline") == dict.fromkeys(["fine_tune", "compress", "deploy"], "success"), (
        output[-3000:]
    )
    state = airflow.emulator.state()
    tuned = state["fine_tunes"][airflow.xcom("test_pipeline", "fine_tune", "job_id")]
    assert tuned["status"] == "SUCCEEDED"
    assert airflow.xcom("test_pipeline", "fine_tune") == tuned["finetuned_output"]
    job = state["jobs"][airflow.xcom("test_pipeline", "compress", "job_id")]
    assert job["model"] == tuned["finetuned_output"] and job["status"] == "SUCCEEDED"
    deployed = airflow.xcom("test_pipeline", "deploy")
    assert airflow.xcom("test_pipeline", "deploy", "deployed_model") == deployed
    deployment = state["deployments"][deployed]
    assert deployment["model_name"] == job["quantized_output"] and deployment["status"] == "RUNNING"
    # the fine-tune's log was forwarded line by line too
    full_log = airflow.emulator.full_log(tuned["job_id"])
    assert forwarded(output, tuned["job_id"]) == list(range(1, len(full_log) + 1))
    extras = [json.loads(e) for (e,) in airflow.query("SELECT extra FROM asset_event")]
    assert {"deployed_model": deployed, "model_name": job["quantized_output"]} in extras


@pytest.mark.parametrize("mode", ["deferred", "worker"])
def test_deploy_waits_for_running_then_delete(airflow, mode):
    dag_id = f"test_deploy_{mode}"
    output = airflow.dags_test(dag_id)
    assert airflow.states(dag_id) == {"deploy": "success", "delete": "success"}, output[-3000:]
    deployed = airflow.xcom(dag_id, "deploy")
    assert deployed.endswith(f"-{mode[:8]}") and deployed not in airflow.emulator.state()["deployments"]


@pytest.mark.parametrize("mode", ["deferred", "worker"])
def test_failed_deployment_fails_and_is_deleted(airflow, mode):
    dag_id = f"test_deploy_{mode}"
    output = airflow.dags_test(dag_id, capacity=500)  # beyond the emulator's 32 units: FAILED
    assert airflow.states(dag_id)["deploy"] == "failed"
    deployed = airflow.xcom(dag_id, "deploy", "deployed_model")
    assert f"deployment {deployed} failed" in output
    assert airflow.emulator.state()["deployments"].get(deployed, {}).get("status") in (None, "DELETING")


@pytest.mark.parametrize("mode", ["deferred", "worker"])
def test_deploy_timeout_deletes_the_deployment(airflow, mode):
    dag_id = f"test_deploy_timeout_{mode}"
    output = airflow.dags_test(dag_id)
    assert airflow.states(dag_id) == {"deploy": "failed"}
    deployed = airflow.xcom(dag_id, "deploy", "deployed_model")
    assert "and its delete was accepted" in output and "could NOT" not in output
    assert airflow.emulator.state()["deployments"].get(deployed, {}).get("status") in (None, "DELETING")


def test_keep_deployment_keeps_a_failed_or_timed_out_deployment(airflow, monkeypatch):
    """FAILED and timed out, in the worker and deferred: the task fails, the deployment stays
    (the kills: test_operator_parts and test_pipeline_resources)."""
    delete_route = "DELETE /api/v1/deployments/{deployed_model}"
    deletes = airflow.emulator.state()["calls"].get(delete_route, 0)
    output = airflow.dags_test("test_deploy_keep")
    states = airflow.states("test_deploy_keep")
    kept = {task: airflow.xcom("test_deploy_keep", task, "deployed_model") for task in states}
    use_connection(monkeypatch, airflow.emulator)
    try:
        assert states == dict.fromkeys(
            ["failed_deferred", "failed_worker", "timeout_deferred", "timeout_worker"], "failed"
        ), output[-3000:]
        state = airflow.emulator.state()
        assert state["calls"].get(delete_route, 0) == deletes
        for task, deployed in kept.items():
            status = state["deployments"][deployed]["status"]
            if task.startswith("failed"):
                assert status == "FAILED" and f"deployment {deployed} failed" in output
            else:
                assert status in ("PENDING", "DEPLOYING", "RUNNING")
                kept_message = rf"deployment {deployed} did not finish .*and it was kept \(not deleted\)"
                assert re.search(kept_message, output)
        assert "delete was accepted" not in output and "Could not stop" not in output
    finally:
        for deployed in kept.values():
            if deployed:
                DeploymentHook().delete_deployment(deployed)


def test_fine_tune_sensor_forwards_the_log_and_never_cancels_on_its_timeout(airflow):
    """Poke mode streams the job's lines while it runs and deferrable mode forwards them all
    (trigger, then execute_complete), each once; a sensor that times out leaves its job running."""
    with EmulatorProcess(api_key=AUDIT_KEY, job_seconds=600) as slow:
        env = {"AIRFLOW_CONN_DASHSCOPE_SLOW": slow.connection_json(lang="en-US", **FAST_RETRY)}
        airflow.emulator.set_timing(job_seconds=8)  # seen RUNNING by several pokes
        try:
            output = airflow.dags_test("test_finetune_sensor", env=env)
        finally:
            airflow.emulator.set_timing(job_seconds=3)
        states = airflow.states("test_finetune_sensor")
        long_job = airflow.xcom("test_finetune_sensor", "start_timeout", "job_id")
        assert slow.state()["fine_tunes"][long_job]["status"] in ("PENDING", "QUEUING", "RUNNING")
        assert not [call for call in slow.state()["calls"] if call.endswith("/cancel")]
    assert states == {
        "start_poke": "success",
        "poke": "success",
        "start_deferred": "success",
        "deferred": "success",
        "start_timeout": "success",
        "timeout": "failed",
    }, output[-3000:]
    assert "Sensor has timed out" in output or "AirflowSensorTimeout" in output
    assert "Pausing task as DEFERRED" in output
    for mode in ("poke", "deferred"):
        job_id = airflow.xcom("test_finetune_sensor", f"start_{mode}", "job_id")
        job = airflow.emulator.state()["fine_tunes"][job_id]
        assert airflow.xcom("test_finetune_sensor", mode) == job["finetuned_output"]
        assert forwarded(output, job_id) == list(range(1, len(airflow.emulator.full_log(job_id)) + 1))
    # poke mode forwards while the job runs: lines before the last poke that saw it RUNNING
    poked = airflow.xcom("test_finetune_sensor", "start_poke", "job_id")
    first_line = output.index(f"[{poked} #1]")
    assert first_line < output.rindex(f"fine-tune job {poked} is RUNNING")


def test_z_the_api_key_is_nowhere_in_logs_or_the_metadata_database(airflow):
    """Last of the module (z), after every DAG the tests above ran and a run of its own that fails
    deferred (a timeout: trigger row, cancel, the failure's exception): no output, no task or
    trigger log, no XCom, no rendered field, no trigger row, no file of the Airflow home holds it."""
    assert airflow.emulator.api_key == AUDIT_KEY
    output = airflow.dags_test("test_compress_timeout_deferred")
    assert airflow.states("test_compress_timeout_deferred") == {"compress": "failed"}, output[-3000:]
    assert "Pausing task as DEFERRED" in output  # the trigger ran, its kwargs stored
    # `airflow dags test` writes the task and trigger logs to its output
    assert [out for out in airflow.outputs if AUDIT_KEY in out] == []
    dump = airflow.dump()
    runs = airflow.query("SELECT run_id FROM dag_run")
    assert len(runs) >= 1 and all(run_id in dump for (run_id,) in runs)
    assert 'CREATE TABLE "trigger"' in dump or "CREATE TABLE trigger" in dump
    assert AUDIT_KEY not in dump
    assert (airflow.home / "airflow.db").exists() and files_containing(airflow.home, AUDIT_KEY) == []

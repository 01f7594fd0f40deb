"""CompressJobSensor without a DAG run, against the emulator (its three modes in Airflow:
tests/airflow/test_dags.py)."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowException

from airflow_provider_compress import events
from airflow_provider_compress.hooks.compress import CompressHook
from airflow_provider_compress.protocol import COMPRESS
from airflow_provider_compress.sensors.compress import CompressJobSensor
from tests.support import FAILING_MODEL, PLAIN_TEMPLATE, SFT_MODEL
from tests.support.airflow_home import forwarded
from tests.support.files import wait_until


def finished(model: str):
    hook = CompressHook()
    job = hook.create_job(model=model, template_id=PLAIN_TEMPLATE)
    return wait_until(lambda: COMPRESS.is_terminal((done := hook.get_job(job.job_id)).status) and done)


def test_the_deferred_sensor_reads_the_event_of_this_and_of_earlier_versions(conn):
    done = finished(SFT_MODEL)
    sensor = CompressJobSensor(task_id="s", job_id=done.job_id, forward_logs=False)
    common = {"status": "SUCCEEDED", "log_offset": 0, "message": "reached SUCCEEDED"}
    current = {**common, "resource_id": done.job_id, "resource": done.to_dict()}
    earlier = {**common, "job_id": done.job_id, "job": done.to_dict()}  # before the rename
    assert (
        sensor.execute_complete({}, current) == sensor.execute_complete({}, earlier) == done.quantized_output
    )


def test_the_sensor_fails_with_the_reason_of_a_failed_job_or_of_an_ended_watch(conn):
    done = finished(FAILING_MODEL)
    sensor = CompressJobSensor(task_id="s", job_id=done.job_id, forward_logs=False)
    event = {"status": "FAILED", "resource_id": done.job_id, "resource": done.to_dict(), "log_offset": 0}
    with pytest.raises(AirflowException, match=f"compression job {done.job_id} failed: "):
        sensor.execute_complete({}, {**event, "message": "ignored"})
    with pytest.raises(AirflowException, match="3 polls in a row failed"):
        sensor.execute_complete({}, {**event, "status": "error", "message": "3 polls in a row failed"})


def test_the_resumed_sensor_forwards_the_lines_after_the_triggers_last_read(conn, capsys):
    done = finished(SFT_MODEL)
    full = conn.full_log(done.job_id)
    # the trigger forwarded lines 1 to 4
    event = events.payload("SUCCEEDED", done.job_id, done.to_dict(), 4, "reached SUCCEEDED")
    assert CompressJobSensor(task_id="s", job_id=done.job_id).execute_complete({}, event)
    out = capsys.readouterr().out  # the task logger writes there
    assert forwarded(out, done.job_id) == list(range(5, len(full) + 1))
    assert f"[{done.job_id} #{len(full)}] {full[-1]}" in out

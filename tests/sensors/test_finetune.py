"""FineTuneJobSensor outside a DAG run: what it returns and raises, and that it never stops the
job it watches (its run in `airflow dags test`, every mode: tests/airflow/test_dags.py)."""

from __future__ import annotations

import time

import pytest
from airflow.sdk.exceptions import AirflowException

from airflow_provider_compress.hooks.compress import close_async_clients
from airflow_provider_compress.hooks.finetune import FineTuneHook
from airflow_provider_compress.sensors.finetune import FineTuneJobSensor
from tests.support import BASE_MODEL
from tests.support.triggers import fake_task_state

CANCELS = "POST /api/v1/fine-tunes/{job_id}/cancel"


@pytest.fixture(autouse=True)
async def _close_sessions():
    yield
    await close_async_clients()


def new_job(training_file: str = "file-train") -> str:
    return FineTuneHook().create_job(model=BASE_MODEL, training_file_ids=[training_file]).job_id


def test_poke_returns_the_fine_tuned_model_or_fails_with_the_jobs_error(conn):
    good, bad = new_job(), new_job("file-bad-data")
    sensors = {
        job_id: FineTuneJobSensor(task_id="s", job_id=job_id, poke_interval=1) for job_id in (good, bad)
    }
    deadline = time.monotonic() + 30
    while not sensors[good].poke({}).is_done:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    job = FineTuneHook().get_job(good)
    assert sensors[good].poke({}).xcom_value == job.finetuned_output
    while FineTuneHook().get_job(bad).status != "FAILED":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    with pytest.raises(AirflowException, match=f"fine-tune job {bad} failed: InvalidTrainingData"):
        sensors[bad].poke({})


async def test_a_killed_sensor_leaves_the_job_running(monkeypatch, slow_conn):
    """Worker side: on_kill sends nothing. Deferred: its trigger has no deadline and does not
    cancel, even when the task was really killed (mark failed)."""
    fake_task_state(monkeypatch, "failed")
    job_id = new_job()
    before = slow_conn.state()
    FineTuneJobSensor(task_id="s", job_id=job_id).on_kill()
    assert slow_conn.state()["requests"] == before["requests"]
    sensor = FineTuneJobSensor(task_id="s", job_id=job_id, deferrable=True, poke_interval=1, timeout=60)
    with pytest.raises(BaseException) as deferred:  # TaskDeferred, whose module moved in 3.2
        sensor.execute({})
    assert type(deferred.value).__name__ == "TaskDeferred"
    trigger = deferred.value.trigger
    # the sensor's timeout ends the wait and stops nothing; Airflow's deferral timeout is a backstop
    assert (trigger.cancel_on_kill, trigger.stop_on_timeout) == (False, False)
    assert trigger.deadline == pytest.approx(time.time() + 60, abs=10)
    assert deferred.value.timeout.total_seconds() == pytest.approx(120, abs=10)
    await trigger.on_kill()
    after = slow_conn.state()
    assert after["fine_tunes"][job_id]["status"] == "PENDING"
    assert after["calls"].get(CANCELS, 0) == before["calls"].get(CANCELS, 0)

"""How a trigger's watch ends, each way but a kill (test_kill.py), against the emulator's
misbehaviours over real HTTP: Airflow's execution_timeout, an outage during a deadline, a 403,
answers it cannot read, a status missing, a capacity that lags, log offsets that lie. The table of
every exit: docs/exits.md."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest

from airflow_provider_compress.hooks.deployment import DeploymentHook
from airflow_provider_compress.triggers.deployment import DeploymentTrigger
from tests.support import CANCELLED, JOBS_PATH, SFT_MODEL, use_connection
from tests.support.triggers import LOGGER, events_of, forwarded, make_trigger, new_job, only_event

STATUS = JOBS_PATH + "/[^/]+"  # a job's GET, for answer_next(path=...)


@pytest.fixture
def timing(fresh_conn):
    """The fast emulator, whose timing a test may change: put back afterwards."""
    before = fresh_conn.set_timing()
    yield fresh_conn
    fresh_conn.set_timing(**{name: value or before["job_seconds"] for name, value in before.items()})


async def test_execution_timeout_cancels_the_job_and_says_which_deadline(slow_conn):
    job_id = new_job()
    trigger = make_trigger(job_id, deadline=time.time() + 1, deadline_reason="execution_timeout")
    (event,) = await events_of(trigger)
    assert event["status"] == "execution_timeout"
    assert "did not finish within Airflow's execution_timeout" in event["message"]
    assert event["message"].endswith("and its cancel was accepted")
    assert slow_conn.job(job_id)["status"] in CANCELLED


async def test_a_deadline_passes_during_an_outage_and_the_wait_still_ends_on_time(monkeypatch, timing):
    """The API is down past the deadline: the watch ends at its deadline all the same (it cannot
    stop the job then, and says so), not when the outage budget is spent."""
    fresh_conn = timing
    use_connection(monkeypatch, fresh_conn, retry_limit=1, outage_budget=600)
    fresh_conn.set_timing(job_seconds=600)
    job_id = new_job()
    fresh_conn.misbehave(outage_seconds=600)
    started = time.monotonic()
    (event,) = await events_of(make_trigger(job_id, deadline=time.time() + 2), timeout=60)
    assert event["status"] == "timeout" and "could NOT be cancelled" in event["message"]
    assert time.monotonic() - started < 60  # events_of's own bound: not the 600 s budget
    fresh_conn.misbehave(outage_seconds=0)
    assert fresh_conn.job(job_id)["status"] not in CANCELLED


async def test_a_403_ends_the_watch_at_once_and_stops_nothing(fresh_conn):
    job_id = new_job()
    fresh_conn.misbehave(outage_seconds=600, outage_status=403)
    (event,) = await events_of(make_trigger(job_id))
    fresh_conn.misbehave(outage_seconds=0)
    assert event["status"] == "error" and "403" in event["message"] and job_id in event["message"]
    assert fresh_conn.state()["calls"].get(f"POST {JOBS_PATH}/{{job_id}}/cancel", 0) == 0


async def test_answers_it_cannot_read_are_ridden_out_then_end_the_watch(monkeypatch, fresh_conn):
    """A status that is not a string is an answer the trigger cannot read: ridden out for the
    outage budget (a broken gateway mends), then an error event naming the job."""
    use_connection(monkeypatch, fresh_conn, retry_limit=1, outage_budget=2)
    job_id = new_job()
    broken = json.dumps({"request_id": "r", "output": {"job_id": job_id, "status": 7}})
    fresh_conn.answer_next(1000, broken, method="GET", path=STATUS)
    (event,) = await events_of(make_trigger(job_id))
    assert event["status"] == "error" and job_id in event["message"]
    assert "outage_budget of 2 s" in event["message"] and "status" in event["message"]


async def test_a_missing_status_is_an_unknown_one_warned_once_and_polled_on(fresh_conn, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    job_id = new_job()
    statusless = json.dumps({"request_id": "r", "output": {"job_id": job_id}})
    fresh_conn.answer_next(3, statusless, method="GET", path=STATUS)
    event = await only_event(make_trigger(job_id))
    assert event["status"] == "SUCCEEDED"
    warned = [
        r for r in caplog.records if "has no status, which the provider does not know" in r.getMessage()
    ]
    assert len(warned) == 1 and warned[0].levelno == logging.WARNING


@pytest.mark.parametrize("mode", ["ignore", "step_back"])
async def test_log_pages_that_ignore_the_offset_repeat_no_line(monkeypatch, timing, caplog, mode):
    fresh_conn = timing
    caplog.set_level(logging.INFO, logger=LOGGER)
    monkeypatch.setattr("airflow_provider_compress.triggers.base.LOG_INTERVAL", 0.0)  # read every poll
    fresh_conn.set_timing(job_seconds=5)
    fresh_conn.misbehave(log_offsets=mode)
    job_id = new_job()
    (event,) = await events_of(make_trigger(job_id, forward_logs=True))
    full = fresh_conn.full_log(job_id)
    expected = [f"[{job_id} #{n}] {line}" for n, line in enumerate(full, 1)][: event["log_offset"]]
    assert forwarded(caplog, job_id) == expected
    assert event["log_offset"] > 1  # more than one read happened
    warned = [r for r in caplog.records if "did not page as asked" in r.getMessage()]
    assert len(warned) == 1 and "did not start there" in warned[0].getMessage()


async def test_a_log_that_shrinks_loses_no_line_unsaid(monkeypatch, timing, caplog):
    """The log shrinks below what was forwarded: no line is forwarded twice, the shrink is
    warned about once (the lines it lost are the server's to explain)."""
    fresh_conn = timing
    caplog.set_level(logging.INFO, logger=LOGGER)
    fresh_conn.set_timing(job_seconds=6)
    job_id = new_job()
    trigger = make_trigger(job_id, log_offset=0)
    monkeypatch.setattr("airflow_provider_compress.triggers.base.LOG_INTERVAL", 0.0)  # read every poll

    async def shrink_after_some_lines():
        while trigger.log_offset < 3:
            await asyncio.sleep(0.1)
        fresh_conn.misbehave(log_offsets="shrink")

    shrinker = asyncio.ensure_future(shrink_after_some_lines())
    (event,) = await events_of(trigger)
    await shrinker
    numbers = [int(line.split("#")[1].split("]")[0]) for line in forwarded(caplog, job_id)]
    assert numbers == list(range(1, len(numbers) + 1))  # in order, none twice
    warned = [r for r in caplog.records if "it shrank" in r.getMessage()]
    assert len(warned) == 1 and event["status"] == "SUCCEEDED"


async def test_a_scale_waits_for_the_capacity_asked_not_just_running(timing, monkeypatch):
    fresh_conn = timing
    use_connection(monkeypatch, fresh_conn, retry_limit=1)
    fresh_conn.set_timing(deploy_seconds=1)
    hook = DeploymentHook()
    deployed = hook.create_deployment(model_name=SFT_MODEL, capacity=1, deploy_spec="MU1").deployed_model
    while hook.get_deployment(deployed).status != "RUNNING":
        time.sleep(0.2)
    fresh_conn.misbehave(capacity_lag=3)  # RUNNING at the old capacity for 3 s after the scale lands
    hook.scale_deployment(deployed, 2)
    expect = {"capacity": 2, "ready_capacity": 2}
    trigger = DeploymentTrigger("dashscope_default", deployed, 1, expect=expect, cancel_on_kill=False)
    event = await only_event(trigger)
    assert event["status"] == "RUNNING" and event["resource"]["capacity"] == 2
    fresh_conn.misbehave(capacity_lag="inf")  # never lands: the deadline ends the wait, says what it got
    hook.scale_deployment(deployed, 4)
    expect = {"capacity": 4, "ready_capacity": 4}
    trigger = DeploymentTrigger(
        "dashscope_default", deployed, 1, deadline=time.time() + 4, expect=expect, stop_on_timeout=False
    )
    event = await only_event(trigger)
    assert event["status"] == "timeout" and "it is RUNNING, capacity 2, not the 4 asked" in event["message"]
    assert fresh_conn.state()["deployments"][deployed]["status"] == "RUNNING"  # kept, not deleted
    hook.delete_deployment(deployed)

"""Pieces of the operators that need no DAG run: naming, reattach decisions, on_kill, arguments."""

from __future__ import annotations

import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
import requests
from airflow.sdk.exceptions import AirflowException
from conftest import API, PARAM_TEMPLATE, PLAIN_TEMPLATE, SFT_MODEL

from airflow_provider_compress.emulator.state import JOB_NAME_PATTERN
from airflow_provider_compress.hooks.compress import CompressHook
from airflow_provider_compress.models import Job
from airflow_provider_compress.operators.base import generation_name
from airflow_provider_compress.operators.compress import (
    CancelCompressJobOperator,
    CreateCompressJobOperator,
    derive_job_name,
    latest_generation,
    plan_create,
)
from airflow_provider_compress.protocol import COMPRESS


def test_derived_names_are_stable_unique_and_within_the_api_rules():
    name = derive_job_name("nightly_compress", "scheduled__2026-04-01T00:00:00+00:00", "compress", 3)
    assert name == derive_job_name("nightly_compress", "scheduled__2026-04-01T00:00:00+00:00", "compress", 3)
    others = {
        derive_job_name("nightly_compress", "scheduled__2026-04-01T00:00:00+00:00", "compress", 4),
        derive_job_name("nightly_compress", "scheduled__2026-04-02T00:00:00+00:00", "compress", 3),
        derive_job_name("nightly_compress", "scheduled__2026-04-01T00:00:00+00:00", "other", 3),
        derive_job_name("other", "scheduled__2026-04-01T00:00:00+00:00", "compress", 3),
    }
    assert name not in others and len(others) == 4
    long = derive_job_name("d" * 200 + "/ü", "manual__x", "t" * 200, -1)
    for candidate in (name, long, f"{long}-g99"):
        assert len(candidate) <= 50 and re.fullmatch(r"[A-Za-z0-9_.-]+", candidate)
        assert JOB_NAME_PATTERN.fullmatch(candidate)  # the emulator accepts it too


def job(name: str, status: str) -> Job:
    return Job.from_api({"job_id": f"id-{name}", "job_name": name, "status": status})


def test_latest_generation_ignores_names_that_only_look_alike():
    jobs = [
        job("base", "FAILED"),
        job("base-g3", "RUNNING"),
        job("base-g2", "CANCELED"),
        job("base-gx", "RUNNING"),
    ]
    jobs += [job("base2", "RUNNING"), job("xbase-g9", "RUNNING")]
    generation, latest = latest_generation(jobs, "base")
    assert generation == 3 and latest is not None and latest.job_name == "base-g3"
    assert latest_generation([], "base") == (0, None)


@pytest.mark.parametrize(
    ("status", "policy", "reattach", "name"),
    [
        ("RUNNING", "reattach", True, ""),
        ("PENDING", "reattach", True, ""),
        ("CANCELING", "reattach", False, "base-g3"),
        ("SUCCEEDED", "reattach", True, ""),
        ("FAILED", "reattach", False, "base-g3"),
        ("CANCELED", "reattach", False, "base-g3"),
        ("RUNNING", "create_new", False, "base-g3"),
    ],
)
def test_plan_create(status, policy, reattach, name):
    found, to_create = plan_create(COMPRESS, "base", 2, job("base-g2", status), policy)
    assert (found is not None) is reattach and to_create == name


def test_plan_create_without_an_earlier_job_and_with_fail():
    assert plan_create(COMPRESS, "base", 0, None, "fail") == (None, "base")
    with pytest.raises(AirflowException, match="already exists"):
        plan_create(COMPRESS, "base", 1, job("base", "SUCCEEDED"), "fail")


def test_worker_on_kill_cancels_once(slow_conn):
    created = CompressHook().create_job(SFT_MODEL, PLAIN_TEMPLATE, job_name="kill-me-once")
    operator = CreateCompressJobOperator(task_id="t", model=SFT_MODEL, template_id=PLAIN_TEMPLATE)
    operator.job_id = created.job_id
    operator.on_kill()
    assert slow_conn.job(created.job_id)["status"] == "CANCELING"
    operator.on_kill()  # idempotent: nothing left to cancel
    assert sum("Cancel requested" in line for line in slow_conn.full_log(created.job_id)) == 1


def test_on_kill_before_a_job_exists_does_nothing(slow_conn):
    before = slow_conn.state()["requests"]
    CreateCompressJobOperator(task_id="t", model=SFT_MODEL, template_id=PLAIN_TEMPLATE).on_kill()
    assert slow_conn.state()["requests"] == before


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"if_job_exists": "maybe"}, "if_job_exists"),
        ({"poll_interval": 0}, "poll_interval"),
        ({"timeout": -1}, "timeout"),
    ],
)
def test_bad_operator_arguments_are_named(kwargs, field):
    with pytest.raises(ValueError, match=field):
        CreateCompressJobOperator(task_id="t", model=SFT_MODEL, template_id=PLAIN_TEMPLATE, **kwargs)


def test_generations_of_a_long_name_stay_within_50_characters():
    base = "n" * 50
    assert len(generation_name(base, 12)) == 50 and generation_name(base, 12).endswith("-g12")
    jobs = [job(generation_name(base, 2), "FAILED"), job(generation_name(base, 12), "RUNNING")]
    assert latest_generation(jobs, base)[0] == 12


def test_a_stop_whose_answer_was_lost_is_not_an_error(slow_conn):
    from airflow_provider_compress.protocol import COMPRESS

    hook = CompressHook()
    job = hook.create_job(SFT_MODEL, PLAIN_TEMPLATE, job_name=f"lost-{uuid.uuid4().hex[:8]}")
    slow_conn.fail_next(1, status=503, after=True)  # the cancel is served, its answer lost
    assert hook.stop_resource(COMPRESS, job.job_id) is True  # the retry's 400 is checked, not raised
    assert slow_conn.job(job.job_id)["status"] == "CANCELING"


def task_context() -> dict:
    ti = SimpleNamespace(dag_id="parts", run_id=f"manual__{uuid.uuid4().hex}", task_id="t", map_index=-1)
    return {"ti": ti}


def test_reattach_refuses_a_job_made_with_other_arguments(slow_conn):
    name = f"changed-{uuid.uuid4().hex[:8]}"
    earlier = CompressHook().create_job(SFT_MODEL, PLAIN_TEMPLATE, job_name=name)
    creates = slow_conn.state()["creates"]
    changed = CreateCompressJobOperator(
        task_id="t",
        model=SFT_MODEL,
        template_id=PARAM_TEMPLATE,
        hyper_parameters={"calib_seq_len": 2048},
        job_name=name,
    )
    expected = (
        f"{earlier.job_id} .* compresses {SFT_MODEL} with {PLAIN_TEMPLATE}.* if_job_exists='create_new'"
    )
    with pytest.raises(AirflowException, match=expected):
        changed._create_or_reattach(task_context())
    assert slow_conn.state()["creates"] == creates  # nothing made either
    same = CreateCompressJobOperator(task_id="t", model=SFT_MODEL, template_id=PLAIN_TEMPLATE, job_name=name)
    assert same._create_or_reattach(task_context()).job_id == earlier.job_id


def test_a_field_the_api_left_out_is_no_mismatch():
    operator = CreateCompressJobOperator(task_id="t", model=SFT_MODEL, template_id=PLAIN_TEMPLATE)
    assert operator.mismatch(Job.from_api({"job_id": "j", "model": SFT_MODEL})) is None
    assert "other-model" in operator.mismatch(Job.from_api({"job_id": "j", "model": "other-model"}))


def test_cancel_without_waiting_returns_the_status_after_the_cancel(slow_conn):
    job = CompressHook().create_job(model=SFT_MODEL, template_id=PLAIN_TEMPLATE)
    assert slow_conn.job(job.job_id)["status"] == "PENDING"
    status = CancelCompressJobOperator(task_id="c", job_id=job.job_id).execute({})
    assert status == "CANCELING" == slow_conn.job(job.job_id)["status"]


def test_kill_while_the_create_is_in_flight_cancels_the_job_it_made(slow_conn):
    """The create is served, its answer held back 3 s: a kill then must find the job by name."""
    name = f"inflight-{uuid.uuid4().hex[:8]}"
    slow_conn.set_faults(slow_seconds=3)
    slow_conn.fail_next(1, "slow", method="POST")
    operator = CreateCompressJobOperator(
        task_id="t", model=SFT_MODEL, template_id=PLAIN_TEMPLATE, job_name=name
    )
    try:
        with ThreadPoolExecutor(1) as pool:
            creating = pool.submit(operator._create_or_reattach, task_context())
            made, deadline = None, time.monotonic() + 10
            while made is None and time.monotonic() < deadline:
                jobs = slow_conn.state()["jobs"].values()
                made = next((job for job in jobs if job["job_name"] == name), None)
                time.sleep(0.05)
            assert made is not None and not creating.done()
            operator.on_kill()
            creating.result(timeout=30)
    finally:
        if slow_conn.set_faults()["queued"]:  # the test failed before its create: spend the fault
            requests.post(f"{slow_conn.url}{API}/jobs/none/cancel", timeout=10)
        slow_conn.set_faults(slow_seconds=35)
    assert slow_conn.job(made["job_id"])["status"] in ("CANCELING", "CANCELED")

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
from conftest import API, DPO_MODEL, PARAM_TEMPLATE, PLAIN_TEMPLATE, SFT_MODEL

from airflow_provider_compress.emulator.state import JOB_NAME_PATTERN
from airflow_provider_compress.exceptions import CompressValidationError
from airflow_provider_compress.hooks.compress import CompressHook
from airflow_provider_compress.hooks.deployment import DeploymentHook
from airflow_provider_compress.hooks.finetune import FineTuneHook
from airflow_provider_compress.models import Job
from airflow_provider_compress.operators import base
from airflow_provider_compress.operators.base import generation_name
from airflow_provider_compress.operators.compress import (
    CancelCompressJobOperator,
    CreateCompressJobOperator,
    derive_job_name,
    latest_generation,
    plan_create,
)
from airflow_provider_compress.operators.deployment import DeployModelOperator
from airflow_provider_compress.operators.finetune import CreateFineTuneJobOperator
from airflow_provider_compress.protocol import COMPRESS
from airflow_provider_compress.specs import CompressJobSpec

# A cancelled job is CANCELING for the emulator's 0.3 s, then CANCELED: a slow read sees either.
CANCELLED = ("CANCELING", "CANCELED")


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
    created = CompressHook().create_job(model=SFT_MODEL, template_id=PLAIN_TEMPLATE, job_name="kill-me-once")
    operator = CreateCompressJobOperator(task_id="t", model=SFT_MODEL, template_id=PLAIN_TEMPLATE)
    operator.job_id = created.job_id
    operator.on_kill()
    assert slow_conn.job(created.job_id)["status"] in CANCELLED
    operator.on_kill()  # idempotent: nothing left to cancel
    assert sum("Cancel requested" in line for line in slow_conn.full_log(created.job_id)) == 1


@pytest.mark.parametrize("keep", [False, True])
def test_worker_on_kill_deletes_the_deployment_unless_kept(slow_conn, keep):
    made = DeploymentHook().create_deployment(
        model_name=SFT_MODEL, capacity=1, deploy_spec="MU1", suffix=uuid.uuid4().hex[:8]
    )
    deployed = made.deployed_model
    operator = DeployModelOperator(
        task_id="t", model_name=SFT_MODEL, capacity=1, deploy_spec="MU1", keep_deployment=keep
    )
    operator.job_id = deployed
    operator.on_kill()
    status = slow_conn.state()["deployments"][deployed]["status"]
    if keep:
        assert status != "DELETING"
        DeploymentHook().delete_deployment(deployed)
    else:
        assert status == "DELETING"


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
    with pytest.raises(CompressValidationError) as raised:  # as docs/errors.md says
        CreateCompressJobOperator(task_id="t", model=SFT_MODEL, template_id=PLAIN_TEMPLATE, **kwargs)
    assert raised.value.field == field


def test_generations_of_a_long_name_stay_within_50_characters():
    base = "n" * 50
    assert len(generation_name(base, 12)) == 50 and generation_name(base, 12).endswith("-g12")
    jobs = [job(generation_name(base, 2), "FAILED"), job(generation_name(base, 12), "RUNNING")]
    assert latest_generation(jobs, base)[0] == 12


def test_a_stop_whose_answer_was_lost_is_not_an_error(slow_conn):
    from airflow_provider_compress.protocol import COMPRESS

    hook = CompressHook()
    job = hook.create_job(
        model=SFT_MODEL, template_id=PLAIN_TEMPLATE, job_name=f"lost-{uuid.uuid4().hex[:8]}"
    )
    slow_conn.fail_next(1, status=503, after=True)  # the cancel is served, its answer lost
    assert hook.stop_resource(COMPRESS, job.job_id) is True  # the retry's 400 is checked, not raised
    assert slow_conn.job(job.job_id)["status"] in CANCELLED


def task_context(try_number: int = 1, run_id: str | None = None) -> dict:
    run_id = run_id or f"manual__{uuid.uuid4().hex}"
    ti = SimpleNamespace(dag_id="parts", run_id=run_id, task_id="t", map_index=-1, try_number=try_number)
    return {"ti": ti}


def test_a_later_try_restarts_work_that_the_cleared_try_is_stopping(slow_conn):
    """A clear starts the next try while the old try's trigger is about to cancel the job: the
    next try waits for the cancel to show and creates a new generation instead of adopting it."""
    run_id = f"manual__{uuid.uuid4().hex}"
    operator = CreateCompressJobOperator(task_id="t", model=SFT_MODEL, template_id=PLAIN_TEMPLATE)
    earlier = operator._create_or_reattach(task_context(1, run_id))
    with ThreadPoolExecutor(1) as pool:
        second_try = pool.submit(operator._create_or_reattach, task_context(2, run_id))
        time.sleep(1.5)  # the old trigger's on_kill comes a moment after the clear
        CompressHook().cancel_job(earlier.job_id)
        restarted = second_try.result(timeout=30)
    assert restarted.job_id != earlier.job_id
    assert restarted.job_name == earlier.job_name + "-g2"


def test_a_later_try_adopts_work_that_nobody_stops(monkeypatch, slow_conn):
    """After a crash nothing stops the earlier try's job: the next try reattaches after the grace."""
    monkeypatch.setattr(base, "EARLIER_TRY_GRACE", 1.5)
    run_id = f"manual__{uuid.uuid4().hex}"
    operator = CreateCompressJobOperator(task_id="t", model=SFT_MODEL, template_id=PLAIN_TEMPLATE)
    earlier = operator._create_or_reattach(task_context(1, run_id))
    creates = slow_conn.state()["creates"]
    started = time.monotonic()
    assert operator._create_or_reattach(task_context(2, run_id)).job_id == earlier.job_id
    assert time.monotonic() - started >= 1.5 and slow_conn.state()["creates"] == creates


def refusal(operator) -> str:
    """The error of an operator that finds an earlier try's resource made otherwise."""
    with pytest.raises(AirflowException) as raised:
        operator._create_or_reattach(task_context())
    return str(raised.value)


def compress_operator(**arguments) -> CreateCompressJobOperator:
    return CreateCompressJobOperator(
        task_id="t", **{"model": SFT_MODEL, "template_id": PLAIN_TEMPLATE, **arguments}
    )


def test_reattach_refuses_a_job_made_with_other_arguments(slow_conn):
    name = f"changed-{uuid.uuid4().hex[:8]}"
    earlier = CompressHook().create_job(
        model=SFT_MODEL,
        template_id=PARAM_TEMPLATE,
        job_name=name,
        hyper_parameters={"calib_seq_len": 1024},
        custom_calibration_file_ids=["file-a", "file-b"],
    )
    creates = slow_conn.state()["creates"]
    changed = compress_operator(
        model=DPO_MODEL,
        template_id=PARAM_TEMPLATE,
        hyper_parameters={"calib_seq_len": 2048, "group_size": "128"},  # 128: the default, as the job has
        custom_calibration_file_ids=["file-b"],
        job_name=name,
    )
    message = refusal(changed)
    assert f"{earlier.job_id} ({name!r}, PENDING)" in message
    assert f"model: this task asks for {DPO_MODEL!r}, it has {SFT_MODEL!r}" in message
    assert "hyper_parameters.calib_seq_len: this task asks for 2048, it has 1024" in message
    assert (
        "custom_calibration_file_ids: this task asks for ['file-b'], it has ['file-a', 'file-b']" in message
    )
    assert "group_size" not in message and "template_id" not in message
    assert "if_job_exists='create_new'" in message
    assert slow_conn.state()["creates"] == creates  # nothing made either
    same = compress_operator(
        template_id=PARAM_TEMPLATE,
        hyper_parameters={"calib_seq_len": "1024.0"},  # the same value, written otherwise
        custom_calibration_file_ids=iter(["file-b", "file-a"]),  # the same set, in another order
        job_name=name,
    )
    assert same._create_or_reattach(task_context()).job_id == earlier.job_id


def test_reattach_reads_the_suffix_from_the_output_and_checks_it_again_at_the_end(conn):
    """The API echoes the suffix only through quantized_output, once the job SUCCEEDED."""
    name = f"suffix-{uuid.uuid4().hex[:8]}"
    hook = CompressHook()
    job = hook.create_job(model=SFT_MODEL, template_id=PLAIN_TEMPLATE, job_name=name, output_model_suffix="a")
    other = compress_operator(job_name=name, output_model_suffix="b")
    assert other.build_spec().differences(job) == []  # unknown while it runs: reattached
    deadline = time.monotonic() + 20
    while (done := hook.get_job(job.job_id)).status != "SUCCEEDED" and time.monotonic() < deadline:
        time.sleep(0.1)
    with pytest.raises(AirflowException, match="output_model_suffix: this task asks for 'b', it has 'a'"):
        other._finish({}, done)  # the end of the wait of a task that reattached while it ran
    creates = conn.state()["creates"]
    with pytest.raises(AirflowException, match="output_model_suffix: this task asks for 'b', it has 'a'"):
        other._create_or_reattach(task_context())
    unsuffixed = compress_operator(job_name=name)
    with pytest.raises(AirflowException, match="output_model_suffix: this task asks for None, it has 'a'"):
        unsuffixed._create_or_reattach(task_context())
    assert conn.state()["creates"] == creates
    assert (
        compress_operator(job_name=name, output_model_suffix="a")._finish({}, done) == done.quantized_output
    )


def test_a_generator_of_calibration_files_is_read_once_and_sent(conn):
    operator = compress_operator(
        job_name=f"gen-{uuid.uuid4().hex[:8]}", custom_calibration_file_ids=(f"file-{i}" for i in range(2))
    )
    job = operator._create_or_reattach(task_context())
    assert conn.job(job.job_id)["custom_calibration_file_ids"] == ["file-0", "file-1"]
    # built again at the end of the wait, the spec still holds them: nothing differs
    assert operator.build_spec().differences(CompressHook().get_job(job.job_id)) == []


def test_reattach_compares_fine_tune_files_and_hyper_parameters(slow_conn):
    name = f"ft-{uuid.uuid4().hex[:8]}"
    FineTuneHook().create_job(
        model="qwen3-8b", training_file_ids=["file-a"], hyper_parameters={"n_epochs": 1}, job_name=name
    )
    changed = CreateFineTuneJobOperator(
        task_id="t",
        model="qwen3-8b",
        training_file_ids=["file-b"],
        validation_file_ids=["file-v"],
        hyper_parameters={"n_epochs": 2, "learning_rate": "1e-5"},
        job_name=name,
    )
    message = refusal(changed)
    assert "training_file_ids: this task asks for ['file-b'], it has ['file-a']" in message
    assert "validation_file_ids: this task asks for ['file-v'], it has []" in message
    assert "hyper_parameters.n_epochs: this task asks for 2, it has 1" in message
    assert "learning_rate" not in message  # the job's answer does not carry it: nothing to compare
    same = CreateFineTuneJobOperator(
        task_id="t", model="qwen3-8b", training_file_ids=["file-a"], job_name=name
    )
    assert same._create_or_reattach(task_context()).job_name == name


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


def test_a_field_the_api_left_out_is_no_mismatch():
    spec = CompressJobSpec(model=SFT_MODEL, template_id=PLAIN_TEMPLATE, output_model_suffix="a")
    assert spec.differences(Job.from_api({"job_id": "j", "model": SFT_MODEL})) == []
    (difference,) = spec.differences(Job.from_api({"job_id": "j", "model": "other-model"}))
    assert (difference.field, difference.asked, difference.found) == ("model", SFT_MODEL, "other-model")


def test_cancel_without_waiting_returns_the_status_after_the_cancel(slow_conn):
    job = CompressHook().create_job(model=SFT_MODEL, template_id=PLAIN_TEMPLATE)
    assert slow_conn.job(job.job_id)["status"] == "PENDING"
    status = CancelCompressJobOperator(task_id="c", job_id=job.job_id).execute({})
    assert status in CANCELLED and slow_conn.job(job.job_id)["status"] in CANCELLED


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
    assert slow_conn.job(made["job_id"])["status"] in CANCELLED

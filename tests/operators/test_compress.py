"""CreateCompressJobOperator and CancelCompressJobOperator without a DAG run, against the emulator:
on_kill, the reattach of a later try, arguments checked against the job found, waiting in the
worker. Their runs in Airflow: tests/airflow/test_dags.py."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from airflow.sdk.exceptions import AirflowException

from airflow_provider_compress import events
from airflow_provider_compress.exceptions import CompressValidationError
from airflow_provider_compress.hooks.compress import CompressHook
from airflow_provider_compress.operators import base
from airflow_provider_compress.operators.compress import CancelCompressJobOperator, CreateCompressJobOperator
from tests.support import (
    API,
    CANCELLED,
    DPO_MODEL,
    JOB_READ,
    JOBS_PATH,
    PARAM_TEMPLATE,
    PLAIN_TEMPLATE,
    SFT_MODEL,
    UNREADABLE_LOG,
    refusal,
    served,
    task_context,
    wait_for_status,
    wait_until,
)
from tests.support.airflow_home import forwarded


def test_worker_on_kill_cancels_once(slow_conn):
    created = CompressHook().create_job(model=SFT_MODEL, template_id=PLAIN_TEMPLATE, job_name="kill-me-once")
    operator = CreateCompressJobOperator(task_id="t", model=SFT_MODEL, template_id=PLAIN_TEMPLATE)
    operator.resource_id = created.job_id
    operator.on_kill()
    assert slow_conn.job(created.job_id)["status"] in CANCELLED
    operator.on_kill()  # idempotent: nothing left to cancel
    assert sum("Cancel requested" in line for line in slow_conn.full_log(created.job_id)) == 1


def test_on_kill_before_a_job_exists_does_nothing(slow_conn):
    before = slow_conn.state()["requests"]
    CreateCompressJobOperator(task_id="t", model=SFT_MODEL, template_id=PLAIN_TEMPLATE).on_kill()
    assert slow_conn.state()["requests"] == before


def test_a_later_try_restarts_work_that_the_cleared_try_is_stopping(slow_conn):
    """A clear starts the next try while the old try's trigger is about to cancel the job: the
    next try waits for the cancel to show and creates a new generation instead of adopting it."""
    run_id = f"manual__{uuid.uuid4().hex}"
    operator = CreateCompressJobOperator(task_id="t", model=SFT_MODEL, template_id=PLAIN_TEMPLATE)
    earlier = operator._create_or_reattach(task_context(1, run_id))
    reads = served(slow_conn, JOB_READ)
    with ThreadPoolExecutor(1) as pool:
        second_try = pool.submit(operator._create_or_reattach, task_context(2, run_id))
        # the old trigger's on_kill comes a moment after the clear: once the next try reads the
        # job again, it is waiting for that stop
        wait_until(lambda: served(slow_conn, JOB_READ) > reads, "the next try's first read in its grace")
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


@pytest.mark.parametrize(("arguments", "said"), [({}, True), ({"forward_logs": False}, False)])
def test_a_try_that_reattaches_says_the_jobs_lines_come_again_from_1(conn, capsys, arguments, said):
    """A retry forwards the job's log from #1 again: the lines the earlier try forwarded (a lost
    worker's, before it was lost) are in both tries' logs, and the retry's log says so first."""
    run_id = f"manual__{uuid.uuid4().hex}"
    operator = compress_operator(**arguments)
    operator._create_or_reattach(task_context(1, run_id))
    assert "forwarded again" not in capsys.readouterr().out  # a try that creates
    operator._create_or_reattach(task_context(2, run_id))
    out = capsys.readouterr().out  # the task logger writes there
    assert "Reattaching to compression job" in out
    assert ("Its log is forwarded again from #1" in out) is said


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
    assert "if_exists='create_new'" in message
    assert slow_conn.state()["creates"] == creates  # nothing made either
    same = compress_operator(
        template_id=PARAM_TEMPLATE,
        hyper_parameters={"calib_seq_len": "1024.0"},  # the same value, written otherwise
        custom_calibration_file_ids=iter(["file-b", "file-a"]),  # the same set, in another order
        job_name=name,
    )
    assert same._create_or_reattach(task_context()).job_id == earlier.job_id


def test_the_operator_checks_the_hyper_parameters_against_the_template_before_creating(conn):
    creates = conn.state()["creates"]
    operator = compress_operator(template_id=PARAM_TEMPLATE, hyper_parameters={"calib_seq_len": 100})
    with pytest.raises(CompressValidationError) as raised:
        operator._create_or_reattach(task_context())
    assert raised.value.field == "hyper_parameters.calib_seq_len"
    assert "must be between 512 and 8192" in str(raised.value)
    assert conn.state()["creates"] == creates


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


def test_a_worker_wait_succeeds_when_the_log_cannot_be_read(fresh_conn, capsys):
    job = CompressHook().create_job(model=SFT_MODEL, template_id=PLAIN_TEMPLATE)
    fresh_conn.answer_next(50, UNREADABLE_LOG, path=JOBS_PATH + "/.*/logs")
    operator = CreateCompressJobOperator(
        task_id="t", model=SFT_MODEL, template_id=PLAIN_TEMPLATE, poll_interval=1
    )
    assert operator._wait({}, job.job_id, None).status == "SUCCEEDED"
    assert "Could not read the log of" in capsys.readouterr().out  # the task logger writes there


def test_a_worker_wait_warns_once_about_an_unknown_status(fresh_conn, capsys):
    """As the trigger does (tests/triggers/test_compress.py): named, a warning, once, polled on."""
    job = CompressHook().create_job(model=SFT_MODEL, template_id=PLAIN_TEMPLATE)
    weird = json.dumps({"request_id": "r", "output": {"job_id": job.job_id, "status": "PAUSED_FOR_AUDIT"}})
    fresh_conn.answer_next(3, weird, method="GET", path=JOBS_PATH + "/[^/]+")
    operator = CreateCompressJobOperator(
        task_id="t", model=SFT_MODEL, template_id=PLAIN_TEMPLATE, poll_interval=1, forward_logs=False
    )
    assert operator._wait({}, job.job_id, None).status == "SUCCEEDED"
    out = capsys.readouterr().out  # the task logger writes there
    warned = [
        line for line in out.splitlines() if "'PAUSED_FOR_AUDIT', which the provider does not know" in line
    ]
    assert len(warned) == 1 and "[warning" in warned[0]


def test_an_event_sent_before_the_rename_still_completes_the_task(conn):
    """A task deferred under an earlier version resumes with that version's event, which named the
    resource ``job_id`` and ``job``; the event of this version names it ``resource_id`` and ``resource``."""
    hook = CompressHook()
    job = hook.create_job(model=SFT_MODEL, template_id=PLAIN_TEMPLATE, job_name=f"ev-{uuid.uuid4().hex[:8]}")
    deadline = time.monotonic() + 20
    while (done := hook.get_job(job.job_id)).status != "SUCCEEDED" and time.monotonic() < deadline:
        time.sleep(0.1)
    common = {"status": "SUCCEEDED", "log_offset": 0, "message": "reached SUCCEEDED"}
    for event in (
        {**common, "job_id": job.job_id, "job": done.to_dict()},
        {**common, "resource_id": job.job_id, "resource": done.to_dict()},
    ):
        operator = compress_operator(forward_logs=False)
        assert operator.execute_complete({}, event) == done.quantized_output
        assert operator.resource_id == job.job_id
    with pytest.raises(AirflowException, match="Unexpected trigger event"):
        compress_operator().execute_complete({}, {"status": "SUCCEEDED"})


def test_the_resumed_task_forwards_the_lines_after_the_triggers_last_read(conn, capsys):
    """The trigger sends its event without reading the job's last lines (tests/triggers/
    test_compress.py): execute_complete forwards them, from the event's log_offset, each once."""
    hook = CompressHook()
    job = hook.create_job(
        model=SFT_MODEL, template_id=PLAIN_TEMPLATE, job_name=f"rest-{uuid.uuid4().hex[:8]}"
    )
    done = wait_for_status(hook.get_job, job.job_id, lambda status: status == "SUCCEEDED")
    full = conn.full_log(job.job_id)
    # the trigger forwarded lines 1 to 4
    event = events.payload("SUCCEEDED", job.job_id, done.to_dict(), 4, "reached SUCCEEDED")
    assert compress_operator().execute_complete({}, event) == done.quantized_output
    out = capsys.readouterr().out  # the task logger writes there
    assert forwarded(out, job.job_id) == list(range(5, len(full) + 1))
    assert f"[{job.job_id} #{len(full)}] {full[-1]}" in out
    compress_operator(forward_logs=False).execute_complete({}, event)
    assert forwarded(capsys.readouterr().out, job.job_id) == []

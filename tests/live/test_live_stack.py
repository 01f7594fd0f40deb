"""A real Airflow stack as production runs it: api-server, scheduler (LocalExecutor),
dag-processor and two triggerers on 127.0.0.1, on PostgreSQL (a private cluster,
tests/support/postgres.py), driven through the REST API, against the emulator
(tests/support/live_stack.py).

Marked ``live``: ``pytest -m live`` runs only these. Every process a test starts is stopped by it.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from urllib.parse import quote

import pytest
import requests

from airflow_provider_compress._compat import AIRFLOW_VERSION
from tests.support import ROOT, files_containing
from tests.support.live_stack import AUDIT_KEY, Stack, wait_until

pytestmark = pytest.mark.live
NEWEST_ONLY = pytest.mark.skipif(
    AIRFLOW_VERSION < (3, 3),
    reason="runs on the newest Airflow only; the kill, restart and takeover tests run on every version",
)


def job_of(stack: Stack, dag_id: str, run_id: str) -> str:
    return wait_until(lambda: stack.xcom(dag_id, run_id, "job_id"), 60, "the job id in XCom")


def job_lines(log: str, job_id: str) -> list[int]:
    return [int(n) for n in re.findall(rf"\[{re.escape(job_id)} #(\d+)\]", log)]


@NEWEST_ONLY
def test_a_deferred_task_streams_the_job_log_into_its_task_log(stack):
    run_id = stack.trigger("live_deferred")
    job_id = job_of(stack, "live_deferred", run_id)
    wait_until(lambda: stack.ti("live_deferred", run_id)["state"] == "deferred", 60, "the task to defer")
    # while deferred, lines appear in the task's log as the REST API serves it, once each
    seen = wait_until(
        lambda: job_lines(stack.task_log("live_deferred", run_id, 1), job_id), 60, "forwarded lines"
    )
    assert stack.ti("live_deferred", run_id)["state"] == "deferred"
    assert seen == list(range(1, len(seen) + 1))
    wait_until(lambda: stack.ti("live_deferred", run_id)["state"] == "success", 90, "the task to succeed")
    final = job_lines(stack.task_log("live_deferred", run_id, 1), job_id)
    assert final == list(range(1, len(stack.emulator.full_log(job_id)) + 1))


def start_job(stack: Stack, dag_id: str = "live_deferred") -> tuple[str, str]:
    """A run of ``dag_id`` whose task is deferred, its trigger running in a triggerer, its job RUNNING."""
    run_id = stack.trigger(dag_id)
    job_id = job_of(stack, dag_id, run_id)
    wait_until(lambda: stack.ti(dag_id, run_id)["state"] == "deferred", 60, "the task to defer")
    owner = wait_until(lambda: stack.trigger_owner(dag_id, run_id, "compress"), 60, "a triggerer")
    wait_until(lambda: trigger_log(stack, owner, dag_id, run_id, "compress"), 60, f"{owner} to run it")
    emulator = stack.slow if dag_id == "live_takeover" else stack.emulator
    wait_until(lambda: emulator.job(job_id)["status"] == "RUNNING", 30, "the job to run")
    return run_id, job_id


@pytest.mark.parametrize("action", ["mark_failed", "clear", "mark_success"])
def test_killing_the_deferred_task_cancels_the_job(stack, action):
    run_id, job_id = start_job(stack)
    task_path = f"/dags/live_deferred/dagRuns/{quote(run_id)}/taskInstances/compress"
    if action == "clear":
        stack.api(
            "POST",
            "/dags/live_deferred/clearTaskInstances",
            json={"dag_run_id": run_id, "task_ids": ["compress"], "dry_run": False, "only_failed": False},
        )
    else:
        stack.api("PATCH", task_path, json={"new_state": "failed" if action == "mark_failed" else "success"})
    wait_until(
        lambda: stack.emulator.job(job_id)["status"] in ("CANCELING", "CANCELED"),
        30,
        f"the job to be cancelled after {action}",
    )
    if action == "clear":  # the next try restarts the work instead of adopting the cancelled job
        restarted = wait_until(
            lambda: (new := stack.xcom("live_deferred", run_id, "job_id")) != job_id and new,
            60,
            "the next try's job",
        )
        assert stack.emulator.job(restarted)["job_name"] == stack.emulator.job(job_id)["job_name"] + "-g2"


def test_a_triggerer_restart_neither_cancels_nor_duplicates(stack):
    run_id, job_id = start_job(stack)
    creates = stack.emulator.state()["creates"]
    owner = wait_until(lambda: stack.trigger_owner("live_deferred", run_id, "compress"), 30, "an owner")
    stack.stop(owner, signal.SIGTERM)
    assert stack.emulator.job(job_id)["status"] == "RUNNING"
    stack.start(owner)
    wait_until(lambda: stack.ti("live_deferred", run_id)["state"] == "success", 120, "the task to succeed")
    assert stack.emulator.job(job_id)["status"] == "SUCCEEDED"
    assert not any("Cancel requested" in line for line in stack.emulator.full_log(job_id))
    assert stack.emulator.state()["creates"] == creates
    assert (
        stack.xcom("live_deferred", run_id, "return_value") == stack.emulator.job(job_id)["quantized_output"]
    )


STOPS = {
    "compress": "POST /api/v1/fine-tunes/compress/jobs/{job_id}/cancel",
    "deploy": "DELETE /api/v1/deployments/{deployed_model}",
}


def take_over(stack: Stack, dag_id: str, run_id: str, task_id: str) -> str:
    """Freeze the triggerer running the task's trigger until the other one has taken it over,
    then thaw it, as after a long GC pause or a stopped container. Returns the frozen one's name."""
    owner = wait_until(lambda: stack.trigger_owner(dag_id, run_id, task_id), 60, "a triggerer to run it")
    wait_until(lambda: trigger_log(stack, owner, dag_id, run_id, task_id), 60, f"{owner} to run it")
    stack.send_signal(owner, signal.SIGSTOP)
    try:
        wait_until(
            lambda: stack.trigger_owner(dag_id, run_id, task_id) not in (None, owner), 90, "the takeover"
        )
    finally:
        stack.send_signal(owner, signal.SIGCONT)
    return owner


def trigger_log(stack: Stack, name: str, dag_id: str, run_id: str, task_id: str) -> str:
    """What the copy of the task's trigger run by triggerer ``name`` logged (a file per triggerer)."""
    folder = stack.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
    log = folder / f"attempt=1.log.trigger.{stack.triggerer_ids[name]}.log"
    return log.read_text(errors="replace") if log.exists() else ""


def dropped_its_copy(stack: Stack, name: str, dag_id: str, run_id: str, task_id: str) -> bool:
    """Whether the thawed triggerer has noticed that it lost the trigger and ended its copy."""
    return '"trigger completed"' in trigger_log(stack, name, dag_id, run_id, task_id)


@pytest.mark.parametrize(
    ("dag_id", "task_id"), [("live_takeover", "compress"), ("live_takeover_deploy", "deploy")]
)
def test_a_triggerer_thawed_after_a_takeover_stops_nothing(stack, dag_id, task_id):
    slow, before = stack.slow, stack.slow.state()
    run_id = stack.trigger(dag_id)
    key = "job_id" if task_id == "compress" else "deployed_model"
    resource = wait_until(lambda: stack.xcom(dag_id, run_id, key, task_id), 60, "the resource id in XCom")
    wait_until(lambda: stack.ti(dag_id, run_id, task_id)["state"] == "deferred", 60, "the task to defer")
    frozen = take_over(stack, dag_id, run_id, task_id)
    wait_until(
        lambda: dropped_its_copy(stack, frozen, dag_id, run_id, task_id), 60, f"{frozen} to drop its copy"
    )
    if task_id == "compress":
        assert slow.job(resource)["status"] in ("QUEUING", "RUNNING")
    wait_until(lambda: stack.ti(dag_id, run_id, task_id)["state"] == "success", 120, "the task to succeed")
    after = slow.state()
    assert after["calls"].get(STOPS[task_id], 0) == before["calls"].get(STOPS[task_id], 0)
    if task_id == "compress":
        assert after["creates"] == before["creates"] + 1
        assert slow.job(resource)["status"] == "SUCCEEDED"
        # the new owner went on forwarding: every line of the job is in the task log
        lines = set(job_lines(stack.task_log(dag_id, run_id, 1, task_id), resource))
        assert lines == set(range(1, len(slow.full_log(resource)) + 1))
    else:
        assert after["deployment_creates"] == before["deployment_creates"] + 1
        assert slow.state()["deployments"][resource]["status"] == "RUNNING"
        key_header = {"Authorization": f"Bearer {slow.api_key}"}
        requests.delete(f"{slow.url}/api/v1/deployments/{resource}", headers=key_header, timeout=10)


def test_after_a_takeover_marking_the_task_failed_still_cancels_the_job(stack):
    run_id, job_id = start_job(stack, "live_takeover")
    frozen = take_over(stack, "live_takeover", run_id, "compress")
    wait_until(
        lambda: dropped_its_copy(stack, frozen, "live_takeover", run_id, "compress"),
        60,
        f"{frozen} to drop it",
    )
    assert stack.slow.job(job_id)["status"] in ("QUEUING", "RUNNING")
    task_path = f"/dags/live_takeover/dagRuns/{quote(run_id)}/taskInstances/compress"
    stack.api("PATCH", task_path, json={"new_state": "failed"})
    wait_until(
        lambda: stack.slow.job(job_id)["status"] in ("CANCELING", "CANCELED"),
        30,
        "the job to be cancelled after mark failed",
    )


@NEWEST_ONLY
def test_a_retry_after_a_killed_worker_reattaches(stack):
    run_id = stack.trigger("live_worker")
    job_id = job_of(stack, "live_worker", run_id)
    wait_until(lambda: stack.emulator.job(job_id)["status"] == "RUNNING", 30, "the job to run")
    creates = stack.emulator.state()["creates"]
    killed = stack.kill_busy_workers()  # SIGKILL: no on_kill, the job keeps running
    assert killed, "no executor worker was running the task"
    ti = wait_until(
        lambda: (t := stack.ti("live_worker", run_id))["state"] == "success" and t,
        150,
        "the retry to succeed",
    )
    assert ti["try_number"] == 2
    assert stack.xcom("live_worker", run_id, "job_id") == job_id
    assert stack.emulator.state()["creates"] == creates
    assert "Reattaching to compression job " + job_id in stack.task_log("live_worker", run_id, 2)


def test_marking_a_worker_mode_task_failed_cancels_its_job(stack):
    """No trigger here: the task waits in the worker. Airflow stops the task process (SIGTERM)
    and the operator's on_kill cancels the job."""
    run_id = stack.trigger("live_worker_kill")
    job_id = job_of(stack, "live_worker_kill", run_id)
    wait_until(lambda: stack.emulator.job(job_id)["status"] == "RUNNING", 30, "the job to run")
    assert stack.ti("live_worker_kill", run_id)["state"] == "running"
    task_path = f"/dags/live_worker_kill/dagRuns/{quote(run_id)}/taskInstances/compress"
    stack.api("PATCH", task_path, json={"new_state": "failed"})
    wait_until(
        lambda: stack.emulator.job(job_id)["status"] in ("CANCELING", "CANCELED"),
        60,
        "the job to be cancelled after mark failed",
    )
    assert stack.ti("live_worker_kill", run_id)["state"] == "failed"
    assert sum("Cancel requested" in line for line in stack.emulator.full_log(job_id)) == 1


@NEWEST_ONLY
def test_the_asset_event_triggers_the_deploy_dag(stack):
    stack.api("PATCH", "/dags/live_asset_consumer", json={"is_paused": False})
    run_id = stack.trigger("live_asset_producer")
    wait_until(lambda: stack.ti("live_asset_producer", run_id)["state"] == "success", 90, "the producer")
    produced = stack.xcom("live_asset_producer", run_id, "return_value")
    runs = wait_until(
        lambda: stack.api("GET", "/dags/live_asset_consumer/dagRuns").json()["dag_runs"], 60, "a consumer run"
    )
    consumer_run = runs[0]["dag_run_id"]
    wait_until(
        lambda: stack.ti("live_asset_consumer", consumer_run, "compressed_model")["state"] == "success",
        60,
        "the consumer task",
    )
    assert stack.xcom("live_asset_consumer", consumer_run, "return_value", "compressed_model") == produced


@NEWEST_ONLY
def test_the_standalone_command_serves_the_examples_and_cleans_up(tmp_path):
    import psutil

    script = ROOT / "scripts" / "standalone.py"
    proc = subprocess.Popen(
        [sys.executable, str(script), "--home", str(tmp_path / "home")], stdout=subprocess.PIPE, text=True
    )
    try:
        lines = []
        assert proc.stdout is not None
        while not any(line.startswith("Airflow UI:") for line in lines):
            line = proc.stdout.readline()
            assert line, f"standalone.py exited early: {lines}"
            lines.append(line)
        url, _, user, _, password = next(line for line in lines if line.startswith("Airflow UI:")).split()[2:]
        assert url.startswith("http://127.0.0.1:") and user == "admin"
        token = requests.post(f"{url}/auth/token", json={"username": user, "password": password}, timeout=30)
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        wait_until(
            lambda: (
                requests.get(f"{url}/api/v2/dags/example_compress_pipeline", headers=headers, timeout=10).ok
            ),
            120,
            "the example DAGs",
        )
        family = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(90) == 0
        # airflow standalone shut its components down itself (on SIGINT), rather than being killed
        assert "Airflow stopped" in proc.stdout.read()
        assert (tmp_path / "home" / "standalone.log").read_text().rstrip().endswith("standalone | Complete")
        assert not [p for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    finally:
        if proc.poll() is None:
            proc.kill()


def test_the_api_key_is_nowhere_in_logs_or_the_metadata_database(stack):
    """Runs its own deferred task to the end (trigger kwargs, XCom, rendered template fields, task,
    trigger and component logs), then searches every file of the Airflow home and a dump of the
    metadata database for the key."""
    assert stack.emulator.api_key == AUDIT_KEY
    run_id = stack.trigger("live_deferred")
    wait_until(lambda: stack.ti("live_deferred", run_id)["state"] == "deferred", 60, "the task to defer")
    wait_until(lambda: stack.ti("live_deferred", run_id)["state"] == "success", 120, "the task to succeed")
    assert stack.xcom("live_deferred", run_id, "job_id")
    assert list((stack.home / "logs").rglob("*.log"))
    assert files_containing(stack.home, AUDIT_KEY) == []
    dump = stack.db.dump()
    assert run_id.encode() in dump and b"CREATE TABLE public.trigger" in dump
    assert AUDIT_KEY.encode() not in dump

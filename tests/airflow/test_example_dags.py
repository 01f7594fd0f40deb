"""The example DAGs: they parse offline, and the mapped, nightly, sensor, checkpoint and scale ones run
against the emulator (in the home the lineage tests share: tests/airflow/conftest.py)."""

from __future__ import annotations

import importlib.util
import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT, files_containing

EXAMPLES = ROOT / "example_dags"
EXPECTED = {
    "example_compress_pipeline.py": "example_compress_pipeline",
    "example_compress_mapped.py": "example_compress_mapped",
    "example_compress_nightly.py": "example_compress_nightly",
    "example_compress_sensor.py": "example_compress_sensor",
    "example_deploy_on_asset.py": "example_deploy_on_asset",
    "example_finetune_checkpoint.py": "example_finetune_checkpoint",
    "example_deploy_scale.py": "example_deploy_scale",
    "example_compress_pool.py": "example_compress_pool",
    "example_orphaned_work.py": "example_orphaned_work",
}


def test_every_example_is_listed():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("filename", sorted(EXPECTED))
def test_example_parses_without_network_or_connections(monkeypatch, filename):
    from airflow.sdk import DAG, BaseHook

    def refuse(*args, **kwargs):
        raise AssertionError(f"{filename} touched the network or a connection at parse time")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(BaseHook, "get_connection", classmethod(refuse))
    monkeypatch.setattr(BaseHook, "aget_connection", classmethod(refuse))
    monkeypatch.delenv("AIRFLOW_CONN_DASHSCOPE_DEFAULT", raising=False)
    spec = importlib.util.spec_from_file_location(f"example_{filename[:-3]}", EXAMPLES / filename)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dags = [v for v in vars(module).values() if isinstance(v, DAG)]
    assert [d.dag_id for d in dags] == [EXPECTED[filename]]
    assert dags[0].tasks


def xcoms(home: Path, dag_id: str, task_id: str) -> list:
    import sqlite3

    with sqlite3.connect(home / "airflow.db") as db:
        query = "SELECT value FROM xcom WHERE dag_id = ? AND task_id = ? AND key = 'return_value'"
        query += " ORDER BY map_index"
        rows = db.execute(query, (dag_id, task_id)).fetchall()
    return [json.loads(value) for (value,) in rows]


def test_mapped_example_deploys_only_what_compressed(examples):
    home, run = examples.airflow.home, examples.run("example_compress_mapped")
    output, state = run.output, run.state
    compressed = xcoms(home, "example_compress_mapped", "compress")
    assert len(compressed) == 2, output[-3000:]  # the third model's job FAILED
    deployed = xcoms(home, "example_compress_mapped", "deploy")
    assert sorted(state["deployments"][d]["model_name"] for d in deployed) == sorted(compressed)
    failed = [j for j in state["jobs"].values() if j["status"] == "FAILED"]
    assert [j["model"] for j in failed] == ["qwen3.5-flash-2026-02-23-ft-202603150000-fail"]


def test_nightly_example_compresses_the_newest_model(examples):
    home, output = examples.airflow.home, examples.run("example_compress_nightly").output
    (model,) = xcoms(home, "example_compress_nightly", "newest_model")
    assert model == "qwen3.5-flash-2026-02-23-ft-202604020000-c3d4", output[-3000:]  # the newest stamp
    (compressed,) = xcoms(home, "example_compress_nightly", "compress")
    assert compressed.startswith("qwen3.5-flash-2026-02-23-nightly-quant-")


def test_sensor_example_waits_then_tidies_up(examples):
    """Create without waiting, a reschedule-mode sensor (one 60 s reschedule), no cancel after a
    successful wait, the job record deleted, a trial deployment made and deleted again."""
    import sqlite3

    home, run = examples.airflow.home, examples.run("example_compress_sensor")
    output = run.output
    with sqlite3.connect(home / "airflow.db") as db:
        query = "SELECT task_id, state FROM task_instance WHERE dag_id = 'example_compress_sensor'"
        states = dict(db.execute(query).fetchall())
    assert states == {
        "start": "success",
        "wait": "success",
        "cancel": "skipped",  # the wait did not fail: the finished job is left alone
        "delete_job_record": "success",
        "trial_deploy": "success",
        "check": "success",
        "undeploy": "success",
    }, output[-3000:]
    (job_id,) = xcoms(home, "example_compress_sensor", "start")
    (deployed,) = xcoms(home, "example_compress_sensor", "trial_deploy")
    state = run.state
    assert job_id not in state["jobs"]  # its record deleted
    assert state["deployments"].get(deployed, {"status": "gone"})["status"] in ("DELETING", "gone")


def test_checkpoint_example_exports_an_earlier_checkpoint_and_compresses_it(examples):
    """The sensor waits for the fine-tune (deferred), the checkpoint before the last is exported,
    and that model is compressed; the training data came from the example's upload."""
    dag_id = "example_finetune_checkpoint"
    home, run = examples.airflow.home, examples.run(dag_id)
    output, state = run.output, run.state
    (job_id,) = xcoms(home, dag_id, "start")
    (file_id,) = xcoms(home, dag_id, "upload_training_data")
    tuned = state["fine_tunes"][job_id]
    assert tuned["status"] == "SUCCEEDED" and tuned["training_file_ids"] == [file_id], output[-3000:]
    assert xcoms(home, dag_id, "wait_for_training") == [tuned["finetuned_output"]]
    (exported,) = xcoms(home, dag_id, "export")
    assert exported.startswith(f"{tuned['finetuned_output']}-c")  # not the last checkpoint
    (compressed,) = xcoms(home, dag_id, "compress")
    assert [j["model"] for j in state["jobs"].values() if j["quantized_output"] == compressed] == [exported]


def test_scale_example_checks_the_spec_scales_and_deletes(examples):
    """The deploy checks its spec against the deployable models, the sensor waits, the scale
    waits deferred for RUNNING at the new capacity, the rate limits are set, the delete waits."""
    import sqlite3

    home, run = examples.airflow.home, examples.run("example_deploy_scale")
    output, before = run.output, run.calls_before
    with sqlite3.connect(home / "airflow.db") as db:
        query = "SELECT task_id, state FROM task_instance WHERE dag_id = 'example_deploy_scale'"
        states = dict(db.execute(query).fetchall())
    tasks = ["deploy", "running", "scale_up", "rate_limits", "undeploy"]
    assert states == dict.fromkeys(tasks, "success"), output[-3000:]
    (deployed,) = xcoms(home, "example_deploy_scale", "scale_up")
    assert f"Deployment {deployed} is RUNNING with capacity 2 (ready: 2)" in output
    calls = run.state["calls"]
    for call in ("GET /api/v1/deployments/models", "PUT /api/v1/deployments/{deployed_model}/scale"):
        assert calls.get(call, 0) > before.get(call, 0), call
    assert (
        calls["PUT /api/v1/deployments/{deployed_model}/update"]
        == before.get("PUT /api/v1/deployments/{deployed_model}/update", 0) + 1
    )
    assert deployed not in run.state["deployments"]  # deleted and waited for


def test_pool_example_runs_its_creates_in_the_pool(examples):
    """The pool made as the example's docstring says (deferred tasks counted), then the mapped
    creates run in it, each job created once."""
    import sqlite3

    airflow, dag_id = examples.airflow, "example_compress_pool"
    command = [sys.executable, "-m", "airflow", "pools", "set", "dashscope_compress_jobs", "2", "quota"]
    subprocess.run([*command, "--include-deferred"], env=airflow.env, check=True, capture_output=True)
    before = airflow.emulator.state(jobs=False)["creates"]
    run = examples.run(dag_id)
    with sqlite3.connect(airflow.home / "airflow.db") as db:
        query = "SELECT map_index, state, pool FROM task_instance WHERE dag_id = ?"
        rows = sorted(db.execute(query, (dag_id,)).fetchall())
        pool = "SELECT include_deferred FROM slot_pool WHERE pool = 'dashscope_compress_jobs'"
        (deferred,) = db.execute(pool)
    in_the_pool = ("success", "dashscope_compress_jobs")
    assert rows == [(0, *in_the_pool), (1, *in_the_pool)], run.output[-3000:]
    assert deferred == (1,) and run.state["creates"] == before + 2


def test_the_demo_command_runs_the_pipeline_and_leaks_no_key(tmp_path):
    """scripts/demo.py (the README's first command, after set-up) with a recognisable key."""

    key, home = "sk-DEMO-AUDIT-3e8a61c0", tmp_path / "home"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "demo.py"),
            "--job-seconds",
            "3",
            "--api-key",
            key,
            "--home",
            str(home),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    deployed = re.search(r"deployed model: (qwen3\.5-flash-2026-02-23-demo-quant-\S+)", done.stdout)
    assert deployed, done.stdout[-3000:]
    # deployed at the DAG's capacity 1, then scaled to its serving_capacity 2 and RUNNING again
    assert f"Deployment {deployed[1]} is RUNNING with capacity 2 " in done.stdout
    assert re.search(r"\[ft-\S+ #1\] ", done.stdout) and re.search(r"\[quant-\S+ #1\] ", done.stdout)
    # the files shipped with the example were uploaded, and the jobs read them by their ids
    training = re.search(r"train\.jsonl is file (\S+)", done.stdout)
    calibration = re.search(r"calibration\.jsonl is file (\S+)", done.stdout)
    assert training and calibration, done.stdout[-3000:]
    assert f"Data processing: train.jsonl ({training[1]})" in done.stdout
    assert f"Processing calibration data: calibration.jsonl ({calibration[1]})" in done.stdout
    assert key not in done.stdout + done.stderr
    assert (home / "airflow.db").exists() and files_containing(home, key) == []

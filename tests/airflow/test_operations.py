"""What a platform team reads of a pipeline run: the provider's metrics as they reach a statsd
server, and each job's cost in XCom, in the Asset event's extra and in its OpenLineage event.

One ``airflow dags test`` of example_compress_pipeline (fine-tune, compress and deploy deferred,
so the triggers run inline) against the emulator, with ``[metrics] statsd_on`` pointed at a UDP
socket of the test's (tests/support/statsd.py) and the OpenLineage provider writing its events to
a file. The compression job's first polls answer 503 (the connection tries each request twice),
so that a poll fails and requests are retried.
"""

from __future__ import annotations

import json

import pytest

from airflow_provider_compress.emulator.process import EmulatorProcess
from airflow_provider_compress.metrics import api_time
from tests.support import ROOT, has_openlineage, migrated_airflow_home
from tests.support.airflow_home import Airflow
from tests.support.live_stack import wait_until
from tests.support.statsd import StatsdListener

DAG_ID = "example_compress_pipeline"
METRICS = "airflow.dashscope."
STAGES = {"fine_tune": "fine_tune", "compress": "compress", "deploy": "deployment"}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow-operations")
    events = home / "openlineage.jsonl"
    env = {
        **migrated_airflow_home(home, ROOT / "example_dags"),
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(events), "append": True}
        ),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "tests",
    }
    with EmulatorProcess(job_seconds=2, log_lines=5) as emulator, StatsdListener() as statsd:
        env.update(statsd.airflow_env())
        env["AIRFLOW_CONN_DASHSCOPE_DEFAULT"] = emulator.connection_json(
            retry_limit=2, retry_delay=0.01, retry_max_delay=0.05
        )
        # The compression job's polls: 503, 503 (a failed poll), 503 then an answer.
        emulator.fail_next(3, 503, method="GET", path=r".*/compress/jobs/quant-[^/]+")
        airflow = Airflow(home, env, emulator)
        output = airflow.dags_test(DAG_ID)
        uploads = ["upload_training_data", "upload_calibration_data"]
        tasks = [*uploads, "fine_tune", "compress", "deploy", "scale"]
        assert airflow.states(DAG_ID) == dict.fromkeys(tasks, "success"), output[-3000:]
        # the last metric of the run, sent before the process ended; read once it arrived
        wait_until(lambda: statsd.counts(METRICS + "deployment.ended"), 10, "the deploy's metrics")
        yield airflow, statsd, events


def remote_ids(airflow: Airflow) -> dict[str, str]:
    return {
        "fine_tune": airflow.xcom(DAG_ID, "fine_tune", "job_id"),
        "compress": airflow.xcom(DAG_ID, "compress", "job_id"),
        "deployment": airflow.xcom(DAG_ID, "deploy", "deployed_model"),
    }


def test_each_resource_is_counted_once_created_and_once_ended_by_its_status(pipeline):
    _, statsd, _ = pipeline
    counts = statsd.counts(METRICS)
    for kind in ("fine_tune", "compress", "deployment"):
        assert counts[f"{METRICS}{kind}.created"] == 1, kind
        assert not any(name.startswith(f"{METRICS}{kind}.reattached") for name in counts)
    assert counts[f"{METRICS}fine_tune.ended.SUCCEEDED"] == 1
    assert counts[f"{METRICS}compress.ended.SUCCEEDED"] == 1
    assert counts[f"{METRICS}deployment.ended.RUNNING"] == 1  # the deploy's wait; a scale is no end
    assert [n for n in counts if ".ended." in n and not n.endswith((".SUCCEEDED", ".RUNNING"))] == []
    assert [n for n in counts if ".stopped." in n] == []  # nothing timed out or was killed


def test_the_lines_forwarded_are_the_jobs_whole_logs(pipeline):
    airflow, statsd, _ = pipeline
    counts, ids = statsd.counts(METRICS), remote_ids(airflow)
    for kind in ("fine_tune", "compress"):
        assert counts[f"{METRICS}{kind}.log_lines"] == len(airflow.emulator.full_log(ids[kind])), kind
    assert f"{METRICS}deployment.log_lines" not in counts  # deployments have no log


def test_a_failed_poll_and_the_retried_requests_are_counted(pipeline):
    _, statsd, _ = pipeline
    counts = statsd.counts(METRICS)
    assert counts[f"{METRICS}compress.poll_failed"] == 1
    assert counts[f"{METRICS}request.retried"] == 2  # one try again in each of the first two polls
    assert f"{METRICS}fine_tune.poll_failed" not in counts


def test_the_time_each_job_queued_and_ran_and_the_event_delay(pipeline):
    airflow, statsd, _ = pipeline
    timings, ids, state = statsd.timings(METRICS), remote_ids(airflow), airflow.emulator.state()
    job = state["jobs"][ids["compress"]]
    created, started, ended = (api_time(job[f]) for f in ("create_time", "start_time", "end_time"))
    assert timings[f"{METRICS}compress.queued"] == [pytest.approx((started - created) * 1000)]
    assert timings[f"{METRICS}compress.running"] == [pytest.approx((ended - started) * 1000)]
    assert timings[f"{METRICS}compress.total"] == [pytest.approx((ended - created) * 1000)]
    tuned = state["fine_tunes"][ids["fine_tune"]]  # the API gives a fine-tune no start_time
    total = (api_time(tuned["end_time"]) - api_time(tuned["create_time"])) * 1000
    assert timings[f"{METRICS}fine_tune.total"] == [pytest.approx(total)]
    assert f"{METRICS}fine_tune.queued" not in timings
    # one event per trigger, sent by the triggerer (inline in `dags test`): the deploy's and the scale's
    for kind, triggers in (("fine_tune", 1), ("compress", 1), ("deployment", 2)):
        delays = timings[f"{METRICS}{kind}.event_delay"]
        assert len(delays) == triggers and min(delays) >= 0, kind


def test_usage_is_counted_in_its_unit(pipeline):
    airflow, statsd, _ = pipeline
    counts, ids, state = statsd.counts(METRICS), remote_ids(airflow), airflow.emulator.state()
    assert counts[f"{METRICS}compress.usage"] == state["jobs"][ids["compress"]]["usage"]  # GPU seconds
    assert counts[f"{METRICS}fine_tune.usage"] == state["fine_tunes"][ids["fine_tune"]]["usage"]  # tokens


def test_each_jobs_usage_is_in_xcom_and_the_asset_event(pipeline):
    airflow, _, _ = pipeline
    ids, state = remote_ids(airflow), airflow.emulator.state()
    gpu_seconds = state["jobs"][ids["compress"]]["usage"]
    tokens = state["fine_tunes"][ids["fine_tune"]]["usage"]
    assert gpu_seconds > 0 and tokens > 0
    assert airflow.xcom(DAG_ID, "compress", "usage") == {"usage": gpu_seconds, "unit": "GPU seconds"}
    assert airflow.xcom(DAG_ID, "fine_tune", "usage") == {"usage": tokens, "unit": "tokens"}
    assert airflow.xcom(DAG_ID, "deploy", "usage") is None  # the API reports no billed time
    (extra,) = [json.loads(e) for (e,) in airflow.query("SELECT extra FROM asset_event")]
    assert extra["job_id"] == ids["compress"]
    assert (extra["usage"], extra["usage_unit"]) == (gpu_seconds, "GPU seconds")


@pytest.mark.skipif(not has_openlineage(), reason="the openlineage extra is not installed")
def test_each_jobs_usage_is_an_openlineage_run_facet(pipeline):
    airflow, _, events = pipeline
    ids, state = remote_ids(airflow), airflow.emulator.state()
    complete = {}
    for line in events.read_text().splitlines():
        event = json.loads(line)
        if event["eventType"] == "COMPLETE" and "." in event["job"]["name"]:
            complete[event["job"]["name"].split(".", 1)[1]] = event["run"]["facets"]
    expected = {
        "compress": (state["jobs"][ids["compress"]]["usage"], "GPU seconds", ids["compress"]),
        "fine_tune": (state["fine_tunes"][ids["fine_tune"]]["usage"], "tokens", ids["fine_tune"]),
    }
    for task_id, (usage, unit, resource_id) in expected.items():
        facet = complete[task_id]["dashscopeUsage"]
        assert (facet["usage"], facet["unit"], facet["resourceId"]) == (usage, unit, resource_id)
    assert "dashscopeUsage" not in complete["deploy"]

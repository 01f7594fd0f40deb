"""Console links and OpenLineage for the three stages: fine-tune -> compress -> deploy.

One `airflow dags test` of tests/dags' pipeline against the emulator, with Airflow's OpenLineage
provider (the ``openlineage`` extra) writing the events its listener emits to a file; then the
links the tasks stored and the datasets of those events. The links' and the lineage's own rules are
checked in tests/operators/test_links.py and test_lineage.py.
"""

from __future__ import annotations

import json

import pytest

from airflow_provider_compress.emulator.process import EmulatorProcess
from airflow_provider_compress.links.console import CompressJobLink, DeploymentLink, FineTuneJobLink
from tests.support import FAST_RETRY, MAINLAND, PAGES, has_openlineage, migrated_airflow_home
from tests.support.airflow_home import DAGS, Airflow


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow-lineage")
    events = home / "openlineage.jsonl"
    env = {
        **migrated_airflow_home(home, DAGS),
        # The provider's own listener, with its file transport: one JSON event per line.
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(events), "append": True}
        ),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "tests",
    }
    with EmulatorProcess(job_seconds=2, log_lines=3) as emulator:
        env["AIRFLOW_CONN_DASHSCOPE_DEFAULT"] = emulator.connection_json(**FAST_RETRY)
        airflow = Airflow(home, env, emulator)
        output = airflow.dags_test("test_pipeline")
        states = airflow.states("test_pipeline")
        assert states == dict.fromkeys(["fine_tune", "compress", "deploy"], "success"), output[-3000:]
        yield airflow, events


def remote_ids(airflow: Airflow) -> dict[str, str]:
    return {
        "fine_tune": airflow.xcom("test_pipeline", "fine_tune", "job_id"),
        "compress": airflow.xcom("test_pipeline", "compress", "job_id"),
        "deploy": airflow.xcom("test_pipeline", "deploy", "deployed_model"),
    }


def test_every_stage_stores_its_console_link(pipeline):
    airflow, _ = pipeline
    keys = {"fine_tune": FineTuneJobLink, "compress": CompressJobLink, "deploy": DeploymentLink}
    for task_id, remote_id in remote_ids(airflow).items():
        link = airflow.xcom("test_pipeline", task_id, keys[task_id]().xcom_key)
        # the emulator's host is no Model Studio region: the API's default, mainland console
        assert link == MAINLAND + PAGES[task_id].format(remote_id)


@pytest.mark.skipif(not has_openlineage(), reason="the openlineage extra is not installed")
def test_the_openlineage_listener_emits_the_chain_of_datasets(pipeline):
    airflow, events = pipeline
    complete = {}
    for line in events.read_text().splitlines():
        event = json.loads(line)
        if event["eventType"] == "COMPLETE" and "." in event["job"]["name"]:
            complete[event["job"]["name"].split(".", 1)[1]] = event

    def names(datasets: list[dict]) -> list[str]:
        assert {d["namespace"] for d in datasets} <= {namespace}
        return [d["name"] for d in datasets]

    namespace = "dashscope://" + airflow.emulator.url.split("://", 1)[1]  # no region: the host
    tuned = airflow.xcom("test_pipeline", "fine_tune")
    compressed = airflow.xcom("test_pipeline", "compress")
    deployed = airflow.xcom("test_pipeline", "deploy")
    expected = {
        "fine_tune": (["models/qwen3.5-flash-2026-02-23", "files/file-train-1"], [f"models/{tuned}"]),
        "compress": ([f"models/{tuned}"], [f"models/{compressed}"]),
        "deploy": ([f"models/{compressed}"], [f"deployments/{deployed}"]),
    }
    assert sorted(complete) == sorted(expected)
    ids = remote_ids(airflow)
    for task_id, (inputs, outputs) in expected.items():
        event = complete[task_id]
        assert (names(event["inputs"]), names(event["outputs"])) == (inputs, outputs), task_id
        facet = event["run"]["facets"]["externalQuery"]
        assert (facet["externalQueryId"], facet["source"]) == (ids[task_id], namespace)


# --- the rules, directly ---------------------------------------------------------------------

"""The example DAGs' runs, shared by tests/airflow/test_example_dags.py and
test_links_and_lineage.py: one Airflow home, one emulator, each DAG run once."""

from __future__ import annotations

import json

import pytest

from airflow_provider_compress.emulator.process import EmulatorProcess
from tests.support import migrated_airflow_home
from tests.support.airflow_home import EXAMPLES, Airflow, ExampleRuns


@pytest.fixture(scope="session")
def examples(tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow-examples")
    events = home / "openlineage.jsonl"
    env = {
        **migrated_airflow_home(home, EXAMPLES),
        # The OpenLineage provider's own listener (the openlineage extra), with its file
        # transport: one JSON event per line. Without the provider these settings are inert.
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(events), "append": True}
        ),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "tests",
    }
    with EmulatorProcess(job_seconds=2, log_lines=3) as emulator:
        env["AIRFLOW_CONN_DASHSCOPE_DEFAULT"] = emulator.connection_json(retry_delay=0.01)
        yield ExampleRuns(Airflow(home, env, emulator), events)

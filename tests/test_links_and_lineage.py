"""Console links and OpenLineage for the three stages: fine-tune -> compress -> deploy.

One `airflow dags test` of tests/dags' pipeline against the emulator, with Airflow's OpenLineage
provider (the ``openlineage`` extra) writing the events its listener emits to a file; then the
links the tasks stored and the datasets of those events. The region rules are checked directly.
"""

from __future__ import annotations

import json

import pytest
from conftest import FAST_RETRY, migrated_airflow_home
from test_operators import DAGS, Airflow

from airflow_provider_compress import regions
from airflow_provider_compress.emulator.process import EmulatorProcess
from airflow_provider_compress.links.console import CompressJobLink, DeploymentLink, FineTuneJobLink
from airflow_provider_compress.models import Deployment
from airflow_provider_compress.operators.deployment import DeployModelOperator
from airflow_provider_compress.operators.finetune import CreateFineTuneJobOperator
from airflow_provider_compress.protocol import ClientSettings

MAINLAND = "https://bailian.console.aliyun.com"
INTERNATIONAL = "https://bailian.console.alibabacloud.com"
PAGES = {
    "fine_tune": "/?tab=model#/efm/model_manager?job_id={}",
    "compress": "/?tab=model#/model-compression/{}",
    "deploy": "/?tab=model#/efm/model_deploy?deployed_model={}",
}


def has_openlineage() -> bool:
    try:
        import airflow.providers.openlineage  # noqa: F401
    except ImportError:
        return False
    return True


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


@pytest.mark.parametrize(
    ("base_url", "region"),
    [
        ("https://dashscope.aliyuncs.com", "cn-beijing"),
        ("https://dashscope-intl.aliyuncs.com/api/v1", "ap-southeast-1"),
        ("https://ws-123.cn-beijing.maas.aliyuncs.com", "cn-beijing"),
        ("https://ws-123.ap-southeast-1.maas.aliyuncs.com", "ap-southeast-1"),
        ("https://ws-123.us-east-1.maas.aliyuncs.com", "us-east-1"),
        ("http://127.0.0.1:8089", None),
        ("https://dashscope.aliyuncs.com.proxy.example", None),
    ],
)
def test_region_of_the_host(base_url, region):
    assert regions.region_of(base_url) == region


def settings(host: str, **extra) -> ClientSettings:
    return ClientSettings.from_connection(host=host, password="sk-x", extra=extra)


@pytest.mark.parametrize(
    ("host", "console"),
    [
        ("dashscope.aliyuncs.com", MAINLAND),
        ("https://dashscope-intl.aliyuncs.com", INTERNATIONAL),
        ("https://ws-1.ap-southeast-1.maas.aliyuncs.com", INTERNATIONAL),
        ("https://ws-1.cn-beijing.maas.aliyuncs.com", MAINLAND),
    ],
)
def test_each_link_opens_the_console_of_the_region(host, console):
    links = (FineTuneJobLink(), CompressJobLink(), DeploymentLink())
    for link, page in zip(links, PAGES.values(), strict=True):
        assert link.url(settings(host), "x-1") == console + page.format("x-1")


def test_a_connection_extra_replaces_one_kind_of_link():
    custom = settings(
        "dashscope.aliyuncs.com", deployment_console_url="https://ops.example/d/{deployed_model}"
    )
    assert DeploymentLink().url(custom, "m-1") == "https://ops.example/d/m-1"
    assert CompressJobLink().url(custom, "q-1") == MAINLAND + PAGES["compress"].format("q-1")


@pytest.mark.parametrize(
    "pattern",
    ["https://x/{oops}", "https://x/{job_id.x}", "https://x/{0}", "https://x/{", "https://x/{job_id!z}"],
)
def test_a_bad_link_pattern_is_a_warning_not_a_failure(monkeypatch, capsys, conn, pattern):
    """on_created stores every console link it can; a pattern that cannot be filled is logged,
    whatever str.format raises for it (KeyError, AttributeError, IndexError, ValueError)."""
    pushed = {}

    class TaskInstance:  # what on_created uses of the context
        def xcom_push(self, key, value):
            pushed[key] = value

    monkeypatch.setenv("AIRFLOW_CONN_DASHSCOPE_DEFAULT", conn.connection_json(finetune_console_url=pattern))
    operator = CreateFineTuneJobOperator(task_id="t", model="m", training_file_ids=["f"])
    job = operator.hook.create_job(model="qwen3.5-flash-2026-02-23", training_file_ids=["file-train-1"])
    operator.on_created({"ti": TaskInstance()}, job)  # type: ignore[arg-type]
    assert pushed == {}
    warning = "No 'Fine-tune job' link: the extra finetune_console_url is not a valid pattern"
    assert warning in capsys.readouterr().out


@pytest.mark.skipif(not has_openlineage(), reason="the openlineage extra is not installed")
def test_lineage_names_carry_the_region_and_the_workspace():
    from airflow_provider_compress import lineage

    intl = settings("https://dashscope-intl.aliyuncs.com", workspace_id="ws-9")
    model = lineage.dataset(intl, "models", "m-1")
    assert (model.namespace, model.name) == ("dashscope://ap-southeast-1", "ws-9/models/m-1")
    mainland = lineage.dataset(settings(""), "deployments", "d-1")
    assert (mainland.namespace, mainland.name) == ("dashscope://cn-beijing", "deployments/d-1")


@pytest.mark.skipif(not has_openlineage(), reason="the openlineage extra is not installed")
def test_a_failed_deployment_reports_its_input_and_id_but_no_output(conn):
    operator = DeployModelOperator(task_id="deploy", model_name="m-1")
    operator.job_id = "m-1-dep"
    operator.resource = Deployment.from_api({"deployed_model": "m-1-dep", "status": "FAILED"})
    lineage = operator.get_openlineage_facets_on_complete(None)
    assert [d.name for d in lineage.inputs] == ["models/m-1"] and lineage.outputs == []
    assert lineage.run_facets["externalQuery"].externalQueryId == "m-1-dep"


def test_fine_tune_inputs_are_the_base_model_and_its_data():
    operator = CreateFineTuneJobOperator(
        task_id="t",
        model="qwen3.5-flash-2026-02-23",
        training_datasets=[
            {"data_source_type": "file_id", "file_id": "file-a"},
            {
                "data_source_type": "oss_mount",
                "mount_storage": {"region": "cn-beijing", "bucket": "b", "file_path": "train/data.jsonl"},
            },
        ],
        validation_file_ids=["file-v"],
    )
    assert operator.lineage_inputs() == [
        ("models", "qwen3.5-flash-2026-02-23"),
        ("files", "file-a"),
        ("oss://b", "train/data.jsonl"),
        ("files", "file-v"),
    ]

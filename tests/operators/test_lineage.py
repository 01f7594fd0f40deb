"""What the tasks report to OpenLineage: names and namespaces (one per region, whatever host
serves it), facets, a failed task's report, what a record says a resource read, an upload's
source. The events of real runs of every example DAG: tests/airflow/test_links_and_lineage.py."""

from __future__ import annotations

import pytest

from airflow_provider_compress.exceptions import CompressValidationError
from airflow_provider_compress.hooks.compress import CompressHook
from airflow_provider_compress.models import Deployment, FineTuneJob, Job
from airflow_provider_compress.operators.compress import CreateCompressJobOperator
from airflow_provider_compress.operators.deployment import (
    DeleteDeploymentOperator,
    DeployModelOperator,
    ScaleDeploymentOperator,
)
from airflow_provider_compress.operators.files import UploadFileOperator
from airflow_provider_compress.operators.finetune import CreateFineTuneJobOperator
from airflow_provider_compress.protocol import COMPRESS, DEPLOYMENT, FINE_TUNE
from airflow_provider_compress.sensors.compress import CompressJobSensor
from tests.support import (
    INTERNATIONAL,
    MAINLAND,
    PAGES,
    PLAIN_TEMPLATE,
    SFT_MODEL,
    has_openlineage,
    settings_for,
)
from tests.support.files import jsonl, wait_until

pytestmark = pytest.mark.skipif(not has_openlineage(), reason="the openlineage extra is not installed")


@pytest.mark.parametrize(
    ("host", "extra", "region"),
    [
        ("", {}, "cn-beijing"),
        ("https://dashscope.aliyuncs.com", {}, "cn-beijing"),
        ("https://ws-1.cn-beijing.maas.aliyuncs.com", {}, "cn-beijing"),
        ("https://gw.example.com/dashscope", {"region": "cn-beijing"}, "cn-beijing"),
        ("https://user:secret@gw.example.com", {"region": "cn-beijing"}, "cn-beijing"),
        ("http://127.0.0.1:8089", {}, "cn-beijing"),  # no region of its own: the API's default host's
        ("https://dashscope-intl.aliyuncs.com", {}, "ap-southeast-1"),
        ("https://ws-1.ap-southeast-1.maas.aliyuncs.com", {}, "ap-southeast-1"),
        ("https://gw.example.com", {"region": "ap-southeast-1"}, "ap-southeast-1"),
        ("https://dashscope.aliyuncs.com", {"region": "ap-southeast-1"}, "ap-southeast-1"),  # declared wins
    ],
)
def test_one_namespace_per_region_whatever_host_serves_it(host, extra, region):
    from airflow_provider_compress import lineage

    model = lineage.dataset(settings_for(host, **extra), "models", "m-1")
    assert (model.namespace, model.name) == (f"dashscope://{region}", "models/m-1")


def test_a_region_that_is_no_region_id_is_refused():
    with pytest.raises(CompressValidationError) as raised:
        settings_for("https://gw.example.com", region="Beijing")
    assert raised.value.field == "extra.region"


def test_names_carry_the_workspace_and_datasets_their_facets():
    from airflow_provider_compress import lineage
    from airflow_provider_compress.links.console import DeploymentLink

    intl = settings_for("https://dashscope-intl.aliyuncs.com", workspace_id="ws-9")
    deployment = lineage.dataset(intl, "deployments", "d-1", link=(DeploymentLink(), "d-1"))
    assert (deployment.namespace, deployment.name) == ("dashscope://ap-southeast-1", "ws-9/deployments/d-1")
    facets = deployment.facets
    assert (facets["datasetType"].datasetType, facets["datasetType"].subType) == ("MODEL", "DEPLOYMENT")
    url = INTERNATIONAL + PAGES["deploy"].format("d-1")
    assert facets["documentation"].description == f"Model Studio deployment d-1: {url}"
    file = lineage.dataset(intl, "files", "file-1")
    assert file.facets["datasetType"].datasetType == "FILE"
    assert file.facets["documentation"].description == "Model Studio file file-1"
    oss = lineage.dataset(intl, "oss://bucket", "train/data.jsonl")  # OSS's own name, no facet of ours
    assert (oss.namespace, oss.name, oss.facets) == ("oss://bucket", "train/data.jsonl", {})


def test_a_link_pattern_that_cannot_be_filled_leaves_the_documentation_without_it():
    from airflow_provider_compress import lineage
    from airflow_provider_compress.links.console import CompressJobLink

    broken = settings_for("", compress_console_url="https://x/{oops}")
    model = lineage.dataset(broken, "models", "m-q", link=(CompressJobLink(), "quant-1"))
    assert model.facets["documentation"].description == "Model Studio model m-q"


def test_a_failed_deployment_reports_its_input_and_id_but_no_output(conn):
    operator = DeployModelOperator(task_id="deploy", model_name="m-1")
    operator.resource_id = "m-1-dep"
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


def test_a_compression_reads_its_model_and_its_calibration_files():
    operator = CreateCompressJobOperator(
        task_id="t", model="m-1", template_id="t-1", custom_calibration_file_ids=iter(["file-c1", "file-c2"])
    )
    assert operator.lineage_inputs() == [("models", "m-1"), ("files", "file-c1"), ("files", "file-c2")]


@pytest.mark.parametrize(
    ("kind", "record", "inputs"),
    [
        (
            COMPRESS,
            Job.from_api({"job_id": "q", "model": "m-1", "custom_calibration_file_ids": ["file-c"]}),
            [("models", "m-1"), ("files", "file-c")],
        ),
        (
            FINE_TUNE,
            FineTuneJob.from_api(
                {
                    "job_id": "ft",
                    "model": "base",
                    "model_name": "display name, not an input",
                    "training_file_ids": [],  # new-style jobs report their datasets instead
                    "training_datasets": [{"data_source_type": "file_id", "file_id": "file-t"}],
                    "validation_file_ids": ["file-v"],
                }
            ),
            [("models", "base"), ("files", "file-t"), ("files", "file-v")],
        ),
        (DEPLOYMENT, Deployment.from_api({"deployed_model": "d", "model_name": "m-2"}), [("models", "m-2")]),
        (COMPRESS, Job.from_api({"job_id": "q", "custom_calibration_file_ids": "not a list"}), []),
    ],
)
def test_what_a_record_says_a_resource_read(kind, record, inputs):
    from airflow_provider_compress import lineage

    assert lineage.recorded_inputs(kind, record) == inputs


def test_a_sensor_reports_the_watched_jobs_lineage_read_again_at_the_end(conn):
    job = CompressHook().create_job(
        model=SFT_MODEL, template_id=PLAIN_TEMPLATE, custom_calibration_file_ids=["f-1"]
    )
    sensor = CompressJobSensor(task_id="wait", job_id=job.job_id)
    running = sensor.get_openlineage_facets_on_complete(None)  # a sensor that timed out, say
    assert [d.name for d in running.inputs] == [f"models/{SFT_MODEL}", "files/f-1"] and running.outputs == []
    wait_until(lambda: conn.job(job.job_id)["status"] == "SUCCEEDED")
    done = sensor.get_openlineage_facets_on_complete(None)
    (output,) = done.outputs
    assert output.name == f"models/{conn.job(job.job_id)['quantized_output']}"
    assert output.facets["documentation"].description.endswith(
        MAINLAND + PAGES["compress"].format(job.job_id)
    )
    assert done.run_facets["externalQuery"].externalQueryId == job.job_id


@pytest.mark.parametrize(
    ("operator_class", "change"), [(ScaleDeploymentOperator, "ALTER"), (DeleteDeploymentOperator, "DROP")]
)
def test_a_scale_or_delete_reports_its_change_of_the_deployment_only_when_it_succeeded(
    conn, operator_class, change
):
    operator = operator_class(task_id="t", deployed_model="d-1")
    done = operator.get_openlineage_facets_on_complete(None)
    (output,) = done.outputs
    assert (output.name, output.facets["lifecycleStateChange"].lifecycleStateChange.value) == (
        "deployments/d-1",
        change,
    )
    failed = operator.get_openlineage_facets_on_failure(None)
    assert (failed.inputs, failed.outputs) == ([], [])
    assert failed.run_facets["externalQuery"].externalQueryId == "d-1"


def test_an_upload_reports_the_file_and_where_it_was_read_from(conn, tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_bytes(jsonl())
    operator = UploadFileOperator(task_id="upload", path=str(path))
    assert operator.get_openlineage_facets_on_complete(None).outputs == []  # nothing uploaded yet
    file_id = operator.execute({})
    (output,) = operator.get_openlineage_facets_on_complete(None).outputs
    assert output.name == f"files/{file_id}"
    (source,) = output.facets["symlinks"].identifiers
    assert (source.namespace, source.name, source.type) == ("file", str(path), "FILE")
    from_bytes = UploadFileOperator(task_id="upload", data=jsonl(), name="x.jsonl")
    from_bytes.execute({})
    (output,) = from_bytes.get_openlineage_facets_on_complete(None).outputs
    assert "symlinks" not in output.facets

"""What the operators report to OpenLineage: dataset names, a failed deployment's report, a
fine-tune's inputs. The events of a real run: tests/airflow/test_links_and_lineage.py."""

from __future__ import annotations

import pytest

from airflow_provider_compress.models import Deployment
from airflow_provider_compress.operators.deployment import DeployModelOperator
from airflow_provider_compress.operators.finetune import CreateFineTuneJobOperator
from tests.support import has_openlineage, settings_for


@pytest.mark.skipif(not has_openlineage(), reason="the openlineage extra is not installed")
def test_lineage_names_carry_the_region_and_the_workspace():
    from airflow_provider_compress import lineage

    intl = settings_for("https://dashscope-intl.aliyuncs.com", workspace_id="ws-9")
    model = lineage.dataset(intl, "models", "m-1")
    assert (model.namespace, model.name) == ("dashscope://ap-southeast-1", "ws-9/models/m-1")
    mainland = lineage.dataset(settings_for(""), "deployments", "d-1")
    assert (mainland.namespace, mainland.name) == ("dashscope://cn-beijing", "deployments/d-1")


@pytest.mark.skipif(not has_openlineage(), reason="the openlineage extra is not installed")
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

"""``template_ext = (".json",)``: a field that takes a mapping or a list may name a .json file,
rendered as a template and read as JSON before ``execute``. A real run of one:
example_compress_pipeline's fine-tune (tests/airflow/test_links_and_lineage.py)."""

from __future__ import annotations

import datetime

import pytest
from airflow.sdk import DAG

from airflow_provider_compress.exceptions import CompressValidationError
from airflow_provider_compress.operators.compress import CreateCompressJobOperator
from airflow_provider_compress.operators.deployment import DeployModelOperator, ScaleDeploymentOperator
from airflow_provider_compress.operators.files import UploadFileOperator
from airflow_provider_compress.operators.finetune import CreateFineTuneJobOperator
from airflow_provider_compress.operators.templates import JsonTemplates

# (operator, its other required arguments, a field read from JSON, the file, the value it renders to)
CASES = [
    (
        CreateCompressJobOperator,
        {"model": "m", "template_id": "t"},
        "hyper_parameters",
        '{"calib_seq_len": {{ params.length }}, "fast": true}',
        {"calib_seq_len": 2048, "fast": True},
    ),
    (
        CreateCompressJobOperator,
        {"model": "m", "template_id": "t"},
        "custom_calibration_file_ids",
        '["file-{{ params.length }}"]',
        ["file-2048"],
    ),
    (
        CreateFineTuneJobOperator,
        {"model": "m"},
        "training_datasets",
        '[{"data_source_type": "file_id", "file_id": "file-{{ params.length }}"}]',
        [{"data_source_type": "file_id", "file_id": "file-2048"}],
    ),
    (
        DeployModelOperator,
        {"model_name": "m"},
        "extra",
        '{"rpm_limit": {{ params.length }}, "enable_thinking": false}',
        {"rpm_limit": 2048, "enable_thinking": False},
    ),
    (
        ScaleDeploymentOperator,
        {"deployed_model": "d"},
        "ptu_capacity",
        '{"input_tpm": {{ params.length }}, "output_tpm": 1}',
        {"input_tpm": 2048, "output_tpm": 1},
    ),
]


def rendered(operator) -> None:
    """What the task runner does before ``execute``: render the templated fields, then pre_execute."""
    context = {"params": {"length": 2048}, "ti": XComSink()}
    operator.render_template_fields(context)
    operator.pre_execute(context)


class XComSink:  # the console links a task stores before it runs (they need the connection)
    def xcom_push(self, key, value):
        pass


@pytest.mark.parametrize("native", [False, True], ids=["text", "native"])
@pytest.mark.parametrize(("operator_class", "required", "field", "text", "value"), CASES)
def test_a_json_file_names_a_mapping_or_list_field(
    conn, tmp_path, native, operator_class, required, field, text, value
):
    (tmp_path / "value.json").write_text(text)
    with DAG(
        "t",
        schedule=None,
        start_date=datetime.datetime(2026, 1, 1),
        template_searchpath=[str(tmp_path)],
        render_template_as_native_obj=native,
    ):
        operator = operator_class(task_id="t", **required, **{field: "value.json"})
    assert field in operator.json_fields and ".json" in operator.template_ext
    rendered(operator)
    assert getattr(operator, field) == value


def test_a_file_that_renders_to_no_json_names_the_field(conn, tmp_path):
    (tmp_path / "broken.json").write_text('{"calib_seq_len": {{ params.length }},}')
    with DAG(
        "t", schedule=None, start_date=datetime.datetime(2026, 1, 1), template_searchpath=[str(tmp_path)]
    ):
        operator = CreateCompressJobOperator(
            task_id="t", model="m", template_id="t", hyper_parameters="broken.json"
        )
    with pytest.raises(CompressValidationError) as raised:
        rendered(operator)
    assert raised.value.field == "hyper_parameters" and "must render to JSON" in str(raised.value)


def test_only_the_operators_with_mapping_or_list_fields_read_json_files():
    """An upload's path may end in .json: it is the file to upload, not a template."""
    assert not issubclass(UploadFileOperator, JsonTemplates)
    assert ".json" not in UploadFileOperator.template_ext

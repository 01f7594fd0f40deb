"""The operators', sensor's and triggers' arguments, checked when the DAG is built: bad values are
named, and the former name of a renamed argument still works, with a warning."""

from __future__ import annotations

import pytest
from airflow.exceptions import AirflowProviderDeprecationWarning

from airflow_provider_compress.exceptions import CompressValidationError
from airflow_provider_compress.operators.compress import CreateCompressJobOperator
from airflow_provider_compress.operators.deployment import DeployModelOperator
from tests.support import PLAIN_TEMPLATE, SFT_MODEL


@pytest.mark.parametrize("value", [0, -1, 0.5, None])
def test_intervals_below_a_second_are_refused_where_they_are_given(value):
    from airflow_provider_compress.operators.compress import (
        CancelCompressJobOperator,
        CreateCompressJobOperator,
    )
    from airflow_provider_compress.operators.deployment import DeleteDeploymentOperator
    from airflow_provider_compress.operators.finetune import ExportCheckpointOperator
    from airflow_provider_compress.sensors.compress import CompressJobSensor
    from airflow_provider_compress.sensors.deployment import DeploymentSensor
    from airflow_provider_compress.triggers.compress import CompressJobTrigger
    from airflow_provider_compress.triggers.deployment import DeploymentDeletionTrigger

    builders = {
        "poll_interval": [
            lambda: CreateCompressJobOperator(
                task_id="t", model=SFT_MODEL, template_id=PLAIN_TEMPLATE, poll_interval=value
            ),
            lambda: CancelCompressJobOperator(task_id="t", job_id="j", poll_interval=value),
            lambda: DeleteDeploymentOperator(task_id="t", deployed_model="d", poll_interval=value),
            lambda: ExportCheckpointOperator(task_id="t", job_id="j", checkpoint="c", poll_interval=value),
            lambda: CompressJobTrigger("dashscope_default", "j", poll_interval=value),
            lambda: DeploymentDeletionTrigger("dashscope_default", "d", poll_interval=value),
        ],
        "poke_interval": [
            lambda: CompressJobSensor(task_id="t", job_id="j", poke_interval=value),
            lambda: DeploymentSensor(task_id="t", deployed_model="d", poke_interval=value),
        ],
    }
    for field, makers in builders.items():
        for make in makers:
            # Before ours, Airflow's own sensor refuses some values (on 3.1: AirflowException).
            refusals = Exception if field == "poke_interval" else ValueError
            with pytest.raises(refusals, match=field):
                make()


@pytest.mark.parametrize("value", [0, -5])
def test_timeouts_must_be_positive(value):
    from airflow_provider_compress.operators.compress import (
        CancelCompressJobOperator,
        CreateCompressJobOperator,
    )
    from airflow_provider_compress.operators.deployment import DeleteDeploymentOperator
    from airflow_provider_compress.operators.finetune import ExportCheckpointOperator

    for make in [
        lambda: CreateCompressJobOperator(
            task_id="t", model=SFT_MODEL, template_id=PLAIN_TEMPLATE, timeout=value
        ),
        lambda: CancelCompressJobOperator(task_id="t", job_id="j", timeout=value),
        lambda: DeleteDeploymentOperator(task_id="t", deployed_model="d", timeout=value),
        lambda: ExportCheckpointOperator(task_id="t", job_id="j", checkpoint="c", timeout=value),
    ]:
        with pytest.raises(ValueError, match="timeout: must be a number of seconds > 0"):
            make()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"if_exists": "maybe"}, "if_exists"),
        ({"poll_interval": 0}, "poll_interval"),
        ({"timeout": -1}, "timeout"),
    ],
)
def test_bad_operator_arguments_are_named(kwargs, field):
    with pytest.raises(CompressValidationError) as raised:  # as docs/errors.md says
        CreateCompressJobOperator(task_id="t", model=SFT_MODEL, template_id=PLAIN_TEMPLATE, **kwargs)
    assert raised.value.field == field


@pytest.mark.parametrize(
    "make",
    [
        lambda **given: CreateCompressJobOperator(
            task_id="t", model=SFT_MODEL, template_id=PLAIN_TEMPLATE, **given
        ),
        lambda **given: DeployModelOperator(task_id="t", model_name=SFT_MODEL, capacity=1, **given),
    ],
)
def test_the_former_name_if_job_exists_still_works_with_a_warning(make):
    with pytest.warns(AirflowProviderDeprecationWarning, match="if_job_exists is deprecated: use if_exists"):
        assert make(if_job_exists="fail").if_exists == "fail"
    assert make(if_exists="create_new").if_exists == "create_new"
    assert make().if_exists == "reattach"
    with pytest.raises(
        CompressValidationError, match="if_job_exists: the former name of if_exists; pass if_exists only"
    ):
        make(if_exists="reattach", if_job_exists="fail")

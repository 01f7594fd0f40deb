"""The create specs: what they compare with an existing resource."""

from __future__ import annotations

from airflow_provider_compress.models import Job
from airflow_provider_compress.specs import CompressJobSpec
from tests.support import PLAIN_TEMPLATE, SFT_MODEL


def test_a_field_the_api_left_out_is_no_mismatch():
    spec = CompressJobSpec(model=SFT_MODEL, template_id=PLAIN_TEMPLATE, output_model_suffix="a")
    assert spec.differences(Job.from_api({"job_id": "j", "model": SFT_MODEL})) == []
    (difference,) = spec.differences(Job.from_api({"job_id": "j", "model": "other-model"}))
    assert (difference.field, difference.asked, difference.found) == ("model", SFT_MODEL, "other-model")

"""The response models: unknown fields kept, statuses compared as the API's strings."""

from __future__ import annotations

import pytest

from airflow_provider_compress.models import Job, JobStatus
from airflow_provider_compress.protocol import COMPRESS


def test_models_keep_unknown_fields():
    job = Job.from_api({"job_id": "quant-1", "status": "RUNNING", "brand_new": {"x": 1}, "error": None})
    assert job.status == "RUNNING" and job.status is JobStatus.RUNNING
    assert job.brand_new == {"x": 1} and job.extra == {"brand_new": {"x": 1}}
    assert job.to_dict()["brand_new"] == {"x": 1}
    future = Job.from_api({"job_id": "quant-2", "status": "ARCHIVED"})
    assert future.status == "ARCHIVED" and not COMPRESS.is_terminal(future.status)
    with pytest.raises(AttributeError):
        _ = job.not_there


def test_statuses_print_as_the_apis_strings():
    assert str(JobStatus.CANCELING) == "CANCELING" and f"{JobStatus.RUNNING}" == "RUNNING"

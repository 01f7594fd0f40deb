"""How a retry finds its earlier try's resource: derived names, generations, reattach or create."""

from __future__ import annotations

import re

import pytest
from airflow.sdk.exceptions import AirflowException

from airflow_provider_compress.emulator.checks import JOB_NAME_PATTERN
from airflow_provider_compress.models import Job
from airflow_provider_compress.operators.naming import (
    derive_job_name,
    generation_name,
    latest_generation,
    plan_create,
)
from airflow_provider_compress.protocol import COMPRESS


def test_derived_names_are_stable_unique_and_within_the_api_rules():
    name = derive_job_name("nightly_compress", "scheduled__2026-04-01T00:00:00+00:00", "compress", 3)
    assert name == derive_job_name("nightly_compress", "scheduled__2026-04-01T00:00:00+00:00", "compress", 3)
    others = {
        derive_job_name("nightly_compress", "scheduled__2026-04-01T00:00:00+00:00", "compress", 4),
        derive_job_name("nightly_compress", "scheduled__2026-04-02T00:00:00+00:00", "compress", 3),
        derive_job_name("nightly_compress", "scheduled__2026-04-01T00:00:00+00:00", "other", 3),
        derive_job_name("other", "scheduled__2026-04-01T00:00:00+00:00", "compress", 3),
    }
    assert name not in others and len(others) == 4
    long = derive_job_name("d" * 200 + "/ü", "manual__x", "t" * 200, -1)
    for candidate in (name, long, f"{long}-g99"):
        assert len(candidate) <= 50 and re.fullmatch(r"[A-Za-z0-9_.-]+", candidate)
        assert JOB_NAME_PATTERN.fullmatch(candidate)  # the emulator accepts it too


def job(name: str, status: str) -> Job:
    return Job.from_api({"job_id": f"id-{name}", "job_name": name, "status": status})


def test_latest_generation_ignores_names_that_only_look_alike():
    jobs = [
        job("base", "FAILED"),
        job("base-g3", "RUNNING"),
        job("base-g2", "CANCELED"),
        job("base-gx", "RUNNING"),
    ]
    jobs += [job("base2", "RUNNING"), job("xbase-g9", "RUNNING")]
    generation, latest = latest_generation(jobs, "base")
    assert generation == 3 and latest is not None and latest.job_name == "base-g3"
    assert latest_generation([], "base") == (0, None)


@pytest.mark.parametrize(
    ("status", "policy", "reattach", "name"),
    [
        ("RUNNING", "reattach", True, ""),
        ("PENDING", "reattach", True, ""),
        ("CANCELING", "reattach", False, "base-g3"),
        ("SUCCEEDED", "reattach", True, ""),
        ("FAILED", "reattach", False, "base-g3"),
        ("CANCELED", "reattach", False, "base-g3"),
        ("RUNNING", "create_new", False, "base-g3"),
    ],
)
def test_plan_create(status, policy, reattach, name):
    found, to_create = plan_create(COMPRESS, "base", 2, job("base-g2", status), policy)
    assert (found is not None) is reattach and to_create == name


def test_plan_create_without_an_earlier_job_and_with_fail():
    assert plan_create(COMPRESS, "base", 0, None, "fail") == (None, "base")
    with pytest.raises(AirflowException, match="already exists"):
        plan_create(COMPRESS, "base", 1, job("base", "SUCCEEDED"), "fail")


def test_generations_of_a_long_name_stay_within_50_characters():
    base = "n" * 50
    assert len(generation_name(base, 12)) == 50 and generation_name(base, 12).endswith("-g12")
    jobs = [job(generation_name(base, 2), "FAILED"), job(generation_name(base, 12), "RUNNING")]
    assert latest_generation(jobs, base)[0] == 12

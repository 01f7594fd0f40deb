"""The compress operator writes which task instance started a job into the job's description (when
the task gives none), where the view and the orphan operator read it; a later try that finds the
job reattaches to it as before. Against the emulator, without a DAG run."""

from __future__ import annotations

import uuid

from airflow_provider_compress.hooks.compress import CompressHook
from airflow_provider_compress.operators import base
from airflow_provider_compress.operators.compress import CreateCompressJobOperator
from airflow_provider_compress.ownership import MARKER, TaskRef, parse_marker
from tests.support import PLAIN_TEMPLATE, SFT_MODEL, task_context


def test_a_job_created_by_a_task_names_it_in_its_description(slow_conn):
    context = task_context(1)
    operator = CreateCompressJobOperator(task_id="t", model=SFT_MODEL, template_id=PLAIN_TEMPLATE)
    job = operator._create_or_reattach(context)
    described = CompressHook().get_job(job.job_id).job_description  # as the API stored it
    ti = context["ti"]
    owner = parse_marker(described)
    assert described.startswith(MARKER)
    assert owner == TaskRef(ti.dag_id, ti.run_id, ti.task_id, -1) and owner.try_number == 1


def test_a_description_the_task_gives_is_kept(slow_conn):
    operator = CreateCompressJobOperator(
        task_id="t", model=SFT_MODEL, template_id=PLAIN_TEMPLATE, job_description="nightly compression"
    )
    job = operator._create_or_reattach(task_context(1))
    assert CompressHook().get_job(job.job_id).job_description == "nightly compression"


def test_a_later_try_reattaches_to_the_job_its_description_names(monkeypatch, slow_conn):
    """The description names try 1; a retry (try 2) sees no difference in it and adopts the job."""
    monkeypatch.setattr(base, "EARLIER_TRY_GRACE", 0)
    run_id = f"manual__{uuid.uuid4().hex}"
    operator = CreateCompressJobOperator(task_id="t", model=SFT_MODEL, template_id=PLAIN_TEMPLATE)
    earlier = operator._create_or_reattach(task_context(1, run_id))
    creates = slow_conn.state()["creates"]
    again = operator._create_or_reattach(task_context(2, run_id))
    assert again.job_id == earlier.job_id and slow_conn.state()["creates"] == creates
    assert parse_marker(again.job_description).try_number == 1

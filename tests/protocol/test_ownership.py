"""The one rule of "accounted for" (ownership.classify) and the proofs that the provider started a
resource (the description marker, derived names), directly; ``account`` over records kept in
memory, the shape the metadata database and the REST API give. Through Airflow: the view and the
orphan operator in tests/live/test_operations_browser.py."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from airflow_provider_compress.operators.naming import derive_job_name, generation_name
from airflow_provider_compress.ownership import (
    MARKER,
    Account,
    TaskRecord,
    TaskRef,
    account,
    classify,
    derived_base,
    mark,
    marker,
    parse_marker,
)
from airflow_provider_compress.protocol import COMPRESS, DEPLOYMENT, FINE_TUNE
from airflow_provider_compress.specs import CompressJobSpec, DeploymentSpec
from airflow_provider_compress.validation import JOB_DESCRIPTION_MAX

OWNER = TaskRef("pipeline", "manual__2026-01-01T00:00:00+00:00", "compress")
JOB = "quant-202601010000-a1b2"


def record(state, run_state="running", pushed=JOB) -> TaskRecord:
    return TaskRecord(state, run_state, pushed)


@pytest.mark.parametrize(
    ("kind", "rec", "expected"),
    [
        # the task is on it: running, deferred, waiting for a retry or a slot, cleared to run again
        (COMPRESS, record("running"), Account.OWNED),
        (COMPRESS, record("deferred"), Account.OWNED),
        (COMPRESS, record("up_for_retry"), Account.OWNED),
        (COMPRESS, record("queued"), Account.OWNED),
        (COMPRESS, record(None, pushed=None), Account.OWNED),  # cleared, its run goes on
        (COMPRESS, record("a_state_airflow_adds_later"), Account.OWNED),  # never orphaned on doubt
        (COMPRESS, record("running", pushed=None), Account.OWNED),  # not pushed yet
        # made without waiting, handed to a sensor or a later task while the run goes on
        (COMPRESS, record("success"), Account.HANDED_ON),
        (FINE_TUNE, record("success", run_state="queued"), Account.HANDED_ON),
        # nothing waits for it any more
        (COMPRESS, record("success", run_state="success"), Account.ORPHANED),
        (COMPRESS, record("failed"), Account.ORPHANED),
        (COMPRESS, record("failed", run_state="failed"), Account.ORPHANED),
        (COMPRESS, record(None, run_state="failed", pushed=None), Account.ORPHANED),
        (COMPRESS, record("running", pushed="quant-202601010001-c3d4"), Account.ORPHANED),  # a later try's
        (COMPRESS, None, Account.ORPHANED),  # the task instance is gone
        # a deployment its task finished serves on purpose
        (DEPLOYMENT, record("success", run_state="success"), Account.KEPT),
        (DEPLOYMENT, record("failed", run_state="failed"), Account.KEPT),
        (DEPLOYMENT, record("deferred"), Account.OWNED),
        (DEPLOYMENT, None, Account.ORPHANED),
        (DEPLOYMENT, record("success", pushed="another-deployment"), Account.ORPHANED),
    ],
)
def test_classify(kind, rec, expected):
    verdict = classify(kind, JOB, "xcom", OWNER, rec)
    assert verdict.account is expected, verdict.reason
    assert verdict.owner == OWNER and verdict.reason


def test_without_proof_work_is_never_the_providers():
    verdict = classify(COMPRESS, JOB, None, None, None)
    assert verdict.account is Account.FOREIGN and verdict.owner is None


def test_a_derived_name_without_a_task_instance_is_orphaned_with_no_owner():
    verdict = classify(FINE_TUNE, "ft-1", "name", None, None)
    assert verdict.account is Account.ORPHANED and verdict.owner is None


def ti(**fields):
    defaults = {"dag_id": OWNER.dag_id, "run_id": OWNER.run_id, "task_id": "compress", "map_index": 3}
    return SimpleNamespace(**{**defaults, "try_number": 2, **fields})


def test_the_marker_names_the_task_instance_and_reads_back():
    text = marker(ti())
    assert text.startswith(MARKER) and len(text) <= JOB_DESCRIPTION_MAX
    parsed = parse_marker(text)
    assert parsed == TaskRef(OWNER.dag_id, OWNER.run_id, "compress", 3) and parsed.try_number == 2
    assert "+" not in text.removeprefix(MARKER)  # a '+' of the run id would read back as a space


def test_no_marker_when_it_would_not_fit_the_200_characters():
    assert marker(ti(dag_id="d" * 180)) is None
    spec = CompressJobSpec(model="m", template_id="t")
    assert mark(spec, ti(dag_id="d" * 180)) == spec


def test_mark_keeps_a_description_the_task_gave_and_leaves_other_kinds_alone():
    given = CompressJobSpec(model="m", template_id="t", job_description="nightly")
    assert mark(given, ti()).job_description == "nightly"
    assert parse_marker(mark(CompressJobSpec(model="m", template_id="t"), ti()).job_description) is not None
    deployment = DeploymentSpec(model_name="m", capacity=1, deploy_spec="MU1")
    assert mark(deployment, ti()) is deployment


@pytest.mark.parametrize("text", [None, "", "nightly", MARKER + "dag=x", MARKER + "dag=x&run=r&task=t&map=z"])
def test_other_descriptions_name_no_task(text):
    assert parse_marker(text) is None


def test_derived_names_and_their_generations_are_recognised():
    base = derive_job_name(OWNER.dag_id, OWNER.run_id, OWNER.task_id)
    assert derived_base(base) == base
    assert derived_base(generation_name(base, 3)) == base
    for name in ("compress-quant-202601010000-a1b2", "my nightly job", "x-0123", None):
        assert derived_base(name) is None


class MemoryRecords:
    """Records as the metadata database or the REST API give them, kept in memory."""

    def __init__(self, tasks: dict[TaskRef, TaskRecord], pushes: dict[tuple[TaskRef, str], str]) -> None:
        self.tasks, self.pushes = tasks, pushes
        self.values_read = 0

    def pushers(self, key):
        return [ref for ref, k in self.pushes if k == key]

    def pushed(self, ref, key):
        self.values_read += 1
        return self.pushes.get((ref, key))

    def task(self, ref, key):
        found, pushed = self.tasks.get(ref), self.pushes.get((ref, key))
        return None if found is None else TaskRecord(found.state, found.run_state, pushed)


def work(kind, resource_id, name=None, description=None):
    return SimpleNamespace(kind=kind, resource_id=resource_id, name=name, description=description)


def test_account_finds_each_proof():
    deploy = TaskRef("pipeline", OWNER.run_id, "deploy")
    tune = TaskRef("pipeline", "scheduled__2026-01-01", "fine_tune", 0)
    records = MemoryRecords(
        {OWNER: record("deferred"), deploy: record("success", "success"), tune: record("running")},
        {(deploy, "deployed_model"): "svc-1", (tune, "job_id"): "ft-1"},
    )
    items = [
        work(COMPRESS, JOB, description=marker(ti(map_index=-1, task_id="compress"))),
        work(DEPLOYMENT, "svc-1", name="my-service"),  # a name the task chose: its XCom proves it
        work(FINE_TUNE, "ft-1", name=derive_job_name(*(tune.dag_id, tune.run_id, tune.task_id, 0))),
        work(COMPRESS, "quant-by-hand", name="made in the console"),
        work(FINE_TUNE, "ft-gone", name=derive_job_name("deleted_dag", "r", "t")),
    ]
    verdicts = account(items, records)
    assert [(v.account, v.proof) for v in verdicts] == [
        (Account.OWNED, "description"),
        (Account.KEPT, "xcom"),
        (Account.OWNED, "name"),
        (Account.FOREIGN, None),
        (Account.ORPHANED, "name"),
    ]
    assert verdicts[0].owner == OWNER and verdicts[2].owner == tune and verdicts[4].owner is None

"""Who started a piece of remote work, and whether anything in Airflow still accounts for it.

What proves that this provider started a resource (docs/operations.md#ownership):

- its id in the XCom of a task instance, under the kind's id key (``job_id``, ``deployed_model``),
  which the create operators push as soon as the resource exists;
- a compression job's description ``Started by Airflow: dag=…&run=…&task=…&map=…&try=…``, which
  the compress operator writes when the task gives no description;
- a name the operators derive from the task instance (``<dag>.<task>-<digest>``, ``…-gN``), every
  kind's default name: it says which task made it once matched with a task instance Airflow
  knows; by itself, only that the provider made it.

A job made by hand in the console has none of these, and is never counted as the provider's.

``classify`` is the one rule of what "accounted for" means, a pure function; ``account`` finds
each resource's proof and task in whatever records are at hand (the metadata database in the
api-server's view, Airflow's REST API in the orphan operator's task) and applies it, so that the
view and the operator cannot disagree.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Iterable, Sequence
from typing import Any, Protocol
from urllib.parse import parse_qs, quote, urlencode

from airflow_provider_compress.protocol import ResourceKind
from airflow_provider_compress.validation import JOB_DESCRIPTION_MAX

MARKER = "Started by Airflow: "
# The task states after which a task does nothing more with its work; any other state, an
# unknown one included, counts as the task still being on it (never call work orphaned on doubt).
ENDED_TASK_STATES = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})
ENDED_RUN_STATES = frozenset({"success", "failed"})
# operators.naming.derive_job_name: "<dag>.<task>" made safe, at most 35 characters, a digest of
# 10 hex digits; a later generation ends in -gN.
_DERIVED = re.compile(r"(?P<base>[A-Za-z0-9_.-]{1,35}-[0-9a-f]{10})(?:-g(?P<generation>\d+))?")


@dataclasses.dataclass(frozen=True)
class TaskRef:
    """A task instance, as the marker, an XCom row or a derived name identifies it."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int = -1
    try_number: int | None = dataclasses.field(default=None, compare=False)  # from a marker only


@dataclasses.dataclass(frozen=True)
class TaskRecord:
    """What Airflow knows of a task instance that started a resource."""

    state: str | None  # the task instance's state (None: cleared, or not scheduled yet)
    run_state: str | None  # its DAG run's
    pushed: Any = None  # what it pushed under the kind's id key: the resource it holds now
    try_number: int | None = None


class Account(str, enum.Enum):
    """How a resource that is not finished is accounted for."""

    OWNED = "owned"  # its task is on it: running, deferred, queued, retrying, cleared to run again
    HANDED_ON = "handed on"  # made without waiting by a task whose run is still going
    KEPT = "kept"  # a deployment whose task finished: it serves until it is deleted
    ORPHANED = "orphaned"  # the provider started it and nothing accounts for it any more
    FOREIGN = "not started by Airflow"  # nothing proves the provider started it: never touched

    def __str__(self) -> str:
        return self.value


@dataclasses.dataclass(frozen=True)
class Verdict:
    account: Account
    reason: str
    owner: TaskRef | None = None
    proof: str | None = None  # "xcom", "description" or "name"


def classify(
    kind: ResourceKind,
    resource_id: str,
    proof: str | None,
    owner: TaskRef | None,
    record: TaskRecord | None,
) -> Verdict:
    """Whether anything accounts for a resource that is not finished, and why (the one rule)."""
    if proof is None:
        return Verdict(Account.FOREIGN, "no XCom, description or name says the provider started it")
    if owner is None:
        reason = "named as the provider names its work, but no task instance Airflow knows made it"
        return Verdict(Account.ORPHANED, reason, None, proof)
    if record is None:
        reason = "its task instance no longer exists (its DAG or run deleted, the database restored)"
        return Verdict(Account.ORPHANED, reason, owner, proof)
    if record.pushed is not None and record.pushed != resource_id:
        reason = f"its task instance made {record.pushed} since, which it holds instead"
        return Verdict(Account.ORPHANED, reason, owner, proof)
    state, run_state = record.state, record.run_state
    if state not in ENDED_TASK_STATES:
        if state is not None or run_state not in ENDED_RUN_STATES:
            reason = f"its task is {state}" if state else "its task was cleared and runs again"
            return Verdict(Account.OWNED, reason, owner, proof)
        reason = f"its task never ran again and its run ended {run_state}"
        return Verdict(Account.ORPHANED, reason, owner, proof)
    if kind.stop_by_delete:
        reason = f"its task ended {state}; a deployment serves until it is deleted"
        return Verdict(Account.KEPT, reason, owner, proof)
    if state == "success" and run_state not in ENDED_RUN_STATES:
        reason = f"made without waiting; its run is {run_state}: a sensor or later task may wait for it"
        return Verdict(Account.HANDED_ON, reason, owner, proof)
    reason = f"its task ended {state} and its run {run_state or 'is gone'}: nothing waits for it"
    return Verdict(Account.ORPHANED, reason, owner, proof)


# --- the proofs


def marker(ti: Any) -> str | None:
    """The description that names the task instance ``ti`` (None when it would not fit)."""
    map_index = ti.map_index if ti.map_index is not None else -1
    fields = {"dag": ti.dag_id, "run": ti.run_id, "task": ti.task_id, "map": map_index, "try": ti.try_number}
    text = MARKER + urlencode(fields, quote_via=quote, safe=":")
    return text if len(text) <= JOB_DESCRIPTION_MAX else None


def mark(spec: Any, ti: Any) -> Any:
    """``spec`` with the marker of ``ti`` as its description, when its kind has one and the task
    gave none. The reattach comparison (``CreateSpec.differences``) never compares descriptions."""
    if not hasattr(spec, "job_description") or spec.job_description:
        return spec
    text = marker(ti)
    return dataclasses.replace(spec, job_description=text) if text else spec


def parse_marker(description: Any) -> TaskRef | None:
    """The task instance a marker names; None for any other description."""
    if not isinstance(description, str) or not description.startswith(MARKER):
        return None
    fields = {k: v[0] for k, v in parse_qs(description[len(MARKER) :], keep_blank_values=True).items()}
    try:
        return TaskRef(
            fields["dag"],
            fields["run"],
            fields["task"],
            int(fields.get("map", -1)),
            int(fields["try"]) if fields.get("try") else None,
        )
    except (KeyError, ValueError):
        return None


def derived_base(name: Any) -> str | None:
    """The name without its generation, when it has the form the operators derive; else None."""
    match = _DERIVED.fullmatch(name) if isinstance(name, str) else None
    return match["base"] if match else None


# --- accounting for a list of resources


class Work(Protocol):
    """A resource that is not finished (``work.RemoteWork``)."""

    @property
    def kind(self) -> ResourceKind: ...
    @property
    def resource_id(self) -> str: ...
    @property
    def name(self) -> str | None: ...
    @property
    def description(self) -> str | None: ...


class Records(Protocol):
    """Where the task instances are read: the metadata database, or the REST API."""

    def pushers(self, key: str) -> Sequence[TaskRef]:
        """The task instances that pushed an XCom ``key`` (``job_id``, ``deployed_model``)."""

    def pushed(self, ref: TaskRef, key: str) -> Any:
        """What ``ref`` pushed under ``key``; None when nothing."""

    def task(self, ref: TaskRef, key: str) -> TaskRecord | None:
        """The task instance ``ref`` (with what it pushed under ``key``); None when it is gone."""


def account(work: Iterable[Work], records: Records) -> list[Verdict]:
    """The verdict of each resource, in order."""
    verdicts = []
    for item in work:
        owner, proof = _owner(item, records)
        record = records.task(owner, item.kind.id_field) if owner is not None else None
        verdicts.append(classify(item.kind, item.resource_id, proof, owner, record))
    return verdicts


def _owner(item: Work, records: Records) -> tuple[TaskRef | None, str | None]:
    """The task instance that started ``item`` and what proves it: its marker, then its derived
    name matched with a task instance that pushed the kind's key, then its id in such an XCom."""
    from airflow_provider_compress.operators.naming import derive_job_name

    marked = parse_marker(item.description)
    if marked is not None:
        return marked, "description"
    key, base = item.kind.id_field, derived_base(item.name)
    if base is not None:
        for ref in records.pushers(key):
            if derive_job_name(ref.dag_id, ref.run_id, ref.task_id, ref.map_index) == base:
                return ref, "name"
    for ref in records.pushers(key):
        if records.pushed(ref, key) == item.resource_id:
            return ref, "xcom"
    return None, ("name" if base is not None else None)

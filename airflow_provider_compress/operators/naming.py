"""How a retry finds the resource of an earlier try: a name derived from the task instance, its
generations (``name``, ``name-g2``, ...), and the decision between reattaching and creating."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Any, Literal

from airflow.sdk.exceptions import AirflowException

from airflow_provider_compress.protocol import Outcome, ResourceKind
from airflow_provider_compress.validation import JOB_NAME_MAX

IfExists = Literal["reattach", "fail", "create_new"]
IF_EXISTS_CHOICES: tuple[str, ...] = ("reattach", "fail", "create_new")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_GENERATION = re.compile(r"-g(\d+)$")
_DIGEST_LEN = 10
_GENERATION_ROOM = 4  # "-g99"


def derive_job_name(dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> str:
    """A name that is the same for every try of one task instance, and unique across them.

    Readable dag and task ids first, then a digest of the full identity (dag, run, task, map
    index); within the API's 50 characters, leaving room for a generation suffix ``-gN``.
    """
    digest = hashlib.sha256(f"{dag_id}\0{run_id}\0{task_id}\0{map_index}".encode()).hexdigest()[:_DIGEST_LEN]
    readable = _UNSAFE.sub("-", f"{dag_id}.{task_id}").strip("-.") or "airflow"
    room = JOB_NAME_MAX - _GENERATION_ROOM - _DIGEST_LEN - 1
    return f"{readable[:room]}-{digest}"


def generation_name(base: str, generation: int) -> str:
    """``base``, then ``base-g2``, ``base-g3``...; a long base is shortened to stay within 50."""
    if generation <= 1:
        return base
    tail = f"-g{generation}"
    return base[: JOB_NAME_MAX - len(tail)] + tail


def latest_generation(items: Iterable[Any], base: str, field: str = "job_name") -> tuple[int, Any]:
    """Among items named ``base`` or ``base-gN``, the highest generation and its item (0, None if none)."""
    best: tuple[int, Any] = (0, None)
    for item in items:
        name = getattr(item, field, None) or ""
        if name == base:
            generation = 1
        elif (match := _GENERATION.search(name)) and generation_name(base, int(match.group(1))) == name:
            generation = int(match.group(1))
        else:
            continue
        if generation > best[0]:
            best = (generation, item)
    return best


def plan_create(
    kind: ResourceKind, base: str, generation: int, existing: Any, if_exists: IfExists
) -> tuple[Any, str]:
    """Decide between reattaching to ``existing`` and creating: returns (item to reattach, name to create)."""
    if existing is None:
        return None, generation_name(base, generation + 1)
    if if_exists == "fail":
        raise AirflowException(
            f"{kind.noun} {getattr(existing, kind.name_field)!r} already exists "
            f"({kind.resource_id(existing)}, {existing.status}) and if_exists='fail'"
        )
    # One that failed or was stopped, or one being stopped (a timeout or a kill just stopped it),
    # is replaced.
    ended_badly = kind.outcome(existing.status) in (Outcome.FAILED, Outcome.STOPPED)
    if if_exists == "reattach" and not (ended_badly or existing.status in kind.stopping):
        return existing, ""
    return None, generation_name(base, generation + 1)

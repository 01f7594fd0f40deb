"""The remote work of a ``dashscope`` connection that is not finished: compression and fine-tune
jobs that have not ended (PENDING, QUEUING, RUNNING, CANCELING), and every deployment (a
deployment exists, and may bill, until it is deleted). What the view and the orphan operator list.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Iterable
from typing import Any

from airflow_provider_compress import costs, metrics
from airflow_provider_compress.hooks.base import DashScopeHook
from airflow_provider_compress.links.console import CompressJobLink, DeploymentLink, FineTuneJobLink
from airflow_provider_compress.models import JobStatus
from airflow_provider_compress.ownership import Account, Verdict
from airflow_provider_compress.protocol import COMPRESS, DEPLOYMENT, FINE_TUNE, ResourceKind

KINDS = (FINE_TUNE, COMPRESS, DEPLOYMENT)
# XComs are read back this far before the oldest unfinished resource was created.
XCOM_MARGIN = dt.timedelta(days=1)
# Jobs listed by these statuses (the compression list filters by status; the fine-tune list is
# asked the same, and filtered here too, since that filter is not documented).
UNFINISHED = (JobStatus.PENDING, JobStatus.QUEUING, JobStatus.RUNNING, JobStatus.CANCELING)
LINKS = {COMPRESS.collection: CompressJobLink, FINE_TUNE.collection: FineTuneJobLink}


@dataclasses.dataclass(frozen=True)
class RemoteWork:
    """A resource that is not finished, as the API lists it."""

    conn_id: str
    kind: ResourceKind
    resource: Any
    service_tz: dt.tzinfo
    console_url: str | None = None

    @property
    def resource_id(self) -> str:
        return self.kind.resource_id(self.resource)

    @property
    def status(self) -> str:
        return str(self.resource.status)

    @property
    def name(self) -> str | None:
        return getattr(self.resource, self.kind.name_field, None)

    @property
    def description(self) -> str | None:
        return getattr(self.resource, "job_description", None)

    @property
    def created(self) -> float | None:
        """Epoch seconds of its create, as the API dates it."""
        field = "gmt_create" if self.kind.stop_by_delete else "create_time"
        return metrics.api_time(getattr(self.resource, field, None), self.service_tz)

    def age(self, now: float | None = None) -> float | None:
        created = self.created
        return None if created is None else max(0.0, (now or time.time()) - created)

    @property
    def usage(self) -> costs.Usage | None:
        return costs.usage(self.kind, self.resource)

    def report(self, verdict: Verdict, now: float | None = None) -> dict[str, Any]:
        """This work and its verdict as plain JSON: a row of the view, an entry of the orphan
        operator's report."""
        usage, owner = self.usage, verdict.owner
        return {
            "conn_id": self.conn_id,
            "kind": metrics.label(self.kind),
            "noun": self.kind.noun,
            "resource_id": self.resource_id,
            "name": self.name,
            "status": self.status,
            "age_seconds": self.age(now),
            "usage": usage.to_dict() if usage else None,
            "console_url": self.console_url,
            "account": str(verdict.account),
            "orphaned": verdict.account is Account.ORPHANED,
            "reason": verdict.reason,
            "proof": verdict.proof,
            "owner": None if owner is None else dataclasses.asdict(owner),
        }


def unfinished(conn_id: str, kinds: Iterable[ResourceKind] = KINDS) -> list[RemoteWork]:
    """What of ``kinds`` is not finished on the connection's account, the oldest first."""
    hook = DashScopeHook(dashscope_conn_id=conn_id)
    found: list[RemoteWork] = []
    for kind in kinds:
        for resource in _listed(hook, kind):
            if kind is COMPRESS:  # the list leaves out the description, where the marker is
                resource = hook.get_resource(kind, kind.resource_id(resource))
            found.append(
                RemoteWork(conn_id, kind, resource, hook.settings.service_tz, _link(hook, kind, resource))
            )
    return sorted(found, key=lambda w: (w.created or 0.0, w.resource_id))


def since(work: list[RemoteWork]) -> dt.datetime | None:
    """Where to start reading XComs for ``work``: ``XCOM_MARGIN`` before its oldest create (None,
    all of them, when the age of some is unknown)."""
    created = [item.created for item in work]
    if not created or any(c is None for c in created):
        return None
    return dt.datetime.fromtimestamp(min(c for c in created if c is not None), dt.timezone.utc) - XCOM_MARGIN


def _listed(hook: DashScopeHook, kind: ResourceKind) -> list[Any]:
    if kind.stop_by_delete:
        return list(hook.iter_resources(kind))
    seen: dict[str, Any] = {}
    for status in UNFINISHED:
        for job in hook.iter_resources(kind, status=status):
            if not kind.is_terminal(job.status):
                seen.setdefault(kind.resource_id(job), job)
    return list(seen.values())


def _link(hook: DashScopeHook, kind: ResourceKind, resource: Any) -> str | None:
    link = DeploymentLink if kind.stop_by_delete else LINKS.get(kind.collection)
    try:
        return link().url(hook.settings, kind.resource_id(resource)) if link else None
    except Exception:  # a console URL pattern in the connection that cannot be filled
        return None

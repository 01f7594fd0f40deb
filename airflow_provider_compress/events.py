"""The end of a wait, wherever it ran: the one event a resource's trigger sends, how the operators
and the sensors read it, and how they judge and log the status they end with.

Events are plain JSON, so that any Airflow can store them: the enum values go in as strings.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import time
from collections.abc import Mapping
from typing import Any

from airflow.sdk.exceptions import AirflowException

from airflow_provider_compress.models import ApiModel
from airflow_provider_compress.protocol import Outcome, ResourceKind, describe


class WatchEnd(str, enum.Enum):
    """An event status that is not the resource's own: the watch ended before it settled
    (docs/exits.md)."""

    TIMEOUT = "timeout"  # the operator's timeout passed: the work was stopped (or could not be)
    EXECUTION_TIMEOUT = "execution_timeout"  # Airflow's execution_timeout passed: likewise
    ERROR = "error"  # the resource could not be watched any more: its state is unknown

    def __str__(self) -> str:
        return self.value


class DeletionEnd(str, enum.Enum):
    """How a ``DeploymentDeletionTrigger`` ended when the delete went through."""

    DELETED = "deleted"  # gone (404)
    DELETING = "deleting"  # accepted, its end not waited for

    def __str__(self) -> str:
        return self.value


def payload(
    status: str, resource_id: str, resource: Mapping[str, Any] | None, log_offset: int, message: str
) -> dict[str, Any]:
    """``status`` is the resource's status when it settled, else a ``WatchEnd``."""
    return {
        "status": str(status),
        "resource_id": resource_id,
        "resource": dict(resource) if resource is not None else None,
        "log_offset": log_offset,
        "message": message,
    }


@dataclasses.dataclass(frozen=True)
class ResourceEvent:
    status: str
    resource_id: str | None
    resource: dict[str, Any] | None
    log_offset: int
    message: str

    @classmethod
    def read(cls, event: Any) -> ResourceEvent | None:
        """The event, or None when it is not one. An event sent by an earlier version of the
        provider named its resource ``job_id`` and ``job``: read those too."""
        if not isinstance(event, Mapping) or "status" not in event:
            return None
        return cls(
            status=str(event["status"]),
            resource_id=event.get("resource_id", event.get("job_id")),
            resource=event.get("resource", event.get("job")),
            log_offset=int(event.get("log_offset") or 0),
            message=str(event.get("message")),
        )

    @property
    def watch_ended(self) -> bool:
        """Whether the watch ended (a timeout, an error) before the resource settled."""
        return self.status in set(WatchEnd)


def deadline_of(
    now: float, timeout: float | None, started: float | None, execution_timeout: float | None
) -> tuple[float | None, WatchEnd]:
    """When a wait that starts ``now`` must end, and which deadline that is: the earlier of the
    operator's ``timeout`` (from now) and Airflow's ``execution_timeout`` (from the try's start,
    epoch seconds ``started``), which Airflow does not enforce while a task is deferred."""
    ends = []
    if timeout:
        ends.append((now + timeout, WatchEnd.TIMEOUT))
    if execution_timeout is not None:
        ends.append(((started or now) + execution_timeout, WatchEnd.EXECUTION_TIMEOUT))
    return min(ends) if ends else (None, WatchEnd.TIMEOUT)


def deferral_timeout(deadline: float | None, grace: float) -> datetime.timedelta | None:
    """The timeout to give ``defer``: the trigger's ``deadline`` plus ``grace``, so that Airflow
    ends the wait only when no triggerer ran the trigger by its deadline."""
    if deadline is None:
        return None
    return datetime.timedelta(seconds=max(0.0, deadline - time.time()) + grace)


def unmet(resource: ApiModel, expect: Mapping[str, Any] | None) -> dict[str, Any]:
    """The fields of ``expect`` that ``resource`` shows with another value, with the values it
    shows: a deployment RUNNING at another capacity than the one asked is not scaled yet. A field
    the answer leaves out cannot be checked and counts as shown (the API's fields are optional)."""
    shown = resource.to_dict()
    return {
        field: shown[field]
        for field, value in (expect or {}).items()
        if field in shown and not _shows(shown[field], value)
    }


def _shows(shown: Any, expected: Any) -> bool:
    if isinstance(expected, Mapping) and isinstance(shown, Mapping):  # ptu_capacity: the keys asked
        return all(key not in shown or _shows(shown[key], value) for key, value in expected.items())
    return shown == expected


# What became of the work a wait stopped, for the task's message (docs/cancel.md): "accepted"
# only once the API accepted the stop.
def stop_accepted(kind: ResourceKind) -> str:
    return f"its {'delete' if kind.stop_by_delete else 'cancel'} was accepted"


def stop_not_needed(status: Any) -> str:
    return "it no longer exists" if status is None else f"it was {status} already"


def stop_failed(kind: ResourceKind) -> str:
    return f"it could NOT be {kind.stop_verb}: it may still be running"


def settled_resource(kind: ResourceKind, event: Any) -> Any:
    """The resource a trigger's event carries once it settled; an event that is none, or a watch
    that ended (timeout, error), fails the task with its message."""
    read = ResourceEvent.read(event)
    if read is None:
        raise AirflowException(f"Unexpected trigger event: {event!r}")
    if read.watch_ended:
        raise AirflowException(read.message)
    return kind.model.from_api(read.resource)


def fail_unless_succeeded(kind: ResourceKind, resource: ApiModel) -> None:
    """Fail the task, saying how the resource ended, unless it reached what the wait was for."""
    if kind.outcome(resource.status) is not Outcome.SUCCEEDED:
        raise AirflowException(describe(kind, resource))


def log_status(log: Any, kind: ResourceKind, resource: ApiModel) -> None:
    """A status as it is first seen; one the provider does not know is a warning (polled on)."""
    resource_id, status = kind.resource_id(resource), resource.status
    if kind.is_known(status):
        log.info("%s %s is %s", kind.noun, resource_id, status)
    else:
        log.warning(kind.unknown_status_message(resource_id, status))

"""The end of a wait, wherever it ran: the one event a resource's trigger sends, how the operators
and the sensors read it, and how they judge and log the status they end with.

Events are plain JSON, so that any Airflow can store them: the enum values go in as strings.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Any

from airflow.sdk.exceptions import AirflowException

from airflow_provider_compress.models import ApiModel
from airflow_provider_compress.protocol import Outcome, ResourceKind, describe


class WatchEnd(str, enum.Enum):
    """An event status that is not the resource's own: the watch ended before it settled."""

    TIMEOUT = "timeout"  # the deadline passed: the work was stopped (or could not be)
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
        """Whether the watch ended (timeout, error) before the resource settled."""
        return self.status in (WatchEnd.TIMEOUT, WatchEnd.ERROR)


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

"""The one event a resource's trigger sends, and how the operators and the sensor read it.

Plain JSON, so that any Airflow can store it: the enum values below go in as strings.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Any


class WatchEnd(str, enum.Enum):
    """An event status that is not the resource's own: the watch ended before it settled."""

    TIMEOUT = "timeout"  # the deadline passed: the work was stopped (or could not be)
    ERROR = "error"  # the resource could not be watched any more: its state is unknown

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

"""Every metric the provider emits, named and sent here only (docs/operations.md#metrics lists them).

They go through Airflow's own metrics facility (statsd, Datadog or OpenTelemetry, whatever
``[metrics]`` configures; nothing when metrics are off), under ``dashscope.`` after Airflow's
prefix (``airflow.dashscope.compress.created``). A name carries its dimensions, since plain statsd
drops tags (``dashscope.<kind>.ended.<status>``); the same dimensions go as tags to the backends
that keep them. Emitted from the worker (operators, sensors) and from the triggerer (triggers).

A metric never fails or slows the work it counts: any error of the metrics client is swallowed.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from concurrent.futures import Future
from typing import Any

from airflow_provider_compress import _compat
from airflow_provider_compress.protocol import ResourceKind
from airflow_provider_compress.validation import SERVICE_TZ

log = logging.getLogger(__name__)
PREFIX = "dashscope"
# The kind as it appears in names and tags.
LABELS = {"/fine-tunes/compress/jobs": "compress", "/fine-tunes": "fine_tune", "/deployments": "deployment"}
# Why work was stopped, from the words of the stop's reason (the operators' and triggers' `why`).
STOP_REASONS = (
    ("orphan", "orphaned"),
    ("request", "requested"),
    ("timeout", "timeout"),
    ("kill", "kill"),
    ("error", "error"),
    ("fail", "failed"),
)
_UNSAFE = re.compile(r"[^A-Za-z0-9_]+")


def label(kind: ResourceKind) -> str:
    return LABELS.get(kind.collection, _UNSAFE.sub("_", kind.noun))


def _emit(method: str, name: str, value: Any, tags: dict[str, str]) -> None:
    try:
        getattr(_compat.stats(), method)(f"{PREFIX}.{name}", value, tags=tags)
    except Exception:  # a metrics client must never fail the work it counts
        log.debug("Could not emit %s", name, exc_info=True)


def _count(kind: ResourceKind, event: str, count: int = 1, **dimensions: str) -> None:
    name = ".".join([label(kind), event, *(_UNSAFE.sub("_", v) for v in dimensions.values())])
    _emit("incr", name, count, {"kind": label(kind), **dimensions})


def _timing(kind: ResourceKind, name: str, seconds: float | None) -> None:
    if seconds is not None and seconds >= 0:
        _emit("timing", f"{label(kind)}.{name}", dt.timedelta(seconds=seconds), {"kind": label(kind)})


# --- the worker: operators and sensors


def resource_created(kind: ResourceKind) -> None:
    """A create the API accepted (or one found after its answer was lost)."""
    _count(kind, "created")


def resource_reattached(kind: ResourceKind) -> None:
    """A later try adopted the resource of an earlier one instead of creating another."""
    _count(kind, "reattached")


def create_throttled(kind: ResourceKind) -> None:
    """A create refused with 429 (too many requests or active jobs) after the hook's retries."""
    _count(kind, "throttled")


def resource_ended(kind: ResourceKind, resource: Any, service_tz: dt.tzinfo = SERVICE_TZ) -> None:
    """A task's wait saw the resource settle: its status, the time it queued and ran, its usage."""
    status = str(getattr(resource, "status", None))
    _count(kind, "ended", status=status)
    created, started, ended = (
        api_time(getattr(resource, field, None), service_tz)
        for field in ("create_time", "start_time", "end_time")
    )
    if kind.stop_by_delete:  # a deployment: the time until it settled (RUNNING, FAILED, ...)
        created = api_time(getattr(resource, "gmt_create", None), service_tz)
        ended = api_time(getattr(resource, "gmt_modified", None), service_tz)
    _timing(kind, "queued", _between(created, started))
    _timing(kind, "running", _between(started, ended))
    _timing(kind, "total", _between(created, ended))
    usage = getattr(resource, "usage", None)
    if isinstance(usage, int) and not isinstance(usage, bool) and usage > 0:
        _count(kind, "usage", usage)


def log_lines_forwarded(kind: ResourceKind, lines: int) -> None:
    """Remote log lines written to a task log (by the worker or by the triggerer)."""
    if lines > 0:
        _count(kind, "log_lines", lines)


def log_lines_when_written(record: Future[Any], kind: ResourceKind, lines: int) -> Future[Any]:
    """Count ``lines`` once the log writer has written ``record`` (returned); not when it was
    withdrawn (the resumed operator forwards those lines, and counts them)."""

    def written(done: Future[Any]) -> None:
        if not done.cancelled() and done.exception() is None:
            log_lines_forwarded(kind, lines)

    record.add_done_callback(written)
    return record


def poll_failed(kind: ResourceKind) -> None:
    """A poll of the resource's status that failed after the hook's retries."""
    _count(kind, "poll_failed")


def request_retried(method: str, count: int = 1) -> None:
    """Tries of an API request the hooks sent again (429, 5xx, a reset or timeout of an
    idempotent request)."""
    if count > 0:
        _emit("incr", "request.retried", count, {"method": method})


def resource_stopped(kind: ResourceKind, why: str) -> None:
    """The API accepted a stop (a cancel, a delete); ``why`` is the stop's reason in words."""
    words = why.lower()
    reason = next((name for word, name in STOP_REASONS if word in words), "other")
    _count(kind, "stopped", reason=reason)


def orphans_found(kind: ResourceKind, count: int) -> None:
    """How many resources of ``kind`` nothing accounts for, at the last look."""
    _emit("gauge", f"{label(kind)}.orphaned", count, {"kind": label(kind)})


# --- the triggerer


def event_sent(kind: ResourceKind, resource: Any, service_tz: dt.tzinfo = SERVICE_TZ) -> None:
    """A trigger sends its event: the delay from the resource's end (as the API dates it, to the
    second) to now."""
    field = "gmt_modified" if kind.stop_by_delete else "end_time"
    ended = api_time(getattr(resource, field, None), service_tz)
    if ended is not None:
        _timing(kind, "event_delay", max(0.0, _now() - ended))


# --- times as the API writes them


def api_time(value: Any, service_tz: dt.tzinfo = SERVICE_TZ) -> float | None:
    """Epoch seconds of an API time (``2026-04-11 12:00:00`` or ``2026-04-11T12:00:00``, in the
    service's time zone unless it carries one); None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.strip().replace(" ", "T", 1))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=service_tz)
    return moment.timestamp()


def _between(start: float | None, end: float | None) -> float | None:
    return end - start if start is not None and end is not None else None


def _now() -> float:
    return dt.datetime.now(dt.timezone.utc).timestamp()

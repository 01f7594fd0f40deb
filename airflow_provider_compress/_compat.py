"""The one place that knows which Airflow version runs us (>=3.1)."""

from __future__ import annotations

import os
import stat
from typing import Any

import structlog
from airflow import __version__ as _airflow_version
from airflow.sdk import BaseHook

try:
    from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowTaskTimeout
except ImportError:  # Airflow 3.1: in airflow.exceptions (which 3.3 keeps as aliases)
    from airflow.exceptions import AirflowSensorTimeout, AirflowTaskTimeout  # type: ignore[no-redef]

AIRFLOW_VERSION: tuple[int, int] = tuple(int(p) for p in _airflow_version.split(".")[:2])  # type: ignore[assignment]
# BaseTrigger.on_kill exists from 3.3: before, a trigger learns it was killed from CancelledError.
TRIGGER_HAS_ON_KILL = AIRFLOW_VERSION >= (3, 3)


# The next_method of a task Airflow resumes only to fail it: its trigger failed, or its deferral
# timed out (``defer(timeout=...)``), e.g. while no triggerer ran it.
TRIGGER_FAILED = "__fail__"


def trigger_timed_out(next_kwargs: dict | None) -> bool:
    """Whether a ``TRIGGER_FAILED`` resume is the deferral's timeout (not a trigger's error)."""
    from airflow.sdk.bases.operator import TriggerFailureReason

    return (next_kwargs or {}).get("error") == TriggerFailureReason.TRIGGER_TIMEOUT


def task_will_retry(ti: Any) -> bool:
    """Whether Airflow retries the task if this try fails: the API server's answer when the try
    started (``should_retry``, 3.1 to 3.3), else the task's tries left (none without a task
    instance)."""
    if ti is None:
        return False
    server = getattr(ti, "_ti_context_from_server", None)
    if server is not None and getattr(server, "should_retry", None) is not None:
        return bool(server.should_retry)
    return bool(ti.max_tries) and ti.try_number <= ti.max_tries


def default_deferrable() -> bool:
    """``[operators] default_deferrable``; ``airflow.sdk`` has ``conf`` only from 3.2."""
    try:
        from airflow.sdk import conf
    except ImportError:
        from airflow.configuration import conf  # type: ignore[assignment]
    return conf.getboolean("operators", "default_deferrable", fallback=False)


def stats() -> Any:
    """Airflow's metrics facade of this process (statsd, Datadog or OpenTelemetry, as configured;
    a no-op when metrics are off), with ``incr``, ``gauge`` and ``timing``.

    Up to 3.1 it is ``airflow.stats.Stats`` in every process. From 3.2 the Task SDK keeps its own
    copy, ``airflow.sdk.observability.stats``, which the task runner configures in workers and the
    Task SDK's serde (imported by every process that runs tasks or triggers) everywhere else;
    Airflow core's copy is configured only in the scheduler, the triggerer's parent process and
    the api-server, so a trigger's or ``airflow dags test``'s emissions through it would be lost.
    """
    try:
        from airflow.sdk.observability import stats as sdk_stats
    except ImportError:  # before 3.2
        from airflow.stats import Stats

        return Stats
    return sdk_stats


def log_output_socket() -> int | None:
    """The socket this process's log records go to when a supervisor reads them (a triggerer's
    runner), else None. ``airflow.sdk.log.configure_logging(output=...)`` (3.1 to 3.3) leaves
    the output as the ``io`` of structlog's logger factory."""
    try:
        fd = structlog.get_config()["logger_factory"].io.fileno()
        return fd if stat.S_ISSOCK(os.fstat(fd).st_mode) else None
    except (AttributeError, KeyError, OSError, ValueError):
        return None


__all__ = [
    "AIRFLOW_VERSION",
    "TRIGGER_FAILED",
    "TRIGGER_HAS_ON_KILL",
    "AirflowSensorTimeout",
    "AirflowTaskTimeout",
    "BaseHook",
    "default_deferrable",
    "log_output_socket",
    "stats",
    "task_will_retry",
    "trigger_timed_out",
]

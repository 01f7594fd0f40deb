"""The one place that knows which Airflow version runs us (>=3.1)."""

from __future__ import annotations

import functools
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


def supervisor_comms() -> Any | None:
    """The channel of this process's task runner or triggerer runner to its supervisor, if any."""
    from airflow.sdk.execution_time import task_runner

    return getattr(task_runner, "SUPERVISOR_COMMS", None)


def in_triggerer() -> bool:
    """Whether this is a triggerer's runner (not ``airflow dags test``, which runs triggers inline)."""
    from airflow.jobs.triggerer_job_runner import TriggerCommsDecoder

    return isinstance(supervisor_comms(), TriggerCommsDecoder)


def task_states_request(dag_id: str, task_id: str, run_id: str, map_index: int | None) -> Any:
    """The supervisor request for one task instance's state (``GetTaskStates``, 3.1 to 3.3)."""
    from airflow.sdk.execution_time.comms import GetTaskStates

    return GetTaskStates(dag_id=dag_id, task_ids=[task_id], run_ids=[run_id], map_index=map_index)


def xcom_value(key: str, ti_key: Any) -> Any:
    """An XCom of the task instance ``ti_key`` names, as an extra link reads it in the API server."""
    from airflow.sdk.execution_time.xcom import XCom

    return XCom.get_value(key=key, ti_key=ti_key)


def mask_secret(secret: str) -> None:
    """Mask ``secret`` in every log of this process (Airflow masks a connection's password, not a
    secret inside an extra)."""
    from airflow.sdk.log import mask_secret as mask

    mask(secret)


def provider_deprecation() -> type[Warning]:
    from airflow.exceptions import AirflowProviderDeprecationWarning

    return AirflowProviderDeprecationWarning


def own_connection_form(hook_class: type) -> type:
    """Airflow 3.1's UI takes a connection type's form only from its registered hook class's own
    attributes (``hook_class.__dict__``), not from its bases: copy the form's two methods there.
    (Airflow >= 3.2 reads the form from ``get_provider_info()``.)"""
    for name in ("get_connection_form_widgets", "get_ui_field_behaviour"):
        owner = next(base for base in hook_class.__mro__ if name in vars(base))
        setattr(hook_class, name, vars(owner)[name])
    return hook_class


def connection_form_widgets(fields: dict[str, Any]) -> dict[str, Any]:
    """The WTForms widgets of Airflow 3.1's connection form, from the provider info's fields."""
    from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import IntegerField, StringField
    from wtforms.validators import Optional

    widgets = {}
    for name, spec in fields.items():
        field_class = IntegerField if "integer" in spec["schema"]["type"] else StringField
        widgets[name] = field_class(
            lazy_gettext(spec["label"]),
            widget=BS3TextFieldWidget(),
            validators=[Optional()],
            description=spec.get("description", ""),
        )
    return widgets


def _conf() -> Any:
    """Airflow's configuration; ``airflow.sdk`` has ``conf`` only from 3.2."""
    try:
        from airflow.sdk import conf
    except ImportError:
        from airflow.configuration import conf  # type: ignore[assignment]
    return conf


def default_deferrable() -> bool:
    """``[operators] default_deferrable``."""
    return _conf().getboolean("operators", "default_deferrable", fallback=False)


def api_base_url() -> str:
    """``[api] base_url``: where Airflow's UI and API are served ('' when unset)."""
    return _conf().get("api", "base_url", fallback="") or ""


@functools.cache  # called per metric, on the triggerer's loop too: a failed import each time is slow
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
    "api_base_url",
    "connection_form_widgets",
    "default_deferrable",
    "in_triggerer",
    "log_output_socket",
    "mask_secret",
    "own_connection_form",
    "provider_deprecation",
    "stats",
    "supervisor_comms",
    "task_states_request",
    "task_will_retry",
    "trigger_timed_out",
    "xcom_value",
]

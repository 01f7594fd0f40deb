"""The one place that knows which Airflow version runs us (>=3.1)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from airflow import __version__ as _airflow_version
from airflow.sdk import BaseHook

AIRFLOW_VERSION: tuple[int, int] = tuple(int(p) for p in _airflow_version.split(".")[:2])  # type: ignore[assignment]
# BaseTrigger.on_kill exists from 3.3: before, a trigger learns it was killed from CancelledError.
TRIGGER_HAS_ON_KILL = AIRFLOW_VERSION >= (3, 3)

log = logging.getLogger(__name__)
UNKNOWN = object()  # a task state that could not be read


async def task_instance_state(ti: Any) -> Any:
    """The state of a trigger's task instance, asked through the triggerer's supervisor.

    Returns a state string (None after a clear), or UNKNOWN when there is no task instance or no
    answer, as when the triggerer is shutting down.
    """
    if ti is None:
        return UNKNOWN
    try:
        from airflow.sdk.execution_time import task_runner
        from airflow.sdk.execution_time.comms import GetTaskStates

        comms = getattr(task_runner, "SUPERVISOR_COMMS", None)
        if comms is None:
            return UNKNOWN
        map_index = getattr(ti, "map_index", -1)
        request = GetTaskStates(
            dag_id=ti.dag_id,
            task_ids=[ti.task_id],
            run_ids=[ti.run_id],
            map_index=None if map_index in (None, -1) else map_index,
        )
        # Bounded: on 3.3 on_kill itself has 30 s, and the cancel still has to follow.
        response = await asyncio.wait_for(comms.asend(request), timeout=5)
        states = response.task_states.get(ti.run_id, {})
    except Exception:
        log.warning("Could not read the state of %s; treating it as unknown", ti, exc_info=True)
        return UNKNOWN
    for key in (ti.task_id, f"{ti.task_id}_{map_index}"):
        if key in states:
            return states[key]
    return UNKNOWN


def default_deferrable() -> bool:
    """``[operators] default_deferrable``; ``airflow.sdk`` has ``conf`` only from 3.2."""
    try:
        from airflow.sdk import conf
    except ImportError:
        from airflow.configuration import conf  # type: ignore[assignment]
    return conf.getboolean("operators", "default_deferrable", fallback=False)


__all__ = [
    "AIRFLOW_VERSION",
    "TRIGGER_HAS_ON_KILL",
    "UNKNOWN",
    "BaseHook",
    "default_deferrable",
    "task_instance_state",
]

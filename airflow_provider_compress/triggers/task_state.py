"""Whether a deferred task was really killed: the one question a trigger asks its triggerer.

A triggerer stops its copy of a trigger in two cases that look alike from inside the trigger:
a user killed the task (mark failed, mark success, clear), or another triggerer took the trigger
over because this one missed heartbeats (a long pause, a frozen container). On Airflow 3.3 both
reach ``on_kill`` (apache/airflow PR #73454); before 3.3 both arrive as ``CancelledError``, as does
a triggerer shutdown. Only a kill may stop the remote work, and only the task's state tells them
apart: after a takeover the task is still ``deferred``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from airflow_provider_compress import _compat

log = logging.getLogger(__name__)
UNKNOWN = object()  # a task state that could not be read
# A warm supervisor answers in milliseconds; a cold one took up to 5.5 s here (see warm_up).
# Either way a stop still fits in on_kill's 30 s after this.
STATE_TIMEOUT = 10.0
_warm_up: asyncio.Future[Any] | None = None


def warm_up(ti: Any) -> None:
    """Ask once per triggerer process, in the background, when its first trigger starts.

    The triggerer's supervisor answers a trigger's questions synchronously, and builds its
    in-process Execution API client on the first question that needs one (GetTaskStates does; a
    connection from an environment variable does not): 4-6 s on a busy 2-core machine, during
    which it answers nothing else. Left to the first kill, that time would be on_kill's.
    """
    global _warm_up
    if _warm_up is None and ti is not None and _compat.in_triggerer():
        _warm_up = asyncio.ensure_future(task_instance_state(ti))


async def task_instance_state(ti: Any) -> Any:
    """The state of a trigger's task instance, asked through the triggerer's supervisor.

    Returns a state string (None after a clear), or UNKNOWN when there is no task instance or no
    answer (as when the triggerer is shutting down).
    """
    if ti is None:
        return UNKNOWN
    try:
        comms = _compat.supervisor_comms()
        if comms is None:
            return UNKNOWN
        map_index = getattr(ti, "map_index", -1)
        request = _compat.task_states_request(
            ti.dag_id, ti.task_id, ti.run_id, None if map_index in (None, -1) else map_index
        )
        started = time.monotonic()
        # Shielded: the request must never be cancelled once sent. Airflow 3.1's comms read the
        # next answer from the socket in order, so a cancelled request (a timeout, a second
        # cancel of the trigger) leaves its answer for the runner's own next request, and the
        # runner dies ("Response read out of order"), taking every trigger with it.
        response = await asyncio.wait_for(asyncio.shield(comms.asend(request)), timeout=STATE_TIMEOUT)
        log.debug("Task state read in %.2f s", time.monotonic() - started)
        states = response.task_states.get(ti.run_id, {})
    except Exception:
        log.warning("Could not read the state of %s; treating it as unknown", ti, exc_info=True)
        return UNKNOWN
    for key in (ti.task_id, f"{ti.task_id}_{map_index}"):
        if key in states:
            return states[key]
    return UNKNOWN

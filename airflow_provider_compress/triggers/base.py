"""The trigger every resource kind shares: poll until the resource settles, forward its log live,
stop it on kill or deadline. A resource's trigger is a subclass naming its ``kind``.

Whether a kill really happened is asked of the triggerer (``triggers.task_state``)."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import gc
import os
import random
import time
from collections.abc import AsyncIterator
from concurrent.futures import Future
from typing import Any, ClassVar

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_compress import _compat, _deprecated, metrics, validation
from airflow_provider_compress.events import WatchEnd, payload
from airflow_provider_compress.exceptions import (
    CompressConnectionError,
    CompressError,
    InvalidResponseError,
    NotFoundError,
    RateLimitError,
    ServerError,
)
from airflow_provider_compress.hooks.base_async import DashScopeAsyncHook
from airflow_provider_compress.log_forwarding import remote_log_line
from airflow_provider_compress.models import ApiModel
from airflow_provider_compress.protocol import ResourceKind, describe
from airflow_provider_compress.triggers import log_writer, task_state


@functools.cache
def _freeze_inherited_heap() -> None:
    """Once per process: take the objects that exist when the first trigger starts (Airflow's
    own, some 240,000 in a triggerer) out of the garbage collector's full collections, as Airflow
    does in its DAG processor. Full collections walked all of them every few seconds and were the
    longest stalls of the triggerer's event loop (docs/performance.md). Opt out with
    ``DASHSCOPE_TRIGGERER_GC_FREEZE=0``."""
    if os.environ.get("DASHSCOPE_TRIGGERER_GC_FREEZE", "1") != "0":
        gc.freeze()


# Failed polls in a row (each after the hook's own retries) that end the watch: the ones before
# it are tolerated.
MAX_FAILED_POLLS = 5
LOG_BATCH = 1000  # lines written as one record at most (a page of the API's)
# Seconds between two reads of a job's log (polls that are further apart read it every time):
# a thousand jobs read every second would hand the triggerer more records than it can route.
LOG_INTERVAL = 5.0
TRANSIENT = (ServerError, RateLimitError, CompressConnectionError, InvalidResponseError)


class DashScopeResourceTrigger(BaseTrigger):
    """Poll a resource until it settles, a deadline passes, or the task is killed.

    :param dashscope_conn_id: the connection id; the trigger never holds the key itself.
    :param resource_id: the job or deployment to watch.
    :param poll_interval: seconds between polls.
    :param log_offset: log lines already forwarded; forwarding continues from here.
    :param deadline: epoch seconds after which the work is stopped and a ``timeout`` event sent.
    :param forward_logs: write the resource's new log lines to the task log as they appear.
    :param cancel_on_kill: stop the work (cancel a job, delete a deployment) when a user kills
        the deferred task.
    :param stop_on_timeout: stop the work when the deadline passes (else it is left as it is:
        ``DeployModelOperator(keep_deployment=True)``).
    :param job_id: the former name of ``resource_id``, which triggers serialized by an earlier
        version of the provider still carry (deprecated).
    """

    kind: ClassVar[ResourceKind]
    hook_class: ClassVar[type[DashScopeAsyncHook]] = DashScopeAsyncHook

    def __init__(
        self,
        dashscope_conn_id: str,
        resource_id: str | None = None,
        poll_interval: float = 30.0,
        log_offset: int = 0,
        deadline: float | None = None,
        forward_logs: bool = True,
        cancel_on_kill: bool = True,
        stop_on_timeout: bool = True,
        *,
        job_id: str | None = None,
    ) -> None:
        super().__init__()
        resource_id = _deprecated.renamed_argument("job_id", job_id, "resource_id", resource_id)
        validation.check_resource_id("resource_id", resource_id)
        validation.check_poll_interval("poll_interval", poll_interval)
        self.dashscope_conn_id = dashscope_conn_id
        self.resource_id = str(resource_id)
        self.poll_interval = poll_interval
        self.log_offset = log_offset
        self.deadline = deadline
        self.forward_logs = forward_logs
        self.cancel_on_kill = cancel_on_kill
        self.stop_on_timeout = stop_on_timeout
        self._next_log_read = 0.0  # time.monotonic() of the next log read
        self._pending: Future[Any] | None = None  # the last record handed to the log writer
        self._pending_lines = 0

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "dashscope_conn_id": self.dashscope_conn_id,
                "resource_id": self.resource_id,
                "poll_interval": self.poll_interval,
                "log_offset": self.log_offset,
                "deadline": self.deadline,
                "forward_logs": self.forward_logs,
                "cancel_on_kill": self.cancel_on_kill,
                "stop_on_timeout": self.stop_on_timeout,
            },
        )

    def _hook(self) -> DashScopeAsyncHook:
        return self.hook_class(dashscope_conn_id=self.dashscope_conn_id)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        _freeze_inherited_heap()
        if self.cancel_on_kill:  # so that a kill's question is answered at once
            task_state.warm_up(getattr(self, "task_instance", None))
        async with self._hook() as hook:
            async for event in self._watch(hook):
                yield event

    async def _watch(self, hook: DashScopeAsyncHook) -> AsyncIterator[TriggerEvent]:
        failed_polls = polls = 0
        unknown: set[Any] = set()  # statuses warned about
        try:
            while True:
                polls += 1
                try:
                    resource = await hook.get_resource(self.kind, self.resource_id)
                    failed_polls = 0
                except TRANSIENT as err:
                    metrics.poll_failed(self.kind)
                    failed_polls += 1
                    if failed_polls >= MAX_FAILED_POLLS:
                        message = f"{failed_polls} polls in a row failed, last: {err}"
                        yield await self._event(WatchEnd.ERROR, None, message)
                        return
                    self.log.warning(
                        "Poll %d of %s failed, trying again: %s", failed_polls, self.resource_id, err
                    )
                    await asyncio.sleep(self.poll_interval)
                    continue
                except CompressError as err:
                    metrics.poll_failed(self.kind)
                    message = f"cannot watch {self.kind.noun} {self.resource_id}: {err}"
                    yield await self._event(WatchEnd.ERROR, None, message)
                    return
                status = resource.status
                if not self.kind.is_known(status) and status not in unknown:
                    unknown.add(status)
                    self.log.warning(self.kind.unknown_status_message(self.resource_id, status))
                if self.kind.is_terminal(status):
                    # At once: the lines after the last read are the resumed operator's to forward
                    # (from the event's log_offset), so the event never waits on the task log.
                    metrics.event_sent(self.kind, resource, metrics.service_tz_of(hook))
                    yield await self._event(str(status), resource, describe(self.kind, resource))
                    return
                if status not in self.kind.not_started:
                    await self._forward_logs(hook)
                if self.deadline is not None and time.time() >= self.deadline:
                    verb = self.kind.stop_verb
                    if not self.stop_on_timeout:
                        outcome = f"was kept (not {verb})"
                    else:
                        outcome = await self._stop(hook, "the operator's timeout passed") or (
                            f"could NOT be {verb}: it may still be running"
                        )
                    message = f"{self.kind.noun} {self.resource_id} did not finish in time and {outcome}"
                    yield await self._event(WatchEnd.TIMEOUT, resource, message)
                    return
                await asyncio.sleep(self._next_sleep(polls))
        except asyncio.CancelledError:
            # Before Airflow 3.3 a kill reaches a trigger only as CancelledError, which a triggerer
            # restart or a takeover by another triggerer raises too.
            if self.cancel_on_kill and not _compat.TRIGGER_HAS_ON_KILL:
                # Shielded: the triggerer cancels a dropped trigger again at every loop (~1 s)
                # until it has ended; the decision and the stop must survive that.
                await asyncio.shield(self._stop_if_killed())
            raise

    async def on_kill(self) -> None:
        """Airflow >= 3.3: the triggerer dropped this trigger, because a user killed the deferred
        task (mark failed or success, clear) or because another triggerer took the trigger over."""
        if not self.cancel_on_kill:
            return
        await self._stop_if_killed()

    async def _stop_if_killed(self) -> None:
        """Stop the work only when the task really left the deferred state (docs/cancel.md).

        With a hook of its own: the trigger's may be closed by the time this runs. Never raises.
        """
        try:
            async with self._hook() as hook:
                await self._decide_and_stop(hook)
        except Exception:
            self.log.exception("Could not decide whether to stop %s %s", self.kind.noun, self.resource_id)

    async def _decide_and_stop(self, hook: DashScopeAsyncHook) -> None:
        noun, state = self.kind.noun, await self._task_state()
        if state is task_state.UNKNOWN:
            # Unreadable only when this triggerer's own supervisor cannot answer: the unhealthy
            # triggerer whose triggers are being taken over. Never destroy paid work on doubt.
            self.log.error(
                "Watching %s %s stopped, but the task's state could not be read: NOT stopping it. "
                "If the task was killed, stop it yourself (%s)",
                noun,
                self.resource_id,
                self.kind.stop_verb,
            )
        elif state == "deferred":
            self.log.info(
                "Watching %s %s stopped while the task is still deferred: another triggerer took "
                "the trigger over; not stopping it",
                noun,
                self.resource_id,
            )
        else:
            await self._stop(hook, f"the deferred task was killed (task state: {state})")

    async def _task_state(self) -> Any:
        return await task_state.task_instance_state(getattr(self, "task_instance", None))

    def _next_sleep(self, polls: int) -> float:
        interval = self.poll_interval
        if polls == 1:
            # A random phase: triggers started together (a mapped task deferring, a triggerer
            # restart) would otherwise poll in lock-step and stall the event loop in bursts.
            interval *= random.random()
        if self.deadline is None:
            return interval
        return max(0.0, min(interval, self.deadline - time.time()))

    async def _forward_logs(self, hook: DashScopeAsyncHook) -> None:
        """Forward the lines the job wrote since the last read, at most every ``LOG_INTERVAL``
        (every poll when polls are slower). Never raises: a log that cannot be read must not end
        the watch of a job that runs on (its status decides the task); the lines are read again
        next time. The last lines are not read here: the event goes first, and the operator's
        ``execute_complete`` forwards from the event's ``log_offset``.
        """
        if not (self.forward_logs and self.kind.has_logs):
            return
        if (self._pending is not None and not self._pending.done()) or log_writer.writer().full:
            return  # the triggerer's log path is behind: read later, more lines at once
        now = time.monotonic()
        if now < self._next_log_read:
            return
        self._next_log_read = now + LOG_INTERVAL
        lines: list[str] = []
        try:
            async for line in hook.iter_resource_logs(self.kind, self.resource_id, offset=self.log_offset):
                lines.append(line)
                if len(lines) == LOG_BATCH:  # a backlog: a page at a time, so memory stays bounded
                    await asyncio.wrap_future(self._write_lines(lines))
                    lines = []
        except CompressError as err:
            self.log.warning(
                "Could not read the log of %s after line %d: %s",
                self.resource_id,
                self.log_offset + len(lines),
                err,
            )
        if lines:
            self._write_lines(lines)  # not awaited: the next poll comes on time

    def _write_lines(self, lines: list[str]) -> Future[Any]:
        """Hand the lines to the log writer thread (``log_writer``), to be written to the task log
        as one record: not from the event loop, whose own log lines must find the triggerer's
        log socket with room. One record for the lines of a read, not one a line: a record
        carries some 350 bytes of task context besides its text. The context is copied so that
        the record still reaches this trigger's task log. At most one record per trigger waits
        for the writer (``_forward_logs`` reads no more until it is written).
        """
        first, self.log_offset = self.log_offset, self.log_offset + len(lines)
        text = "\n".join(
            remote_log_line(self.resource_id, n, line) for n, line in enumerate(lines, first + 1)
        )
        context = contextvars.copy_context()
        self._pending = log_writer.writer().submit(context.run, self.log.info, "%s", text)
        self._pending_lines = len(lines)
        metrics.log_lines_when_written(self._pending, self.kind, len(lines))  # not if withdrawn
        return self._pending

    async def _stop(self, hook: DashScopeAsyncHook, why: str) -> str | None:
        """Stop the work unless it is over or already stopping, whatever else its status (one
        the provider does not know included); never raises (best effort, idempotent).

        Returns what became of the work, for the task's message: "was cancelled" / "was deleted"
        only once the API accepted the stop; None when it could not be stopped.
        """
        noun, verb = self.kind.noun, self.kind.stop_verb
        try:
            try:
                resource = await hook.get_resource(self.kind, self.resource_id)
            except NotFoundError:
                self.log.info("Not stopping %s %s (%s): it no longer exists", noun, self.resource_id, why)
                return "no longer exists"
            if not self.kind.needs_stop(resource.status):
                self.log.info(
                    "Not stopping %s %s (%s): it is %s", noun, self.resource_id, why, resource.status
                )
                return f"was {resource.status} already"
            await hook.stop_resource(self.kind, self.resource_id)
            metrics.resource_stopped(self.kind, why)
            self.log.warning("%s %s (%s) %s: %s", noun, self.resource_id, resource.status, verb, why)
            return f"was {verb}"
        except CompressError as err:
            self.log.error(
                "Could not stop %s %s (%s): %s; it may still be running", noun, self.resource_id, why, err
            )
            return None

    async def _event(self, status: str, resource: ApiModel | None, message: str) -> TriggerEvent:
        """The one event the trigger yields (``events.payload``: plain JSON), its ``log_offset``
        the lines really in the task log."""
        await self._settle_log()
        data = resource.to_dict() if resource is not None else None
        return TriggerEvent(payload(status, self.resource_id, data, self.log_offset, message))

    async def _settle_log(self) -> None:
        """Make ``log_offset`` the lines really in the task log before the event carries it: a
        record still queued (behind other triggers' or for room in the log socket) is withdrawn,
        the resumed operator forwards those lines; one being written is waited for. So the event
        never waits for the triggerer's log path."""
        pending, self._pending = self._pending, None
        if pending is None or pending.done():
            return
        if pending.cancel():
            self.log_offset -= self._pending_lines
        else:
            await asyncio.wrap_future(pending)

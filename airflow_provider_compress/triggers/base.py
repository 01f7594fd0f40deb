"""The trigger every resource kind shares: it polls the resource until it settles, copies its log
into the task log as it grows, and stops the work when the task is killed (as the triggerer tells,
``triggers.task_state``) or the deadline passes. A resource's trigger names its ``kind``."""

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

from airflow_provider_compress import _compat, _deprecated, events, metrics, protocol, validation
from airflow_provider_compress.events import WatchEnd, payload
from airflow_provider_compress.exceptions import CompressError, NotFoundError
from airflow_provider_compress.hooks.base_async import DashScopeAsyncHook
from airflow_provider_compress.log_forwarding import remote_log_line
from airflow_provider_compress.models import ApiModel
from airflow_provider_compress.protocol import Outcome, ResourceKind, describe
from airflow_provider_compress.triggers import log_writer, task_state


@functools.cache
def _freeze_inherited_heap() -> None:
    """Once per process, exclude the objects that exist when the first trigger starts (Airflow's
    own, some 240,000 in a triggerer) from the garbage collector's full collections, as Airflow
    does in its DAG processor. Without this, a full collection walked all of them every few
    seconds: the longest stalls of the triggerer's event loop (docs/performance.md).
    ``DASHSCOPE_TRIGGERER_GC_FREEZE=0`` turns it off."""
    if os.environ.get("DASHSCOPE_TRIGGERER_GC_FREEZE", "1") != "0":
        gc.freeze()


LOG_BATCH = 1000  # lines written as one record at most (a page of the API's)
# Seconds between two reads of a job's log (polls that are further apart read it every time):
# a thousand jobs read every second would hand the triggerer more records than it can route.
LOG_INTERVAL = 5.0


class DashScopeResourceTrigger(BaseTrigger):
    """Poll a resource until it settles, a deadline passes, or the task is killed.

    :param dashscope_conn_id: the connection id; the trigger never holds the key itself.
    :param resource_id: the job or deployment to watch.
    :param poll_interval: seconds between polls.
    :param log_offset: log lines already forwarded; forwarding continues from here.
    :param deadline: epoch seconds after which the work is stopped and a ``timeout`` (or
        ``execution_timeout``, after ``deadline_reason``) event sent.
    :param forward_logs: write the resource's new log lines to the task log as they appear.
    :param cancel_on_kill: stop the work (cancel a job, delete a deployment) when a user kills
        the deferred task.
    :param stop_on_timeout: stop the work when the deadline passes (else it is left as it is:
        ``DeployModelOperator(keep_deployment=True)``).
    :param deadline_reason: which deadline ``deadline`` is: ``timeout`` (the operator's) or
        ``execution_timeout`` (Airflow's, which Airflow does not enforce while a task is deferred).
    :param expect: fields the resource must show, besides a successful status, for the wait to
        succeed (a scale: ``{"capacity": 4}``); it is polled on until they do.
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
        deadline_reason: str = WatchEnd.TIMEOUT,
        expect: dict[str, Any] | None = None,
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
        self.deadline_reason = str(WatchEnd(deadline_reason))
        self.expect = dict(expect) if expect else None
        self._log_problem_warned = False
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
                "deadline_reason": self.deadline_reason,
                "expect": self.expect,
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
        outage = protocol.OutageClock((await hook.client_settings()).outage_budget)
        resource: ApiModel | None = None  # as last read
        polls, warned = 0, set[Any]()  # statuses and unmet expectations warned about
        try:
            while True:
                polls += 1
                try:
                    resource = await hook.get_resource(self.kind, self.resource_id)
                    outage.recovered()
                except CompressError as err:
                    metrics.poll_failed(self.kind)
                    if not protocol.rides_out(err) or outage.failed(time.monotonic()):
                        yield await self._event(WatchEnd.ERROR, resource, self._error_message(err, outage))
                        return
                    self.log.warning(
                        "Poll of %s %s failed (for %.0f s of the %g s outage_budget): %s",
                        self.kind.noun,
                        self.resource_id,
                        outage.lasted(time.monotonic()),
                        outage.budget,
                        err,
                    )
                else:
                    if self._settled(resource, warned):
                        # Sent without a last log read: the resumed operator forwards the lines
                        # after the event's log_offset, so the event never waits for the log.
                        metrics.event_sent(self.kind, resource, (await hook.client_settings()).service_tz)
                        yield await self._event(str(resource.status), resource, describe(self.kind, resource))
                        return
                    if resource.status not in self.kind.not_started:
                        await self._forward_logs(hook)
                if self.deadline is not None and time.time() >= self.deadline:
                    yield await self._deadline_event(hook, resource)
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

    def _settled(self, resource: ApiModel, warned: set[Any]) -> bool:
        """Whether the wait ends with ``resource`` as read: it has ended, or it succeeded and shows
        the fields ``expect`` asks for. Warns once per unknown status and once per unmet field."""
        status = resource.status
        if not self.kind.is_known(status) and ("status", status) not in warned:
            warned.add(("status", status))
            self.log.warning(self.kind.unknown_status_message(self.resource_id, status))
        outcome = self.kind.outcome(status)
        if outcome is not Outcome.SUCCEEDED:
            return outcome is not None
        missing = events.unmet(resource, self.expect)
        if missing and ("expect", str(missing)) not in warned:
            warned.add(("expect", str(missing)))
            self.log.info(
                "%s %s is %s with %s; waiting for %s",
                self.kind.noun,
                self.resource_id,
                status,
                missing,
                {field: self.expect[field] for field in missing} if self.expect else {},
            )
        return not missing

    def _error_message(self, err: CompressError, outage: protocol.OutageClock) -> str:
        failing = f"{self.kind.noun} {self.resource_id} could not be watched"
        if outage.failures > 1:
            failing += (
                f": its polls failed for {outage.lasted(time.monotonic()):.0f} s in a row, past the "
                f"connection's outage_budget of {outage.budget:g} s"
            )
        return f"{failing}; last error: {err}"

    async def _deadline_event(self, hook: DashScopeAsyncHook, resource: ApiModel | None) -> TriggerEvent:
        """The deadline passed: stop the work (unless told to keep it), and say so."""
        reason = WatchEnd(self.deadline_reason)
        why = (
            "Airflow's execution_timeout"
            if reason is WatchEnd.EXECUTION_TIMEOUT
            else "the operator's timeout"
        )
        if not self.stop_on_timeout:
            outcome = f"it was kept (not {self.kind.stop_verb})"
        else:
            outcome = await self._stop(hook, f"{why} passed") or events.stop_failed(self.kind)
        shown = f" (it is {resource.status}{self._unmet_text(resource)})" if resource is not None else ""
        message = f"{self.kind.noun} {self.resource_id} did not finish within {why}{shown} and {outcome}"
        return await self._event(reason, resource, message)

    def _unmet_text(self, resource: ApiModel) -> str:
        missing = events.unmet(resource, self.expect)
        return (
            "".join(
                f", {field} {value}, not the {self.expect[field]} asked" for field, value in missing.items()
            )
            if self.expect
            else ""
        )

    async def on_kill(self) -> None:
        """Called by Airflow 3.3 and later when the triggerer drops this trigger: either a user
        killed the deferred task (marked it failed or success, or cleared it) or another triggerer
        took the trigger over. ``_stop_if_killed`` tells the two apart."""
        if not self.cancel_on_kill:
            return
        await self._stop_if_killed()

    async def _stop_if_killed(self) -> None:
        """Stop the work only if the task really left the deferred state (docs/cancel.md). Uses a
        hook of its own: the trigger's may be closed by the time this runs. Never raises."""
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
            # "success" is also how a takeover looks to the old owner once the new one finished
            # the task: work that reached what the task asked for (a RUNNING deployment) is kept.
            why = f"the deferred task was killed (task state: {state})"
            await self._stop(hook, why, keep_succeeded=state == "success")

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
        """Copy the log lines written since the last read into the task log, at most once every
        ``LOG_INTERVAL`` seconds. Never raises: the job's status decides the task, so an unreadable
        log must not end the watch (the lines are read again next time). The last lines are the
        resumed operator's to forward, after the event's ``log_offset``."""
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
            lines_read = hook.iter_resource_logs(
                self.kind, self.resource_id, offset=self.log_offset, on_problem=self._log_problem
            )
            async for line in lines_read:
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

    def _log_problem(self, problem: str) -> None:
        """Warn, once per watch, that a log page broke the paging contract, so that no line is
        repeated or lost without a word in the task log."""
        if not self._log_problem_warned:
            self._log_problem_warned = True
            self.log.warning("%s (warned once)", problem)

    def _write_lines(self, lines: list[str]) -> Future[Any]:
        """Hand ``lines`` to the log writer thread (``log_writer``), which writes them to the task
        log as one record. A thread, not the event loop: the loop's own records need room in the
        triggerer's log socket. One record per read, not per line: each record carries some 350
        bytes of task context. The context is copied so that the record goes to this trigger's
        task log. At most one record per trigger waits: ``_forward_logs`` reads no more until then.
        """
        first, self.log_offset = self.log_offset, self.log_offset + len(lines)
        text = "\n".join(
            remote_log_line(self.resource_id, n, line) for n, line in enumerate(lines, first + 1)
        )
        context = contextvars.copy_context()
        self._pending = log_writer.writer().submit(context.run, self.log.info, "%s", text)
        self._pending_lines = len(lines)
        return metrics.log_lines_when_written(self._pending, self.kind, len(lines))  # not if withdrawn

    async def _stop(self, hook: DashScopeAsyncHook, why: str, keep_succeeded: bool = False) -> str | None:
        """Stop the work unless it is over, already being stopped, or (``keep_succeeded``) has
        succeeded; any other status, an unknown one included, is stopped. Idempotent, never raises.
        Returns what became of the work for the task's message (``events.stop_accepted`` once the API
        accepted the stop), or None when it could not be stopped."""
        noun = self.kind.noun
        try:
            try:
                resource = await hook.get_resource(self.kind, self.resource_id)
            except NotFoundError:
                self.log.info("Not stopping %s %s (%s): it no longer exists", noun, self.resource_id, why)
                return events.stop_not_needed(None)
            succeeded = self.kind.outcome(resource.status) is Outcome.SUCCEEDED
            if not self.kind.needs_stop(resource.status) or (keep_succeeded and succeeded):
                self.log.info(
                    "Not stopping %s %s (%s): it is %s", noun, self.resource_id, why, resource.status
                )
                return events.stop_not_needed(resource.status)
            await hook.stop_resource(self.kind, self.resource_id)
            metrics.resource_stopped(self.kind, why)
            outcome = events.stop_accepted(self.kind)
            self.log.warning(
                "%s %s (%s): %s, because %s", noun, self.resource_id, resource.status, outcome, why
            )
            return outcome
        except CompressError as err:
            self.log.error(
                "Could not stop %s %s (%s): %s; it may still be running", noun, self.resource_id, why, err
            )
            return None

    async def _event(self, status: str, resource: ApiModel | None, message: str) -> TriggerEvent:
        """The one event the trigger yields (``events.payload``, plain JSON). Its ``log_offset``
        counts only the lines already written to the task log."""
        await self._settle_log()
        data = resource.to_dict() if resource is not None else None
        return TriggerEvent(payload(status, self.resource_id, data, self.log_offset, message))

    async def _settle_log(self) -> None:
        """Make ``log_offset`` count only the lines in the task log before the event carries it,
        without waiting in the triggerer's log queue: a record still queued is withdrawn (the
        resumed operator forwards its lines), one already being written is waited for."""
        pending, self._pending = self._pending, None
        if pending is None or pending.done():
            return
        if pending.cancel():
            self.log_offset -= self._pending_lines
        else:
            await asyncio.wrap_future(pending)

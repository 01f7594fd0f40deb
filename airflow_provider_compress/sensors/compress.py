"""CompressJobSensor: wait for an existing compression job."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue
from airflow.sdk.exceptions import AirflowException

from airflow_provider_compress import _compat, protocol, validation
from airflow_provider_compress.hooks.compress import CompressHook
from airflow_provider_compress.models import Job
from airflow_provider_compress.operators.base import LogForwarding, fail_unless_succeeded

if TYPE_CHECKING:
    from airflow.sdk import Context


class CompressJobSensor(LogForwarding, BaseSensorOperator):
    """Wait until ``job_id`` ends: succeed on SUCCEEDED (XCom: the compressed model id), fail fast
    on FAILED or CANCELED with the reason.

    Works in ``poke``, ``reschedule`` and deferrable modes. The sensor does not own the job, so it
    never cancels it. Log lines are forwarded as they appear in poke and deferrable modes; in
    reschedule mode, where nothing survives between pokes, the whole log is forwarded once at the end.
    """

    kind = protocol.COMPRESS
    template_fields: Sequence[str] = ("job_id",)

    def __init__(
        self,
        *,
        job_id: str,
        dashscope_conn_id: str = CompressHook.default_conn_name,
        forward_logs: bool = True,
        deferrable: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        validation.check_poll_interval("poke_interval", self.poke_interval)
        self.job_id = job_id
        self.dashscope_conn_id = dashscope_conn_id
        self.forward_logs = forward_logs
        self.deferrable = _compat.default_deferrable() if deferrable is None else deferrable
        self._log_offset = 0

    @cached_property
    def hook(self) -> CompressHook:
        return CompressHook(dashscope_conn_id=self.dashscope_conn_id)

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        job = self.hook.get_job(self.job_id)
        if job.is_terminal:
            if self.forward_logs:
                self.forward_logs_from(self.job_id, 0)
            return self._done(job)
        from airflow_provider_compress.triggers.compress import CompressJobTrigger  # not at DAG parse

        self.defer(
            trigger=CompressJobTrigger(
                dashscope_conn_id=self.dashscope_conn_id,
                job_id=self.job_id,
                poll_interval=self.poke_interval,
                forward_logs=self.forward_logs,
                cancel_on_kill=False,
            ),
            method_name="execute_complete",
            timeout=datetime.timedelta(seconds=self.timeout),
        )

    def poke(self, context: Context) -> PokeReturnValue:
        job = self.hook.get_job(self.job_id)
        streaming = self.mode == "poke"
        if self.forward_logs and (job.is_terminal or (streaming and job.status not in self.kind.not_started)):
            self._log_offset = self.forward_logs_from(self.job_id, self._log_offset)
        if not job.is_terminal:
            if protocol.is_unknown_status(self.kind, job.status):
                self.log.warning(protocol.unknown_status_message(self.kind, self.job_id, job.status))
            else:
                self.log.info("Job %s is %s", self.job_id, job.status)
            return PokeReturnValue(is_done=False)
        return PokeReturnValue(is_done=True, xcom_value=self._done(job))

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> str | None:
        if not isinstance(event, dict) or "status" not in event:
            raise AirflowException(f"Unexpected trigger event: {event!r}")
        if self.forward_logs:
            self.forward_logs_from(self.job_id, int(event.get("log_offset") or 0))
        if event["status"] in ("timeout", "error"):
            raise AirflowException(str(event.get("message")))
        return self._done(Job.from_api(event["job"]))

    def _done(self, job: Job) -> str | None:
        fail_unless_succeeded(self.kind, job)
        return job.quantized_output

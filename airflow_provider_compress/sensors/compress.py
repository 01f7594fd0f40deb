"""CompressJobSensor: wait for an existing compression job."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue
from airflow.sdk.exceptions import AirflowException

from airflow_provider_compress import _compat, protocol, validation
from airflow_provider_compress.events import ResourceEvent
from airflow_provider_compress.hooks.compress import CompressHook
from airflow_provider_compress.log_forwarding import LogForwarding
from airflow_provider_compress.models import Job
from airflow_provider_compress.protocol import Outcome

if TYPE_CHECKING:
    from airflow.sdk import Context


class CompressJobSensor(LogForwarding, BaseSensorOperator):
    """Wait until ``job_id`` ends: succeed on SUCCEEDED (XCom: the compressed model id), fail fast
    on FAILED or CANCELED with the reason.

    Works in ``poke``, ``reschedule`` and deferrable modes. The sensor does not own the job, so it
    never cancels it. Log lines are forwarded as they appear in poke and deferrable modes; in
    reschedule mode, where nothing survives between pokes, the whole log is forwarded once at the end.

    :param job_id: the compression job (templated).
    :param dashscope_conn_id: the ``dashscope`` connection.
    :param forward_logs: copy the job's log lines into the task log.
    :param deferrable: wait in the triggerer instead of a worker slot (default: Airflow's
        ``[operators] default_deferrable``); ``poke_interval`` is its poll interval.
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
        if self.kind.is_terminal(job.status):
            if self.forward_logs:
                self.forward_logs_from(self.job_id, 0)
            return self._done(job)
        from airflow_provider_compress.triggers.compress import CompressJobTrigger  # not at DAG parse

        self.defer(
            trigger=CompressJobTrigger(
                dashscope_conn_id=self.dashscope_conn_id,
                resource_id=self.job_id,
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
        ended = self.kind.is_terminal(job.status)
        if self.forward_logs and (ended or (streaming and job.status not in self.kind.not_started)):
            self._log_offset = self.forward_logs_from(self.job_id, self._log_offset)
        if not ended:
            if not self.kind.is_known(job.status):
                self.log.warning(self.kind.unknown_status_message(self.job_id, job.status))
            else:
                self.log.info("Job %s is %s", self.job_id, job.status)
            return PokeReturnValue(is_done=False)
        return PokeReturnValue(is_done=True, xcom_value=self._done(job))

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> str | None:
        read = ResourceEvent.read(event)
        if read is None:
            raise AirflowException(f"Unexpected trigger event: {event!r}")
        if self.forward_logs:
            self.forward_logs_from(self.job_id, read.log_offset)
        if read.watch_ended:
            raise AirflowException(read.message)
        return self._done(Job.from_api(read.resource))

    def _done(self, job: Job) -> str | None:
        if self.kind.outcome(job.status) is not Outcome.SUCCEEDED:
            raise AirflowException(protocol.describe(self.kind, job))
        return job.quantized_output

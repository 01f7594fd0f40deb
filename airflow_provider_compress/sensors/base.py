"""The sensor compression and fine-tune jobs share: wait for a job someone else created.

A job's sensor subclasses ``DashScopeJobSensor`` with its ``kind``, hook class and trigger
class. The sensor does not own what it watches: it never cancels a job or deletes a deployment,
not on a kill, not on its timeout (the trigger it defers to gets ``cancel_on_kill=False``).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseSensorOperator, PokeReturnValue
from airflow.sdk.exceptions import AirflowException

from airflow_provider_compress import _compat, metrics, validation
from airflow_provider_compress.events import ResourceEvent, fail_unless_succeeded, log_status
from airflow_provider_compress.hooks.base import DashScopeHook
from airflow_provider_compress.log_forwarding import LogForwarding
from airflow_provider_compress.models import ApiModel

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_compress.triggers.base import DashScopeResourceTrigger


class DashScopeJobSensor(LogForwarding, BaseSensorOperator):
    """Wait until ``job_id`` settles: succeed on success (XCom: the resource's output), fail fast
    on failure with the reason.

    Works in ``poke``, ``reschedule`` and deferrable modes. Log lines are forwarded as they appear
    in poke and deferrable modes; in reschedule mode, where nothing survives between pokes, the
    whole log is forwarded once at the end. A timeout fails the task and leaves the work running.

    :param job_id: the job to wait for (templated).
    :param dashscope_conn_id: the Airflow connection of type ``dashscope``.
    :param forward_logs: copy the job's log lines into the task log.
    :param deferrable: wait in the triggerer instead of a worker slot (default: Airflow's
        ``[operators] default_deferrable``).
    """

    hook_class: ClassVar[type[DashScopeHook]]
    template_fields: Sequence[str] = ("job_id",)

    def __init__(
        self,
        *,
        job_id: str,
        dashscope_conn_id: str = DashScopeHook.default_conn_name,
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
    def hook(self) -> Any:
        return self.hook_class(dashscope_conn_id=self.dashscope_conn_id)

    def trigger_class(self) -> type[DashScopeResourceTrigger]:
        """The trigger to defer to; imported on first use, not when a DAG file is parsed."""
        raise NotImplementedError

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        resource = self.hook.get_resource(self.kind, self.job_id)
        if self.kind.is_terminal(resource.status):
            if self.forward_logs:
                self.forward_logs_from(self.job_id, 0)
            return self._done(resource)
        self.defer(
            trigger=self.trigger_class()(
                dashscope_conn_id=self.dashscope_conn_id,
                resource_id=self.job_id,
                poll_interval=self.poke_interval,
                forward_logs=self.forward_logs,
                cancel_on_kill=False,  # not ours to stop
            ),
            method_name="execute_complete",
            timeout=datetime.timedelta(seconds=self.timeout),
        )

    def poke(self, context: Context) -> PokeReturnValue:
        kind = self.kind
        resource = self.hook.get_resource(kind, self.job_id)
        ended = kind.is_terminal(resource.status)
        streaming = self.mode == "poke"
        if self.forward_logs and (ended or (streaming and resource.status not in kind.not_started)):
            self._log_offset = self.forward_logs_from(self.job_id, self._log_offset)
        if not ended:
            log_status(self.log, kind, resource)
            return PokeReturnValue(is_done=False)
        return PokeReturnValue(is_done=True, xcom_value=self._done(resource))

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        read = ResourceEvent.read(event)
        if read is None:
            raise AirflowException(f"Unexpected trigger event: {event!r}")
        if self.forward_logs:  # lines written after the trigger's last read
            self.forward_logs_from(self.job_id, read.log_offset)
        if read.watch_ended:
            raise AirflowException(read.message)
        return self._done(self.kind.model.from_api(read.resource))

    def _done(self, resource: ApiModel) -> Any:
        metrics.resource_ended(self.kind, resource, self.hook.settings.service_tz)
        fail_unless_succeeded(self.kind, resource)
        return self.kind.output(resource)

"""The sensor every resource kind shares: wait for a job or deployment someone else created.

A resource's sensor subclasses ``DashScopeResourceSensor`` with its ``kind``, hook class,
trigger class and ``id_param``, the templated parameter that names the resource (``job_id``,
``deployed_model``). The sensor does not own what it watches: it never cancels a job or deletes a
deployment, not on a kill, not on its timeout, not on Airflow's ``execution_timeout``, not when
the wait ends in error (the trigger it defers to gets ``cancel_on_kill=False`` and
``stop_on_timeout=False``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseSensorOperator, PokeReturnValue
from airflow.sdk.exceptions import AirflowException

from airflow_provider_compress import _compat, events, metrics, validation
from airflow_provider_compress.events import ResourceEvent, WatchEnd, fail_unless_succeeded, log_status
from airflow_provider_compress.hooks.base import DashScopeHook
from airflow_provider_compress.links.console import LinkedResource
from airflow_provider_compress.log_forwarding import LogForwarding
from airflow_provider_compress.models import ApiModel

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_compress.triggers.base import DashScopeResourceTrigger


class DashScopeResourceSensor(LinkedResource, LogForwarding, BaseSensorOperator):
    """Wait until the resource settles: succeed when it reached what the wait is for (XCom: the
    resource's output), fail fast when it failed or was stopped, with the reason.

    Works in ``poke``, ``reschedule`` and deferrable modes. Log lines (of jobs) are forwarded as
    they appear in poke and deferrable modes; in reschedule mode, where nothing survives between
    pokes, the whole log is forwarded once at the end. A status the provider does not know is
    logged and poked on. The sensor's ``timeout`` fails the task as Airflow's sensors do
    (``AirflowSensorTimeout``, not retried), Airflow's ``execution_timeout`` as Airflow's own
    (``AirflowTaskTimeout``, retried), also while deferred; either leaves the work running.

    :param dashscope_conn_id: the Airflow connection of type ``dashscope``.
    :param forward_logs: copy the job's log lines into the task log.
    :param deferrable: wait in the triggerer instead of a worker slot (default: Airflow's
        ``[operators] default_deferrable``).
    """

    hook_class: ClassVar[type[DashScopeHook]]
    id_param: ClassVar[str]  # the parameter naming the resource: job_id, deployed_model

    def __init__(
        self,
        *,
        dashscope_conn_id: str = DashScopeHook.default_conn_name,
        forward_logs: bool = True,
        deferrable: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        validation.check_poll_interval("poke_interval", self.poke_interval)
        self.dashscope_conn_id = dashscope_conn_id
        self.forward_logs = forward_logs and self.kind.has_logs
        self.deferrable = _compat.default_deferrable() if deferrable is None else deferrable
        self._log_offset = 0
        self._last_status: object = None

    @property
    def resource_id(self) -> str:
        return getattr(self, self.id_param)

    @cached_property
    def hook(self) -> Any:
        return self.hook_class(dashscope_conn_id=self.dashscope_conn_id)

    def trigger_class(self) -> type[DashScopeResourceTrigger]:
        """The trigger to defer to; imported on first use, not when a DAG file is parsed."""
        raise NotImplementedError

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        resource = self.hook.get_resource(self.kind, self.resource_id)
        if self.kind.is_terminal(resource.status):
            if self.forward_logs:
                self.forward_logs_from(self.resource_id, 0)
            return self._done(resource)
        log_status(self.log, self.kind, resource)
        started = getattr(context.get("ti"), "start_date", None)
        execution_timeout = self.execution_timeout.total_seconds() if self.execution_timeout else None
        deadline, reason = events.deadline_of(
            time.time(), self.timeout, started.timestamp() if started else None, execution_timeout
        )
        self.defer(
            trigger=self.trigger_class()(
                dashscope_conn_id=self.dashscope_conn_id,
                resource_id=self.resource_id,
                poll_interval=self.poke_interval,
                forward_logs=self.forward_logs,
                deadline=deadline,
                deadline_reason=reason,
                cancel_on_kill=False,  # not ours to stop
                stop_on_timeout=False,
            ),
            method_name="execute_complete",
            # Airflow's own end of the wait, should no triggerer run the trigger by its deadline
            timeout=events.deferral_timeout(deadline, 60.0),
        )

    def poke(self, context: Context) -> PokeReturnValue:
        kind = self.kind
        resource = self.hook.get_resource(kind, self.resource_id)
        ended = kind.is_terminal(resource.status)
        streaming = self.mode == "poke"
        if self.forward_logs and (ended or (streaming and resource.status not in kind.not_started)):
            self._log_offset = self.forward_logs_from(self.resource_id, self._log_offset)
        if ended:
            return PokeReturnValue(is_done=True, xcom_value=self._done(resource))
        if resource.status != self._last_status:  # once per status, not once per poke
            self._last_status = resource.status
            log_status(self.log, kind, resource)
        return PokeReturnValue(is_done=False)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        read = ResourceEvent.read(event)
        if read is None:
            raise AirflowException(f"Unexpected trigger event: {event!r}")
        if self.forward_logs:  # lines written after the trigger's last read
            self.forward_logs_from(self.resource_id, read.log_offset)
        if read.status == WatchEnd.TIMEOUT:
            raise _compat.AirflowSensorTimeout(read.message)
        if read.status == WatchEnd.EXECUTION_TIMEOUT:
            raise _compat.AirflowTaskTimeout(read.message)
        if read.watch_ended:
            raise AirflowException(f"{read.message}; the sensor leaves it as it is")
        return self._done(self.kind.model.from_api(read.resource))

    def _done(self, resource: ApiModel) -> Any:
        metrics.resource_ended(self.kind, resource, self.hook.settings.service_tz)
        fail_unless_succeeded(self.kind, resource)
        return self.kind.output(resource)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Lineage for Airflow's OpenLineage provider (the ``openlineage`` extra): what the
        resource read and, once it succeeded, its output, from its record read again at the end."""
        from airflow_provider_compress import lineage

        resource = self.hook.get_resource(self.kind, self.resource_id)
        return lineage.watched_lineage(self.hook.settings, self.kind, resource, self.operator_extra_links)


class DashScopeJobSensor(DashScopeResourceSensor):
    """Wait until ``job_id`` settles (compression and fine-tune jobs).

    :param job_id: the job to wait for (templated).
    """

    id_param = "job_id"
    template_fields: Sequence[str] = ("job_id",)

    def __init__(self, *, job_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_id = job_id

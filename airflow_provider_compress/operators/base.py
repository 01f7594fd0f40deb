"""The operator machinery every resource kind shares: create or reattach, wait in the worker or
deferred, forward logs, stop the work on kill or timeout. A resource's operator subclasses
``DashScopeResourceOperator`` with its ``kind``, its spec, hook and trigger classes, and keeps one
templated attribute per field of its spec.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

from airflow_provider_compress import (
    _compat,
    _deprecated,
    concurrency,
    costs,
    events,
    metrics,
    ownership,
    protocol,
    validation,
)
from airflow_provider_compress.events import ResourceEvent, WatchEnd
from airflow_provider_compress.exceptions import CompressError, CompressValidationError
from airflow_provider_compress.hooks.base import DashScopeHook
from airflow_provider_compress.links.console import persist_links
from airflow_provider_compress.log_forwarding import LogForwarding
from airflow_provider_compress.models import ApiModel
from airflow_provider_compress.operators.exits import WorkExits
from airflow_provider_compress.operators.naming import (
    IF_EXISTS_CHOICES,
    IfExists,
    derive_job_name,
    latest_generation,
    plan_create,
)
from airflow_provider_compress.protocol import Outcome
from airflow_provider_compress.specs import CreateSpec, Difference

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_compress.triggers.base import DashScopeResourceTrigger

HookT = TypeVar("HookT", bound=DashScopeHook)
# How long a later try waits before adopting work an earlier try left running (docs/cancel.md):
# time for the trigger of a cleared try to stop it (a triggerer notices a clear within seconds).
EARLIER_TRY_GRACE = 10.0
# Airflow's own deferral timeout comes this long after the trigger's deadline: only when no
# triggerer ran the trigger at its deadline does Airflow end the wait (``resume_execution``).
DEFERRAL_GRACE = 60.0


class DashScopeResourceOperator(WorkExits, LogForwarding, BaseOperator, Generic[HookT]):
    """Create a resource (or reattach to the one an earlier try made) and wait until it settles.

    Pushes the resource's id to XCom (under the kind's id field: ``job_id``, ``deployed_model``) as
    soon as it exists, and returns the resource's output (the trained or compressed model, the
    deployed model) when it waited, its id otherwise. Subclasses set ``kind``, ``spec_class`` and
    ``hook_class``, keep an attribute per field of the spec, and implement ``trigger_class``.

    :param dashscope_conn_id: the ``dashscope`` connection.
    :param wait_for_completion: wait for the resource to settle (else return right after creating it).
    :param deferrable: wait in the triggerer instead of a worker slot (default: Airflow's
        ``[operators] default_deferrable``).
    :param poll_interval: seconds between status polls (at least 1).
    :param timeout: seconds to wait before the work is stopped (a job cancelled, a deployment
        deleted) and the task fails; None: no limit.
    :param forward_logs: copy the remote log lines into the task log as they appear.
    :param cancel_on_kill: stop the work when the task is killed (mark failed or success, clear).
    :param if_exists: when a resource with this task's name exists: ``reattach`` to it unless it
        failed, was stopped or is being stopped (then create a new generation), ``fail``, or
        ``create_new``. One made with other arguments is not reattached: the task fails before
        creating anything, naming each difference.
    :param if_job_exists: the former name of ``if_exists`` (deprecated).
    """

    spec_class: ClassVar[type[CreateSpec]]
    hook_class: type[HookT]
    lineage_output: ClassVar[str] = "models"  # the lineage collection of the resource's output
    ui_color = "#ff6a00"

    def __init__(
        self,
        *,
        dashscope_conn_id: str = DashScopeHook.default_conn_name,
        wait_for_completion: bool = True,
        deferrable: bool | None = None,
        poll_interval: float = 30,
        timeout: float | None = None,
        forward_logs: bool = True,
        cancel_on_kill: bool = True,
        if_exists: IfExists | None = None,
        if_job_exists: IfExists | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if_exists = _deprecated.renamed_argument("if_job_exists", if_job_exists, "if_exists", if_exists)
        if_exists = if_exists or "reattach"
        if if_exists not in IF_EXISTS_CHOICES:
            raise CompressValidationError(
                "if_exists", "must be 'reattach', 'fail' or 'create_new'", if_exists
            )
        validation.check_poll_interval("poll_interval", poll_interval)
        validation.check_timeout("timeout", timeout)
        self.dashscope_conn_id = dashscope_conn_id
        self.wait_for_completion = wait_for_completion
        self.deferrable = _compat.default_deferrable() if deferrable is None else deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.forward_logs = forward_logs
        self.cancel_on_kill = cancel_on_kill
        # Whether a timeout stops the work too; only DeployModelOperator(keep_deployment=True) keeps it.
        self.stop_on_timeout = True
        self.if_exists: IfExists = if_exists
        self.resource_id: str | None = None
        self.resource: ApiModel | None = None  # as last read: the lineage's output
        self._creating: str | None = None

    @cached_property
    def hook(self) -> HookT:
        return self.hook_class(dashscope_conn_id=self.dashscope_conn_id)

    def take_fields(self, given: dict[str, Any]) -> None:
        """Keep the spec's fields as given to a subclass's ``__init__`` (its ``locals()``): one
        templated attribute per field, named as in the spec, which documents them."""
        for field in self.spec_class.field_names():
            setattr(self, field, given[field])

    def fields(self) -> dict[str, Any]:
        """The spec's fields as this task holds them (rendered once it runs), not checked."""
        return {field: getattr(self, field) for field in self.spec_class.field_names()}

    # --- what a resource's operator provides

    def build_spec(self, name: str | None = None) -> CreateSpec:
        """The create request from this task's rendered arguments, named ``name`` ('' is not given)."""
        values = self.fields()
        for field, value in values.items():
            if isinstance(value, Iterator):  # read once: the spec is built again at the end
                values[field] = list(value)
                setattr(self, field, values[field])
        values[self.kind.name_field] = name
        return self.spec_class(**{field: None if value == "" else value for field, value in values.items()})

    def requested_name(self) -> str | None:
        """The name the user asked for, if any (else one is derived from the task instance)."""
        return getattr(self, self.kind.name_field, None) or None

    def trigger_class(self) -> type[DashScopeResourceTrigger]:
        """The trigger to defer to; imported on first use, not when a DAG file is parsed."""
        raise NotImplementedError

    def check_before_create(self, spec: CreateSpec) -> None:
        """Fetch through the hook what the spec's checks against the API need, and run them
        (``CompressJobSpec.check_template``, ``DeploymentSpec.check_deployable``): only when this
        try creates, not when it reattaches. They raise to fail before the create."""

    def on_created(self, context: Context, resource: ApiModel) -> None:
        """After the resource exists (created or reattached): store the URLs of its console links."""
        persist_links(self, context, self.hook.settings, self.kind.resource_id(resource))

    def lineage_inputs(self) -> list[tuple[str, str]]:
        """What the resource reads, as (collection, name) for ``lineage.dataset``."""
        return []

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Lineage for Airflow's OpenLineage provider (the ``openlineage`` extra), whose listener
        calls this when the task ends, also when it failed (then without the output)."""
        from airflow_provider_compress import lineage

        resource, output = self.resource, None
        if resource is not None and self.kind.outcome(resource.status) is Outcome.SUCCEEDED:
            output = self.kind.output(resource)  # not before: a failed deployment has an id too
        reported = lineage.operator_lineage(
            self.hook.settings,
            self.lineage_inputs(),
            (self.lineage_output, output) if output else None,
            self.resource_id,
            links=self.operator_extra_links,
        )
        reported.run_facets.update(costs.lineage_facets(self.kind, resource) if resource else {})
        return reported

    def asset_extra(self, resource: ApiModel) -> dict[str, Any]:
        """The extra of the Asset events emitted for this task's ``outlets`` on success."""
        return {
            self.kind.id_field: self.kind.resource_id(resource),
            self.kind.output_field: self.kind.output(resource),
        }

    # --- execute

    def execute(self, context: Context) -> Any:
        resource = self.resource = self._create_or_reattach(context)
        self.resource_id = self.kind.resource_id(resource)
        context["ti"].xcom_push(key=self.kind.id_field, value=self.resource_id)
        self.on_created(context, resource)
        if not self.wait_for_completion:
            return self.resource_id
        if self.deferrable and not self.kind.is_terminal(resource.status):
            deadline, reason = self._deadline(context)
            self.defer(
                trigger=self.trigger_class()(
                    dashscope_conn_id=self.dashscope_conn_id,
                    resource_id=self.resource_id,
                    poll_interval=self.poll_interval,
                    deadline=deadline,
                    forward_logs=self.forward_logs,
                    cancel_on_kill=self.cancel_on_kill,
                    stop_on_timeout=self.stop_on_timeout,
                    deadline_reason=reason,
                ),
                method_name="execute_complete",
                timeout=events.deferral_timeout(deadline, DEFERRAL_GRACE),
            )
        # In the worker Airflow enforces execution_timeout itself (and calls on_kill).
        deadline = time.time() + self.timeout if self.timeout else None
        return self._finish(context, self._wait(context, self.resource_id, deadline))

    def _deadline(self, context: Context) -> tuple[float | None, WatchEnd]:
        """The trigger's deadline: the operator's timeout, or Airflow's execution_timeout counted
        from the try's start, whichever comes first (Airflow does not enforce the latter while a
        task is deferred)."""
        started = getattr(context.get("ti"), "start_date", None)
        execution_timeout = self.execution_timeout.total_seconds() if self.execution_timeout else None
        return events.deadline_of(
            time.time(), self.timeout, started.timestamp() if started else None, execution_timeout
        )

    def _create_or_reattach(self, context: Context) -> ApiModel:
        kind, ti = self.kind, context["ti"]
        spec = self.build_spec()  # checked before any request
        map_index = ti.map_index if ti.map_index is not None else -1
        base = self.requested_name() or derive_job_name(ti.dag_id, ti.run_id, ti.task_id, map_index)
        candidates = self.hook.iter_resources(kind, **kind.name_query(base))
        generation, existing = latest_generation(candidates, base, kind.name_field)
        if existing is not None and ti.try_number > 1 and self.if_exists == "reattach":
            existing = self._unless_being_stopped(existing)
        reattach, name = plan_create(kind, base, generation, existing, self.if_exists)
        if reattach is not None:
            # The list leaves fields out (hyper-parameters): compare the whole record.
            reattach = self.hook.get_resource(kind, kind.resource_id(reattach))
            self._fail_if_made_otherwise(reattach, spec.differences(reattach))
            self.log.info(
                "Reattaching to %s %s (%r, %s)", kind.noun, kind.resource_id(reattach), base, reattach.status
            )
            metrics.resource_reattached(kind)
            if self.wait_for_completion and self.forward_logs and kind.has_logs:
                self.log.info(
                    "Its log is forwarded again from #1: the lines an earlier try forwarded are in both logs"
                )
            return reattach
        spec = ownership.mark(spec.with_name(name), ti)  # its description names the task: docs/operations.md
        with concurrency.refusals(kind, name):  # 429 after the retries: too many jobs, use a pool
            self.check_before_create(spec)
            self.log.info("Creating %s %r: %s", kind.noun, name, spec.body())
            self._creating = name  # a kill from now on looks the name up: the create may go through
            resource = self.hook.create(spec)  # a lost answer: the hook adopts what it made, if it did
        self.log.info("Created %s %s", kind.noun, kind.resource_id(resource))
        metrics.resource_created(kind)
        return resource

    def _unless_being_stopped(self, resource: ApiModel) -> ApiModel:
        """The work of an earlier try, read again until it is being stopped or a grace passed.

        A clear of a deferred task starts the next try at once, while the old try's trigger is
        still about to stop its work: adopting that work would see it cancelled under us. Waiting
        for the stop to show makes a clear restart the work (a new generation is created). After a
        crash nothing stops the work, and the next try reattaches once the grace has passed.
        """
        kind, resource_id = self.kind, self.kind.resource_id(resource)
        deadline = time.monotonic() + EARLIER_TRY_GRACE
        if not kind.is_terminal(resource.status) and resource.status not in kind.stopping:
            self.log.info(
                "Found %s %s (%s) of an earlier try; waiting up to %g s in case that try was "
                "cleared and its trigger is stopping it",
                kind.noun,
                resource_id,
                resource.status,
                EARLIER_TRY_GRACE,
            )
        while not kind.is_terminal(resource.status) and resource.status not in kind.stopping:
            if time.monotonic() >= deadline:
                break
            time.sleep(1)
            resource = self.hook.get_resource(kind, resource_id)
        return resource

    def _fail_if_made_otherwise(self, resource: ApiModel, differences: list[Difference]) -> None:
        """Fail when an earlier try's resource was made with other arguments than this task asks
        for: its output would not be what the task asks for (its arguments changed since)."""
        if not differences:
            return
        kind = self.kind
        raise AirflowException(
            f"{kind.noun} {kind.resource_id(resource)} ({getattr(resource, kind.name_field)!r}, "
            f"{resource.status}) of an earlier try differs from what this task asks for: "
            + "; ".join(str(d) for d in differences)
            + f". To go on, set if_exists='create_new' (or another {kind.name_field}) to make a new "
            f"{kind.noun} next to it, or {'delete' if kind.stop_by_delete else 'cancel or delete'} it "
            "and clear the task"
        )

    def _wait(self, context: Context, resource_id: str, deadline: float | None) -> ApiModel:
        offset, status, resource = 0, None, None
        outage = protocol.OutageClock(self.hook.settings.outage_budget)
        while True:
            try:
                resource = self.hook.get_resource(self.kind, resource_id)
                outage.recovered()
            except CompressError as err:
                metrics.poll_failed(self.kind)
                if not protocol.rides_out(err) or outage.failed(time.monotonic()):
                    self._give_up(
                        context, f"{self.kind.noun} {resource_id} could not be watched: {err}", resource
                    )
                self.log.warning(
                    "Poll of %s %s failed (for %.0f s of the %g s outage_budget): %s",
                    self.kind.noun,
                    resource_id,
                    outage.lasted(time.monotonic()),
                    outage.budget,
                    err,
                )
            else:
                if resource.status != status:
                    status = resource.status
                    events.log_status(self.log, self.kind, resource)
                if self.forward_logs and status not in self.kind.not_started:
                    offset = self.forward_logs_from(resource_id, offset)
                if self.kind.is_terminal(status):
                    return resource
            if deadline is not None and time.time() >= deadline:
                if not self.stop_on_timeout:
                    outcome = f"it was kept (not {self.kind.stop_verb})"
                else:
                    outcome = self._stop("the operator's timeout passed") or events.stop_failed(self.kind)
                raise AirflowException(
                    f"{self.kind.noun} {resource_id} did not finish within the operator's timeout "
                    f"({self.timeout:g} s) and {outcome}"
                )
            time.sleep(
                self.poll_interval
                if deadline is None
                else max(0, min(self.poll_interval, deadline - time.time()))
            )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        read = ResourceEvent.read(event)
        if read is None or not read.resource_id:
            raise AirflowException(f"Unexpected trigger event: {event!r}")
        self.resource_id = read.resource_id
        if self.forward_logs:  # lines written after the trigger's last read; none repeated
            self.forward_logs_from(read.resource_id, read.log_offset)
        last = self.kind.model.from_api(read.resource) if read.resource is not None else None
        if read.status == WatchEnd.ERROR:
            self._give_up(context, read.message, last)
        if read.status == WatchEnd.EXECUTION_TIMEOUT:
            raise _compat.AirflowTaskTimeout(read.message)  # as Airflow's own: retries apply
        if read.watch_ended:
            raise AirflowException(read.message)
        return self._finish(context, last)

    def _finish(self, context: Context, resource: ApiModel | None) -> Any:
        if resource is None:
            raise AirflowException(
                f"{self.kind.noun} {self.resource_id}: the trigger's event carried no resource"
            )
        self.resource = resource
        metrics.resource_ended(self.kind, resource, self.hook.settings.service_tz)
        costs.push(context, self.kind, resource)  # a CANCELED job's usage too
        if self.kind.outcome(resource.status) is not Outcome.SUCCEEDED:
            self.on_failed(resource)
            raise AirflowException(protocol.describe(self.kind, resource))
        # What the API shows only at the end (the compressed model's suffix) is checked now: an
        # earlier try's job reattached while it ran may have been made with another one.
        spec = self.build_spec()
        late = [d for d in spec.differences(resource) if d.field in spec.late_fields]
        self._fail_if_made_otherwise(resource, late)
        output = self.kind.output(resource)
        if not output:  # nothing for the next task to use: a success nobody could verify
            raise AirflowException(
                f"{self.kind.noun} {self.resource_id} is {resource.status} but its answer names no "
                f"{self.kind.output_field}: nothing to hand on. Look at it in the console; a retry "
                "reattaches to it (if_exists='create_new' makes a new one)"
            )
        self.log.info("%s", protocol.describe(self.kind, resource))
        extra = {**self.asset_extra(resource), **costs.asset_extra(self.kind, resource)}
        for outlet in self.outlets:
            context["outlet_events"][outlet].extra = extra
        return output

    def on_failed(self, resource: ApiModel) -> None:
        """Before the task fails on a failed resource: e.g. delete a failed deployment."""

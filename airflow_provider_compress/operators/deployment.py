"""The last stage of fine-tune -> compress -> deploy: DeployModelOperator, ScaleDeploymentOperator
and DeleteDeploymentOperator.

Longer than 400 lines on purpose: the deployment's three operators stay in the one module DAGs
import them from.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

from airflow_provider_compress import _compat, events, metrics, protocol, validation
from airflow_provider_compress.events import (
    DeletionEnd,
    ResourceEvent,
    WatchEnd,
    fail_unless_succeeded,
    log_status,
)
from airflow_provider_compress.exceptions import (
    CompressApiError,
    CompressError,
    NotFoundError,
)
from airflow_provider_compress.hooks.deployment import DeploymentHook
from airflow_provider_compress.links.console import DeploymentLink, LinkedResource
from airflow_provider_compress.models import ApiModel, Deployment, DeploymentStatus
from airflow_provider_compress.operators.base import DashScopeResourceOperator
from airflow_provider_compress.operators.templates import JsonTemplates
from airflow_provider_compress.protocol import DEPLOYMENT
from airflow_provider_compress.specs import CreateSpec, DeploymentSpec, ScaleSpec

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_compress.triggers.base import DashScopeResourceTrigger

# How long DeployModelOperator waits for RUNNING unless told otherwise: the fact sheet's 5-10
# minutes (16 for a Wan LoRA) several times over. Then what the task created is deleted.
DEFAULT_DEPLOY_TIMEOUT = 3600.0


class DeployModelOperator(JsonTemplates, DashScopeResourceOperator[DeploymentHook]):
    """Deploy a model (e.g. the compress operator's return value) and wait until it is RUNNING.

    Returns the ``deployed_model`` (the id to call inference with), pushed to XCom as soon as the
    deployment exists. Billing starts once it runs, so unless ``keep_deployment`` is set the
    deployment this task created is deleted when the task is killed, times out (``timeout``:
    3600 s, ``DEFAULT_DEPLOY_TIMEOUT``, unless given; None waits without end), or the deployment
    FAILED. ARREARS_DOWN fails the task but
    is not deleted: paying the bill brings it back, a delete could not be undone. A retry
    reattaches to the deployment of the earlier try (found by its ``name``, derived from the task
    instance like the job names) instead of deploying twice.

    Before creating, the plan, MU spec and capacity are checked against what
    ``GET /deployments/models`` lists for the model; a mismatch fails the task naming the field
    and the allowed values. A model the list does not show is left to the create.

    The deployment's fields (all templated) are those of ``DeploymentSpec``, which checks them
    before any request; the waiting, timeout and reattach parameters are those of
    ``DashScopeResourceOperator`` (``forward_logs`` is off: deployments have no log). A deployment
    found by name that serves another model or has another ``plan``, ``capacity`` or
    ``deploy_spec`` is not reattached: the task fails first. ``ptu_capacity`` and ``extra`` may
    name a ``.json`` file instead, a template read as JSON (``template_ext``). Without a ``name``
    the name is derived from the task instance, the key for reattaching.

    :param keep_deployment: never delete the deployment on kill, timeout or failure (the task
        still fails; the deployment is left as it is, and billed once it runs).
    """

    kind = protocol.DEPLOYMENT
    spec_class = DeploymentSpec
    hook_class = DeploymentHook
    template_fields: Sequence[str] = DeploymentSpec.field_names()
    template_fields_renderers: ClassVar[dict[str, str]] = {"ptu_capacity": "json", "extra": "json"}
    operator_extra_links = (DeploymentLink(),)
    lineage_output = "deployments"
    json_fields = ("ptu_capacity", "extra")

    def __init__(
        self,
        *,
        model_name: str,
        name: str | None = None,
        plan: str | None = None,
        capacity: int | None = None,
        deploy_spec: str | None = None,
        billing_method: str | None = None,
        template_id: str | None = None,
        suffix: str | None = None,
        ptu_capacity: Mapping[str, int] | str | None = None,
        extra: Mapping[str, Any] | str | None = None,
        keep_deployment: bool = False,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("forward_logs", False)  # deployments have no log endpoint
        # A deployment stuck before RUNNING may bill: never wait for it without an end.
        kwargs.setdefault("timeout", DEFAULT_DEPLOY_TIMEOUT)
        super().__init__(cancel_on_kill=not keep_deployment, **kwargs)
        self.take_fields(locals())
        self.keep_deployment = keep_deployment
        self.stop_on_timeout = not keep_deployment

    def trigger_class(self) -> type[DashScopeResourceTrigger]:
        from airflow_provider_compress.triggers.deployment import DeploymentTrigger

        return DeploymentTrigger

    def requested_name(self) -> str | None:
        # A name given in extra is the name (the spec takes it from there).
        return getattr(self.build_spec(self.fields()["name"] or None), self.kind.name_field) or None

    def check_before_create(self, spec: CreateSpec) -> None:
        assert isinstance(spec, DeploymentSpec)
        try:
            model = self.hook.find_deployable_model(spec.model_name)
        except CompressError as err:
            self.log.warning("Could not list the deployable models (%s): the create decides", err)
            return
        if model is None:
            self.log.warning(
                "%s is not among the deployable models listed: the create decides", spec.model_name
            )
            return
        spec.check_deployable(model)

    def on_failed(self, resource: ApiModel) -> None:
        if self.keep_deployment:
            return
        if resource.status == DeploymentStatus.ARREARS_DOWN:
            self.log.warning(
                "Deployment %s is ARREARS_DOWN (the account is in arrears): NOT deleting it. Paying "
                "the bill brings it back (ARREARS_RECOVERING, then RUNNING); a delete could not be "
                "undone. Delete it yourself if it is not wanted",
                self.kind.resource_id(resource),
            )
            return
        # A failed deployment serves nothing; deleting it frees the name and the model's slot.
        if self.kind.needs_stop(resource.status):
            self._stop("the deployment failed")

    def lineage_inputs(self) -> list[tuple[str, str]]:
        return [("models", self.fields()["model_name"])]

    def asset_extra(self, resource: ApiModel) -> dict[str, Any]:
        return {"deployed_model": self.kind.resource_id(resource), "model_name": resource.model_name}


class _DeploymentTask(LinkedResource, BaseOperator):
    """What the operators acting on an existing deployment share: the connection, and where, how
    often and how long they wait; the console link, and the lineage of the change."""

    template_fields: Sequence[str] = ("deployed_model",)
    ui_color = "#ff6a00"
    operator_extra_links = (DeploymentLink(),)
    id_param = "deployed_model"
    lineage_change: ClassVar[str]  # what the task does to the deployment, in OpenLineage's words

    def __init__(
        self,
        *,
        deployed_model: str,
        dashscope_conn_id: str,
        deferrable: bool | None,
        poll_interval: float,
        timeout: float,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        validation.check_poll_interval("poll_interval", poll_interval)
        validation.check_timeout("timeout", timeout, optional=False)
        self.deployed_model = deployed_model
        self.dashscope_conn_id = dashscope_conn_id
        self.deferrable = _compat.default_deferrable() if deferrable is None else deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout

    @cached_property
    def hook(self) -> DeploymentHook:
        return DeploymentHook(dashscope_conn_id=self.dashscope_conn_id)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Lineage for Airflow's OpenLineage provider (the ``openlineage`` extra): the deployment,
        changed (``ALTER``) or deleted (``DROP``)."""
        from airflow_provider_compress import lineage

        output = ("deployments", self.deployed_model)
        return lineage.operator_lineage(
            self.hook.settings,
            [],
            output,
            self.deployed_model,
            links=self.operator_extra_links,
            change=self.lineage_change,
        )

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        """A task that failed reports the deployment's id only: what became of it is unknown."""
        from airflow_provider_compress import lineage

        return lineage.operator_lineage(self.hook.settings, [], None, self.deployed_model)

    def _deadline(self, context: Context) -> tuple[float, WatchEnd]:
        """The end of the wait: ``timeout`` from now, or Airflow's ``execution_timeout`` from the
        try's start if that comes first (Airflow does not enforce it while a task is deferred)."""
        started = getattr(context.get("ti"), "start_date", None)
        execution_timeout = self.execution_timeout.total_seconds() if self.execution_timeout else None
        deadline, reason = events.deadline_of(
            time.time(), self.timeout, started.timestamp() if started else None, execution_timeout
        )
        assert deadline is not None  # a timeout is always set
        return deadline, reason

    def _timed_out(self, reason: str, message: str) -> NoReturn:
        """Fail as the deadline that passed: Airflow's execution_timeout as Airflow's own."""
        if reason == WatchEnd.EXECUTION_TIMEOUT:
            raise _compat.AirflowTaskTimeout(message)
        raise AirflowException(message)


class DeleteDeploymentOperator(_DeploymentTask):
    """Delete a deployment (stops billing; not reversible); optionally wait until it is gone.

    A deployment that no longer exists counts as deleted. The API may refuse a delete while the
    deployment changes state (HTTP 400 or 409 while PENDING, DEPLOYING, UPDATING, ... or in a
    status the provider does not know): the delete is then sent again every ``poll_interval``
    until it is accepted, within ``timeout``. Refused in a settled state, the task fails with the
    API's message.

    :param deployed_model: the deployment (templated).
    :param dashscope_conn_id: the Airflow connection of type ``dashscope``.
    :param wait_for_deletion: wait until the deployment is gone (GET answers 404), so that the
        task succeeds only once billing is known to have stopped (default); False: succeed once
        the API accepted the delete.
    :param deferrable: wait (for a refused delete to pass, or for the deployment to go) in the
        triggerer instead of a worker slot.
    :param poll_interval: seconds between tries and polls.
    :param timeout: seconds for the tries and the wait together.
    """

    lineage_change = "DROP"

    def __init__(
        self,
        *,
        deployed_model: str,
        dashscope_conn_id: str = DeploymentHook.default_conn_name,
        wait_for_deletion: bool = True,
        deferrable: bool | None = None,
        poll_interval: float = 10,
        timeout: float = 600,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            deployed_model=deployed_model,
            dashscope_conn_id=dashscope_conn_id,
            deferrable=deferrable,
            poll_interval=poll_interval,
            timeout=timeout,
            **kwargs,
        )
        self.wait_for_deletion = wait_for_deletion

    def execute(self, context: Context) -> None:
        deadline, reason = self._deadline(context)
        accepted = self._try_delete()
        if accepted is None or (accepted and not self.wait_for_deletion):
            return
        if self.deferrable:
            from airflow_provider_compress.triggers.deployment import DeploymentDeletionTrigger

            self.defer(
                trigger=DeploymentDeletionTrigger(
                    dashscope_conn_id=self.dashscope_conn_id,
                    deployed_model=self.deployed_model,
                    poll_interval=self.poll_interval,
                    deadline=deadline,
                    wait_until_gone=self.wait_for_deletion,
                    deadline_reason=reason,
                ),
                method_name="execute_complete",
                timeout=events.deferral_timeout(deadline, 60.0),
            )
        while True:
            if time.time() >= deadline:
                self._timed_out(reason, self._timeout_message(accepted))
            time.sleep(max(0.0, min(self.poll_interval, deadline - time.time())))
            if not accepted:
                accepted = self._try_delete()
                if accepted is None or (accepted and not self.wait_for_deletion):
                    return
                continue
            try:
                self.hook.get_deployment(self.deployed_model)
            except NotFoundError:
                self.log.info("Deployment %s is gone", self.deployed_model)
                return
            except CompressError as err:
                self.log.warning("Could not check deployment %s: %s", self.deployed_model, err)

    def _try_delete(self) -> bool | None:
        """Send the delete once: True when accepted (or a delete is under way already), None when
        the deployment is gone, False when refused while it changes state (to be sent again)."""
        try:
            self.hook.delete_deployment(self.deployed_model)
        except NotFoundError:
            self.log.info("Deployment %s does not exist: nothing to delete", self.deployed_model)
            return None
        except CompressApiError as refusal:
            if not protocol.is_state_refusal(refusal):
                raise
            try:
                status = self.hook.get_deployment(self.deployed_model).status
            except NotFoundError:
                return None
            action = protocol.after_refused_delete(status)
            if action == "fail":
                raise AirflowException(
                    f"Deployment {self.deployed_model} is {status} and the API refused to delete it: "
                    f"{refusal}"
                ) from None
            if action == "deleting":
                self.log.info("Deployment %s is %s: a delete is under way", self.deployed_model, status)
                return True
            self.log.info(
                "The delete of deployment %s was refused while it is %s (%s); sending it again in %g s",
                self.deployed_model,
                status,
                refusal,
                self.poll_interval,
            )
            return False
        self.log.info("Deployment %s is being deleted", self.deployed_model)
        metrics.resource_stopped(DEPLOYMENT, "requested by the task")
        return True

    def _timeout_message(self, accepted: bool) -> str:
        if accepted:
            return (
                f"Deployment {self.deployed_model} still exists by the task's deadline (its delete "
                "was accepted): it may still be billing"
            )
        return (
            f"The API still refused to delete deployment {self.deployed_model} by the task's deadline: "
            "it may still be billing"
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> None:
        if not isinstance(event, dict) or "status" not in event:
            raise AirflowException(f"Unexpected trigger event: {event!r}")
        if event["status"] in (WatchEnd.TIMEOUT, WatchEnd.EXECUTION_TIMEOUT):
            self._timed_out(event["status"], str(event.get("message")))
        if event["status"] not in (DeletionEnd.DELETED, DeletionEnd.DELETING):
            raise AirflowException(str(event.get("message")))
        self.log.info("%s", event.get("message"))


class ScaleDeploymentOperator(JsonTemplates, _DeploymentTask):
    """Scale a deployment, then wait until it is RUNNING again (UPDATING, then RUNNING) at the
    capacity asked (``capacity`` and ``ready_capacity``, or the ``ptu_capacity`` asked, where the
    answer shows them), in the worker or deferred; UPDATING_FAILED (or FAILED, STOPPED, ...) fails
    the task, and so does a deployment still RUNNING at another capacity when the wait ends,
    naming what it shows. Returns the ``deployed_model``.

    Checked against the deployment before the request: a LoRA deployment is scaled in the console
    only; ``capacity`` must be a multiple of its ``base_capacity``; ``ptu_capacity`` is for plan
    ``ptu`` only. The task does not own the deployment: a kill or a timeout stops the wait, never
    the change, and never deletes anything.

    :param deployed_model: the deployment (templated).
    :param capacity: new units (``mu``) or instances (``cu``); 0 is allowed (templated; a rendered
        number is read as one).
    :param ptu_capacity: ``{"input_tpm": ..., "output_tpm": ...}`` for ``ptu`` (templated).
    :param dashscope_conn_id: the Airflow connection of type ``dashscope``.
    :param wait_for_completion: False: return right after the request.
    :param deferrable: wait in the triggerer instead of a worker slot.
    :param poll_interval: seconds between polls.
    :param timeout: seconds to wait for RUNNING at the capacity asked.
    """

    template_fields: Sequence[str] = ("deployed_model", "capacity", "ptu_capacity")
    template_fields_renderers: ClassVar[dict[str, str]] = {"ptu_capacity": "json"}
    lineage_change = "ALTER"
    json_fields = ("ptu_capacity",)

    def __init__(
        self,
        *,
        deployed_model: str,
        capacity: int | str | None = None,
        ptu_capacity: Mapping[str, int] | None = None,
        dashscope_conn_id: str = DeploymentHook.default_conn_name,
        wait_for_completion: bool = True,
        deferrable: bool | None = None,
        poll_interval: float = 10,
        timeout: float = 3600,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            deployed_model=deployed_model,
            dashscope_conn_id=dashscope_conn_id,
            deferrable=deferrable,
            poll_interval=poll_interval,
            timeout=timeout,
            **kwargs,
        )
        self.capacity: Any = capacity  # rendered: a number may come as text (ScaleSpec reads it)
        self.ptu_capacity = ptu_capacity
        self.wait_for_completion = wait_for_completion

    def execute(self, context: Context) -> str:
        scale = ScaleSpec(
            deployed_model=self.deployed_model, capacity=self.capacity, ptu_capacity=self.ptu_capacity
        )
        call, capacity = scale.call(), scale.capacity  # the arguments are checked here
        scale.check_scalable(self.hook.get_deployment(self.deployed_model))
        scaled = self.hook.run(call)
        target = capacity if capacity is not None else self.ptu_capacity
        self.log.info(
            "Deployment %s: scaling to %s requested; it is %s", self.deployed_model, target, scaled.status
        )
        if not self.wait_for_completion:
            return self.deployed_model
        deadline, reason = self._deadline(context)
        expect = self._expect(capacity)
        if self.deferrable and not self._settled(scaled, expect):
            from airflow_provider_compress.triggers.deployment import DeploymentTrigger

            self.defer(
                trigger=DeploymentTrigger(
                    dashscope_conn_id=self.dashscope_conn_id,
                    resource_id=self.deployed_model,
                    poll_interval=self.poll_interval,
                    forward_logs=False,
                    cancel_on_kill=False,  # the deployment is not this task's to stop
                    stop_on_timeout=False,
                    deadline=deadline,
                    deadline_reason=reason,
                    expect=expect,
                ),
                method_name="execute_complete",
                timeout=events.deferral_timeout(deadline, 60.0),
            )
        deployment, status = scaled, None
        outage = protocol.OutageClock(self.hook.settings.outage_budget)
        while not self._settled(deployment, expect):
            if deployment.status != status:
                status = deployment.status
                log_status(self.log, DEPLOYMENT, deployment)
            if time.time() >= deadline:
                self._timed_out(reason, self._unscaled_message(deployment, expect))
            time.sleep(max(0.0, min(self.poll_interval, deadline - time.time())))
            try:
                deployment = self.hook.get_deployment(self.deployed_model)
                outage.recovered()
            except CompressError as err:
                if not protocol.rides_out(err) or outage.failed(time.monotonic()):
                    raise AirflowException(
                        f"Deployment {self.deployed_model} could not be watched: {err} (last known "
                        f"status: {deployment.status}); the scale goes on, the task does not own it"
                    ) from None
                self.log.warning("Poll of deployment %s failed: %s", self.deployed_model, err)
        return self._done(deployment)

    @staticmethod
    def _settled(deployment: Deployment, expect: dict[str, Any]) -> bool:
        """Ended: RUNNING at the capacity asked, or in a state a wait ends in (a failure)."""
        if DEPLOYMENT.outcome(deployment.status) is not protocol.Outcome.SUCCEEDED:
            return DEPLOYMENT.is_terminal(deployment.status)
        return not events.unmet(deployment, expect)

    def _expect(self, capacity: int | None) -> dict[str, Any]:
        """What the deployment must show once scaled: the capacity asked, ready to serve."""
        if capacity is not None:
            return {"capacity": capacity, "ready_capacity": capacity}
        return {"ptu_capacity": dict(self.ptu_capacity or {})}

    def _unscaled_message(self, deployment: Deployment, expect: dict[str, Any]) -> str:
        unmet = events.unmet(deployment, expect)
        shown = "".join(f", {field} {value} (asked: {expect[field]})" for field, value in unmet.items())
        return (
            f"Deployment {self.deployed_model} was not scaled by the task's deadline: it is "
            f"{deployment.status}{shown}; the scale goes on"
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> str:
        read = ResourceEvent.read(event)
        if read is None:
            raise AirflowException(f"Unexpected trigger event: {event!r}")
        if read.status in (WatchEnd.TIMEOUT, WatchEnd.EXECUTION_TIMEOUT):
            self._timed_out(read.status, f"{read.message}; the scale goes on")
        if read.watch_ended:
            raise AirflowException(f"{read.message}; the scale goes on, the task does not own it")
        return self._done(Deployment.from_api(read.resource))

    def _done(self, deployment: Deployment) -> str:
        fail_unless_succeeded(DEPLOYMENT, deployment)
        self.log.info(
            "Deployment %s is RUNNING with capacity %s (ready: %s)",
            self.deployed_model,
            deployment.capacity,
            deployment.ready_capacity,
        )
        return self.deployed_model

"""DeployModelOperator and DeleteDeploymentOperator: the last stage of fine-tune -> compress -> deploy."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

from airflow_provider_compress import protocol, validation
from airflow_provider_compress.exceptions import CompressError, NotFoundError
from airflow_provider_compress.hooks.deployment import DeploymentHook
from airflow_provider_compress.links.console import DeploymentLink
from airflow_provider_compress.models import ApiModel
from airflow_provider_compress.operators.base import DashScopeResourceOperator
from airflow_provider_compress.specs import DeploymentSpec

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_compress.triggers.base import DashScopeResourceTrigger


class DeployModelOperator(DashScopeResourceOperator[DeploymentHook]):
    """Deploy a model (e.g. the compress operator's return value) and wait until it is RUNNING.

    Returns the ``deployed_model`` (the id to call inference with), pushed to XCom as soon as the
    deployment exists. Billing starts once it runs, so unless ``keep_deployment`` is set the
    deployment this task created is deleted when the task is killed, times out, or the deployment
    FAILED. A retry reattaches to the deployment of the earlier try (found by its ``name``,
    derived from the task instance like the job names) instead of deploying twice.

    :param model_name: the model to deploy.
    :param name: display name, the key for reattaching; derived when absent.
    :param plan: ``mu`` (model units; full-parameter and compressed models), ``ptu``, ``lora``, ``cu``.
    :param capacity: units (``mu``) or instances (``cu``); a multiple of the model's base capacity.
    :param deploy_spec: MU spec for ``mu``, e.g. ``MU1``.
    :param billing_method: ``POST_PAY`` (the only one the API accepts for ``mu``).
    :param template_id: MU deployment template, instead of ``deploy_spec``.
    :param suffix: 1-8 of a-z0-9, needed when the same model is deployed again.
    :param ptu_capacity: ``{"input_tpm": ..., "output_tpm": ...}`` for ``ptu``.
    :param extra: further body fields (``enable_thinking``, ``rpm_limit``, ...).
    :param keep_deployment: never delete the deployment on kill, timeout or failure.

    The deployment's fields (all templated) are those of ``DeploymentSpec``, which checks them
    before any request; the waiting, timeout and reattach parameters are those of
    ``DashScopeResourceOperator`` (``forward_logs`` is off: deployments have no log). A deployment
    found by name that serves another model or has another ``plan``, ``capacity`` or
    ``deploy_spec`` is not reattached: the task fails first.
    """

    kind = protocol.DEPLOYMENT
    spec_class = DeploymentSpec
    hook_class = DeploymentHook
    template_fields: Sequence[str] = DeploymentSpec.field_names()
    operator_extra_links = (DeploymentLink(),)
    lineage_output = "deployments"

    def __init__(
        self,
        *,
        model_name: str,
        name: str | None = None,
        plan: str = "mu",
        capacity: int | None = None,
        deploy_spec: str | None = None,
        billing_method: str | None = None,
        template_id: str | None = None,
        suffix: str | None = None,
        ptu_capacity: Mapping[str, int] | None = None,
        extra: Mapping[str, Any] | None = None,
        keep_deployment: bool = False,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("forward_logs", False)  # deployments have no log endpoint
        super().__init__(cancel_on_kill=not keep_deployment, **kwargs)
        self.model_name = model_name
        self.name = name
        self.plan = plan
        self.capacity = capacity
        self.deploy_spec = deploy_spec
        self.billing_method = billing_method
        self.template_id = template_id
        self.suffix = suffix
        self.ptu_capacity = ptu_capacity
        self.extra = extra
        self.keep_deployment = keep_deployment

    def trigger_class(self) -> type[DashScopeResourceTrigger]:
        from airflow_provider_compress.triggers.deployment import DeploymentTrigger

        return DeploymentTrigger

    def on_failed(self, resource: ApiModel) -> None:
        # A failed deployment serves nothing; deleting it frees the name and the model's slot.
        if not self.keep_deployment and resource.status in self.kind.stoppable:
            self._stop("the deployment failed")

    def lineage_inputs(self) -> list[tuple[str, str]]:
        return [("models", self.model_name)]

    def asset_extra(self, resource: ApiModel) -> dict[str, Any]:
        return {"deployed_model": self.kind.resource_id(resource), "model_name": resource.model_name}


class DeleteDeploymentOperator(BaseOperator):
    """Delete a deployment (stops billing; not reversible); optionally wait until it is gone.

    A deployment that no longer exists counts as deleted.

    :param deployed_model: the deployment (templated).
    :param dashscope_conn_id: the ``dashscope`` connection.
    :param wait_for_deletion: wait until the deployment is gone.
    :param poll_interval: seconds between checks while waiting (at least 1).
    :param timeout: seconds to wait before the task fails.
    """

    template_fields: Sequence[str] = ("deployed_model",)

    def __init__(
        self,
        *,
        deployed_model: str,
        dashscope_conn_id: str = DeploymentHook.default_conn_name,
        wait_for_deletion: bool = False,
        poll_interval: float = 10,
        timeout: float = 600,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        validation.check_poll_interval("poll_interval", poll_interval)
        validation.check_timeout("timeout", timeout, optional=False)
        self.deployed_model = deployed_model
        self.dashscope_conn_id = dashscope_conn_id
        self.wait_for_deletion = wait_for_deletion
        self.poll_interval = poll_interval
        self.timeout = timeout

    @cached_property
    def hook(self) -> DeploymentHook:
        return DeploymentHook(dashscope_conn_id=self.dashscope_conn_id)

    def execute(self, context: Context) -> None:
        try:
            self.hook.delete_deployment(self.deployed_model)
        except NotFoundError:
            self.log.info("Deployment %s does not exist: nothing to delete", self.deployed_model)
            return
        self.log.info("Deployment %s is being deleted", self.deployed_model)
        deadline = time.monotonic() + self.timeout
        while self.wait_for_deletion:
            try:
                self.hook.get_deployment(self.deployed_model)
            except NotFoundError:
                self.log.info("Deployment %s is gone", self.deployed_model)
                return
            except CompressError as err:
                self.log.warning("Could not check deployment %s: %s", self.deployed_model, err)
            if time.monotonic() >= deadline:
                raise AirflowException(
                    f"Deployment {self.deployed_model} still exists after {self.timeout:g} s"
                )
            time.sleep(self.poll_interval)

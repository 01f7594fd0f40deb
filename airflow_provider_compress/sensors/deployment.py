"""DeploymentSensor: wait for an existing deployment to be RUNNING."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from airflow_provider_compress import _compat, metrics, protocol, validation
from airflow_provider_compress.events import fail_unless_succeeded, log_status, settled_resource
from airflow_provider_compress.hooks.deployment import DeploymentHook
from airflow_provider_compress.models import Deployment

if TYPE_CHECKING:
    from airflow.sdk import Context


class DeploymentSensor(BaseSensorOperator):
    """Wait until ``deployed_model`` is RUNNING (XCom: the ``deployed_model``); fail at once when
    it is FAILED, UPDATING_FAILED, STOPPED, ARREARS_DOWN, being deleted, or does not exist.

    Works in ``poke``, ``reschedule`` and deferrable modes. A status the provider does not know is
    logged and poked on. The sensor does not own the deployment: it never deletes or changes it,
    also not when it is killed or times out.

    :param deployed_model: the deployment to wait for (templated).
    :param dashscope_conn_id: the Airflow connection of type ``dashscope``.
    :param deferrable: wait in the triggerer instead of a worker slot (default: Airflow's
        ``[operators] default_deferrable``).
    """

    kind = protocol.DEPLOYMENT
    template_fields: Sequence[str] = ("deployed_model",)

    def __init__(
        self,
        *,
        deployed_model: str,
        dashscope_conn_id: str = DeploymentHook.default_conn_name,
        deferrable: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        validation.check_poll_interval("poke_interval", self.poke_interval)
        self.deployed_model = deployed_model
        self.dashscope_conn_id = dashscope_conn_id
        self.deferrable = _compat.default_deferrable() if deferrable is None else deferrable
        self._last_status: object = None

    @cached_property
    def hook(self) -> DeploymentHook:
        return DeploymentHook(dashscope_conn_id=self.dashscope_conn_id)

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        deployment = self.hook.get_deployment(self.deployed_model)
        if self.kind.is_terminal(deployment.status):
            return self._done(deployment)
        log_status(self.log, self.kind, deployment)
        from airflow_provider_compress.triggers.deployment import DeploymentTrigger  # not at DAG parse

        self.defer(
            trigger=DeploymentTrigger(
                dashscope_conn_id=self.dashscope_conn_id,
                resource_id=self.deployed_model,
                poll_interval=self.poke_interval,
                forward_logs=False,
                cancel_on_kill=False,  # not the sensor's to delete
            ),
            method_name="execute_complete",
            timeout=datetime.timedelta(seconds=self.timeout),
        )

    def poke(self, context: Context) -> PokeReturnValue:
        deployment = self.hook.get_deployment(self.deployed_model)
        if self.kind.is_terminal(deployment.status):
            return PokeReturnValue(is_done=True, xcom_value=self._done(deployment))
        if deployment.status != self._last_status:  # once per status, not once per poke
            self._last_status = deployment.status
            log_status(self.log, self.kind, deployment)
        return PokeReturnValue(is_done=False)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> str:
        return self._done(settled_resource(self.kind, event))

    def _done(self, deployment: Deployment) -> str:
        metrics.resource_ended(self.kind, deployment, self.hook.settings.service_tz)
        fail_unless_succeeded(self.kind, deployment)
        return self.deployed_model

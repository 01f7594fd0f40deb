"""DeploymentSensor: wait for an existing deployment to be RUNNING."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_compress import protocol
from airflow_provider_compress.hooks.deployment import DeploymentHook
from airflow_provider_compress.links.console import DeploymentLink
from airflow_provider_compress.sensors.base import DashScopeResourceSensor

if TYPE_CHECKING:
    from airflow_provider_compress.triggers.base import DashScopeResourceTrigger


class DeploymentSensor(DashScopeResourceSensor):
    """Wait until ``deployed_model`` is RUNNING (XCom: the ``deployed_model``); fail at once when
    it is FAILED, UPDATING_FAILED, STOPPED, ARREARS_DOWN, being deleted, or does not exist.

    Works in ``poke``, ``reschedule`` and deferrable modes. A status the provider does not know is
    logged and poked on. The sensor does not own the deployment: it never deletes or changes it,
    also not when it is killed or times out.

    The other parameters (``dashscope_conn_id``, ``deferrable``) are those of
    ``DashScopeResourceSensor``.

    :param deployed_model: the deployment to wait for (templated).
    """

    kind = protocol.DEPLOYMENT
    hook_class = DeploymentHook
    id_param = "deployed_model"
    template_fields: Sequence[str] = ("deployed_model",)
    operator_extra_links = (DeploymentLink(),)

    def __init__(self, *, deployed_model: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.deployed_model = deployed_model

    def trigger_class(self) -> type[DashScopeResourceTrigger]:
        from airflow_provider_compress.triggers.deployment import DeploymentTrigger

        return DeploymentTrigger

"""DeploymentTrigger: waits until a deployment is RUNNING; deletes it on kill or deadline."""

from __future__ import annotations

from airflow_provider_compress import protocol
from airflow_provider_compress.hooks.deployment import DeploymentAsyncHook
from airflow_provider_compress.triggers.base import DashScopeResourceTrigger


class DeploymentTrigger(DashScopeResourceTrigger):
    __doc__ = DashScopeResourceTrigger.__doc__
    kind = protocol.DEPLOYMENT
    hook_class = DeploymentAsyncHook

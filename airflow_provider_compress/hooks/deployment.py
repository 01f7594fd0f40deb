"""Hooks for the deployments API: ``DeploymentHook`` and ``DeploymentAsyncHook``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from airflow_provider_compress import protocol
from airflow_provider_compress.hooks.base import DashScopeHook
from airflow_provider_compress.hooks.base_async import DashScopeAsyncHook
from airflow_provider_compress.models import Deployment, DeploymentPage
from airflow_provider_compress.specs import DeploymentSpec


class DeploymentHook(DashScopeHook):
    """Deployments: create, list, get, scale, delete. Billing runs while a deployment runs."""

    kind = protocol.DEPLOYMENT

    def create_deployment(self, spec: DeploymentSpec | None = None, /, **fields: Any) -> Deployment:
        """Deploy from ``spec``, or from its fields as keyword arguments (``model_name``, ``plan``,
        ``capacity``, ... as in ``DeploymentSpec``). Never repeated after an unknown outcome."""
        return self.create(DeploymentSpec.of(spec, fields))

    def list_deployments(self, page_no: int = 1, page_size: int = 10, **filters: Any) -> DeploymentPage:
        return self.run(protocol.list_resources(self.kind, page_no=page_no, page_size=page_size, **filters))

    def iter_deployments(self, **filters: Any) -> Iterator[Deployment]:
        return self.iter_resources(self.kind, **filters)

    def find_deployment_by_name(self, name: str) -> Deployment | None:
        return self.find_named(self.kind, name)

    def get_deployment(self, deployed_model: str) -> Deployment:
        return self.get_resource(self.kind, deployed_model)

    def scale_deployment(self, deployed_model: str, capacity: int) -> Deployment:
        return self.run(protocol.scale_deployment(deployed_model, capacity))

    def delete_deployment(self, deployed_model: str) -> Deployment:
        """Take the service offline (not reversible); billing stops."""
        return self.run(protocol.delete_resource(self.kind, deployed_model))


class DeploymentAsyncHook(DashScopeAsyncHook):
    """The async side, for the deployment trigger."""

    kind = protocol.DEPLOYMENT

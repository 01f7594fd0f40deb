"""Hooks for the deployments API: ``DeploymentHook`` and ``DeploymentAsyncHook``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from airflow_provider_compress import protocol
from airflow_provider_compress.hooks.base import DashScopeAsyncHook, DashScopeHook
from airflow_provider_compress.models import Deployment, DeploymentPage


class DeploymentHook(DashScopeHook):
    """Deployments: create, list, get, scale, delete. Billing runs while a deployment runs."""

    kind = protocol.DEPLOYMENT

    def create_deployment(
        self,
        model_name: str,
        *,
        name: str | None = None,
        plan: str = "mu",
        capacity: int | None = None,
        deploy_spec: str | None = None,
        billing_method: str | None = None,
        template_id: str | None = None,
        suffix: str | None = None,
        ptu_capacity: Mapping[str, int] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Deployment:
        return self.run(
            protocol.create_deployment(
                model_name=model_name,
                name=name,
                plan=plan,
                capacity=capacity,
                deploy_spec=deploy_spec,
                billing_method=billing_method,
                template_id=template_id,
                suffix=suffix,
                ptu_capacity=ptu_capacity,
                extra=extra,
            )
        )

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

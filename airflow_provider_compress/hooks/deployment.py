"""Hooks for the deployments API: ``DeploymentHook`` and ``DeploymentAsyncHook``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from airflow_provider_compress import protocol
from airflow_provider_compress.hooks.base import LIST_PAGE, DashScopeHook
from airflow_provider_compress.hooks.base_async import DashScopeAsyncHook
from airflow_provider_compress.models import DeployableModel, DeployableModelPage, Deployment, DeploymentPage
from airflow_provider_compress.specs import DeploymentSpec


class DeploymentHook(DashScopeHook):
    """Deployments: create, list, get, scale, update rate limits, delete; the deployable models.
    Billing runs while a deployment runs."""

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

    def scale_deployment(
        self,
        deployed_model: str,
        capacity: int | None = None,
        *,
        ptu_capacity: Mapping[str, int] | None = None,
    ) -> Deployment:
        """Ask for another ``capacity`` (``mu``, ``cu``; 0 allowed) or ``ptu_capacity`` (``ptu``).
        The answer is UPDATING (SCALING for prepaid PTU); RUNNING follows, or UPDATING_FAILED.
        LoRA deployments are scaled in the console only."""
        return self.run(protocol.scale_deployment(deployed_model, capacity, ptu_capacity))

    def update_deployment(
        self, deployed_model: str, *, rpm_limit: int | None = None, tpm_limit: int | None = None
    ) -> Deployment:
        """Set the rate limits of an MU deployment (``PUT .../update``; some models only)."""
        return self.run(protocol.update_deployment(deployed_model, rpm_limit, tpm_limit))

    def delete_deployment(self, deployed_model: str) -> Deployment:
        """Take the service offline (not reversible); billing stops."""
        return self.run(protocol.delete_resource(self.kind, deployed_model))

    def list_deployable_models(
        self, model_source: str | None = None, page_no: int = 1, page_size: int = 50
    ) -> DeployableModelPage:
        """One page of what may be deployed (``model_source``: ``base`` or ``custom``), each with
        its plans, MU templates and their base capacity."""
        return self.run(protocol.list_deployable_models(model_source, page_no, page_size))

    def iter_deployable_models(self, model_source: str | None = None) -> Iterator[DeployableModel]:
        return self.iter_pages(
            "deployable model",
            lambda page_no: protocol.list_deployable_models(model_source, page_no, LIST_PAGE),
            lambda page: page.models,
        )

    def find_deployable_model(self, model_name: str) -> DeployableModel | None:
        """``model_name`` among the custom models (fine-tuned, compressed), then the base ones."""
        for source in ("custom", "base"):
            found = next((m for m in self.iter_deployable_models(source) if m.model_name == model_name), None)
            if found is not None:
                return found
        return None


class DeploymentAsyncHook(DashScopeAsyncHook):
    """The async side, for the deployment triggers."""

    kind = protocol.DEPLOYMENT

    async def get_deployment(self, deployed_model: str) -> Deployment:
        return await self.get_resource(self.kind, deployed_model)

    async def delete_deployment(self, deployed_model: str) -> Deployment:
        return await self.run(protocol.delete_resource(self.kind, deployed_model))

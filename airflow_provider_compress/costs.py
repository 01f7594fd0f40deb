"""What a resource's work cost, as the API reports it, and where the provider records it: the
task's XCom (key ``usage``), the extra of the Asset events it emits, and an OpenLineage run facet
(``dashscopeUsage``).

The API reports ``usage`` once a job SUCCEEDED or was CANCELED: GPU seconds for a compression
job, tokens (the billing basis) for a fine-tune job. A deployment's billed time is not in the
API's answers, so there is none to record (docs/operations.md#costs).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from airflow_provider_compress.protocol import ResourceKind

XCOM_KEY = "usage"
FACET = "dashscopeUsage"
# The unit of `usage` per kind (by collection), as the API documents it.
UNITS = {"/fine-tunes/compress/jobs": "GPU seconds", "/fine-tunes": "tokens"}


@dataclasses.dataclass(frozen=True)
class Usage:
    value: int
    unit: str

    def __str__(self) -> str:
        return f"{self.value:,} {self.unit}"

    def to_dict(self) -> dict[str, Any]:
        return {"usage": self.value, "unit": self.unit}


def usage(kind: ResourceKind, resource: Any) -> Usage | None:
    """The usage the API reports for the resource so far; None when it reports none."""
    value, unit = getattr(resource, "usage", None), UNITS.get(kind.collection)
    if unit is None or isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return Usage(value, unit)


def push(context: Any, kind: ResourceKind, resource: Any) -> None:
    """Push the resource's usage to the task's XCom (``{"usage": 3600, "unit": "GPU seconds"}``);
    nothing without a task instance (an operator's methods called outside a task)."""
    ti = context.get("ti")
    if ti is not None and (found := usage(kind, resource)) is not None:
        ti.xcom_push(key=XCOM_KEY, value=found.to_dict())


def asset_extra(kind: ResourceKind, resource: Any) -> dict[str, Any]:
    """``usage`` and ``usage_unit`` for the extra of an Asset event; empty without a usage."""
    found = usage(kind, resource)
    return {"usage": found.value, "usage_unit": found.unit} if found is not None else {}


def lineage_facets(kind: ResourceKind, resource: Any) -> dict[str, Any]:
    """The ``dashscopeUsage`` run facet (needs the ``openlineage`` extra); empty without a usage."""
    found = usage(kind, resource)
    if found is None:
        return {}
    return {FACET: _usage_facet()(usage=found.value, unit=found.unit, resourceId=kind.resource_id(resource))}


@functools.cache
def _usage_facet() -> type:
    """The facet class, made on first use: only the OpenLineage listener asks for it."""
    import attr
    from airflow.providers.common.compat.openlineage.facet import RunFacet

    @attr.define
    class DashScopeUsageRunFacet(RunFacet):
        """What the remote work cost, as the API reports it."""

        usage: int
        unit: str
        resourceId: str  # OpenLineage names fields in camelCase

        @staticmethod
        def _get_schema() -> str:
            return "https://pypi.org/project/airflow-provider-compress/#dashscopeUsage"

    return DashScopeUsageRunFacet

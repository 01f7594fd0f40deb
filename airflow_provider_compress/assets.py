"""The ``dashscope`` Asset URI scheme, declared in the provider info (``asset-uris``), so that an
Airflow Asset and an OpenLineage dataset of this provider name one thing the same way.

``dashscope://<region>/<name>`` is the dataset of namespace ``dashscope://<region>`` and name
``<name>``: ``[<workspace>/]models/<model>``, ``files/<file id>``, ``deployments/<deployed model>``,
or a whole collection (``models``). Nothing here imports OpenLineage until a conversion asks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlsplit

from airflow_provider_compress import regions

if TYPE_CHECKING:
    from airflow.sdk import Asset

SCHEME = "dashscope"
COLLECTIONS = ("models", "files", "deployments")


def namespace(region: str) -> str:
    """The lineage namespace of a region, also the start of its Asset URIs."""
    return f"{SCHEME}://{region}"


def sanitize_uri(uri: SplitResult) -> SplitResult:
    """Airflow's check of an Asset URI of this scheme: a region, then a dataset name."""
    if not regions.REGION.match(uri.netloc):
        raise ValueError(
            f"{SCHEME}:// Asset URIs start with a region, as in {SCHEME}://cn-beijing/models/<model>: "
            f"{uri.netloc!r} is none"
        )
    parts = uri.path.strip("/").split("/")
    if not set(parts[:2]) & set(COLLECTIONS):
        raise ValueError(
            f"{SCHEME}:// Asset URIs name a dataset after the region: [<workspace>/]"
            f"{'|'.join(COLLECTIONS)}[/<id>], not {uri.path!r}"
        )
    return uri


def create_asset(*, region: str, name: str, extra: dict[str, Any] | None = None) -> Asset:
    """The Asset of the lineage dataset ``name`` of ``region`` (Airflow's hook lineage uses it)."""
    from airflow.sdk import Asset

    return Asset(uri=f"{namespace(region)}/{name}", extra=extra)


def convert_asset_to_openlineage(asset: Asset, lineage_context: Any) -> Any:
    """The OpenLineage dataset an Asset of this scheme stands for."""
    from airflow.providers.common.compat.openlineage.facet import Dataset

    parts = urlsplit(asset.uri)
    return Dataset(namespace=namespace(parts.netloc), name=parts.path.strip("/"))

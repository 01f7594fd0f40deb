"""OpenLineage for the three stages: training files and a base model -> fine-tuned model ->
compressed model -> deployment, as datasets that chain from one task's output to the next one's input.

Needs Airflow's OpenLineage provider (the ``openlineage`` extra); only the operators'
``get_openlineage_facets_on_complete`` import this module, when that provider's listener asks.

Names: namespace ``dashscope://<region>`` (``cn-beijing``, ``ap-southeast-1``, or the host when it
is not a Model Studio one), name ``[<workspace>/]models/<model>``, ``files/<file id>`` or
``deployments/<deployed model>``; OSS training data keeps OSS's own ``oss://<bucket>``, ``<path>``.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from airflow.providers.common.compat.openlineage.facet import Dataset, ExternalQueryRunFacet
from airflow.providers.openlineage.extractors import OperatorLineage

from airflow_provider_compress import regions
from airflow_provider_compress.protocol import ClientSettings

OSS = "oss://"


def namespace(base_url: str) -> str:
    host = urlsplit(base_url).netloc.rpartition("@")[2]  # never a user:password@ (settings refuse it)
    return f"dashscope://{regions.region_of(base_url) or host}"


def dataset(settings: ClientSettings, collection: str, name: str) -> Dataset:
    """``collection``: ``models``, ``files``, ``deployments``, or ``oss://<bucket>`` for OSS data."""
    if collection.startswith(OSS):
        return Dataset(namespace=collection, name=name)
    path = "/".join(part for part in (settings.workspace_id, collection, name) if part)
    return Dataset(namespace=namespace(settings.base_url), name=path)


def operator_lineage(
    settings: ClientSettings,
    inputs: Iterable[tuple[str, str]],
    output: tuple[str, str] | None,
    remote_id: str | None,
) -> OperatorLineage:
    """Inputs and output as (collection, name); the remote job or deployment id as the run's
    ``externalQuery`` facet, the standard place for the id of work done in another system."""
    run_facets = {}
    if remote_id:
        run_facets["externalQuery"] = ExternalQueryRunFacet(
            externalQueryId=remote_id, source=namespace(settings.base_url)
        )
    return OperatorLineage(
        inputs=[dataset(settings, *ref) for ref in inputs],
        outputs=[dataset(settings, *output)] if output else [],
        run_facets=run_facets,
    )

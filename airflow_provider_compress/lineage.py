"""OpenLineage for every task that reads or makes something in Model Studio: uploads, the three
stages (training files and a base model -> fine-tuned model -> compressed model -> deployment),
what the sensors watch, checkpoint exports, scales and deletes; as datasets that chain from one
task's output to the next one's input.

Needs Airflow's OpenLineage provider (the ``openlineage`` extra); only the tasks'
``get_openlineage_facets_on_complete`` import this module, when that provider's listener asks.

Names: namespace ``dashscope://<region>``, the connection's region whatever host serves it
(``regions.serving_region``); name ``[<workspace>/]models/<model>``, ``files/<file id>`` or
``deployments/<deployed model>``: the Asset ``dashscope://<region>/<name>`` is the same dataset
(``assets``). OSS training data keeps OSS's own ``oss://<bucket>``, ``<path>``. Each dataset of
the provider carries its type and a line of documentation, with the console link of the job or
deployment that made or changed it when the task knows it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.openlineage.facet import (
    Dataset,
    DocumentationDatasetFacet,
    ExternalQueryRunFacet,
    Identifier,
    LifecycleStateChange,
    LifecycleStateChangeDatasetFacet,
    SymlinksDatasetFacet,
)
from airflow.providers.openlineage.extractors import OperatorLineage

from airflow_provider_compress import assets, protocol
from airflow_provider_compress.links.console import ConsoleLink

if TYPE_CHECKING:
    from airflow_provider_compress.models import ApiModel
    from airflow_provider_compress.protocol import ClientSettings, ResourceKind

try:  # openlineage-python >= 1.29; an older client reports no type facet
    from openlineage.client.generated.dataset_type_dataset import DatasetTypeDatasetFacet
except ImportError:  # pragma: no cover
    DatasetTypeDatasetFacet = None  # type: ignore[assignment,misc]

OSS = "oss://"
Ref = tuple[str, str]  # (collection, name): ("models", "qwen..."), ("oss://bucket", "path")
# collection -> (noun, datasetType, subType)
COLLECTIONS = {
    "models": ("model", "MODEL", None),
    "files": ("file", "FILE", None),
    "deployments": ("deployment", "MODEL", "DEPLOYMENT"),
}


def namespace(settings: ClientSettings) -> str:
    return assets.namespace(settings.serving_region)


def dataset(
    settings: ClientSettings,
    collection: str,
    name: str,
    *,
    link: tuple[ConsoleLink, str] | None = None,
    facets: Mapping[str, Any] | None = None,
) -> Dataset:
    """``collection``: ``models``, ``files``, ``deployments``, or ``oss://<bucket>`` for OSS data.
    ``link``: the console link of what made or changed the dataset, and that resource's id."""
    if collection.startswith(OSS):
        return Dataset(namespace=collection, name=name)
    noun, dataset_type, sub_type = COLLECTIONS[collection]
    text = f"Model Studio {noun} {name}"
    if link is not None and (url := _url(settings, *link)):
        console, resource_id = link
        text += (f"; {console.name.lower()} {resource_id}" if resource_id != name else "") + f": {url}"
    described: dict[str, Any] = {"documentation": DocumentationDatasetFacet(description=text)}
    if DatasetTypeDatasetFacet is not None:
        described["datasetType"] = DatasetTypeDatasetFacet(dataset_type, sub_type)
    path = "/".join(part for part in (settings.workspace_id, collection, name) if part)
    return Dataset(namespace=namespace(settings), name=path, facets={**described, **(facets or {})})


def _url(settings: ClientSettings, link: ConsoleLink, resource_id: str) -> str | None:
    try:
        return link.url(settings, resource_id)
    except Exception:  # a connection extra's pattern that cannot be filled: the task logged it
        return None


def operator_lineage(
    settings: ClientSettings,
    inputs: Iterable[Ref],
    output: Ref | None,
    remote_id: str | None,
    *,
    links: Iterable[Any] = (),
    change: str | None = None,
    source: str | None = None,
) -> OperatorLineage:
    """Inputs and output as (collection, name); the remote job or deployment id as the run's
    ``externalQuery`` facet, the standard place for the id of work done in another system.

    ``links``: the task's extra links; the first console link, to ``remote_id``, goes into the
    output's documentation. ``change``: ``ALTER`` or ``DROP`` when the task changed or deleted
    the output (``lifecycleStateChange``). ``source``: the local path an upload read, as the
    output's ``symlinks`` facet.
    """
    run_facets = {}
    if remote_id:
        run_facets["externalQuery"] = ExternalQueryRunFacet(
            externalQueryId=remote_id, source=namespace(settings)
        )
    outputs = []
    if output is not None:
        facets: dict[str, Any] = {}
        if change:
            facets["lifecycleStateChange"] = LifecycleStateChangeDatasetFacet(LifecycleStateChange(change))
        if source:
            local = Identifier(namespace="file", name=source, type="FILE")  # OpenLineage's local file
            facets["symlinks"] = SymlinksDatasetFacet([local])
        console = next((link for link in links if isinstance(link, ConsoleLink)), None)
        link = (console, remote_id) if console is not None and remote_id else None
        outputs.append(dataset(settings, *output, link=link, facets=facets))
    return OperatorLineage(
        inputs=[dataset(settings, *ref) for ref in inputs], outputs=outputs, run_facets=run_facets
    )


def output_collection(kind: ResourceKind) -> str:
    return "deployments" if kind is protocol.DEPLOYMENT else "models"


def watched_lineage(
    settings: ClientSettings, kind: ResourceKind, resource: ApiModel, links: Iterable[Any]
) -> OperatorLineage:
    """What a task that watches or reads a resource it did not create reports: what the
    resource's record says it read, and its output once it succeeded (the sensors)."""
    output = kind.output(resource) if kind.outcome(resource.status) is protocol.Outcome.SUCCEEDED else None
    return operator_lineage(
        settings,
        recorded_inputs(kind, resource),
        (output_collection(kind), output) if output else None,
        kind.resource_id(resource),
        links=links,
    )


def recorded_inputs(kind: ResourceKind, resource: ApiModel) -> list[Ref]:
    """What a resource read, from its record as the API returns it: the model, then the
    training, validation or calibration data."""
    record = resource.to_dict()
    model = record.get("model_name" if kind is protocol.DEPLOYMENT else "model")
    refs: list[Ref] = [("models", model)] if isinstance(model, str) and model else []
    for file_ids, datasets in (
        ("training_file_ids", "training_datasets"),
        ("validation_file_ids", "validation_datasets"),
        ("custom_calibration_file_ids", None),
    ):
        refs += data_refs(record.get(file_ids), record.get(datasets) if datasets else None)
    return refs


def data_refs(file_ids: Any, datasets: Any) -> list[Ref]:
    """Uploaded files by id, then dataset objects: a file id, or an OSS folder."""
    refs = [("files", str(file_id)) for file_id in _items(file_ids) if file_id]
    for item in _items(datasets):
        if not isinstance(item, Mapping):
            continue
        oss = item.get("mount_storage") or {}
        if item.get("file_id"):
            refs.append(("files", str(item["file_id"])))
        elif isinstance(oss, Mapping) and oss.get("bucket"):
            refs.append((f"{OSS}{oss['bucket']}", str(oss.get("file_path") or "")))
    return refs


def _items(value: Any) -> list[Any]:
    """A list, tuple or other iterable of values; nothing for None, a string or a mapping."""
    if value is None or isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        return []
    return list(value)

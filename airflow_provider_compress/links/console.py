"""Extra links to a resource's page in the Model Studio console, one class per kind of resource:
"Fine-tune job", "Compression job", "Deployment". They differ only in their page and override.

Every task that acts on a remote resource has its link: the create operators store it once the
resource exists (``persist_links``); a task given the resource's id (a sensor, a scale, a
delete, an export) stores it as it starts (``LinkedResource``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperatorLink

from airflow_provider_compress import protocol, regions

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator, Context

    from airflow_provider_compress.protocol import ClientSettings, ResourceKind


class ConsoleLink(BaseOperatorLink):
    """The URL is made by the operator once the resource exists and kept in XCom (``xcom_key``),
    where Airflow 3's UI reads it: the API server never needs the connection.

    A subclass sets ``kind``, ``page`` (the path after the region's console, with the kind's id
    field as placeholder) and ``override``, the connection extra whose pattern, when set,
    replaces the whole URL.
    """

    kind: ClassVar[ResourceKind]
    page: ClassVar[str]
    override: ClassVar[str]

    def url(self, settings: ClientSettings, resource_id: str) -> str:
        """Raises whatever str.format raises for an override pattern that cannot be filled."""
        pattern = settings.console_urls.get(self.override) or (
            regions.console_of(settings.serving_region) + self.page
        )
        return pattern.format(**{self.kind.id_field: resource_id})

    def persist(self, context: Context, settings: ClientSettings, resource_id: str) -> None:
        context["ti"].xcom_push(key=self.xcom_key, value=self.url(settings, resource_id))

    def get_link(self, operator: BaseOperator, *, ti_key: Any) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        return XCom.get_value(key=self.xcom_key, ti_key=ti_key) or ""


def persist_links(task: BaseOperator, context: Context, settings: ClientSettings, resource_id: str) -> None:
    """Store the URL of each of ``task``'s console links to ``resource_id``. A connection extra's
    pattern that cannot be filled is a warning, never the task's failure."""
    for link in task.operator_extra_links:
        if not isinstance(link, ConsoleLink):
            continue
        try:
            link.persist(context, settings, resource_id)
        except Exception as err:  # any pattern error ({job_id.x}, {0}, {): not the task's failure
            task.log.warning(
                "No %r link: the extra %s is not a valid pattern (%r)", link.name, link.override, err
            )


class LinkedResource:
    """Mixin of a task given the id of the resource it acts on, in the templated attribute
    ``id_param``: its console links are stored before ``execute`` (and again when it resumes
    from a deferral), so they are there while it waits, and after it failed."""

    id_param: ClassVar[str]

    def pre_execute(self, context: Any) -> None:
        super().pre_execute(context)  # type: ignore[misc]
        resource_id = getattr(self, self.id_param)
        if resource_id:
            persist_links(self, context, self.hook.settings, str(resource_id))  # type: ignore[arg-type, attr-defined]


# The compression job has a page of its own; fine-tunes and deployments open the region's list
# (the console documents no per-item address for them), the id kept in the address.
class FineTuneJobLink(ConsoleLink):
    name = "Fine-tune job"
    kind = protocol.FINE_TUNE
    page = "/?tab=model#/efm/model_manager?job_id={job_id}"
    override = "finetune_console_url"


class CompressJobLink(ConsoleLink):
    name = "Compression job"
    kind = protocol.COMPRESS
    page = "/?tab=model#/model-compression/{job_id}"
    override = "compress_console_url"


class DeploymentLink(ConsoleLink):
    name = "Deployment"
    kind = protocol.DEPLOYMENT
    page = "/?tab=model#/efm/model_deploy?deployed_model={deployed_model}"
    override = "deployment_console_url"

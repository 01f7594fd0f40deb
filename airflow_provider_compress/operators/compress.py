"""Operators that create, cancel and delete compression jobs."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

from airflow_provider_compress import metrics, protocol, validation
from airflow_provider_compress.exceptions import NotFoundError
from airflow_provider_compress.hooks.compress import CompressHook
from airflow_provider_compress.links.console import CompressJobLink, LinkedResource
from airflow_provider_compress.models import ApiModel, JobStatus
from airflow_provider_compress.operators.base import DashScopeResourceOperator
from airflow_provider_compress.operators.naming import derive_job_name, latest_generation, plan_create
from airflow_provider_compress.operators.templates import JsonTemplates
from airflow_provider_compress.specs import CompressJobSpec, CreateSpec

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_compress.triggers.base import DashScopeResourceTrigger

__all__ = [
    "CancelCompressJobOperator",
    "CreateCompressJobOperator",
    "DeleteCompressJobOperator",
    "derive_job_name",
    "latest_generation",
    "plan_create",
]


class CreateCompressJobOperator(JsonTemplates, DashScopeResourceOperator[CompressHook]):
    """Create a compression job and, by default, wait for it, forwarding its log to the task log.

    Returns the compressed model id (``quantized_output``) when it waited, the job id otherwise; the
    job id is pushed to XCom (key ``job_id``) as soon as the job exists. The job's fields are those
    of ``CompressJobSpec``, which checks them before any request; the waiting, kill, timeout and
    reattach parameters are those of ``DashScopeResourceOperator``. A job found by name that was
    made with other arguments (model, template, suffix, calibration files, the hyper-parameters this
    task sets) is not reattached. Without a ``job_name`` the name is derived from dag, run, task
    and map index, so that a retry finds the job of the earlier try instead of paying for a second
    one. ``hyper_parameters`` and ``custom_calibration_file_ids`` may name a ``.json`` file
    instead, a template read as JSON (``template_ext``).
    """

    kind = protocol.COMPRESS
    spec_class = CompressJobSpec
    hook_class = CompressHook
    template_fields: Sequence[str] = CompressJobSpec.field_names()
    template_fields_renderers: ClassVar[dict[str, str]] = {"hyper_parameters": "json"}
    operator_extra_links = (CompressJobLink(),)
    json_fields = ("hyper_parameters", "custom_calibration_file_ids")

    def __init__(
        self,
        *,
        model: str,
        template_id: str,
        job_name: str | None = None,
        job_description: str | None = None,
        hyper_parameters: Mapping[str, Any] | str | None = None,
        custom_calibration_file_ids: Iterable[str] | None = None,
        output_model_suffix: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.take_fields(locals())

    def trigger_class(self) -> type[DashScopeResourceTrigger]:
        from airflow_provider_compress.triggers.compress import CompressJobTrigger

        return CompressJobTrigger

    def check_before_create(self, spec: CreateSpec) -> None:
        assert isinstance(spec, CompressJobSpec)
        spec.check_template(self.hook.get_template(spec.model, spec.template_id))

    def asset_extra(self, resource: ApiModel) -> dict[str, Any]:
        return {**super().asset_extra(resource), "template_id": resource.template_id}

    def lineage_inputs(self) -> list[tuple[str, str]]:
        """The model, then the calibration files (the job's log names them too)."""
        from airflow_provider_compress.lineage import data_refs

        given = self.fields()
        return [("models", given["model"]), *data_refs(given["custom_calibration_file_ids"], None)]


class _CompressJobTask(LinkedResource, BaseOperator):
    """What the operators acting on an existing job share: the job, its hook, the console link
    and the lineage."""

    dashscope_conn_id: str
    job_id: str
    template_fields: Sequence[str] = ("job_id",)
    operator_extra_links = (CompressJobLink(),)
    id_param = "job_id"

    @cached_property
    def hook(self) -> CompressHook:
        return CompressHook(dashscope_conn_id=self.dashscope_conn_id)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Lineage for Airflow's OpenLineage provider (the ``openlineage`` extra): the job's id
        only; a cancel or a delete changes no dataset (the compressed model stays)."""
        from airflow_provider_compress import lineage

        return lineage.operator_lineage(self.hook.settings, [], None, self.job_id)


class CancelCompressJobOperator(_CompressJobTask):
    """Cancel a job (no-op when it already ended); optionally wait until it is CANCELED.

    Returns the job's status after the cancel: CANCELING (or later) without
    ``wait_for_cancellation``, the status it ended in with it.

    :param job_id: the compression job (templated).
    :param dashscope_conn_id: the ``dashscope`` connection.
    :param wait_for_cancellation: wait until the job has ended.
    :param poll_interval: seconds between status polls while waiting (at least 1).
    :param timeout: seconds to wait before the task fails.
    """

    def __init__(
        self,
        *,
        job_id: str,
        dashscope_conn_id: str = CompressHook.default_conn_name,
        wait_for_cancellation: bool = False,
        poll_interval: float = 5,
        timeout: float = 600,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        validation.check_poll_interval("poll_interval", poll_interval)
        validation.check_timeout("timeout", timeout, optional=False)
        self.job_id = job_id
        self.dashscope_conn_id = dashscope_conn_id
        self.wait_for_cancellation = wait_for_cancellation
        self.poll_interval = poll_interval
        self.timeout = timeout

    def execute(self, context: Context) -> str:
        job = self.hook.get_job(self.job_id)
        if self.hook.kind.needs_stop(job.status):  # an unknown status too: it may be running
            self.hook.stop_resource(self.hook.kind, self.job_id)  # tolerates a lost first answer
            self.log.info("Cancel of job %s requested", self.job_id)
            metrics.resource_stopped(self.hook.kind, "requested by the task")
            job = self.hook.get_job(self.job_id)  # CANCELING (or later): what is returned without a wait
        else:
            self.log.info("Job %s is %s: nothing to cancel", self.job_id, job.status)
        deadline = time.monotonic() + self.timeout
        while self.wait_for_cancellation and not self.hook.kind.is_terminal(job.status):
            if time.monotonic() >= deadline:
                raise AirflowException(f"Job {self.job_id} was not CANCELED within {self.timeout:g} s")
            time.sleep(self.poll_interval)
            job = self.hook.get_job(self.job_id)
        if self.wait_for_cancellation and job.status != JobStatus.CANCELED:
            self.log.warning("Job %s ended %s before the cancel took effect", self.job_id, job.status)
        return str(job.status)


class DeleteCompressJobOperator(_CompressJobTask):
    """Delete a finished job's record (its compressed model stays). An active job is refused by the API.

    :param job_id: the compression job (templated).
    :param dashscope_conn_id: the ``dashscope`` connection.
    """

    def __init__(
        self, *, job_id: str, dashscope_conn_id: str = CompressHook.default_conn_name, **kwargs: Any
    ):
        super().__init__(**kwargs)
        self.job_id = job_id
        self.dashscope_conn_id = dashscope_conn_id

    def execute(self, context: Context) -> None:
        try:
            self.hook.delete_job(self.job_id)
        except NotFoundError as err:
            if protocol.attempts_of(err) < 2:  # a retried delete whose first answer was lost
                raise
        self.log.info("Deleted job %s", self.job_id)

"""CreateFineTuneJobOperator: train a model; the first stage of fine-tune -> compress -> deploy."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

from airflow_provider_compress import protocol, validation
from airflow_provider_compress.exceptions import CompressError
from airflow_provider_compress.hooks.finetune import FineTuneHook
from airflow_provider_compress.links.console import FineTuneJobLink, LinkedResource
from airflow_provider_compress.operators.base import DashScopeResourceOperator
from airflow_provider_compress.operators.templates import JsonTemplates
from airflow_provider_compress.specs import FineTuneJobSpec

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_compress.models import Checkpoint
    from airflow_provider_compress.triggers.base import DashScopeResourceTrigger


class CreateFineTuneJobOperator(JsonTemplates, DashScopeResourceOperator[FineTuneHook]):
    """Create a fine-tune job and wait for it (in the worker, deferred, or not at all), forwarding
    its log; returns the fine-tuned model id (``finetuned_output``), ready for
    CreateCompressJobOperator's ``model``.

    The job's fields (all templated) are those of ``FineTuneJobSpec``, which checks them before any
    request; the waiting, kill, timeout and reattach parameters are those of
    ``DashScopeResourceOperator``. A job found by name that trains another model, on other files,
    of another type or with other values of the hyper-parameters this task sets is not reattached.
    The fields that take a list or a mapping may name a ``.json`` file instead, a template read
    as JSON (``template_ext``).

    :param model: the base model (or a custom model) to train.
    :param training_file_ids: uploaded training files; or ``training_datasets``.
    :param training_datasets: training data as dataset objects (file ids or OSS folders).
    :param validation_file_ids: uploaded validation files; or ``validation_datasets``.
    :param validation_datasets: validation data as dataset objects.
    :param hyper_parameters: the training's hyper-parameters.
    :param training_type: ``sft`` (the compressible qwen3.5-flash), ``cpt``, ``efficient_sft``,
        ``dpo_full``, ``dpo_lora``.
    :param job_name: unique job name; derived from the task instance when absent.
    :param model_name: display name of the trained model.
    :param finetuned_output_suffix: part of the trained model's id.
    """

    kind = protocol.FINE_TUNE
    spec_class = FineTuneJobSpec
    hook_class = FineTuneHook
    template_fields: Sequence[str] = FineTuneJobSpec.field_names()
    template_fields_renderers: ClassVar[dict[str, str]] = {
        "hyper_parameters": "json",
        "training_datasets": "json",
        "validation_datasets": "json",
    }
    operator_extra_links = (FineTuneJobLink(),)
    json_fields = (
        "training_file_ids",
        "training_datasets",
        "validation_file_ids",
        "validation_datasets",
        "hyper_parameters",
    )

    def __init__(
        self,
        *,
        model: str,
        training_file_ids: Iterable[str] | None = None,
        training_datasets: Iterable[Mapping[str, Any]] | str | None = None,
        validation_file_ids: Iterable[str] | None = None,
        validation_datasets: Iterable[Mapping[str, Any]] | str | None = None,
        hyper_parameters: Mapping[str, Any] | str | None = None,
        training_type: str | None = None,
        job_name: str | None = None,
        model_name: str | None = None,
        finetuned_output_suffix: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.training_file_ids = training_file_ids
        self.training_datasets = training_datasets
        self.validation_file_ids = validation_file_ids
        self.validation_datasets = validation_datasets
        self.hyper_parameters = hyper_parameters
        self.training_type = training_type
        self.job_name = job_name
        self.model_name = model_name
        self.finetuned_output_suffix = finetuned_output_suffix

    def trigger_class(self) -> type[DashScopeResourceTrigger]:
        from airflow_provider_compress.triggers.finetune import FineTuneJobTrigger

        return FineTuneJobTrigger

    def lineage_inputs(self) -> list[tuple[str, str]]:
        """The base model, then the training and the validation data: files, or OSS folders."""
        from airflow_provider_compress.lineage import data_refs

        return [
            ("models", self.model),
            *data_refs(self.training_file_ids, self.training_datasets),
            *data_refs(self.validation_file_ids, self.validation_datasets),
        ]


class ExportCheckpointOperator(LinkedResource, BaseOperator):
    """Publish a checkpoint of a fine-tune job as a deployable model and wait until it is
    exported; returns its ``model_name``, for CreateCompressJobOperator's ``model`` or
    DeployModelOperator's ``model_name`` (the job's last checkpoint is its ``finetuned_output``
    already). Only ``sft`` and ``efficient_sft`` checkpoints can be exported.

    A retry never exports twice: a checkpoint exported already is returned at once, one being
    exported is waited for.

    :param job_id: the fine-tune job (templated).
    :param checkpoint: e.g. ``checkpoint-160`` (templated); ``FineTuneHook.list_checkpoints``
        lists them.
    :param model_name: a name for the exported model (templated).
    :param dashscope_conn_id: the Airflow connection of type ``dashscope``.
    :param poll_interval: seconds between reads of the checkpoint list.
    :param timeout: seconds to wait for the export before the task fails.
    """

    template_fields: Sequence[str] = ("job_id", "checkpoint", "model_name")
    ui_color = "#ff6a00"
    operator_extra_links = (FineTuneJobLink(),)
    id_param = "job_id"

    def __init__(
        self,
        *,
        job_id: str,
        checkpoint: str,
        model_name: str | None = None,
        dashscope_conn_id: str = FineTuneHook.default_conn_name,
        poll_interval: float = 10,
        timeout: float = 1800,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        validation.check_poll_interval("poll_interval", poll_interval)
        validation.check_timeout("timeout", timeout, optional=False)
        self.job_id = job_id
        self.checkpoint = checkpoint
        self.model_name = model_name
        self.dashscope_conn_id = dashscope_conn_id
        self.poll_interval = poll_interval
        self.timeout = timeout

    @cached_property
    def hook(self) -> FineTuneHook:
        return FineTuneHook(dashscope_conn_id=self.dashscope_conn_id)

    def execute(self, context: Context) -> str:
        deadline, asked = time.monotonic() + self.timeout, False
        outage = protocol.OutageClock(self.hook.settings.outage_budget)
        status = "not read"
        while True:
            try:
                found = self._checkpoint()
                outage.recovered()
            except CompressError as err:
                # An export cannot be stopped: an error ends only the wait (a retry waits again).
                if not protocol.rides_out(err) or outage.failed(time.monotonic()):
                    raise AirflowException(
                        f"The export of {self.checkpoint} of {self.job_id} could not be watched: {err} "
                        f"(last known status: {status}); it goes on, a retry waits for it again"
                    ) from None
                self.log.warning("Reading the checkpoints of %s failed: %s", self.job_id, err)
            else:
                status = str(found.status)
                if found.status == "SUCCEEDED" and found.model_name:
                    self.log.info("%s of %s is model %s", self.checkpoint, self.job_id, found.model_name)
                    return found.model_name
                if found.status in ("FAILED", "UNSUPPORTED"):
                    raise AirflowException(
                        f"Export of {self.checkpoint} of {self.job_id} ended {found.status}"
                    )
                if found.status == "PENDING" and not asked:  # saved, not exported yet
                    self.hook.export_checkpoint(self.job_id, self.checkpoint, self.model_name or None)
                    self.log.info("Export of %s of %s requested", self.checkpoint, self.job_id)
                    asked = True
            if time.monotonic() >= deadline:
                raise AirflowException(
                    f"{self.checkpoint} of {self.job_id} was not exported within {self.timeout:g} s "
                    f"(it is {status}); the export goes on"
                )
            time.sleep(self.poll_interval)

    def _checkpoint(self) -> Checkpoint:
        checkpoints = self.hook.list_checkpoints(self.job_id)
        found = next((c for c in checkpoints if c.checkpoint == self.checkpoint), None)
        if found is None:
            names = ", ".join(c.checkpoint for c in checkpoints) or "none"
            raise AirflowException(f"fine-tune job {self.job_id} has no {self.checkpoint} (it has: {names})")
        return found

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Lineage for Airflow's OpenLineage provider (the ``openlineage`` extra): what the
        fine-tune read -> the exported model, once exported; read again from the API at the end."""
        from airflow_provider_compress import lineage

        job = self.hook.get_resource(protocol.FINE_TUNE, self.job_id)
        exported = next(
            (
                c.model_name
                for c in self.hook.list_checkpoints(self.job_id)
                if c.checkpoint == self.checkpoint and c.status == "SUCCEEDED" and c.model_name
            ),
            None,
        )
        return lineage.operator_lineage(
            self.hook.settings,
            lineage.recorded_inputs(protocol.FINE_TUNE, job),
            ("models", exported) if exported else None,
            self.job_id,
            links=self.operator_extra_links,
        )

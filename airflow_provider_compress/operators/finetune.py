"""CreateFineTuneJobOperator: train a model; the first stage of fine-tune -> compress -> deploy."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_compress import protocol
from airflow_provider_compress.hooks.finetune import FineTuneHook
from airflow_provider_compress.links.console import FineTuneJobLink
from airflow_provider_compress.operators.base import DashScopeResourceOperator
from airflow_provider_compress.specs import FineTuneJobSpec

if TYPE_CHECKING:
    from airflow_provider_compress.triggers.base import DashScopeResourceTrigger


class CreateFineTuneJobOperator(DashScopeResourceOperator[FineTuneHook]):
    """Create a fine-tune job and wait for it (in the worker, deferred, or not at all), forwarding
    its log; returns the fine-tuned model id (``finetuned_output``), ready for
    CreateCompressJobOperator's ``model``.

    The job's fields (all templated) are those of ``FineTuneJobSpec``, which checks them before any
    request; the waiting, kill, timeout and reattach parameters are those of
    ``DashScopeResourceOperator``. A job found by name that trains another model, on other files,
    of another type or with other values of the hyper-parameters this task sets is not reattached.

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
    }
    operator_extra_links = (FineTuneJobLink(),)

    def __init__(
        self,
        *,
        model: str,
        training_file_ids: Iterable[str] | None = None,
        training_datasets: Iterable[Mapping[str, Any]] | None = None,
        validation_file_ids: Iterable[str] | None = None,
        validation_datasets: Iterable[Mapping[str, Any]] | None = None,
        hyper_parameters: Mapping[str, Any] | None = None,
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
        refs = [("models", self.model)]
        for file_ids, datasets in (
            (self.training_file_ids, self.training_datasets),
            (self.validation_file_ids, self.validation_datasets),
        ):
            refs += [("files", file_id) for file_id in file_ids or ()]
            for item in datasets or ():
                oss = item.get("mount_storage") or {}
                if item.get("file_id"):
                    refs.append(("files", item["file_id"]))
                elif oss.get("bucket"):
                    refs.append((f"oss://{oss['bucket']}", str(oss.get("file_path") or "")))
        return refs

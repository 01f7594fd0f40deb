"""Hooks for the fine-tuning API: ``FineTuneHook`` and ``FineTuneAsyncHook``.

The job methods (get_job, iter_logs, cancel_job, ...) are the shared ones of ``hooks.base``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_compress import protocol
from airflow_provider_compress.hooks.base import (
    AsyncJobHookMixin,
    DashScopeAsyncHook,
    DashScopeHook,
    JobHookMixin,
)
from airflow_provider_compress.models import FineTuneJob, FineTunePage


class FineTuneHook(JobHookMixin, DashScopeHook):
    """Fine-tune jobs: create, list, get, logs, cancel, delete."""

    kind = protocol.FINE_TUNE

    def create_job(
        self,
        model: str,
        training_file_ids: Sequence[str] | None = None,
        *,
        training_datasets: Sequence[Mapping[str, Any]] | None = None,
        validation_file_ids: Sequence[str] | None = None,
        validation_datasets: Sequence[Mapping[str, Any]] | None = None,
        hyper_parameters: Mapping[str, Any] | None = None,
        training_type: str | None = None,
        job_name: str | None = None,
        model_name: str | None = None,
        finetuned_output_suffix: str | None = None,
    ) -> FineTuneJob:
        return self.run(
            protocol.create_fine_tune(
                model=model,
                training_file_ids=training_file_ids,
                training_datasets=training_datasets,
                validation_file_ids=validation_file_ids,
                validation_datasets=validation_datasets,
                hyper_parameters=hyper_parameters,
                training_type=training_type,
                job_name=job_name,
                model_name=model_name,
                finetuned_output_suffix=finetuned_output_suffix,
            )
        )

    def list_jobs(self, page_no: int = 1, page_size: int = 10, **filters: Any) -> FineTunePage:
        """One page of fine-tune jobs; ``model`` (and, undocumented, ``status``) filter."""
        return self.run(protocol.list_resources(self.kind, page_no=page_no, page_size=page_size, **filters))


class FineTuneAsyncHook(AsyncJobHookMixin, DashScopeAsyncHook):
    """The async twin of FineTuneHook, for triggers."""

    kind = protocol.FINE_TUNE

"""Hooks for the fine-tuning API: ``FineTuneHook`` and ``FineTuneAsyncHook``.

The job methods (get_job, iter_logs, cancel_job, ...) are the shared ones of ``hooks.base`` and
``hooks.base_async``.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_compress import protocol
from airflow_provider_compress.hooks.base import DashScopeJobHook
from airflow_provider_compress.hooks.base_async import DashScopeJobAsyncHook
from airflow_provider_compress.models import Checkpoint, FineTuneJob, FineTunePage
from airflow_provider_compress.specs import FineTuneJobSpec


class FineTuneHook(DashScopeJobHook):
    """Fine-tune jobs: create, list, get, logs, cancel, delete."""

    kind = protocol.FINE_TUNE

    def create_job(self, spec: FineTuneJobSpec | None = None, /, **fields: Any) -> FineTuneJob:
        """Create a job from ``spec``, or from its fields as keyword arguments (``model``,
        ``training_file_ids``, ... as in ``FineTuneJobSpec``). Never repeated after an unknown outcome."""
        return self.create(FineTuneJobSpec.of(spec, fields))

    def list_jobs(self, page_no: int = 1, page_size: int = 10, **filters: Any) -> FineTunePage:
        """One page of fine-tune jobs; ``model`` (and, undocumented, ``status``) filter."""
        return self.run(protocol.list_resources(self.kind, page_no=page_no, page_size=page_size, **filters))

    def list_checkpoints(self, job_id: str) -> list[Checkpoint]:
        """The checkpoints the job saved, the newest first, with their export status."""
        return self.run(protocol.list_checkpoints(job_id))

    def export_checkpoint(self, job_id: str, checkpoint: str, model_name: str | None = None) -> bool:
        """Ask for ``checkpoint`` (e.g. ``checkpoint-160``) to be published as a deployable model;
        True once submitted. Its status in ``list_checkpoints`` then turns SUCCEEDED with the
        ``model_name`` to compress or deploy (``ExportCheckpointOperator`` waits for it)."""
        return self.run(protocol.export_checkpoint(job_id, checkpoint, model_name))


class FineTuneAsyncHook(DashScopeJobAsyncHook):
    """The async twin of FineTuneHook, for triggers."""

    kind = protocol.FINE_TUNE

"""FineTuneJobSensor: wait for an existing fine-tune job."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_compress import protocol
from airflow_provider_compress.hooks.finetune import FineTuneHook
from airflow_provider_compress.links.console import FineTuneJobLink
from airflow_provider_compress.sensors.base import DashScopeJobSensor

if TYPE_CHECKING:
    from airflow_provider_compress.triggers.base import DashScopeResourceTrigger


class FineTuneJobSensor(DashScopeJobSensor):
    """Wait until the fine-tune ``job_id`` ends: succeed on SUCCEEDED (XCom: ``finetuned_output``,
    ready for CreateCompressJobOperator's ``model``), fail fast on FAILED or CANCELED with the
    job's ``code`` and ``message``.

    For a job another DAG, a person in the console or ``wait_for_completion=False`` started.
    Works in ``poke``, ``reschedule`` and deferrable modes, forwarding the job's log like
    CompressJobSensor. It never cancels the job, not on a kill, not on its own timeout.

    Parameters: those of ``DashScopeJobSensor``.
    """

    kind = protocol.FINE_TUNE
    hook_class = FineTuneHook
    operator_extra_links = (FineTuneJobLink(),)

    def trigger_class(self) -> type[DashScopeResourceTrigger]:
        from airflow_provider_compress.triggers.finetune import FineTuneJobTrigger

        return FineTuneJobTrigger

"""CompressJobSensor: wait for an existing compression job."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_compress import protocol
from airflow_provider_compress.hooks.compress import CompressHook
from airflow_provider_compress.links.console import CompressJobLink
from airflow_provider_compress.sensors.base import DashScopeJobSensor

if TYPE_CHECKING:
    from airflow_provider_compress.triggers.base import DashScopeResourceTrigger


class CompressJobSensor(DashScopeJobSensor):
    """Wait until ``job_id`` ends: succeed on SUCCEEDED (XCom: the compressed model id), fail fast
    on FAILED or CANCELED with the reason.

    Works in ``poke``, ``reschedule`` and deferrable modes. The sensor does not own the job, so it
    never cancels it. Log lines are forwarded as they appear in poke and deferrable modes; in
    reschedule mode, where nothing survives between pokes, the whole log is forwarded once at the end.

    Parameters: those of ``DashScopeJobSensor``.
    """

    kind = protocol.COMPRESS
    hook_class = CompressHook
    operator_extra_links = (CompressJobLink(),)

    def trigger_class(self) -> type[DashScopeResourceTrigger]:
        from airflow_provider_compress.triggers.compress import CompressJobTrigger

        return CompressJobTrigger

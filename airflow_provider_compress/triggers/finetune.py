"""FineTuneJobTrigger: waits for a fine-tune job in the triggerer, forwarding its log live."""

from __future__ import annotations

from airflow_provider_compress import protocol
from airflow_provider_compress.hooks.finetune import FineTuneAsyncHook
from airflow_provider_compress.triggers.base import DashScopeResourceTrigger


class FineTuneJobTrigger(DashScopeResourceTrigger):
    __doc__ = DashScopeResourceTrigger.__doc__
    kind = protocol.FINE_TUNE
    hook_class = FineTuneAsyncHook

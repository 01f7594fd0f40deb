"""CompressJobTrigger: waits for a compression job in the triggerer, forwarding its log live."""

from __future__ import annotations

from airflow_provider_compress import protocol
from airflow_provider_compress.hooks.compress import CompressAsyncHook
from airflow_provider_compress.triggers.base import DashScopeResourceTrigger

__all__ = ["CompressJobTrigger"]


class CompressJobTrigger(DashScopeResourceTrigger):
    __doc__ = DashScopeResourceTrigger.__doc__
    kind = protocol.COMPRESS
    hook_class = CompressAsyncHook

"""Hooks for the compression API: ``CompressHook`` (sync) and ``CompressAsyncHook`` (async, for triggers).

The transports live in ``hooks.base`` and ``hooks.base_async``; this module adds the compression
endpoints.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_compress import _compat, protocol
from airflow_provider_compress.hooks.base import DashScopeHook, DashScopeJobHook
from airflow_provider_compress.hooks.base_async import DashScopeJobAsyncHook, close_async_clients
from airflow_provider_compress.models import Job, JobPage, Template, TemplateList
from airflow_provider_compress.specs import CompressJobSpec

__all__ = ["CompressAsyncHook", "CompressHook", "close_async_clients"]


@_compat.own_connection_form  # the connection type's registered hook (get_provider_info.HOOK_CLASS)
class CompressHook(DashScopeJobHook):
    """Synchronous client of the compression API, one method per endpoint.

    :param dashscope_conn_id: Airflow connection of type ``dashscope``: API key in the password,
        base URL in the host, workspace id, language, timeout and retry settings in the extras.
    """

    kind = protocol.COMPRESS

    def __init__(self, dashscope_conn_id: str = DashScopeHook.default_conn_name, **kwargs: Any) -> None:
        super().__init__(dashscope_conn_id, **kwargs)
        self._template_lists: dict[str, TemplateList] = {}

    def list_templates(self, model: str | None = None, lang: str | None = None) -> TemplateList:
        return self.run(protocol.list_templates(model, lang))

    def get_template(self, model: str, template_id: str) -> Template | None:
        """The template ``template_id`` of ``model``, from a listing cached on this hook."""
        if model not in self._template_lists:
            self._template_lists[model] = self.list_templates(model=model)
        return self._template_lists[model].find_template(model, template_id)

    def create_job(self, spec: CompressJobSpec | None = None, /, **fields: Any) -> Job:
        """Create a job from ``spec``, or from its fields as keyword arguments (``model``,
        ``template_id``, ``job_name``, ... as in ``CompressJobSpec``). With a ``job_name`` the
        create survives lost answers without a duplicate. The hyper-parameters are checked
        against the template first (``CompressJobSpec.check_template``).
        """
        spec = CompressJobSpec.of(spec, fields)
        spec.check_template(self.get_template(spec.model, spec.template_id))
        return self.create(spec)

    def list_jobs(self, **filters: Any) -> JobPage:
        """One page of jobs; filters as in the API (``status``, ``model``, ``template_id``,
        ``quant_spec``, ``quant_method``, ``start_time``, ``end_time``, ``job_name``, ``job_id``,
        ``search_key``, ``select_key``, ``sort_by``, ``sort_order``, ``page_no``, ``page_size``).

        ``start_time`` (the job started at or after) and ``end_time`` (it ended at or before) take
        a ``date``, a ``datetime`` or pendulum object (Airflow's ``data_interval_start`` works as
        is), or an ISO 8601 string, with or without an offset. Aware values are converted to the
        service's time zone, the connection extra ``service_timezone`` (default ``+08:00``); a
        naive value is taken as already in it; a bare date is the whole day.
        """
        return self.run(protocol.list_jobs(**filters))


class CompressAsyncHook(DashScopeJobAsyncHook):
    """The async twin of CompressHook's reads for triggers: get, list, logs, cancel, delete (awaitable,
    aiohttp transport). Creating is the sync hook's."""

    kind = protocol.COMPRESS

    async def list_jobs(self, **filters: Any) -> JobPage:
        return await self.run(protocol.list_jobs(**filters))

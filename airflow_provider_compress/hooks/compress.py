"""Transports for the compression API: ``CompressHook`` (requests) and ``CompressAsyncHook`` (aiohttp).

Both send the requests built by ``protocol`` and read the answers with ``protocol.parse_response``;
only the I/O differs. The async hook shares one aiohttp session per event loop and connection id,
so a triggerer running a thousand triggers keeps one connection pool and reads the connection once.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from functools import cached_property
from typing import Any, TypeVar

import aiohttp
import requests
from tenacity import AsyncRetrying, Retrying

from airflow_provider_compress import protocol
from airflow_provider_compress._compat import BaseHook
from airflow_provider_compress.exceptions import (
    AuthenticationError,
    BadRequestError,
    CompressConnectionError,
    CompressError,
)
from airflow_provider_compress.models import Job, JobLogs, JobPage, OperationResult, Template, TemplateList
from airflow_provider_compress.protocol import ApiCall, ClientSettings
from airflow_provider_compress.validation import check_hyper_parameters

T = TypeVar("T")
LOG_PAGE = 1000  # the most lines one logs request may ask for
JOB_PAGE = 100  # the most jobs one list request may ask for

log = logging.getLogger(__name__)


def _settings(conn: Any) -> ClientSettings:
    return ClientSettings.from_connection(
        host=conn.host, password=conn.password, extra=conn.extra_dejson, schema=conn.schema, port=conn.port
    )


class _HookBase(BaseHook):
    conn_name_attr = "dashscope_conn_id"
    default_conn_name = "dashscope_default"
    conn_type = "dashscope"
    hook_name = "Alibaba Cloud Model Studio (DashScope)"

    def __init__(self, dashscope_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dashscope_conn_id = dashscope_conn_id
        self._template_lists: dict[str, TemplateList] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dashscope_conn_id={self.dashscope_conn_id!r})"

    def _check_against_template(
        self, template: Template | None, hyper_parameters: Mapping[str, Any] | None
    ) -> None:
        # Unknown model or template: leave it to the API, whose error says which (LoRA, base model...).
        if template is not None:
            check_hyper_parameters(template, hyper_parameters)


class CompressHook(_HookBase):
    """Synchronous client of the compression API, one method per endpoint.

    :param dashscope_conn_id: Airflow connection of type ``dashscope``: API key in the password,
        base URL in the host, workspace id, language, timeout and retry settings in the extras.
    """

    # Airflow >=3.2 reads the form from get_provider_info(); 3.1's UI asks these two methods.
    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
        from flask_babel import lazy_gettext
        from wtforms import IntegerField, StringField
        from wtforms.validators import Optional

        from airflow_provider_compress.get_provider_info import CONN_FIELDS

        widgets = {}
        for name, spec in CONN_FIELDS.items():
            field_class = IntegerField if "integer" in spec["schema"]["type"] else StringField
            widgets[name] = field_class(
                lazy_gettext(spec["label"]),
                widget=BS3TextFieldWidget(),
                validators=[Optional()],
                description=spec.get("description", ""),
            )
        return widgets

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        from airflow_provider_compress.get_provider_info import UI_FIELD_BEHAVIOUR

        return {
            "hidden_fields": UI_FIELD_BEHAVIOUR["hidden-fields"],
            "relabeling": UI_FIELD_BEHAVIOUR["relabeling"],
            "placeholders": UI_FIELD_BEHAVIOUR["placeholders"],
        }

    @cached_property
    def settings(self) -> ClientSettings:
        return _settings(self.get_connection(self.dashscope_conn_id))

    @cached_property
    def session(self) -> requests.Session:
        session = requests.Session()
        session.headers.update(self.settings.headers())
        return session

    def get_conn(self) -> requests.Session:
        return self.session

    def _send(self, call: ApiCall[T]) -> T:
        request, settings = call.request, self.settings
        try:
            response = self.session.request(
                request.method,
                settings.url(request),
                params=settings.params(request),
                json=request.body,
                timeout=settings.timeout,
            )
        except requests.RequestException as err:
            raise CompressConnectionError(
                f"{request.method} {request.path}: {type(err).__name__}: {err}",
                request_sent=not _never_sent(err),
            ) from None
        self.log.debug("%s %s -> %s", request.method, request.path, response.status_code)
        return call.parse(protocol.parse_response(response.status_code, response.content, response.headers))

    def run(self, call: ApiCall[T]) -> T:
        """Send ``call`` with the connection's retry policy and return its parsed output."""
        retrying = Retrying(**protocol.retry_arguments(self.settings.retry, call.request, self.log))
        try:
            return retrying(self._send, call)
        except CompressError as err:
            protocol.note_attempts(err, retrying.statistics.get("attempt_number", 1))
            raise

    def list_templates(self, model: str | None = None, lang: str | None = None) -> TemplateList:
        return self.run(protocol.list_templates(model, lang))

    def get_template(self, model: str, template_id: str) -> Template | None:
        """The template ``template_id`` of ``model``, from a listing cached on this hook."""
        if model not in self._template_lists:
            self._template_lists[model] = self.list_templates(model=model)
        return self._template_lists[model].find_template(model, template_id)

    def create_job(
        self,
        model: str,
        template_id: str,
        job_name: str | None = None,
        job_description: str | None = None,
        hyper_parameters: Mapping[str, Any] | None = None,
        custom_calibration_file_ids: Sequence[str] | None = None,
        output_model_suffix: str | None = None,
        lang: str | None = None,
    ) -> Job:
        """Create a job. With a ``job_name`` the create survives lost answers without a duplicate."""
        call = protocol.create_job(
            model=model,
            template_id=template_id,
            job_name=job_name,
            job_description=job_description,
            hyper_parameters=hyper_parameters,
            custom_calibration_file_ids=custom_calibration_file_ids,
            output_model_suffix=output_model_suffix,
            lang=lang,
        )
        self._check_against_template(self.get_template(model, template_id), hyper_parameters)
        try:
            return self.run(call)
        except BadRequestError as err:
            # A retried named create that the API refuses most likely met the job its lost first
            # try created (names are unique): return that job instead of failing.
            if job_name is None or protocol.attempts_of(err) < 2:
                raise
            job = self.find_job_by_name(job_name)
            if job is None:
                raise
            return job

    def list_jobs(self, **filters: Any) -> JobPage:
        """One page of jobs; filters as in the API (status, model, start_time, page_no, ...)."""
        return self.run(protocol.list_jobs(**filters))

    def iter_jobs(self, **filters: Any) -> Iterator[Job]:
        """Every job matching ``filters``, walking all pages."""
        filters.setdefault("page_size", JOB_PAGE)
        page_no: int | None = filters.pop("page_no", 1)
        while page_no is not None:
            page = self.list_jobs(page_no=page_no, **filters)
            yield from page.jobs
            page_no = protocol.next_page_no(page)

    def find_job_by_name(self, job_name: str) -> Job | None:
        """The job named exactly ``job_name`` (names are unique per user), or None."""
        return protocol.exact_name_match(list(self.iter_jobs(job_name=job_name)), job_name)

    def get_job(self, job_id: str, lang: str | None = None) -> Job:
        return self.run(protocol.get_job(job_id, lang))

    def get_logs(self, job_id: str, offset: int = 0, line: int = 100, lang: str | None = None) -> JobLogs:
        return self.run(protocol.get_logs(job_id, offset, line, lang))

    def iter_logs(self, job_id: str, offset: int = 0) -> Iterator[str]:
        """Log lines from ``offset`` to the end of the log as it is now, 1000 per request."""
        next_offset: int | None = offset
        while next_offset is not None:
            chunk = self.get_logs(job_id, offset=next_offset, line=LOG_PAGE)
            yield from chunk.logs
            next_offset = protocol.next_log_offset(next_offset, chunk)

    def cancel_job(self, job_id: str, lang: str | None = None) -> OperationResult:
        return self.run(protocol.cancel_job(job_id, lang))

    def delete_job(self, job_id: str, lang: str | None = None) -> OperationResult:
        return self.run(protocol.delete_job(job_id, lang))

    def test_connection(self) -> tuple[bool, str]:
        """Used by the UI's Test button: lists templates, which every valid key may do."""
        try:
            templates = self.list_templates()
        except (CompressError, ValueError) as err:
            return False, str(err)
        return (
            True,
            f"Connected to {self.settings.base_url}: {len(templates.custom_models)} compressible models",
        )


def _never_sent(err: requests.RequestException) -> bool:
    """True when the connection failed before the request left (refused, DNS, connect timeout)."""
    if isinstance(err, requests.ConnectTimeout):
        return True
    if isinstance(err, requests.ConnectionError):
        reason = getattr(err.args[0], "reason", None) if err.args else None
        return type(reason).__name__ in {"NewConnectionError", "NameResolutionError"}
    return False


# --- async ----------------------------------------------------------------------------------


class _AsyncClient:
    """One aiohttp session and the connection's settings, shared on one event loop."""

    def __init__(self, settings: ClientSettings) -> None:
        self.settings = settings  # replaced in place when the key is rotated
        self.users = 0  # hooks inside ``async with``; the last to leave closes the session
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256, ttl_dns_cache=300))


# loop -> connection id -> the client being opened or open on that loop
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Future[_AsyncClient]]] = (
    weakref.WeakKeyDictionary()
)


async def close_async_clients() -> None:
    """Close the shared aiohttp sessions of the running loop (tests, and shutdown)."""
    for future in _clients.pop(asyncio.get_running_loop(), {}).values():
        if future.done() and not future.exception():
            await future.result().session.close()


class CompressAsyncHook(_HookBase):
    """The async twin of CompressHook for triggers: same methods, awaitable, aiohttp transport.

    The connection is read once per event loop with Airflow's async lookup, never with a
    blocking call, and read again after the API rejects the key (401), so a rotated key is used.
    Use it as ``async with CompressAsyncHook(...) as hook:`` so that the shared session is
    closed once no hook of the loop needs it.
    """

    async def __aenter__(self) -> CompressAsyncHook:
        client = await self._client()
        client.users += 1
        self._held: _AsyncClient | None = client
        return self

    async def __aexit__(self, *exc: object) -> None:
        client, self._held = self._held, None
        if client is None:
            return
        client.users -= 1
        if client.users == 0:
            _clients.get(asyncio.get_running_loop(), {}).pop(self.dashscope_conn_id, None)
            await client.session.close()

    async def _client(self) -> _AsyncClient:
        held = getattr(self, "_held", None)
        if held is not None:
            return held
        per_loop = _clients.setdefault(asyncio.get_running_loop(), {})
        future = per_loop.get(self.dashscope_conn_id)
        if future is None or (future.done() and (future.exception() or future.result().session.closed)):
            future = asyncio.ensure_future(self._open())
            per_loop[self.dashscope_conn_id] = future
        return await asyncio.shield(future)

    async def _open(self) -> _AsyncClient:
        return _AsyncClient(_settings(await self.aget_connection(self.dashscope_conn_id)))

    async def _send(self, client: _AsyncClient, call: ApiCall[T]) -> T:
        request, settings = call.request, client.settings
        try:
            async with client.session.request(
                request.method,
                settings.url(request),
                params=settings.params(request),
                json=request.body,
                headers=settings.headers(),
                timeout=aiohttp.ClientTimeout(total=settings.timeout),
            ) as response:
                body = await response.read()
        except aiohttp.ClientConnectorError as err:
            raise CompressConnectionError(
                f"{request.method} {request.path}: {type(err).__name__}: {err}", request_sent=False
            ) from None
        except (aiohttp.ClientError, asyncio.TimeoutError) as err:
            raise CompressConnectionError(
                f"{request.method} {request.path}: {type(err).__name__}: {err}"
            ) from None
        return call.parse(protocol.parse_response(response.status, body, response.headers))

    async def run(self, call: ApiCall[T]) -> T:
        client = await self._client()
        retrying = AsyncRetrying(**protocol.retry_arguments(client.settings.retry, call.request, self.log))
        try:
            return await retrying(self._send, client, call)
        except AuthenticationError:
            # The key may have been rotated: the next call uses the connection as it is now.
            client.settings = _settings(await self.aget_connection(self.dashscope_conn_id))
            raise
        except CompressError as err:
            protocol.note_attempts(err, retrying.statistics.get("attempt_number", 1))
            raise

    async def list_templates(self, model: str | None = None, lang: str | None = None) -> TemplateList:
        return await self.run(protocol.list_templates(model, lang))

    async def get_template(self, model: str, template_id: str) -> Template | None:
        if model not in self._template_lists:
            self._template_lists[model] = await self.list_templates(model=model)
        return self._template_lists[model].find_template(model, template_id)

    async def create_job(
        self,
        model: str,
        template_id: str,
        job_name: str | None = None,
        job_description: str | None = None,
        hyper_parameters: Mapping[str, Any] | None = None,
        custom_calibration_file_ids: Sequence[str] | None = None,
        output_model_suffix: str | None = None,
        lang: str | None = None,
    ) -> Job:
        call = protocol.create_job(
            model=model,
            template_id=template_id,
            job_name=job_name,
            job_description=job_description,
            hyper_parameters=hyper_parameters,
            custom_calibration_file_ids=custom_calibration_file_ids,
            output_model_suffix=output_model_suffix,
            lang=lang,
        )
        self._check_against_template(await self.get_template(model, template_id), hyper_parameters)
        try:
            return await self.run(call)
        except BadRequestError as err:
            if job_name is None or protocol.attempts_of(err) < 2:
                raise
            job = await self.find_job_by_name(job_name)
            if job is None:
                raise
            return job

    async def list_jobs(self, **filters: Any) -> JobPage:
        return await self.run(protocol.list_jobs(**filters))

    async def iter_jobs(self, **filters: Any) -> AsyncIterator[Job]:
        filters.setdefault("page_size", JOB_PAGE)
        page_no: int | None = filters.pop("page_no", 1)
        while page_no is not None:
            page = await self.list_jobs(page_no=page_no, **filters)
            for job in page.jobs:
                yield job
            page_no = protocol.next_page_no(page)

    async def find_job_by_name(self, job_name: str) -> Job | None:
        return protocol.exact_name_match([job async for job in self.iter_jobs(job_name=job_name)], job_name)

    async def get_job(self, job_id: str, lang: str | None = None) -> Job:
        return await self.run(protocol.get_job(job_id, lang))

    async def get_logs(
        self, job_id: str, offset: int = 0, line: int = 100, lang: str | None = None
    ) -> JobLogs:
        return await self.run(protocol.get_logs(job_id, offset, line, lang))

    async def iter_logs(self, job_id: str, offset: int = 0) -> AsyncIterator[str]:
        next_offset: int | None = offset
        while next_offset is not None:
            chunk = await self.get_logs(job_id, offset=next_offset, line=LOG_PAGE)
            for line in chunk.logs:
                yield line
            next_offset = protocol.next_log_offset(next_offset, chunk)

    async def cancel_job(self, job_id: str, lang: str | None = None) -> OperationResult:
        return await self.run(protocol.cancel_job(job_id, lang))

    async def delete_job(self, job_id: str, lang: str | None = None) -> OperationResult:
        return await self.run(protocol.delete_job(job_id, lang))

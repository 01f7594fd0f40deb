"""Transports shared by every DashScope resource: ``DashScopeHook`` (requests) and
``DashScopeAsyncHook`` (aiohttp), plus the job methods that work for any ``protocol.JobKind``.

Both send the requests built by ``protocol`` and read the answers with
``protocol.parse_response``; only the I/O differs. The async hook shares one aiohttp session per
event loop and connection id, so a triggerer running a thousand triggers keeps one connection
pool and reads the connection once.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
import weakref
from collections.abc import AsyncIterator, Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar
from urllib.parse import urlsplit

from airflow_provider_compress import protocol, validation
from airflow_provider_compress._compat import BaseHook
from airflow_provider_compress.exceptions import (
    AuthenticationError,
    BadRequestError,
    CompressConnectionError,
    CompressError,
    NotFoundError,
)
from airflow_provider_compress.models import JobLogs
from airflow_provider_compress.protocol import ApiCall, ClientSettings, JobKind

if TYPE_CHECKING:
    import requests

    from airflow_provider_compress.specs import CreateSpec

# requests, aiohttp and tenacity are imported where they are used, not here: DAG files import
# the operators, and these cost more to import than the rest of the provider (benchmarks/).
T = TypeVar("T")
LOG_PAGE = validation.LOG_LINES_MAX  # read as many lines and items per request as the API allows
LIST_PAGE = validation.PAGE_SIZE_MAX


def _settings(conn: Any) -> ClientSettings:
    settings = ClientSettings.from_connection(
        host=conn.host, password=conn.password, extra=conn.extra_dejson, schema=conn.schema, port=conn.port
    )
    if settings.proxy and (password := urlsplit(settings.proxy).password):
        # Airflow masks the connection's password field, not a secret inside an extra.
        from airflow.sdk.log import mask_secret

        mask_secret(password)
    return settings


def env_proxy(url: str) -> str | None:
    """The proxy that HTTP(S)_PROXY / ALL_PROXY and NO_PROXY set for ``url``, if any.

    Decided by requests' own rules (CIDR ranges in NO_PROXY included), so that the async
    transport goes through exactly the proxies the sync one does.
    """
    from requests.utils import get_environ_proxies, select_proxy

    return select_proxy(url, get_environ_proxies(url))


class _HookBase(BaseHook):
    conn_name_attr = "dashscope_conn_id"
    default_conn_name = "dashscope_default"
    conn_type = "dashscope"
    hook_name = "Alibaba Cloud Model Studio (DashScope)"
    # The resource the job methods (get_job, iter_logs, ...) of a subclass act on.
    kind: ClassVar[JobKind]

    def __init__(self, dashscope_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dashscope_conn_id = dashscope_conn_id

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dashscope_conn_id={self.dashscope_conn_id!r})"

    @staticmethod
    def _name_filter(kind: JobKind, name: str) -> dict[str, str]:
        return {kind.name_filter: name} if kind.name_filter else {}


class DashScopeHook(_HookBase):
    """Synchronous transport: retries, errors and settings for every DashScope resource."""

    @cached_property
    def settings(self) -> ClientSettings:
        return _settings(self.get_connection(self.dashscope_conn_id))

    @cached_property
    def session(self) -> requests.Session:
        import requests

        session = requests.Session()  # HTTP(S)_PROXY and NO_PROXY apply (trust_env)
        session.headers.update(self.settings.headers())
        if self.settings.proxy:
            session.proxies = {"http": self.settings.proxy, "https": self.settings.proxy}
        return session

    def get_conn(self) -> requests.Session:
        return self.session

    def _send(self, call: ApiCall[T]) -> T:
        """One try. The connection's timeout is a total for the whole exchange (connect, headers,
        body), as on the async side: requests' own timeout bounds each read, so a server that
        trickles its answer a byte at a time would hold the task for as long as it likes."""
        import requests

        request, settings, session = call.request, self.settings, self.session
        outcome: list[Any] = []

        def exchange() -> None:
            try:
                outcome.append(
                    session.request(
                        request.method,
                        settings.url(request),
                        params=settings.params(request),
                        json=request.body,
                        data=request.form,  # with files: a multipart upload
                        files=request.files,
                        timeout=settings.timeout,
                        # per request: a session-level CA file loses to REQUESTS_CA_BUNDLE
                        verify=settings.ca_bundle or True,
                    )
                )
            except BaseException as err:  # raised in the caller's thread below
                outcome.append(err)

        worker = threading.Thread(target=exchange, name="dashscope-request", daemon=True)
        worker.start()
        worker.join(settings.timeout)
        if not outcome:
            # Given up on: the thread ends at its next read timeout. Its connection must not go
            # back into the pool the next request takes from.
            self.__dict__.pop("session", None)
            raise CompressConnectionError(
                f"{request.method} {request.path}: no complete answer within {settings.timeout:g} s"
            )
        response = outcome[0]
        if isinstance(response, (ValueError, TypeError, requests.exceptions.InvalidJSONError)):
            raise protocol.request_not_built(request, response) from None
        if isinstance(response, requests.RequestException):
            raise CompressConnectionError(
                f"{request.method} {request.path}: {type(response).__name__}: {response}",
                request_sent=not _never_sent(response),
                retryable=not isinstance(response, requests.exceptions.SSLError),
            ) from None
        if isinstance(response, BaseException):
            raise response
        self.log.debug("%s %s -> %s", request.method, request.path, response.status_code)
        return call.parse(protocol.parse_response(response.status_code, response.content, response.headers))

    def run(self, call: ApiCall[T]) -> T:
        """Send ``call`` with the connection's retry policy and return its parsed output."""
        from tenacity import Retrying

        retrying = Retrying(**protocol.retry_arguments(self.settings.retry, call.request, self.log))
        try:
            return retrying(self._send, call)
        except CompressError as err:
            protocol.note_attempts(err, retrying.statistics.get("attempt_number", 1))
            raise

    # --- any job-shaped resource

    def create(self, spec: CreateSpec) -> Any:
        """Create the resource ``spec`` describes (what the operators call)."""
        return self.run(spec.call())

    def get_resource(self, kind: JobKind, resource_id: str) -> Any:
        return self.run(protocol.get_resource(kind, resource_id))

    def iter_resources(self, kind: JobKind, **filters: Any) -> Iterator[Any]:
        """Every item matching ``filters``, walking all pages."""
        filters.setdefault("page_size", LIST_PAGE)
        page_no: int = filters.pop("page_no", 1)
        seen = 0
        for _ in range(protocol.MAX_PAGES):
            page = self.run(protocol.list_resources(kind, page_no=page_no, **filters))
            items = kind.items(page)
            yield from items
            seen += len(items)
            following = protocol.next_page_no(page_no, seen, page, items)
            if following is None:
                return
            page_no = following
        raise protocol.endless_list(kind)

    def named(self, kind: JobKind, name: str) -> list[Any]:
        """Resources whose name contains ``name`` (candidates for an exact or generation match)."""
        return [
            r
            for r in self.iter_resources(kind, **self._name_filter(kind, name))
            if name in (getattr(r, kind.name_field) or "")
        ]

    def find_named(self, kind: JobKind, name: str) -> Any:
        """The resource named exactly ``name``, or None."""
        return protocol.exact_name_match(self.named(kind, name), name, kind.name_field)

    def iter_resource_logs(self, kind: JobKind, resource_id: str, offset: int = 0) -> Iterator[str]:
        """Log lines from ``offset`` to the end of the log as it is now, 1000 per request (at most
        ``protocol.MAX_PAGES`` requests: the rest is read next time)."""
        next_offset = offset
        for _ in range(protocol.MAX_PAGES):
            chunk: JobLogs = self.run(protocol.resource_logs(kind, resource_id, next_offset, LOG_PAGE))
            yield from chunk.logs
            following = protocol.next_log_offset(next_offset, chunk)
            if following is None:
                return
            next_offset = following

    def stop_resource(self, kind: JobKind, resource_id: str) -> bool:
        """Cancel a job / delete a deployment; True once it is stopping or gone.

        A stop whose first answer was lost is refused on its retry (400 "already canceling",
        404 "already deleted"): then the resource is read again instead of failing.
        """
        try:
            self.run(protocol.stop_resource(kind, resource_id))
            return True
        except (BadRequestError, NotFoundError) as err:
            if protocol.attempts_of(err) < 2:
                raise
            try:
                resource = self.get_resource(kind, resource_id)
            except NotFoundError:
                return True
            if resource.status in kind.stopping or kind.outcome(resource.status):
                return True
            raise

    def test_connection(self) -> tuple[bool, str]:
        """Used by the UI's Test button: lists compression templates, which any valid key may do.

        A connection stored with another type fails first (docs/connection.md): added while the
        provider was not installed, ``--conn-type dashscope`` is stored as ``generic``.
        """
        conn_type = self.get_connection(self.dashscope_conn_id).conn_type
        if conn_type != self.conn_type:
            return False, (
                f"connection {self.dashscope_conn_id!r} has type {conn_type!r}, not {self.conn_type!r}: "
                "it was added while airflow-provider-compress was not installed (check with "
                "`airflow providers list`). Delete it and add it again with --conn-type dashscope"
            )
        try:
            templates = self.run(protocol.list_templates())
        except (CompressError, ValueError) as err:
            return False, str(err)
        return (
            True,
            f"Connected to {self.settings.base_url}: {len(templates.custom_models)} compressible models",
        )


class JobHookMixin:
    """get/list/logs/cancel/delete of a job resource (``kind``) on a sync hook."""

    kind: ClassVar[JobKind]
    get_resource: Any
    iter_resources: Any
    iter_resource_logs: Any
    find_named: Any
    run: Any

    def get_job(self, job_id: str, lang: str | None = None) -> Any:
        return self.run(protocol.get_resource(self.kind, job_id, lang))

    def iter_jobs(self, **filters: Any) -> Iterator[Any]:
        return self.iter_resources(self.kind, **filters)

    def find_job_by_name(self, job_name: str) -> Any:
        """The job named exactly ``job_name``, or None."""
        return self.find_named(self.kind, job_name)

    def get_logs(self, job_id: str, offset: int = 0, line: int = 100, lang: str | None = None) -> JobLogs:
        return self.run(protocol.resource_logs(self.kind, job_id, offset, line, lang))

    def iter_logs(self, job_id: str, offset: int = 0) -> Iterator[str]:
        return self.iter_resource_logs(self.kind, job_id, offset)

    def cancel_job(self, job_id: str, lang: str | None = None) -> Any:
        return self.run(protocol.cancel_resource(self.kind, job_id, lang))

    def delete_job(self, job_id: str, lang: str | None = None) -> Any:
        return self.run(protocol.delete_resource(self.kind, job_id, lang))


def _never_sent(err: requests.RequestException) -> bool:
    """True when the connection failed before the request left (refused, DNS, connect timeout)."""
    import requests

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
        import aiohttp

        self.use(settings)
        self.stale = False  # the API rejected the key: read the connection again before the next call
        self.users = 0  # hooks inside ``async with``; the last to leave closes the session
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256, ttl_dns_cache=300))

    def use(self, settings: ClientSettings) -> None:
        """Take (new) settings; what every request sends is built here once, not per request."""
        import aiohttp

        self.settings = settings
        self.headers = settings.headers()
        self.timeout = aiohttp.ClientTimeout(total=settings.timeout)
        self.ssl: ssl.SSLContext | bool = True  # verified, always
        if settings.ca_bundle:
            self.ssl = ssl.create_default_context(cafile=settings.ca_bundle)
        # Every request goes to the same host: resolve the proxy once, not per request as
        # aiohttp's trust_env does (in a thread, for each of a thousand triggers' polls).
        self.proxy = settings.proxy or env_proxy(settings.base_url)


# loop -> connection id -> the client being opened or open on that loop
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Future[_AsyncClient]]] = (
    weakref.WeakKeyDictionary()
)


async def close_async_clients() -> None:
    """Close the shared aiohttp sessions of the running loop (tests, and shutdown)."""
    for future in _clients.pop(asyncio.get_running_loop(), {}).values():
        if future.done() and not future.exception():
            await future.result().session.close()


class DashScopeAsyncHook(_HookBase):
    """The async transport, for triggers.

    The connection is read once per event loop with Airflow's async lookup, never with a
    blocking call, and read again after the API rejects the key (401), so a rotated key is used.
    Use it as ``async with Hook(...) as hook:`` so that the shared session is closed once no hook
    of the loop needs it.
    """

    async def __aenter__(self):
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
        import aiohttp

        request, settings = call.request, client.settings
        try:
            async with client.session.request(
                request.method,
                settings.url(request),
                params=settings.params(request),
                json=request.body,
                headers=client.headers,
                timeout=client.timeout,
                proxy=client.proxy,
                ssl=client.ssl,
            ) as response:
                body = await response.read()
        except aiohttp.ClientConnectorError as err:
            raise CompressConnectionError(
                f"{request.method} {request.path}: {type(err).__name__}: {err}",
                request_sent=False,
                retryable=not isinstance(err, aiohttp.ClientSSLError),
            ) from None
        except (ValueError, TypeError) as err:  # a header or URL aiohttp refuses, a body not JSON
            raise protocol.request_not_built(request, err) from None
        except (aiohttp.ClientError, asyncio.TimeoutError) as err:
            raise CompressConnectionError(
                f"{request.method} {request.path}: {type(err).__name__}: {err}"
            ) from None
        return call.parse(protocol.parse_response(response.status, body, response.headers))

    async def run(self, call: ApiCall[T]) -> T:
        """Send ``call`` with the connection's retry policy (``protocol.retry_delay``)."""
        client = await self._client()
        if client.stale:
            client.stale = False
            client.use(_settings(await self.aget_connection(self.dashscope_conn_id)))
        policy, started = client.settings.retry, time.monotonic()
        attempt = 1
        while True:
            try:
                return await self._send(client, call)
            except AuthenticationError:
                client.stale = True  # the key may have been rotated: the next call reads it again
                raise
            except CompressError as err:
                delay = protocol.retry_delay(policy, call.request, err, attempt, time.monotonic() - started)
                if delay is None:
                    protocol.note_attempts(err, attempt)
                    raise
                protocol.log_retry(self.log, call.request, err, attempt, policy, delay)
            await asyncio.sleep(delay)
            attempt += 1

    # --- any job-shaped resource

    async def get_resource(self, kind: JobKind, resource_id: str) -> Any:
        return await self.run(protocol.get_resource(kind, resource_id))

    async def iter_resources(self, kind: JobKind, **filters: Any) -> AsyncIterator[Any]:
        filters.setdefault("page_size", LIST_PAGE)
        page_no: int = filters.pop("page_no", 1)
        seen = 0
        for _ in range(protocol.MAX_PAGES):
            page = await self.run(protocol.list_resources(kind, page_no=page_no, **filters))
            items = kind.items(page)
            for item in items:
                yield item
            seen += len(items)
            following = protocol.next_page_no(page_no, seen, page, items)
            if following is None:
                return
            page_no = following
        raise protocol.endless_list(kind)

    async def named(self, kind: JobKind, name: str) -> list[Any]:
        return [
            r
            async for r in self.iter_resources(kind, **self._name_filter(kind, name))
            if name in (getattr(r, kind.name_field) or "")
        ]

    async def find_named(self, kind: JobKind, name: str) -> Any:
        return protocol.exact_name_match(await self.named(kind, name), name, kind.name_field)

    async def iter_resource_logs(
        self, kind: JobKind, resource_id: str, offset: int = 0
    ) -> AsyncIterator[str]:
        next_offset = offset
        for _ in range(protocol.MAX_PAGES):
            chunk: JobLogs = await self.run(protocol.resource_logs(kind, resource_id, next_offset, LOG_PAGE))
            for line in chunk.logs:
                yield line
            following = protocol.next_log_offset(next_offset, chunk)
            if following is None:
                return
            next_offset = following

    async def stop_resource(self, kind: JobKind, resource_id: str) -> bool:
        """The async twin of DashScopeHook.stop_resource."""
        try:
            await self.run(protocol.stop_resource(kind, resource_id))
            return True
        except (BadRequestError, NotFoundError) as err:
            if protocol.attempts_of(err) < 2:
                raise
            try:
                resource = await self.get_resource(kind, resource_id)
            except NotFoundError:
                return True
            if resource.status in kind.stopping or kind.outcome(resource.status):
                return True
            raise


class AsyncJobHookMixin:
    """The async twin of JobHookMixin."""

    kind: ClassVar[JobKind]
    iter_resources: Any
    iter_resource_logs: Any
    find_named: Any
    run: Any

    async def get_job(self, job_id: str, lang: str | None = None) -> Any:
        return await self.run(protocol.get_resource(self.kind, job_id, lang))

    def iter_jobs(self, **filters: Any) -> AsyncIterator[Any]:
        return self.iter_resources(self.kind, **filters)

    async def find_job_by_name(self, job_name: str) -> Any:
        return await self.find_named(self.kind, job_name)

    async def get_logs(
        self, job_id: str, offset: int = 0, line: int = 100, lang: str | None = None
    ) -> JobLogs:
        return await self.run(protocol.resource_logs(self.kind, job_id, offset, line, lang))

    def iter_logs(self, job_id: str, offset: int = 0) -> AsyncIterator[str]:
        return self.iter_resource_logs(self.kind, job_id, offset)

    async def cancel_job(self, job_id: str, lang: str | None = None) -> Any:
        return await self.run(protocol.cancel_resource(self.kind, job_id, lang))

    async def delete_job(self, job_id: str, lang: str | None = None) -> Any:
        return await self.run(protocol.delete_resource(self.kind, job_id, lang))

"""The asynchronous transport, for triggers: ``DashScopeAsyncHook`` (aiohttp), with the methods
that work for any ``protocol.ResourceKind``; the async twin of ``hooks.base``.

It shares one aiohttp session per event loop and connection id, so a triggerer running a thousand
triggers keeps one connection pool and reads the connection once.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from typing import Any, TypeVar

from airflow_provider_compress import metrics, protocol
from airflow_provider_compress.exceptions import (
    AuthenticationError,
    CompressConnectionError,
    CompressError,
    NotFoundError,
)
from airflow_provider_compress.hooks.base import (
    LOG_PAGE,
    DashScopeBaseHook,
    env_proxy,
    scrubber_of,
    settings_of,
)
from airflow_provider_compress.models import JobLogs
from airflow_provider_compress.protocol import ApiCall, ClientSettings, ResourceKind, retry

T = TypeVar("T")
P = TypeVar("P")  # a page of a list


class _AsyncClient:
    """One aiohttp session and the connection's settings, shared on one event loop."""

    def __init__(self, settings: ClientSettings) -> None:
        import aiohttp

        self.use(settings)
        self.stale = False  # the API rejected the key: read the connection again before the next call
        self.users = 0  # hooks inside ``async with``; the last to leave closes the session
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=256, ttl_dns_cache=300),
            # the raw bytes: protocol.BodyReader decompresses them, never past the limit
            auto_decompress=False,
        )

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
        self.scrubber = scrubber_of(settings)


# loop -> connection id -> the client being opened or open on that loop
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Future[_AsyncClient]]] = (
    weakref.WeakKeyDictionary()
)


async def close_async_clients() -> None:
    """Close the shared aiohttp sessions of the running loop (tests, and shutdown)."""
    for future in _clients.pop(asyncio.get_running_loop(), {}).values():
        if future.done() and not future.exception():
            await future.result().session.close()


class DashScopeAsyncHook(DashScopeBaseHook):
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
        return _AsyncClient(settings_of(await self.aget_connection(self.dashscope_conn_id)))

    async def _send(self, client: _AsyncClient, call: ApiCall[T]) -> T:
        """One try; every error it raises has the connection's secrets masked."""
        try:
            return await self._exchange(client, call)
        except CompressError as err:
            client.scrubber.error(err)
            raise

    async def _exchange(self, client: _AsyncClient, call: ApiCall[T]) -> T:
        """The body is read as it comes, counted by ``protocol.BodyReader``; the timeout is a
        total, and an answer not read to its end closes its connection."""
        import aiohttp

        request, settings = call.request, client.settings
        status = 200  # until the answer's is known
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
                allow_redirects=False,  # a redirect is an error (protocol.parse_response)
            ) as response:
                status = response.status
                reader = protocol.BodyReader(status, response.headers, settings.max_response_bytes)
                async for chunk in response.content.iter_chunked(protocol.CHUNK):
                    if not reader.feed(chunk):
                        break
                body = client.scrubber.body(reader.body())  # an echo of the key reaches no model or log
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
        except MemoryError:
            raise protocol.unreadable(status, "the answer does not fit in memory") from None
        return call.parse(protocol.parse_response(status, body, response.headers))

    async def client_settings(self) -> ClientSettings:
        """The connection's settings, as read for this event loop (never a blocking lookup)."""
        return (await self._client()).settings

    async def run(self, call: ApiCall[T]) -> T:
        """Send ``call`` with the connection's retry policy (``protocol.retry_delay``)."""
        client = await self._client()
        if client.stale:
            client.stale = False
            client.use(settings_of(await self.aget_connection(self.dashscope_conn_id)))
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
                retry.log_retry(self.log, call.request, err, attempt, policy, delay)
                metrics.request_retried(call.request.method)
            await asyncio.sleep(delay)
            attempt += 1

    # --- any resource kind

    async def get_resource(self, kind: ResourceKind, resource_id: str) -> Any:
        return await self.run(protocol.get_resource(kind, resource_id))

    async def iter_pages(
        self,
        noun: str,
        call_for: Callable[[int], ApiCall[P]],
        items_of: Callable[[P], Sequence[T]],
        page_no: int = 1,
    ) -> AsyncGenerator[T, None]:
        """The async twin of DashScopeHook.iter_pages."""
        seen, pages = 0, protocol.MAX_PAGES
        for _ in range(pages):
            page = await self.run(call_for(page_no))
            items = items_of(page)
            for item in items:
                yield item
            seen += len(items)
            following = protocol.next_page_no(page_no, seen, page, items)
            if following is None:
                return
            page_no = following
        raise protocol.endless_list(noun, pages)

    def iter_resources(self, kind: ResourceKind, **filters: Any) -> AsyncGenerator[Any, None]:
        start, call_for = protocol.resource_pages(kind, **filters)
        return self.iter_pages(kind.noun, call_for, kind.items, start)

    async def find_named(self, kind: ResourceKind, name: str) -> Any:
        """The resource named exactly ``name``, or None."""
        resources = self.iter_resources(kind, **kind.name_query(name))
        try:
            async for resource in resources:
                if getattr(resource, kind.name_field, None) == name:
                    return resource
            return None
        finally:
            await resources.aclose()  # the pages after the match are not asked for

    async def iter_resource_logs(
        self,
        kind: ResourceKind,
        resource_id: str,
        offset: int = 0,
        on_problem: Callable[[str], None] | None = None,
    ) -> AsyncIterator[str]:
        """The async twin of DashScopeHook.iter_resource_logs."""
        report = on_problem or self.log.warning
        for _ in range(protocol.MAX_PAGES):
            chunk: JobLogs = await self.run(protocol.resource_logs(kind, resource_id, offset, LOG_PAGE))
            read = protocol.read_log_page(offset, LOG_PAGE, chunk)
            if read.problem:
                report(f"The log of {kind.noun} {resource_id} did not page as asked: {read.problem}")
            for line in read.lines:
                yield line
            if read.next_offset is None:
                return
            offset = read.next_offset

    async def stop_resource(self, kind: ResourceKind, resource_id: str) -> bool:
        """The async twin of DashScopeHook.stop_resource."""
        try:
            await self.run(protocol.stop_resource(kind, resource_id))
            return True
        except CompressError as err:
            if protocol.recheck_refused_stop(err) and protocol.stop_took_effect(
                kind, await self._status_now(kind, resource_id)
            ):
                return True
            raise

    async def _status_now(self, kind: ResourceKind, resource_id: str) -> object:
        """The async twin of DashScopeHook._status_now."""
        try:
            return (await self.get_resource(kind, resource_id)).status
        except NotFoundError:
            return protocol.GONE


class DashScopeJobAsyncHook(DashScopeAsyncHook):
    """The async twin of DashScopeJobHook."""

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

"""The shared base of every DashScope hook, and the synchronous transport: ``DashScopeHook``
(requests + tenacity), with the methods that work for any ``protocol.ResourceKind``.

It sends the requests built by ``protocol`` and reads the answers with ``protocol.parse_response``;
the async transport (``hooks.base_async``) differs only in its I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar
from urllib.parse import urlsplit

from airflow_provider_compress import _compat, metrics, protocol, validation
from airflow_provider_compress._compat import BaseHook
from airflow_provider_compress.exceptions import (
    BadRequestError,
    CompressConnectionError,
    CompressError,
    InvalidResponseError,
    NameTakenError,
    NotFoundError,
    ServerError,
)
from airflow_provider_compress.hooks.sync_exchange import GivenUp, exchange
from airflow_provider_compress.models import JobLogs
from airflow_provider_compress.protocol import ApiCall, ApiRequest, ClientSettings, ResourceKind, RetryPolicy

if TYPE_CHECKING:
    import requests
    import tenacity

    from airflow_provider_compress.specs import CreateSpec

# requests, aiohttp and tenacity are imported where they are used, not here: DAG files import
# the operators, and these cost more to import than the rest of the provider (benchmarks/).
T = TypeVar("T")
P = TypeVar("P")  # a page of a list
LOG_PAGE = validation.LOG_LINES_MAX  # read as many lines and items per request as the API allows
LIST_PAGE = validation.PAGE_SIZE_MAX


def settings_of(conn: Any) -> ClientSettings:
    """The client settings of an Airflow connection (its proxy password masked in task logs)."""
    settings = ClientSettings.from_connection(
        host=conn.host,
        password=conn.password,
        extra=conn.extra_dejson,
        schema=conn.schema,
        port=conn.port,
        env_proxy=env_proxy,
    )
    if settings.proxy and (password := urlsplit(settings.proxy).password):
        _compat.mask_secret(password)
    return settings


def env_proxy(url: str) -> str | None:
    """The proxy that HTTP(S)_PROXY / ALL_PROXY and NO_PROXY set for ``url``, if any.

    Decided by requests' own rules (CIDR ranges in NO_PROXY included), so that the async
    transport goes through exactly the proxies the sync one does.
    """
    from requests.utils import get_environ_proxies, select_proxy

    return select_proxy(url, get_environ_proxies(url))


def scrubber_of(settings: ClientSettings) -> protocol.Scrubber:
    """What masks the connection's secrets: its key, its proxy's and the environment's proxy's
    credentials."""
    return protocol.Scrubber.of(settings.api_key, settings.proxy, env_proxy(settings.base_url))


def retrying_of(policy: RetryPolicy, request: ApiRequest, log: Any) -> tenacity.Retrying:
    """tenacity's ``Retrying`` for ``request``, on the rule of ``protocol.retry_delay``: what is
    tried again (``protocol.may_retry``), the policy's waits and limits, a warning per retry."""
    from tenacity import Retrying, retry_if_exception, stop_after_attempt, stop_before_delay

    def wait(state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        return policy.wait_seconds(state.attempt_number, getattr(error, "retry_after", None))

    def before_sleep(state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        protocol.log_retry(log, request, error, state.attempt_number, policy, state.upcoming_sleep)

    return Retrying(
        stop=stop_after_attempt(policy.attempts) | stop_before_delay(policy.max_elapsed),
        wait=wait,
        retry=retry_if_exception(lambda error: protocol.may_retry(error, request)),
        before_sleep=before_sleep,
        reraise=True,
    )


class DashScopeBaseHook(BaseHook):
    """What every DashScope hook, sync or async, shares: the ``dashscope`` connection and its form."""

    conn_name_attr = "dashscope_conn_id"
    default_conn_name = "dashscope_default"
    conn_type = "dashscope"
    hook_name = "Alibaba Cloud Model Studio (DashScope)"
    # The resource the job methods (get_job, iter_logs, ...) of a subclass act on.
    kind: ClassVar[ResourceKind]

    def __init__(self, dashscope_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dashscope_conn_id = dashscope_conn_id

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dashscope_conn_id={self.dashscope_conn_id!r})"

    # Airflow >=3.2 reads the form from get_provider_info(); 3.1's UI asks these two methods.
    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        from airflow_provider_compress.get_provider_info import CONN_FIELDS

        return _compat.connection_form_widgets(CONN_FIELDS)

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        from airflow_provider_compress.get_provider_info import UI_FIELD_BEHAVIOUR

        return {
            "hidden_fields": UI_FIELD_BEHAVIOUR["hidden-fields"],
            "relabeling": UI_FIELD_BEHAVIOUR["relabeling"],
            "placeholders": UI_FIELD_BEHAVIOUR["placeholders"],
        }


class DashScopeHook(DashScopeBaseHook):
    """Synchronous transport: retries, errors and settings for every DashScope resource."""

    @cached_property
    def settings(self) -> ClientSettings:
        return settings_of(self.get_connection(self.dashscope_conn_id))

    @cached_property
    def session(self) -> requests.Session:
        import requests

        session = requests.Session()  # HTTP(S)_PROXY and NO_PROXY apply (trust_env)
        # No redirect is followed (allow_redirects=False), and none is even looked at: to prepare
        # the next request, requests would read the redirect's whole body, unbounded.
        session.get_redirect_target = lambda resp: None  # type: ignore[method-assign]
        session.headers.update(self.settings.headers())
        if self.settings.proxy:
            session.proxies = {"http": self.settings.proxy, "https": self.settings.proxy}
        return session

    def get_conn(self) -> requests.Session:
        return self.session

    @cached_property
    def scrubber(self) -> protocol.Scrubber:
        return scrubber_of(self.settings)

    def _send(self, call: ApiCall[T]) -> T:
        """One try; every error it raises has the connection's secrets masked."""
        try:
            return self._exchange(call)
        except CompressError as err:
            self.scrubber.error(err)
            raise

    def _exchange(self, call: ApiCall[T]) -> T:
        """Send ``call`` and read its answer: the I/O is ``hooks.sync_exchange``'s."""
        try:
            status, headers, body = exchange(self.session, self.settings, call.request)
        except GivenUp as err:
            # Its connection must not go back into the pool the next request takes from.
            self.__dict__.pop("session", None)
            raise CompressConnectionError(str(err)) from None
        self.log.debug("%s %s -> %s", call.request.method, call.request.path, status)
        body = self.scrubber.body(body)  # an echo of the key reaches no model, log line or error
        return call.parse(protocol.parse_response(status, body, headers))

    def run(self, call: ApiCall[T]) -> T:
        """Send ``call`` with the connection's retry policy and return its parsed output."""
        retrying = retrying_of(self.settings.retry, call.request, self.log)
        try:
            return retrying(self._send, call)
        except CompressError as err:
            protocol.note_attempts(err, retrying.statistics.get("attempt_number", 1))
            raise
        finally:
            metrics.request_retried(call.request.method, retrying.statistics.get("attempt_number", 1) - 1)

    # --- any resource kind

    def create(self, spec: CreateSpec) -> Any:
        """Create the resource ``spec`` describes (what the operators call).

        A create whose answer was lost (5xx, reset, timeout, garbage), or a retried named create
        refused as a duplicate, may have happened all the same: the resource of that name is then
        adopted if it was made as ``spec`` asks, and refused (``NameTakenError``, naming each
        difference) if not.
        """
        kind = spec.kind
        name = getattr(spec, kind.name_field)
        try:
            return self.run(spec.call())
        except (ServerError, CompressConnectionError, InvalidResponseError, BadRequestError) as err:
            refused = isinstance(err, BadRequestError)  # as a duplicate only when a try was lost
            if name is None or (refused and (not spec.retry_safe or protocol.attempts_of(err) < 2)):
                raise
            found = self.find_named(kind, name)
            if found is None:
                raise
            resource_id = kind.resource_id(found)
            found = self.get_resource(kind, resource_id)  # the list leaves fields out
            if differences := spec.differences(found):
                raise NameTakenError(kind.noun, resource_id, name, differences) from None
            self.log.warning("Create of %r answered %s, but it exists: %s", name, err, resource_id)
            return found

    def get_resource(self, kind: ResourceKind, resource_id: str) -> Any:
        return self.run(protocol.get_resource(kind, resource_id))

    def iter_pages(
        self,
        noun: str,
        call_for: Callable[[int], ApiCall[P]],
        items_of: Callable[[P], Sequence[T]],
        page_no: int = 1,
    ) -> Iterator[T]:
        """The items of every page from ``page_no`` on, ``call_for(page_no)`` asking for one: the
        pager of every list. Where it ends is ``protocol.next_page_no``'s decision, at most
        ``protocol.MAX_PAGES`` pages."""
        seen, pages = 0, protocol.MAX_PAGES
        for _ in range(pages):
            page = self.run(call_for(page_no))
            items = items_of(page)
            yield from items
            seen += len(items)
            following = protocol.next_page_no(page_no, seen, page, items)
            if following is None:
                return
            page_no = following
        raise protocol.endless_list(noun, pages)

    def iter_resources(self, kind: ResourceKind, **filters: Any) -> Iterator[Any]:
        """Every item matching ``filters``, walking all pages."""
        start, call_for = protocol.resource_pages(kind, **filters)
        return self.iter_pages(kind.noun, call_for, kind.items, start)

    def find_named(self, kind: ResourceKind, name: str) -> Any:
        """The resource named exactly ``name``, or None."""
        return kind.named_exactly(self.iter_resources(kind, **kind.name_query(name)), name)

    def iter_resource_logs(
        self,
        kind: ResourceKind,
        resource_id: str,
        offset: int = 0,
        on_problem: Callable[[str], None] | None = None,
    ) -> Iterator[str]:
        """Log lines from ``offset`` to the end of the log as it is now, 1000 per request (at most
        ``protocol.MAX_PAGES`` requests: the rest is read next time). A page that breaks the
        paging contract (``protocol.read_log_page``) is told to ``on_problem`` (default: a warning)."""
        report = on_problem or self.log.warning
        for _ in range(protocol.MAX_PAGES):
            chunk: JobLogs = self.run(protocol.resource_logs(kind, resource_id, offset, LOG_PAGE))
            read = protocol.read_log_page(offset, LOG_PAGE, chunk)
            if read.problem:
                report(f"The log of {kind.noun} {resource_id} did not page as asked: {read.problem}")
            yield from read.lines
            if read.next_offset is None:
                return
            offset = read.next_offset

    def stop_resource(self, kind: ResourceKind, resource_id: str) -> bool:
        """Cancel a job / delete a deployment; True once it is stopping or gone.

        A stop whose first answer was lost is refused on its retry (400 "already canceling",
        404 "already deleted"): then the resource is read again instead of failing
        (``protocol.recheck_refused_stop``, ``protocol.stop_took_effect``).
        """
        try:
            self.run(protocol.stop_resource(kind, resource_id))
            return True
        except CompressError as err:
            if protocol.recheck_refused_stop(err) and protocol.stop_took_effect(
                kind, self._status_now(kind, resource_id)
            ):
                return True
            raise

    def _status_now(self, kind: ResourceKind, resource_id: str) -> object:
        """The resource's status as the API reports it now; ``protocol.GONE`` if it is not found."""
        try:
            return self.get_resource(kind, resource_id).status
        except NotFoundError:
            return protocol.GONE

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


class DashScopeJobHook(DashScopeHook):
    """get/list/logs/cancel/delete of a job resource (``kind``) on the sync transport."""

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

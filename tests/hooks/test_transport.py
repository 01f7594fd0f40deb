"""Both transports' retries (which errors are tried again, how often, how long apart) and the
async hook's shared session and connection reads, against the emulator over real HTTP."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from airflow_provider_compress.exceptions import (
    AuthenticationError,
    CompressConnectionError,
    NotFoundError,
    RateLimitError,
    ServerError,
)
from airflow_provider_compress.hooks.compress import CompressAsyncHook, CompressHook, close_async_clients
from tests.support import PLAIN_TEMPLATE, SFT_MODEL, Twin, requests_served, use_connection


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_survives_five_consecutive_transient_failures(hook, emulator, status):
    job = CompressHook().create_job(
        model=SFT_MODEL, template_id=PLAIN_TEMPLATE, job_name=f"h-{uuid.uuid4().hex[:12]}"
    )
    before = requests_served(emulator)
    emulator.fail_next(5, status=status)
    assert hook.get_job(job.job_id).job_id == job.job_id
    assert requests_served(emulator) - before == 6


def test_gives_up_after_the_attempt_limit(transport, monkeypatch, emulator):
    use_connection(monkeypatch, emulator, retry_limit=3)
    emulator.fail_next(3, status=503)
    before = requests_served(emulator)
    with pytest.raises(ServerError) as raised:
        Twin(transport).list_jobs(page_size=1)
    assert raised.value.status_code == 503 and raised.value.attempts == 3
    assert requests_served(emulator) - before == 3


def test_rate_limit_error_when_429_persists(transport, monkeypatch, emulator):
    use_connection(monkeypatch, emulator, retry_limit=2)
    emulator.fail_next(2, status=429, retry_after=0)
    with pytest.raises(RateLimitError) as raised:
        Twin(transport).list_jobs(page_size=1)
    assert raised.value.retry_after == 0 and raised.value.status_code == 429


def test_client_errors_are_never_retried(hook, emulator):
    before = requests_served(emulator)
    with pytest.raises(NotFoundError):
        hook.get_job("quant-none")
    assert requests_served(emulator) - before == 1


def test_retry_after_is_honoured(hook, emulator):
    emulator.fail_next(1, status=429, retry_after=0.5)
    started = time.monotonic()
    hook.list_jobs(page_size=1)
    # our own backoff here is at most 0.05 s: only the header explains a wait this long
    assert time.monotonic() - started >= 0.5


def test_connection_refused_is_retried_then_raised(transport, monkeypatch):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv(
        "AIRFLOW_CONN_DASHSCOPE_DEFAULT",
        f'{{"conn_type": "dashscope", "host": "http://127.0.0.1:{port}", "password": "sk-SECRET-x",'
        ' "extra": {"retry_limit": 2, "retry_delay": 0.01}}',
    )
    with pytest.raises(CompressConnectionError) as raised:
        Twin(transport).list_jobs(page_size=1)
    assert raised.value.request_sent is False and raised.value.attempts == 2
    assert "sk-SECRET" not in str(raised.value)


async def test_async_hooks_share_one_session_per_loop_and_connection(conn, monkeypatch):
    from airflow.sdk import BaseHook

    lookups = []
    real = BaseHook.aget_connection.__func__

    async def counting(cls, conn_id):
        lookups.append(conn_id)
        return await real(cls, conn_id)

    monkeypatch.setattr(BaseHook, "aget_connection", classmethod(counting))

    def forbidden(*args, **kwargs):
        raise AssertionError("sync connection lookup inside the event loop")

    monkeypatch.setattr(BaseHook, "get_connection", classmethod(forbidden))
    hooks = [CompressAsyncHook() for _ in range(20)]
    try:
        await asyncio.gather(*(h.list_jobs(page_size=1) for h in hooks))
        clients = {id(await h._client()) for h in hooks}
        assert len(clients) == 1 and lookups == ["dashscope_default"]
    finally:
        await close_async_clients()


async def test_async_hook_reads_the_connection_again_after_401(monkeypatch, emulator):
    monkeypatch.setenv(
        "AIRFLOW_CONN_DASHSCOPE_DEFAULT",
        f'{{"conn_type": "dashscope", "host": "{emulator.url}", "password": "sk-rotated-away"}}',
    )
    hook = CompressAsyncHook()
    try:
        with pytest.raises(AuthenticationError):
            await hook.list_jobs(page_size=1)
        use_connection(monkeypatch, emulator)  # the key was rotated in the connection
        assert (await hook.list_jobs(page_size=1)).page_size == 1
    finally:
        await close_async_clients()

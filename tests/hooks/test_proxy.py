"""Egress proxies: both transports honour HTTP(S)_PROXY and NO_PROXY the same way, and a
connection's ``proxy`` extra wins over them; shown through a real forward proxy on 127.0.0.1.

The emulator speaks plain http: through a proxy, the key would cross it in clear, which is
refused unless the connection says the network is trusted (``allow_insecure_http``), as these
tests do where they send through the proxy."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from airflow_provider_compress.exceptions import CompressConnectionError, CompressValidationError
from airflow_provider_compress.hooks.compress import CompressAsyncHook, CompressHook, close_async_clients
from airflow_provider_compress.protocol import ClientSettings
from tests.support import ROOT, Twin, migrated_airflow_home, use_connection
from tests.support.forward_proxy import ForwardProxy

EXAMPLES = ROOT / "example_dags"
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture
def no_proxy_env(monkeypatch):
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


@pytest.fixture
def proxy():
    with ForwardProxy() as forward:
        yield forward


def target(emulator) -> str:
    return emulator.url.removeprefix("http://")


def call_both_transports() -> None:
    """One request from each transport (requests, then aiohttp)."""
    CompressHook().list_jobs(page_size=1)

    async def list_async() -> None:
        async with CompressAsyncHook() as hook:
            await hook.list_jobs(page_size=1)
        await close_async_clients()

    asyncio.run(list_async())


def test_both_transports_go_through_the_environment_proxy(no_proxy_env, conn, proxy):
    no_proxy_env.setenv("HTTP_PROXY", proxy.url)
    use_connection(no_proxy_env, conn, allow_insecure_http=True)
    before = conn.state()["requests"]
    call_both_transports()
    assert proxy.forwarded[target(conn)] == 2 == conn.state()["requests"] - before


@pytest.mark.parametrize("configured", ["environment", "extra"])
def test_clear_text_through_a_proxy_is_refused_before_any_request(no_proxy_env, conn, proxy, configured):
    """The loopback exemption of http:// holds only when no proxy carries the request."""
    if configured == "environment":
        no_proxy_env.setenv("HTTP_PROXY", proxy.url)
    else:
        use_connection(no_proxy_env, conn, proxy=proxy.url)
    before = conn.state()["requests"]
    for transport in ("sync", "async"):
        with pytest.raises(CompressValidationError, match=r"^host: http:// through a proxy"):
            Twin(transport).list_jobs(page_size=1)
    assert proxy.forwarded[target(conn)] == 0 and conn.state()["requests"] == before


def test_no_proxy_bypasses_it_for_both_transports(no_proxy_env, conn, proxy):
    no_proxy_env.setenv("HTTP_PROXY", proxy.url)
    no_proxy_env.setenv("NO_PROXY", "localhost,127.0.0.0/8")  # a CIDR range, as requests reads it
    before = conn.state()["requests"]
    call_both_transports()
    assert conn.state()["requests"] - before == 2
    assert proxy.forwarded[target(conn)] == 0


def test_the_connection_proxy_wins_for_both_and_its_password_is_masked(no_proxy_env, emulator):
    from airflow.sdk._shared.secrets_masker import redact

    no_proxy_env.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens: must not be used
    no_proxy_env.setenv("NO_PROXY", "127.0.0.1")  # must not bypass the connection's own proxy
    with ForwardProxy(credentials=("egress", "pr0xy-S3CRET")) as proxy:
        use_connection(no_proxy_env, emulator, proxy=proxy.url_with_credentials(), allow_insecure_http=True)
        call_both_transports()
        assert proxy.forwarded[target(emulator)] == 2 and proxy.refused == 0
        settings = CompressHook().settings
        assert "pr0xy-S3CRET" not in repr(settings)
        assert "pr0xy-S3CRET" not in str(redact(f"proxy {settings.proxy}"))


def test_an_unreachable_connection_proxy_fails_without_its_password(no_proxy_env, emulator):
    use_connection(
        no_proxy_env,
        emulator,
        proxy="http://egress:pr0xy-S3CRET@127.0.0.1:9",
        retry_limit=1,
        allow_insecure_http=True,
    )
    with pytest.raises(CompressConnectionError) as caught:
        CompressHook().list_jobs(page_size=1)
    assert "pr0xy-S3CRET" not in str(caught.value)


def test_a_bad_proxy_extra_names_the_rule_without_echoing_it():
    with pytest.raises(CompressValidationError, match=r"extra\.proxy: must be an http") as caught:
        ClientSettings.from_connection(
            host=None, password="sk-x", extra={"proxy": "socks5://egress:pr0xy-S3CRET@proxy:1080"}
        )
    assert "pr0xy-S3CRET" not in str(caught.value)


def test_the_deferrable_pipeline_sends_every_request_through_the_proxy(tmp_path, no_proxy_env, proxy):
    """``airflow dags test`` of the pipeline example: fine-tune, compress, deploy and scale, each deferred
    (the triggers run inline on aiohttp), the operators on requests: every API request went
    through the proxy."""
    from airflow_provider_compress.emulator.process import EmulatorProcess

    env = migrated_airflow_home(tmp_path / "home", EXAMPLES)
    with EmulatorProcess(job_seconds=2, log_lines=3) as emulator:
        env.update(
            HTTP_PROXY=proxy.url,
            AIRFLOW_CONN_DASHSCOPE_DEFAULT=emulator.connection_json(
                retry_delay=0.01, allow_insecure_http=True
            ),
        )
        done = subprocess.run(
            [sys.executable, "-m", "airflow", "dags", "test", "example_compress_pipeline"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        state = emulator.state()
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    deployed = [d for d in state["deployments"].values() if d["status"] == "RUNNING"]
    assert len(deployed) == 1, output[-3000:]
    assert state["requests"] > 10  # creates, polls and log reads of three stages
    assert proxy.forwarded[target(emulator)] == state["requests"]

"""The connection's numbers, host and proxies, checked when the settings are read: every number
finite and in bounds, no credentials in the host, no clear text through a proxy. Each refusal
names the field and never echoes a secret."""

from __future__ import annotations

import pytest

from airflow_provider_compress import protocol
from airflow_provider_compress.exceptions import CompressValidationError
from airflow_provider_compress.protocol import ClientSettings

KEY = "sk-EXTRAS-88aa"


def settings(host=None, env_proxy=None, **extra) -> ClientSettings:
    given = {"env_proxy": env_proxy} if env_proxy else {}
    return ClientSettings.from_connection(host=host, password=KEY, extra=extra, **given)


@pytest.mark.parametrize(
    "name",
    [
        "timeout",
        "retry_limit",
        "retry_delay",
        "retry_max_delay",
        "retry_max_elapsed",
        "outage_budget",
        "max_response_bytes",
    ],
)
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", float("nan"), float("inf"), 1e300, True])
def test_a_number_that_is_not_finite_or_out_of_bounds_is_refused_naming_the_extra(name, value):
    with pytest.raises(CompressValidationError) as raised:
        settings(**{name: value})
    assert raised.value.field == f"extra.{name}"
    assert (
        raised.value.rule in ("must be a number", "must be a finite number") or "between" in raised.value.rule
    )


@pytest.mark.parametrize(
    ("extra", "field", "rule"),
    [
        ({"timeout": 0}, "extra.timeout", "must be between 0.001 and 3600"),
        ({"timeout": 7200}, "extra.timeout", "must be between 0.001 and 3600"),
        ({"retry_limit": 2.5}, "extra.retry_limit", "must be a whole number"),
        ({"retry_limit": 101}, "extra.retry_limit", "must be between 1 and 100"),
        ({"retry_max_elapsed": 86401}, "extra.retry_max_elapsed", "must be between 0 and 86400"),
        ({"max_response_bytes": 1024}, "extra.max_response_bytes", "must be between 65536 and 1073741824"),
        ({"max_response_bytes": "1e12"}, "extra.max_response_bytes", "must be between 65536 and 1073741824"),
        ({"max_response_bytes": 100000.5}, "extra.max_response_bytes", "must be a whole number"),
    ],
)
def test_the_bounds_are_named(extra, field, rule):
    with pytest.raises(CompressValidationError) as raised:
        settings(**extra)
    assert (raised.value.field, raised.value.rule) == (field, rule)


def test_numbers_within_bounds_are_read():
    read = settings(timeout="2.5", retry_limit="3", retry_max_elapsed=86400, max_response_bytes="1048576")
    assert (read.timeout, read.retry.attempts, read.retry.max_elapsed) == (2.5, 3, 86400)
    assert read.max_response_bytes == 1 << 20
    assert settings().max_response_bytes == protocol.DEFAULT_MAX_RESPONSE_BYTES == 16 << 20


@pytest.mark.parametrize(
    "host",
    [
        "https://gw-user:g4t3-S3CRET@gw.example.com",
        "user:g4t3-S3CRET@gw.example.com",
        "https://@gw.example.com",
    ],
)
def test_a_host_with_credentials_is_refused_without_echoing_them(host):
    with pytest.raises(CompressValidationError, match=r"^host: must not carry credentials") as raised:
        settings(host)
    assert raised.value.field == "host" and "S3CRET" not in repr(raised.value)


def test_clear_text_to_this_machine_through_a_proxy_is_refused():
    proxy = "http://egress:pr0xy-S3CRET@proxy.internal:3128"
    for refused in (
        lambda: settings("http://127.0.0.1:8089", proxy=proxy),
        lambda: settings("http://localhost:8089", env_proxy=lambda url: proxy),
    ):
        with pytest.raises(CompressValidationError, match="through a proxy") as raised:
            refused()
        assert raised.value.field == "host" and "pr0xy-S3CRET" not in str(raised.value)
    # NO_PROXY exempts it (the environment sets no proxy for it), or the user says the network is trusted
    assert settings("http://127.0.0.1:8089", env_proxy=lambda url: None).base_url == "http://127.0.0.1:8089"
    trusted = settings("http://127.0.0.1:8089", proxy=proxy, allow_insecure_http="true")
    assert trusted.proxy == proxy
    assert settings("https://dashscope.aliyuncs.com", proxy=proxy).proxy == proxy  # TLS through it: fine

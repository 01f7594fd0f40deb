"""Client settings read from a connection: the base URL, extras, the key, clear-text hosts, CA files."""

from __future__ import annotations

import pytest

from airflow_provider_compress import protocol
from airflow_provider_compress.exceptions import CompressValidationError
from airflow_provider_compress.protocol import COMPRESS, ClientSettings

KEY = "sk-SETTINGS-1f2e"


@pytest.mark.parametrize(
    ("host", "schema", "port", "expected"),
    [
        (None, None, None, "https://dashscope.aliyuncs.com"),
        ("", None, None, "https://dashscope.aliyuncs.com"),
        ("https://dashscope-intl.aliyuncs.com", None, None, "https://dashscope-intl.aliyuncs.com"),
        ("dashscope-intl.aliyuncs.com", None, None, "https://dashscope-intl.aliyuncs.com"),
        ("http://127.0.0.1:8089/", None, None, "http://127.0.0.1:8089"),
        ("127.0.0.1", "http", 8089, "http://127.0.0.1:8089"),
        (
            "https://dashscope.aliyuncs.com/api/v1/fine-tunes/compress",
            None,
            None,
            "https://dashscope.aliyuncs.com",
        ),
        ("https://dashscope.aliyuncs.com/api/v1", None, None, "https://dashscope.aliyuncs.com"),
        # any endpoint pasted whole, as docs/connection.md says
        ("https://dashscope.aliyuncs.com/api/v1/deployments/", None, None, "https://dashscope.aliyuncs.com"),
        (
            "https://dashscope-intl.aliyuncs.com/api/v1/services/aigc/text-generation/generation",
            None,
            None,
            "https://dashscope-intl.aliyuncs.com",
        ),
        (
            "https://gw.example.com/dashscope/api/v1/fine-tunes",
            None,
            None,
            "https://gw.example.com/dashscope",
        ),
        ("https://gw.example.com/api/v10", None, None, "https://gw.example.com/api/v10"),
    ],
)
def test_base_url(host, schema, port, expected):
    assert protocol.base_url_from(host, schema, port) == expected


def test_settings_from_connection_extras_and_no_key_in_repr():
    settings = protocol.ClientSettings.from_connection(
        host="http://127.0.0.1:1",
        password="sk-SECRET",
        extra={"extra__dashscope__workspace_id": "ws-1", "lang": "en-US", "timeout": "5", "retry_limit": 3},
    )
    assert settings.workspace_id == "ws-1" and settings.lang == "en-US" and settings.timeout == 5
    assert settings.retry.attempts == 3
    assert "sk-SECRET" not in repr(settings)
    assert settings.headers()["X-DashScope-WorkSpace"] == "ws-1"
    assert settings.headers()["Authorization"] == "Bearer sk-SECRET"
    request = protocol.get_resource(COMPRESS, "quant-1").request
    assert settings.params(request) == {"lang": "en-US"}
    assert settings.params(protocol.get_resource(COMPRESS, "quant-1", lang="zh-CN").request) == {
        "lang": "zh-CN"
    }
    assert settings.url(request) == "http://127.0.0.1:1/api/v1/fine-tunes/compress/jobs/quant-1"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"timeout": "soon"}, "extra.timeout"),
        ({"retry_limit": 0}, "extra.retry_limit"),
        ({"retry_delay": -1}, "extra.retry_delay"),
        ({"service_timezone": "Mars/Olympus"}, "extra.service_timezone"),
        ({"service_timezone": "+25:00"}, "extra.service_timezone"),
    ],
)
def test_bad_connection_extras_are_named(extra, field):
    with pytest.raises(CompressValidationError) as raised:
        protocol.ClientSettings.from_connection(host=None, password="k", extra=extra)
    assert raised.value.field == field


def test_missing_key_is_a_clear_error():
    with pytest.raises(CompressValidationError, match="API key"):
        protocol.ClientSettings.from_connection(host=None, password=None, extra={})


@pytest.mark.parametrize(
    "host", ["http://dashscope.aliyuncs.com", "http://10.0.0.8:8089", "dashscope.example"]
)
def test_clear_text_to_another_host_is_refused(host):
    schema = "http" if "://" not in host else None
    with pytest.raises(CompressValidationError, match="host: http:// to a host that is not this machine"):
        ClientSettings.from_connection(host=host, password=KEY, extra={}, schema=schema)
    allowed = ClientSettings.from_connection(
        host=host, password=KEY, extra={"allow_insecure_http": "true"}, schema=schema
    )
    assert allowed.base_url.startswith("http://")


@pytest.mark.parametrize("host", ["http://127.0.0.1:8089", "http://localhost:8089", "http://[::1]:8089"])
def test_clear_text_to_this_machine_is_allowed(host):
    assert ClientSettings.from_connection(host=host, password=KEY, extra={}).base_url == host


def test_a_ca_bundle_that_is_not_a_file_is_refused(tmp_path):
    with pytest.raises(CompressValidationError, match=r"extra\.ca_bundle: must be a CA file"):
        ClientSettings.from_connection(host=None, password=KEY, extra={"ca_bundle": str(tmp_path / "no.pem")})

"""What a transport needs from an Airflow connection: ``ClientSettings``, checked when it is read."""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_compress import regions, validation
from airflow_provider_compress.exceptions import CompressValidationError
from airflow_provider_compress.protocol.retry import RetryPolicy

if TYPE_CHECKING:
    from airflow_provider_compress.protocol.endpoints import ApiRequest

DEFAULT_BASE_URL = "https://dashscope.aliyuncs.com"
API_ROOT = "/api/v1"
COMPRESS_PATH = "/fine-tunes/compress"
USER_AGENT = "airflow-provider-compress"
WORKSPACE_HEADER = "X-DashScope-WorkSpace"


@dataclasses.dataclass(frozen=True)
class ClientSettings:
    """Everything a transport needs, read from an Airflow connection."""

    api_key: str = dataclasses.field(repr=False)
    base_url: str = DEFAULT_BASE_URL
    workspace_id: str | None = None
    lang: str | None = None
    timeout: float = 30.0
    # How long a wait rides out failed polls in a row (an outage) before it ends (docs/exits.md).
    outage_budget: float = 900.0
    retry: RetryPolicy = dataclasses.field(default_factory=RetryPolicy)
    # Forward proxy for this connection only; wins over HTTP(S)_PROXY and NO_PROXY. May hold
    # credentials, so it is kept out of repr (and the hooks mask its password in logs).
    proxy: str | None = dataclasses.field(default=None, repr=False)
    # The zone the service reads time filters in; aware datetimes are converted to it.
    service_tz: dt.tzinfo = validation.SERVICE_TZ
    ca_bundle: str | None = None  # a CA file for a private CA (TLS verification is never off)
    # Extras ``<kind>_console_url``: URL patterns that replace the region's console in the extra links.
    console_urls: Mapping[str, str] = dataclasses.field(default_factory=dict)
    # Extra ``region``: the region a host without one of its own serves (a reverse proxy).
    region: str | None = None

    @property
    def serving_region(self) -> str:
        """The console's and the lineage's region (``regions.serving_region``)."""
        return regions.serving_region(self.base_url, self.region)

    @classmethod
    def from_connection(
        cls,
        *,
        host: str | None,
        password: str | None,
        extra: Mapping[str, Any] | None,
        schema: str | None = None,
        port: int | None = None,
    ) -> ClientSettings:
        api_key = _api_key(password)
        extra = {k.removeprefix("extra__dashscope__"): val for k, val in (extra or {}).items()}
        workspace_id = extra.get("workspace_id") or None
        if workspace_id is not None and not all("!" <= c <= "~" for c in str(workspace_id)):
            raise CompressValidationError("extra.workspace_id", "must be printable ASCII", workspace_id)
        base_url = base_url_from(host, schema, port)
        parts = urlsplit(base_url)
        if (
            parts.scheme != "https"
            and not _loopback(parts.hostname)
            and not _flag(extra, "allow_insecure_http")
        ):
            raise CompressValidationError(
                "host",
                "http:// to a host that is not this machine would send the API key in clear: "
                "use https://, or set the extra allow_insecure_http to true on a network you trust",
                base_url,
            )
        retry = RetryPolicy(
            attempts=int(_number(extra, "retry_limit", RetryPolicy.attempts, minimum=1)),
            initial_delay=_number(extra, "retry_delay", RetryPolicy.initial_delay),
            max_delay=_number(extra, "retry_max_delay", RetryPolicy.max_delay),
            max_elapsed=_number(extra, "retry_max_elapsed", RetryPolicy.max_elapsed),
        )
        zone = extra.get("service_timezone")
        return cls(
            api_key=api_key,
            base_url=base_url,
            workspace_id=workspace_id,
            lang=extra.get("lang") or None,
            timeout=_number(extra, "timeout", cls.timeout, minimum=0.001),
            outage_budget=_number(extra, "outage_budget", cls.outage_budget),
            retry=retry,
            proxy=_proxy_url(extra.get("proxy")),
            service_tz=(
                validation.parse_timezone("extra.service_timezone", zone) if zone else validation.SERVICE_TZ
            ),
            ca_bundle=_ca_bundle(extra.get("ca_bundle")),
            console_urls={k: str(val) for k, val in extra.items() if k.endswith("_console_url") and val},
            region=_region(extra.get("region")),
        )

    def url(self, request: ApiRequest) -> str:
        return self.base_url + API_ROOT + request.path

    def params(self, request: ApiRequest) -> dict[str, str]:
        given = (request.params or {}).items()
        params = {k: _query_value(val, self.service_tz) for k, val in given if val is not None}
        if self.lang and "lang" not in params:
            params["lang"] = self.lang
        return params

    def headers(self) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {self.api_key}",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        if self.workspace_id:
            headers[WORKSPACE_HEADER] = self.workspace_id
        return headers


def _number(extra: Mapping[str, Any], key: str, default: float, minimum: float = 0.0) -> float:
    raw = extra.get(key)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise CompressValidationError(f"extra.{key}", "must be a number", raw) from None
    if value < minimum:
        raise CompressValidationError(f"extra.{key}", f"must be >= {minimum:g}", raw)
    return value


def _api_key(password: str | None) -> str:
    """The key as sent: surrounding whitespace dropped (a secret read from a file often ends in a
    newline); anything else outside printable ASCII refused. Errors never quote the key."""
    key = (password or "").strip()
    if not key:
        raise CompressValidationError("password", "the connection must hold the DashScope API key")
    if not all("!" <= c <= "~" for c in key):
        raise CompressValidationError(
            "password", "the API key must be printable ASCII without spaces or control characters"
        )
    return key


def _ca_bundle(path: Any) -> str | None:
    if path in (None, ""):
        return None
    if not os.path.isfile(str(path)):
        raise CompressValidationError("extra.ca_bundle", "must be a CA file on this machine", path)
    return str(path)


def _region(raw: Any) -> str | None:
    if raw in (None, ""):
        return None
    if not regions.REGION.match(str(raw)):
        raise CompressValidationError("extra.region", "must be a region id such as cn-beijing", raw)
    return str(raw)


def _loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def _flag(extra: Mapping[str, Any], key: str) -> bool:
    value = extra.get(key)
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _proxy_url(raw: Any) -> str | None:
    if raw in (None, ""):
        return None
    parts = urlsplit(str(raw).strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        # The value may hold a password: name the rule, never echo it.
        raise CompressValidationError("extra.proxy", "must be an http:// or https:// URL with a host")
    return str(raw).strip()


def base_url_from(host: str | None, schema: str | None = None, port: int | None = None) -> str:
    """``https://dashscope.aliyuncs.com`` from a connection's host, with or without scheme and path."""
    host = (host or "").strip()
    if not host:
        return DEFAULT_BASE_URL
    if "://" not in host:
        host = f"{schema or 'https'}://{host}"
    parts = urlsplit(host)
    netloc = parts.netloc
    if port and ":" not in netloc.rsplit("]", 1)[-1]:
        netloc = f"{netloc}:{port}"
    # An endpoint's URL pasted whole (…/api/v1/fine-tunes/compress/jobs, …/api/v1/services/…):
    # everything from /api/v1 on is the API's, not the base URL's.
    path = parts.path.rstrip("/")
    root = (path + "/").find(API_ROOT + "/")
    if root >= 0:
        path = path[:root]
    return f"{parts.scheme}://{netloc}{path}"


def _query_value(value: Any, service_tz: dt.tzinfo) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):  # a time filter: written in the service's zone when sent
        return validation.render_time(value, service_tz)
    return str(value)

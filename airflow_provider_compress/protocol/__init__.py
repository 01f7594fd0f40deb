"""The protocol core: what to send, how to read the answer, when to retry.

Pure functions and data only. The sync and async hooks are transports around this package: they
send an ``ApiRequest`` and hand the status, headers and body back to ``parse_response``.

- ``settings``: ``ClientSettings``, read and checked from an Airflow connection;
- ``retry``: ``RetryPolicy`` and the one rule of what is tried again;
- ``resources``: the ``ResourceKind`` of each resource (the one source of what its states mean),
  ``Outcome`` and ``describe``;
- ``endpoints``: ``ApiRequest`` / ``ApiCall`` and a call per endpoint;
- ``responses``: ``parse_response`` and where paging ends.

Everything is importable from ``airflow_provider_compress.protocol`` itself.
"""

from __future__ import annotations

from airflow_provider_compress.protocol.endpoints import (
    ApiCall,
    ApiRequest,
    cancel_resource,
    delete_resource,
    get_resource,
    list_jobs,
    list_resources,
    list_templates,
    request_not_built,
    resource_logs,
    scale_deployment,
    stop_resource,
)
from airflow_provider_compress.protocol.resources import (
    COMPRESS,
    DEPLOYMENT,
    FINE_TUNE,
    Outcome,
    ResourceKind,
    describe,
)
from airflow_provider_compress.protocol.responses import (
    MAX_PAGES,
    Reply,
    endless_list,
    next_log_offset,
    next_page_no,
    parse_response,
)
from airflow_provider_compress.protocol.retry import (
    RetryPolicy,
    attempts_of,
    is_transient,
    log_retry,
    note_attempts,
    retry_arguments,
    retry_delay,
)
from airflow_provider_compress.protocol.settings import (
    API_ROOT,
    COMPRESS_PATH,
    DEFAULT_BASE_URL,
    USER_AGENT,
    WORKSPACE_HEADER,
    ClientSettings,
    base_url_from,
)

__all__ = [
    "API_ROOT",
    "COMPRESS",
    "COMPRESS_PATH",
    "DEFAULT_BASE_URL",
    "DEPLOYMENT",
    "FINE_TUNE",
    "MAX_PAGES",
    "USER_AGENT",
    "WORKSPACE_HEADER",
    "ApiCall",
    "ApiRequest",
    "ClientSettings",
    "Outcome",
    "Reply",
    "ResourceKind",
    "RetryPolicy",
    "attempts_of",
    "base_url_from",
    "cancel_resource",
    "delete_resource",
    "describe",
    "endless_list",
    "get_resource",
    "is_transient",
    "list_jobs",
    "list_resources",
    "list_templates",
    "log_retry",
    "next_log_offset",
    "next_page_no",
    "note_attempts",
    "parse_response",
    "request_not_built",
    "resource_logs",
    "retry_arguments",
    "retry_delay",
    "scale_deployment",
    "stop_resource",
]

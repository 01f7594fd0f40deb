"""The protocol core: what to send, how to read the answer, when to retry.

Pure functions and data only. The sync and async hooks are transports around this package: they
send an ``ApiRequest`` and hand the status, headers and body back to ``parse_response``.

- ``settings``: ``ClientSettings``, read and checked from an Airflow connection;
- ``retry``: ``RetryPolicy`` and the one rule of what is tried again;
- ``resources``: the ``ResourceKind`` of each resource (the one source of what its states mean),
  ``Outcome`` and ``describe``;
- ``endpoints``: ``ApiRequest`` / ``ApiCall`` and a call per endpoint;
- ``bodies``: ``BodyReader``, an answer's body decompressed and counted as it arrives;
- ``responses``: ``parse_response`` and where paging ends;
- ``scrub``: ``Scrubber``, which masks the connection's secrets in what leaves the transports.

Everything is importable from ``airflow_provider_compress.protocol`` itself.
"""

from __future__ import annotations

from airflow_provider_compress.protocol.bodies import (
    ACCEPT_ENCODING,
    CHUNK,
    DEFAULT_MAX_RESPONSE_BYTES,
    ERROR_BODY_MAX,
    BodyReader,
    unreadable,
)
from airflow_provider_compress.protocol.endpoints import (
    FILE_SIZE_MAX,
    FILES_PATH,
    MODEL_SOURCES,
    ApiCall,
    ApiRequest,
    cancel_resource,
    delete_resource,
    export_checkpoint,
    get_file,
    get_resource,
    list_checkpoints,
    list_deployable_models,
    list_files,
    list_jobs,
    list_resources,
    list_templates,
    request_not_built,
    resource_logs,
    resource_pages,
    scale_deployment,
    stop_resource,
    update_deployment,
    upload_file,
)
from airflow_provider_compress.protocol.resources import (
    COMPRESS,
    COMPRESS_PATH,
    DEPLOYMENT,
    DEPLOYMENT_SETTLED,
    FINE_TUNE,
    GONE,
    Outcome,
    ResourceKind,
    after_refused_delete,
    deployment_in_transition,
    describe,
    recheck_refused_stop,
    stop_took_effect,
)
from airflow_provider_compress.protocol.responses import (
    MAX_DEPTH,
    MAX_PAGES,
    LogRead,
    Reply,
    endless_list,
    is_state_refusal,
    next_page_no,
    parse_response,
    read_log_page,
)
from airflow_provider_compress.protocol.retry import (
    OutageClock,
    RetryPolicy,
    attempts_of,
    log_retry,
    may_retry,
    note_attempts,
    retry_delay,
    rides_out,
)
from airflow_provider_compress.protocol.scrub import Scrubber
from airflow_provider_compress.protocol.settings import (
    API_ROOT,
    DEFAULT_BASE_URL,
    USER_AGENT,
    WORKSPACE_HEADER,
    ClientSettings,
    base_url_from,
)

__all__ = [
    "ACCEPT_ENCODING",
    "API_ROOT",
    "CHUNK",
    "COMPRESS",
    "COMPRESS_PATH",
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEPLOYMENT",
    "DEPLOYMENT_SETTLED",
    "ERROR_BODY_MAX",
    "FILES_PATH",
    "FILE_SIZE_MAX",
    "FINE_TUNE",
    "GONE",
    "MAX_DEPTH",
    "MAX_PAGES",
    "MODEL_SOURCES",
    "USER_AGENT",
    "WORKSPACE_HEADER",
    "ApiCall",
    "ApiRequest",
    "BodyReader",
    "ClientSettings",
    "LogRead",
    "OutageClock",
    "Outcome",
    "Reply",
    "ResourceKind",
    "RetryPolicy",
    "Scrubber",
    "after_refused_delete",
    "attempts_of",
    "base_url_from",
    "cancel_resource",
    "delete_resource",
    "deployment_in_transition",
    "describe",
    "endless_list",
    "export_checkpoint",
    "get_file",
    "get_resource",
    "is_state_refusal",
    "list_checkpoints",
    "list_deployable_models",
    "list_files",
    "list_jobs",
    "list_resources",
    "list_templates",
    "log_retry",
    "may_retry",
    "next_page_no",
    "note_attempts",
    "parse_response",
    "read_log_page",
    "recheck_refused_stop",
    "request_not_built",
    "resource_logs",
    "resource_pages",
    "retry_delay",
    "rides_out",
    "scale_deployment",
    "stop_resource",
    "stop_took_effect",
    "unreadable",
    "update_deployment",
    "upload_file",
]

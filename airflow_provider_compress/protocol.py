"""The protocol core: what to send, how to read the answer, when to retry.

Pure functions and data only. The sync and async hooks are transports around this module: they
send an ``ApiRequest`` and hand the status, headers and body back to ``parse_response``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import json
import logging
import os
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar
from urllib.parse import quote, urlsplit

from airflow_provider_compress import validation as v
from airflow_provider_compress.exceptions import (
    CompressApiError,
    CompressConnectionError,
    CompressError,
    CompressValidationError,
    InvalidResponseError,
    RateLimitError,
    ServerError,
    error_for_status,
)
from airflow_provider_compress.models import (
    TERMINAL_STATUSES,
    ApiModel,
    Checkpoint,
    DeployableModelPage,
    Deployment,
    DeploymentPage,
    DeploymentStatus,
    FilePage,
    FileUpload,
    FineTuneJob,
    FineTunePage,
    Job,
    JobLogs,
    JobPage,
    JobStatus,
    OperationResult,
    TemplateList,
    UploadedFile,
    checkpoints_from_api,
)

T = TypeVar("T")

DEFAULT_BASE_URL = "https://dashscope.aliyuncs.com"
API_ROOT = "/api/v1"
COMPRESS_PATH = "/fine-tunes/compress"
USER_AGENT = "airflow-provider-compress"
WORKSPACE_HEADER = "X-DashScope-WorkSpace"


@dataclasses.dataclass(frozen=True)
class ApiRequest:
    method: str
    path: str
    params: Mapping[str, Any] | None = None
    body: Mapping[str, Any] | None = None
    # Safe to send again when the outcome of an earlier try is unknown (5xx, reset, timeout).
    idempotent: bool = True
    # multipart/form-data instead of a JSON body (file uploads): ``(field, (file name, bytes))``
    # parts and plain form fields. Sent by the sync transport only.
    files: Sequence[tuple[str, tuple[str, bytes]]] | None = None
    form: Mapping[str, Any] | None = None


@dataclasses.dataclass(frozen=True)
class Reply:
    """A successful answer: its ``output`` and the ``request_id`` support asks for."""

    output: Any
    request_id: str | None = None
    status: int = 200


@dataclasses.dataclass(frozen=True)
class ApiCall(Generic[T]):
    """A request and the reader of its ``output``."""

    request: ApiRequest
    read: Callable[[Any], T]

    def parse(self, reply: Reply) -> T:
        """The typed answer; a model keeps the answer's ``request_id``."""
        try:
            result = self.read(reply.output)
        except (TypeError, ValueError) as err:  # a field of another JSON type than documented
            raise InvalidResponseError(
                reply.status, None, f"unexpected answer: {err}", reply.request_id
            ) from None
        if isinstance(result, ApiModel) and reply.request_id:
            result = dataclasses.replace(result, request_id=reply.request_id)
        return result


# --- connection settings -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter; Retry-After wins when it asks for longer."""

    attempts: int = 8
    initial_delay: float = 1.0
    max_delay: float = 30.0
    max_elapsed: float = 300.0

    def wait_seconds(
        self, attempt: int, retry_after: float | None = None, rand: float | None = None
    ) -> float:
        """Pause before try ``attempt + 1`` (``attempt`` counts from 1)."""
        ceiling = min(self.max_delay, self.initial_delay * 2 ** (attempt - 1))
        jitter = random.random() if rand is None else rand
        wait = ceiling / 2 + jitter * ceiling / 2
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_elapsed))
        return wait


@dataclasses.dataclass(frozen=True)
class ClientSettings:
    """Everything a transport needs, read from an Airflow connection."""

    api_key: str = dataclasses.field(repr=False)
    base_url: str = DEFAULT_BASE_URL
    workspace_id: str | None = None
    lang: str | None = None
    timeout: float = 30.0
    retry: RetryPolicy = RetryPolicy()
    # Forward proxy for this connection only; wins over HTTP(S)_PROXY and NO_PROXY. May hold
    # credentials, so it is kept out of repr (and the hooks mask its password in logs).
    proxy: str | None = dataclasses.field(default=None, repr=False)
    # The zone the service reads time filters in; aware datetimes are converted to it.
    service_tz: dt.tzinfo = v.SERVICE_TZ
    ca_bundle: str | None = None  # a CA file for a private CA (TLS verification is never off)
    # Extras ``<kind>_console_url``: URL patterns that replace the region's console in the extra links.
    console_urls: Mapping[str, str] = dataclasses.field(default_factory=dict)

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
            retry=retry,
            proxy=_proxy_url(extra.get("proxy")),
            service_tz=v.parse_timezone("extra.service_timezone", zone) if zone else v.SERVICE_TZ,
            ca_bundle=_ca_bundle(extra.get("ca_bundle")),
            console_urls={k: str(val) for k, val in extra.items() if k.endswith("_console_url") and val},
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
        return v.render_time(value, service_tz)
    return str(value)


# --- job-shaped resources ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class JobKind:
    """What the shared job machinery (hooks, trigger, operators, emulator) needs to know about a
    resource that is created, then polled until it settles: compression and fine-tune jobs,
    deployments. Adding a resource means adding one of these, not copying the machinery.
    """

    noun: str  # for messages: "compression job"
    collection: str  # path of the collection under /api/v1
    model: type[ApiModel]
    page: type[ApiModel]
    items_field: str  # the page's list: "jobs" or "deployments"
    id_field: str
    name_field: str  # the caller-chosen name used to find an earlier try's resource
    name_filter: str | None  # list query parameter that (fuzzily) filters by name, if any
    output_field: str  # what the wait produces: the output model, or the deployed service
    succeeded: frozenset[str]  # states that end a wait successfully
    failed: frozenset[str]  # states that end a wait in failure
    not_started: frozenset[str]  # states in which a poll does not read logs yet
    ended: frozenset[str]  # states in which there is nothing left to stop: the work is over
    stopping: frozenset[str]  # on its way to a stop: never worth reattaching to
    stop_by_delete: bool  # stop = DELETE the resource (deployments) instead of POST .../cancel
    has_logs: bool
    statuses: frozenset[str]  # the documented states; any other is polled on, with a warning

    def outcome(self, status: object) -> str | None:
        """ "succeeded", "failed", or None while it is still on its way (unknown states included)."""
        if status in self.succeeded:
            return "succeeded"
        if status in self.failed:
            return "failed"
        return None

    def needs_stop(self, status: object) -> bool:
        """Whether stopping the work means sending the cancel or the delete: in every state not
        known to be over or already stopping, an unknown one included (a status the provider does
        not know may be billing, and billing stops only on the stop)."""
        return status not in self.ended and status not in self.stopping

    @property
    def stop_verb(self) -> str:
        return "deleted" if self.stop_by_delete else "cancelled"

    def resource_id(self, resource: ApiModel) -> str:
        return str(getattr(resource, self.id_field))

    def output(self, resource: ApiModel) -> str | None:
        return getattr(resource, self.output_field, None)

    def items(self, page: ApiModel) -> list[Any]:
        return list(getattr(page, self.items_field))


_JOB_FAILED = frozenset({JobStatus.FAILED, JobStatus.CANCELED})
_JOB_WAITING = frozenset({JobStatus.PENDING, JobStatus.QUEUING})

COMPRESS = JobKind(
    noun="compression job",
    collection=f"{COMPRESS_PATH}/jobs",
    model=Job,
    page=JobPage,
    items_field="jobs",
    id_field="job_id",
    name_field="job_name",
    name_filter="job_name",
    output_field="quantized_output",
    succeeded=frozenset({JobStatus.SUCCEEDED}),
    failed=_JOB_FAILED,
    not_started=_JOB_WAITING,
    ended=TERMINAL_STATUSES,
    stopping=frozenset({JobStatus.CANCELING}),
    stop_by_delete=False,
    has_logs=True,
    statuses=frozenset(JobStatus),
)
# Fine-tune jobs live and behave like compression jobs; the list has no name filter.
FINE_TUNE = dataclasses.replace(
    COMPRESS,
    noun="fine-tune job",
    collection="/fine-tunes",
    model=FineTuneJob,
    page=FineTunePage,
    name_filter=None,
    output_field="finetuned_output",
)
DEPLOYMENT = JobKind(
    noun="deployment",
    collection="/deployments",
    model=Deployment,
    page=DeploymentPage,
    items_field="deployments",
    id_field="deployed_model",
    name_field="name",
    name_filter=None,
    output_field="deployed_model",
    succeeded=frozenset({DeploymentStatus.RUNNING}),
    failed=frozenset(
        {
            DeploymentStatus.FAILED,
            DeploymentStatus.UPDATING_FAILED,
            DeploymentStatus.STOPPED,
            DeploymentStatus.ARREARS_DOWN,
            DeploymentStatus.DELETING,  # someone deleted it: it will never serve
            DeploymentStatus.OFFLINING,
        }
    ),
    not_started=frozenset(),
    # A deployment exists (and may bill) in every state until it is deleted: a failed or stopped
    # one is deleted too, which also frees its name.
    ended=frozenset(),
    stopping=frozenset({DeploymentStatus.DELETING, DeploymentStatus.OFFLINING}),
    stop_by_delete=True,
    has_logs=False,
    statuses=frozenset(DeploymentStatus),
)


def _item_path(kind: JobKind, resource_id: str, tail: str = "") -> str:
    v.check_resource_id(kind.id_field, resource_id)
    return f"{kind.collection}/{quote(str(resource_id), safe='')}{tail}"


def get_resource(kind: JobKind, resource_id: str, lang: str | None = None) -> ApiCall[Any]:
    return ApiCall(ApiRequest("GET", _item_path(kind, resource_id), {"lang": lang}), kind.model.from_api)


def list_resources(kind: JobKind, *, page_no: int = 1, page_size: int = 10, **filters: Any) -> ApiCall[Any]:
    if kind is COMPRESS:  # its filters have rules and formats of their own
        return list_jobs(page_no=page_no, page_size=page_size, **filters)
    v.check_int_range("page_no", page_no, 1)
    v.check_int_range("page_size", page_size, 1, v.PAGE_SIZE_MAX)
    params = {**filters, "page_no": page_no, "page_size": page_size}
    return ApiCall(ApiRequest("GET", kind.collection, params), kind.page.from_api)


def resource_logs(kind: JobKind, resource_id: str, offset: int = 0, line: int = 100, lang: str | None = None):
    v.check_int_range("offset", offset, 0)
    v.check_int_range("line", line, 1, v.LOG_LINES_MAX)
    params = {"offset": offset, "line": line, "lang": lang}
    return ApiCall(ApiRequest("GET", _item_path(kind, resource_id, "/logs"), params), JobLogs.from_api)


def cancel_resource(kind: JobKind, resource_id: str, lang: str | None = None) -> ApiCall[OperationResult]:
    request = ApiRequest("POST", _item_path(kind, resource_id, "/cancel"), {"lang": lang})
    return ApiCall(request, OperationResult.from_api)


def delete_resource(kind: JobKind, resource_id: str, lang: str | None = None) -> ApiCall[Any]:
    # Jobs answer {"status": "success"}, deployments their object: keep what was sent.
    parse = kind.model.from_api if kind.stop_by_delete else OperationResult.from_api
    return ApiCall(ApiRequest("DELETE", _item_path(kind, resource_id), {"lang": lang}), parse)


def stop_resource(kind: JobKind, resource_id: str) -> ApiCall[Any]:
    """Stop the paid work: cancel a job, delete a deployment."""
    return delete_resource(kind, resource_id) if kind.stop_by_delete else cancel_resource(kind, resource_id)


# --- the seven endpoints -------------------------------------------------------------------


def list_templates(model: str | None = None, lang: str | None = None) -> ApiCall[TemplateList]:
    request = ApiRequest("GET", f"{COMPRESS_PATH}/templates", {"model": model, "lang": lang})
    return ApiCall(request, TemplateList.from_api)


def list_jobs(
    *,
    status: str | None = None,
    model: str | None = None,
    template_id: str | None = None,
    quant_spec: str | None = None,
    quant_method: str | None = None,
    start_time: Any = None,
    end_time: Any = None,
    job_name: str | None = None,
    job_id: str | None = None,
    search_key: str | None = None,
    select_key: str | None = None,
    sort_by: str = "create_time",
    sort_order: str = "desc",
    page_no: int = 1,
    page_size: int = 10,
    lang: str | None = None,
) -> ApiCall[JobPage]:
    v.check_int_range("page_no", page_no, 1)
    v.check_int_range("page_size", page_size, 1, v.PAGE_SIZE_MAX)
    if sort_order not in ("asc", "desc"):
        raise CompressValidationError("sort_order", "must be 'asc' or 'desc'", sort_order)
    params = {
        "status": str(status) if status is not None else None,
        "model": model,
        "template_id": template_id,
        "quant_spec": quant_spec,
        "quant_method": quant_method,
        "start_time": v.time_filter("start_time", start_time),
        "end_time": v.time_filter("end_time", end_time),
        "job_name": job_name,
        "job_id": job_id,
        "search_key": search_key,
        "select_key": select_key,
        "sort_by": sort_by,
        "sort_order": sort_order,
        "page_no": page_no,
        "page_size": page_size,
        "lang": lang,
    }
    return ApiCall(ApiRequest("GET", COMPRESS.collection, params), JobPage.from_api)


def get_job(job_id: str, lang: str | None = None) -> ApiCall[Job]:
    return get_resource(COMPRESS, job_id, lang)


def get_logs(job_id: str, offset: int = 0, line: int = 100, lang: str | None = None) -> ApiCall[JobLogs]:
    return resource_logs(COMPRESS, job_id, offset, line, lang)


def cancel_job(job_id: str, lang: str | None = None) -> ApiCall[OperationResult]:
    return cancel_resource(COMPRESS, job_id, lang)


def delete_job(job_id: str, lang: str | None = None) -> ApiCall[OperationResult]:
    return delete_resource(COMPRESS, job_id, lang)


# --- deployments ------------------------------------------------------------------------------


def scale_deployment(
    deployed_model: str, capacity: int | None = None, ptu_capacity: Mapping[str, int] | None = None
) -> ApiCall[Deployment]:
    """``capacity`` for ``mu`` and ``cu`` (0 included: the API allows it), or ``ptu_capacity``
    for ``ptu``, nested as the API reference shows it (A.5)."""
    if (capacity is None) == (ptu_capacity is None):
        raise CompressValidationError("capacity", "give capacity (mu, cu) or ptu_capacity (ptu), one of them")
    if capacity is not None:
        v.check_int_range("capacity", capacity, 0, 999)
        body: dict[str, Any] = {"capacity": capacity}
    else:
        body = {"ptu_capacity": v.ptu_capacity("ptu_capacity", ptu_capacity)}
    request = ApiRequest("PUT", _item_path(DEPLOYMENT, deployed_model, "/scale"), None, body)
    return ApiCall(request, Deployment.from_api)


# --- fine-tune checkpoints (fact sheet B.8) ------------------------------------------------


def list_checkpoints(job_id: str) -> ApiCall[list[Checkpoint]]:
    """The checkpoints a fine-tune job saved, the newest first; ``output`` is an array."""
    return ApiCall(ApiRequest("GET", _item_path(FINE_TUNE, job_id, "/checkpoints")), checkpoints_from_api)


def export_checkpoint(job_id: str, checkpoint: str, model_name: str | None = None) -> ApiCall[bool]:
    """Publish a checkpoint as a deployable model; ``output: true`` means submitted (then its
    status in the checkpoint list goes PROCESSING -> SUCCEEDED with a ``model_name``)."""
    v.check_resource_id("checkpoint", checkpoint)
    tail = f"/export/{quote(checkpoint, safe='')}"
    request = ApiRequest("GET", _item_path(FINE_TUNE, job_id, tail), {"model_name": model_name})
    return ApiCall(request, _submitted)


def _submitted(output: Any) -> bool:
    if not isinstance(output, bool):
        raise ValueError(f"expected true or false, got {output!r}")
    return output


# --- files (fact sheet B.8: the training and calibration data jobs take by id) -------------

FILES_PATH = "/files"
FILE_SIZE_MAX = 300 * 1024 * 1024  # bytes per file


def upload_file(
    name: str, content: bytes, purpose: str = "fine-tune", description: str | None = None
) -> ApiCall[FileUpload]:
    """``POST /files``, multipart: the file as ``files``, ``purpose``, ``descriptions``.

    Not idempotent: an upload whose answer was lost is never sent again blindly (a second copy
    would count against the account's file quota); ``FileHook.upload_file`` looks it up instead.
    """
    v.check_text("name", name, required=True)
    v.check_text("purpose", purpose, required=True)
    v.check_text("description", description)
    if not content:
        raise CompressValidationError("content", f"{name} is empty")
    if len(content) > FILE_SIZE_MAX:
        raise CompressValidationError(
            "content", f"{name} has {len(content)} bytes; the API takes at most {FILE_SIZE_MAX} per file"
        )
    form = {"purpose": purpose, **({"descriptions": description} if description else {})}
    request = ApiRequest("POST", FILES_PATH, files=[("files", (name, content))], form=form, idempotent=False)
    return ApiCall(request, FileUpload.from_api)


def list_files(page_no: int = 1, page_size: int = 10) -> ApiCall[FilePage]:
    v.check_int_range("page_no", page_no, 1)
    v.check_int_range("page_size", page_size, 1, v.PAGE_SIZE_MAX)
    request = ApiRequest("GET", FILES_PATH, {"page_no": page_no, "page_size": page_size})
    return ApiCall(request, FilePage.from_api)


def get_file(file_id: str) -> ApiCall[UploadedFile]:
    v.check_resource_id("file_id", file_id)
    return ApiCall(ApiRequest("GET", f"{FILES_PATH}/{quote(file_id, safe='')}"), UploadedFile.from_api)


def update_deployment(
    deployed_model: str, rpm_limit: int | None = None, tpm_limit: int | None = None
) -> ApiCall[Deployment]:
    """Rate limits of an MU deployment (A.6): at least one of the two."""
    limits = {"rpm_limit": rpm_limit, "tpm_limit": tpm_limit}
    if all(value is None for value in limits.values()):
        raise CompressValidationError("rpm_limit", "give rpm_limit or tpm_limit (or both)")
    for field, value in limits.items():
        if value is not None:
            v.check_int_range(field, value, 1)
    body = {field: value for field, value in limits.items() if value is not None}
    return ApiCall(
        ApiRequest("PUT", _item_path(DEPLOYMENT, deployed_model, "/update"), None, body), Deployment.from_api
    )


MODEL_SOURCES = ("base", "custom")


def list_deployable_models(
    model_source: str | None = None, page_no: int = 1, page_size: int = 50, version: str = "v1.0"
) -> ApiCall[DeployableModelPage]:
    """``GET /deployments/models``: what may be deployed, with its plans and MU templates
    (``version=v1.0`` asks for them)."""
    if model_source is not None and model_source not in MODEL_SOURCES:
        raise CompressValidationError("model_source", "must be 'base' or 'custom'", model_source)
    v.check_int_range("page_no", page_no, 1)
    v.check_int_range("page_size", page_size, 1, v.PAGE_SIZE_MAX)
    params = {"model_source": model_source, "version": version, "page_no": page_no, "page_size": page_size}
    return ApiCall(ApiRequest("GET", f"{DEPLOYMENT.collection}/models", params), DeployableModelPage.from_api)


# Deployment states that last until something changes them. Any other one (PENDING, DEPLOYING,
# UPDATING, SCALING, ... and one the provider does not know) is on its way to another.
DEPLOYMENT_SETTLED = frozenset(
    {
        DeploymentStatus.RUNNING,
        DeploymentStatus.FAILED,
        DeploymentStatus.UPDATING_FAILED,
        DeploymentStatus.STOPPED,
        DeploymentStatus.ARREARS_DOWN,
    }
)


def deployment_in_transition(status: object) -> bool:
    """Whether a deployment is changing state (not settled, not going away): a request its state
    refused may pass once it settles."""
    return status not in DEPLOYMENT_SETTLED and status not in DEPLOYMENT.stopping


def after_refused_delete(status: object) -> str:
    """What a delete refused for the deployment's state means, given its status now: "deleting"
    (a delete is under way already), "retry" (it is changing state: send the delete again once it
    settles), or "fail" (it is settled: the same delete would be refused again)."""
    if status in DEPLOYMENT.stopping:
        return "deleting"
    return "retry" if deployment_in_transition(status) else "fail"


def is_state_refusal(error: BaseException) -> bool:
    """An answer refusing a request because of the resource's state: 400 (UnsupportedOperation)
    or 409. Classified by HTTP status, never by the code string."""
    return isinstance(error, CompressApiError) and error.status_code in (400, 409)


# --- paging ---------------------------------------------------------------------------------


# A list walk or a log read asks for at most this many pages: a server that never ends its
# paging (a page number echoed back, a total that is never reached) cannot hold a task forever.
MAX_PAGES = 1000


def next_page_no(asked: int, seen: int, page: Any, items: Sequence[Any]) -> int | None:
    """The page to ask for after page ``asked`` (whose list is ``items``, ``seen`` items so far),
    or None at the end: an empty page, or ``total`` reached. It advances from what was asked, not
    from the page number the answer echoes, and counts items: the API may serve fewer per page
    than asked."""
    if not items or seen >= page.total:
        return None
    return asked + 1


def request_not_built(request: ApiRequest, err: BaseException) -> CompressValidationError:
    """A request the HTTP library refused to build (a header or URL it cannot send, a body that is
    not JSON). Its text is never kept: it may quote a header, the API key's among them."""
    return CompressValidationError(
        "request",
        f"{request.method} {request.path} could not be sent ({type(err).__name__}): check the "
        "connection's host, API key and workspace id, and the arguments",
    )


def endless_list(kind: JobKind) -> InvalidResponseError:
    return InvalidResponseError(
        200, None, f"the {kind.noun} list did not end within {MAX_PAGES} pages (is its total wrong?)"
    )


def next_log_offset(offset: int, logs: JobLogs) -> int | None:
    """The offset to read from after this chunk, or None at the end of the log so far."""
    following = offset + len(logs.logs)
    if not logs.logs or following >= logs.total:
        return None
    return following


def is_unknown_status(kind: JobKind, status: object) -> bool:
    return status is not None and status not in kind.statuses


def unknown_status_message(kind: JobKind, resource_id: str, status: object) -> str:
    return f"{kind.noun} {resource_id} is in status {status!r}, which the provider does not know: polling on"


def remote_log_line(job_id: str, number: int, line: str) -> str:
    """A remote log line as it appears in the task log: job id and 1-based line number first."""
    return f"[{job_id} #{number}] {line}"


def exact_name_match(jobs: Sequence[Any], job_name: str, field: str) -> Any:
    """The API's name filters are fuzzy (or absent); pick the one named exactly ``job_name``."""
    return next((job for job in jobs if getattr(job, field, None) == job_name), None)


# --- responses ------------------------------------------------------------------------------


def parse_response(status: int, body: bytes, headers: Mapping[str, str]) -> Reply:
    """Return the envelope's ``output`` and ``request_id``, or raise the error the answer stands for."""
    try:
        payload = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        payload = None
    envelope = payload if isinstance(payload, dict) else {}
    request_id = envelope.get("request_id") or _header(headers, "x-request-id")
    if status >= 400:
        message = envelope.get("message") or _snippet(body) or None
        raise error_for_status(status)(
            status,
            envelope.get("code"),
            message,
            request_id,
            retry_after=_retry_after(headers),
        )
    # The file API (and, per the fact sheet, older builds of the others) answers in "data".
    key = "output" if "output" in envelope else "data"
    if key not in envelope:
        raise InvalidResponseError(
            status, None, f"expected a JSON object with 'output', got: {_snippet(body)!r}", request_id
        )
    return Reply(envelope[key], request_id, status)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = _header(headers, "retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def _snippet(body: bytes, limit: int = 200) -> str:
    return body[:limit].decode("utf-8", "replace").strip()


# --- retries --------------------------------------------------------------------------------


def is_transient(error: BaseException, request: ApiRequest) -> bool:
    """Whether to try ``request`` again after ``error``.

    A 429 or a connection that never sent anything cannot have changed state on the server.
    Other transient failures leave the outcome unknown, so only idempotent requests repeat.
    """
    if isinstance(error, RateLimitError):
        return True
    if isinstance(error, CompressConnectionError) and not error.retryable:
        return False
    if isinstance(error, CompressConnectionError) and not error.request_sent:
        return True
    if isinstance(error, (ServerError, InvalidResponseError, CompressConnectionError)):
        return request.idempotent
    return False


def retry_delay(
    policy: RetryPolicy, request: ApiRequest, error: BaseException, attempt: int, elapsed: float
) -> float | None:
    """Seconds to wait before trying ``request`` again after try ``attempt`` failed with
    ``error``, ``elapsed`` seconds after the first try began; None to give up.

    The rule ``retry_arguments`` gives tenacity, as one function for the async hook's own loop
    (tenacity's ``AsyncRetrying`` cost a third of a trigger's CPU per poll: benchmarks/).
    """
    if attempt >= policy.attempts or not is_transient(error, request):
        return None
    delay = policy.wait_seconds(attempt, getattr(error, "retry_after", None))
    return None if elapsed + delay >= policy.max_elapsed else delay


def log_retry(
    log: logging.Logger | Any,
    request: ApiRequest,
    error: BaseException | None,
    attempt: int,
    policy: RetryPolicy,
    delay: float,
) -> None:
    log.warning(
        "%s %s failed (%s); try %d of %d in %.1fs",
        request.method,
        request.path,
        error,
        attempt + 1,
        policy.attempts,
        delay,
    )


def retry_arguments(policy: RetryPolicy, request: ApiRequest, log: logging.Logger | Any) -> dict[str, Any]:
    """Keyword arguments for tenacity's ``Retrying``: the rule of ``retry_delay``."""
    from tenacity import retry_if_exception, stop_after_attempt, stop_before_delay  # not at DAG parse

    def wait(state) -> float:
        error = state.outcome.exception() if state.outcome else None
        return policy.wait_seconds(state.attempt_number, getattr(error, "retry_after", None))

    def before_sleep(state) -> None:
        error = state.outcome.exception() if state.outcome else None
        log_retry(log, request, error, state.attempt_number, policy, state.upcoming_sleep)

    return {
        "stop": stop_after_attempt(policy.attempts) | stop_before_delay(policy.max_elapsed),
        "wait": wait,
        "retry": retry_if_exception(lambda e: is_transient(e, request)),
        "before_sleep": before_sleep,
        "reraise": True,
    }


def note_attempts(error: CompressError, attempts: int) -> None:
    """Record on the raised error how many tries were made (a create uses it to recover)."""
    error.attempts = attempts  # type: ignore[attr-defined]


def attempts_of(error: BaseException) -> int:
    return getattr(error, "attempts", 1)


def describe(kind: JobKind, resource: Any) -> str:
    """One line on how a resource ended, with the API's error code and message when it failed."""
    name = f"{kind.noun} {kind.resource_id(resource)}"
    status = getattr(resource, "status", None)
    outcome = kind.outcome(status)
    if outcome == "succeeded":
        return f"{name} reached {status}: {kind.output(resource)}"
    error = getattr(resource, "error", None)
    code = getattr(error, "code", None) or getattr(resource, "code", None)
    message = getattr(error, "message", None) or getattr(resource, "message", None)
    if status in ("FAILED", "UPDATING_FAILED"):
        return f"{name} failed: {code or '-'}: {message or 'no error details'}"
    return f"{name} ended {status}"

"""The requests: an ``ApiCall`` per endpoint, built and checked before anything is sent.

The per-resource calls take a ``ResourceKind``; the compression API's own (templates, its job list
and filters), the deployments' (scale, rate limits, deployable models), the fine-tunes'
checkpoints and the files have functions of their own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from airflow_provider_compress import validation
from airflow_provider_compress.exceptions import CompressValidationError, InvalidResponseError
from airflow_provider_compress.models import (
    ApiModel,
    Checkpoint,
    DeployableModelPage,
    Deployment,
    FilePage,
    FileUpload,
    JobLogs,
    JobPage,
    OperationResult,
    TemplateList,
    UploadedFile,
    checkpoints_from_api,
)
from airflow_provider_compress.protocol.resources import (
    COMPRESS,
    COMPRESS_PATH,
    DEPLOYMENT,
    FINE_TUNE,
    ResourceKind,
)
from airflow_provider_compress.protocol.responses import Reply

T = TypeVar("T")


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


def request_not_built(request: ApiRequest, err: BaseException) -> CompressValidationError:
    """A request the HTTP library refused to build (a header or URL it cannot send, a body that is
    not JSON). Its text is never kept: it may quote a header, the API key's among them."""
    return CompressValidationError(
        "request",
        f"{request.method} {request.path} could not be sent ({type(err).__name__}): check the "
        "connection's host, API key and workspace id, and the arguments",
    )


# --- any resource kind ----------------------------------------------------------------------


def _item_path(kind: ResourceKind, resource_id: str, tail: str = "") -> str:
    validation.check_resource_id(kind.id_field, resource_id)
    return f"{kind.collection}/{quote(str(resource_id), safe='')}{tail}"


def get_resource(kind: ResourceKind, resource_id: str, lang: str | None = None) -> ApiCall[Any]:
    return ApiCall(ApiRequest("GET", _item_path(kind, resource_id), {"lang": lang}), kind.model.from_api)


def list_resources(
    kind: ResourceKind, *, page_no: int = 1, page_size: int = 10, **filters: Any
) -> ApiCall[Any]:
    if kind is COMPRESS:  # its filters have rules and formats of their own
        return list_jobs(page_no=page_no, page_size=page_size, **filters)
    validation.check_int_range("page_no", page_no, 1)
    validation.check_int_range("page_size", page_size, 1, validation.PAGE_SIZE_MAX)
    params = {**filters, "page_no": page_no, "page_size": page_size}
    return ApiCall(ApiRequest("GET", kind.collection, params), kind.page.from_api)


def resource_pages(kind: ResourceKind, **filters: Any) -> tuple[int, Callable[[int], ApiCall[Any]]]:
    """A walk of ``kind``'s list matching ``filters``: the page it starts from (``page_no``,
    default 1) and the call for each page, of as many items as the API allows unless
    ``page_size`` says otherwise."""
    start: int = filters.pop("page_no", 1)
    filters.setdefault("page_size", validation.PAGE_SIZE_MAX)
    return start, lambda page_no: list_resources(kind, page_no=page_no, **filters)


def resource_logs(
    kind: ResourceKind, resource_id: str, offset: int = 0, line: int = 100, lang: str | None = None
) -> ApiCall[JobLogs]:
    validation.check_int_range("offset", offset, 0)
    validation.check_int_range("line", line, 1, validation.LOG_LINES_MAX)
    params = {"offset": offset, "line": line, "lang": lang}
    return ApiCall(ApiRequest("GET", _item_path(kind, resource_id, "/logs"), params), JobLogs.from_api)


def cancel_resource(
    kind: ResourceKind, resource_id: str, lang: str | None = None
) -> ApiCall[OperationResult]:
    request = ApiRequest("POST", _item_path(kind, resource_id, "/cancel"), {"lang": lang})
    return ApiCall(request, OperationResult.from_api)


def delete_resource(kind: ResourceKind, resource_id: str, lang: str | None = None) -> ApiCall[Any]:
    # Jobs answer {"status": "success"}, deployments their object: keep what was sent.
    parse = kind.model.from_api if kind.stop_by_delete else OperationResult.from_api
    return ApiCall(ApiRequest("DELETE", _item_path(kind, resource_id), {"lang": lang}), parse)


def stop_resource(kind: ResourceKind, resource_id: str) -> ApiCall[Any]:
    """Stop the paid work: cancel a job, delete a deployment."""
    return delete_resource(kind, resource_id) if kind.stop_by_delete else cancel_resource(kind, resource_id)


# --- the compression API's own --------------------------------------------------------------


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
    validation.check_int_range("page_no", page_no, 1)
    validation.check_int_range("page_size", page_size, 1, validation.PAGE_SIZE_MAX)
    if sort_order not in ("asc", "desc"):
        raise CompressValidationError("sort_order", "must be 'asc' or 'desc'", sort_order)
    params = {
        "status": str(status) if status is not None else None,
        "model": model,
        "template_id": template_id,
        "quant_spec": quant_spec,
        "quant_method": quant_method,
        "start_time": validation.time_filter("start_time", start_time),
        "end_time": validation.time_filter("end_time", end_time),
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


# --- deployments ------------------------------------------------------------------------------


def scale_deployment(
    deployed_model: str, capacity: int | None = None, ptu_capacity: Mapping[str, int] | None = None
) -> ApiCall[Deployment]:
    """``capacity`` for ``mu`` and ``cu`` (0 included: the API allows it), or ``ptu_capacity``
    for ``ptu``, nested as the API reference shows it (A.5)."""
    if (capacity is None) == (ptu_capacity is None):
        raise CompressValidationError("capacity", "give capacity (mu, cu) or ptu_capacity (ptu), one of them")
    if capacity is not None:
        validation.check_int_range("capacity", capacity, 0, 999)
        body: dict[str, Any] = {"capacity": capacity}
    else:
        body = {"ptu_capacity": validation.ptu_capacity("ptu_capacity", ptu_capacity)}
    request = ApiRequest("PUT", _item_path(DEPLOYMENT, deployed_model, "/scale"), None, body)
    return ApiCall(request, Deployment.from_api)


def update_deployment(
    deployed_model: str, rpm_limit: int | None = None, tpm_limit: int | None = None
) -> ApiCall[Deployment]:
    """Rate limits of an MU deployment (A.6): at least one of the two."""
    limits = {"rpm_limit": rpm_limit, "tpm_limit": tpm_limit}
    if all(value is None for value in limits.values()):
        raise CompressValidationError("rpm_limit", "give rpm_limit or tpm_limit (or both)")
    for field, value in limits.items():
        if value is not None:
            validation.check_int_range(field, value, 1)
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
    validation.check_int_range("page_no", page_no, 1)
    validation.check_int_range("page_size", page_size, 1, validation.PAGE_SIZE_MAX)
    params = {"model_source": model_source, "version": version, "page_no": page_no, "page_size": page_size}
    return ApiCall(ApiRequest("GET", f"{DEPLOYMENT.collection}/models", params), DeployableModelPage.from_api)


# --- fine-tune checkpoints (fact sheet B.8) ------------------------------------------------


def list_checkpoints(job_id: str) -> ApiCall[list[Checkpoint]]:
    """The checkpoints a fine-tune job saved, the newest first; ``output`` is an array."""
    return ApiCall(ApiRequest("GET", _item_path(FINE_TUNE, job_id, "/checkpoints")), checkpoints_from_api)


def export_checkpoint(job_id: str, checkpoint: str, model_name: str | None = None) -> ApiCall[bool]:
    """Publish a checkpoint as a deployable model; ``output: true`` means submitted (then its
    status in the checkpoint list goes PROCESSING -> SUCCEEDED with a ``model_name``)."""
    validation.check_resource_id("checkpoint", checkpoint)
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
    validation.check_text("name", name, required=True)
    validation.check_text("purpose", purpose, required=True)
    validation.check_text("description", description)
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
    validation.check_int_range("page_no", page_no, 1)
    validation.check_int_range("page_size", page_size, 1, validation.PAGE_SIZE_MAX)
    request = ApiRequest("GET", FILES_PATH, {"page_no": page_no, "page_size": page_size})
    return ApiCall(request, FilePage.from_api)


def get_file(file_id: str) -> ApiCall[UploadedFile]:
    validation.check_resource_id("file_id", file_id)
    return ApiCall(ApiRequest("GET", f"{FILES_PATH}/{quote(file_id, safe='')}"), UploadedFile.from_api)

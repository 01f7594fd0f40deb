"""The emulator's checks of requests: paging, time filters, bodies, hyper-parameters.

Written from the API document, on purpose NOT from the client's rules (``validation``, ``specs``):
the emulator is the tests' independent oracle, so a rule the client gets wrong shows up as a
disagreement with it instead of being copied into both.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from airflow_provider_compress.emulator.catalog import SERVICE_TZ, TIME_FORMAT, SeedTemplate
from airflow_provider_compress.emulator.errors import ApiError
from airflow_provider_compress.emulator.machines import CANCELLABLE, TERMINAL

# Job names: letters (any script), digits, space, '-', '_', '.'; the real rule is undocumented.
JOB_NAME_PATTERN = re.compile(r"[\w\-. ]+")
SUFFIX_PATTERN = re.compile(r"[a-z0-9]{1,8}")


def parse_time_filter(value: str, *, end_of_day: bool) -> float:
    text = value.strip()
    for fmt, is_date in ((TIME_FORMAT, False), ("%Y-%m-%d", True)):
        try:
            parsed = dt.datetime.strptime(text, fmt).replace(tzinfo=SERVICE_TZ)
        except ValueError:
            continue
        if is_date and end_of_day:
            parsed += dt.timedelta(days=1, seconds=-1)
        return parsed.timestamp()
    raise ApiError("InvalidTimeFormat", value=value)


def parse_int(value: str | None, default: int, code: str) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ApiError(code, value=value, detail=value) from None


def check_hyper_parameters(template: SeedTemplate, given: Mapping[str, Any]) -> dict[str, Any]:
    """Validate overrides and return the effective values (defaults merged in)."""
    schema = {p["name"]: p for p in template.hyper_parameters}
    for name in given:
        if name not in schema:
            raise ApiError("UnknownHyperParameter", name=name)
    effective: dict[str, Any] = {}
    for name, p in schema.items():
        if name not in given:
            if p["required"]:
                raise ApiError("MissingHyperParameter", name=name)
            if p["defaultValue"] is not None:
                effective[name] = p["defaultValue"]
            continue
        value = given[name]
        if p["support_values"]:
            if not any(_same(value, allowed) for allowed in p["support_values"]):
                allowed = ", ".join(p["support_values"])
                raise ApiError("InvalidHyperParameterValue", name=name, value=value, allowed=allowed)
        elif p["data_range"] or p["type"] in ("int", "float"):
            number = _decimal(value)
            if number is None:
                raise ApiError("InvalidHyperParameterNumber", name=name, value=value)
            if p["type"] == "int" and number != number.to_integral_value():
                raise ApiError("HyperParameterNotWhole", name=name, value=value)
            start = Decimal(0)  # steps count from the range's lower bound, else from 0
            if p["data_range"]:
                start, high = (Decimal(b) for b in p["data_range"])
                if not start <= number <= high:
                    allowed = f"[{start}, {high}]"
                    raise ApiError("HyperParameterOutOfRange", name=name, value=value, allowed=allowed)
            if p["step"] and (number - start) % Decimal(str(p["step"])):
                raise ApiError("HyperParameterOffStep", name=name, value=value, step=p["step"], start=start)
        effective[name] = value
    return effective


def _decimal(value: Any) -> Decimal | None:
    """A JSON number or a numeric string as a finite number; anything else (true too) is None."""
    if type(value) in (int, float, str):
        with contextlib.suppress(InvalidOperation):
            number = Decimal(str(value).strip())
            return number if number.is_finite() else None
    return None


def _same(value: Any, allowed: str) -> bool:
    """An enum value matches by value: 128, 128.0 and "128" are the listed "128"; true is not "true"."""
    number, listed = _decimal(value), _decimal(allowed)
    return number == listed if None not in (number, listed) else value == allowed


def paging(q: dict[str, str]) -> tuple[int, int]:
    page_no = parse_int(q.get("page_no"), 1, "InvalidParameter")
    page_size = parse_int(q.get("page_size"), 10, "InvalidParameter")
    if page_no < 1 or not 1 <= page_size <= 100:
        raise ApiError("InvalidParameter", detail="page_no must be >= 1 and page_size 1 to 100")
    return page_no, page_size


def log_window(q: dict[str, str]) -> tuple[int, int]:
    """The ``offset`` and ``line`` of a log request, checked."""
    offset = parse_int(q.get("offset"), 0, "InvalidParameter")
    line = parse_int(q.get("line"), 100, "InvalidParameter")
    if offset < 0:
        raise ApiError("InvalidParameter", detail="offset must be >= 0")
    if not 1 <= line <= 1000:
        raise ApiError("InvalidParameter", detail="line must be between 1 and 1000")
    return offset, line


def job_body(body: Any) -> dict[str, Any]:
    """The fields of a compression job's create, checked for their shape (the catalogue's checks
    are the service's): model, template_id, job_name, job_description, output_model_suffix,
    custom_calibration_file_ids, hyper_parameters."""
    if body is None:
        raise ApiError("MissingParameter", detail="the request body")
    if not isinstance(body, dict):
        raise ApiError("InvalidParameter", detail="the body must be a JSON object")
    model, template_id = body.get("model"), body.get("template_id")
    if not isinstance(model, str) or not model.strip():
        raise ApiError("MissingModel")
    if not isinstance(template_id, str) or not template_id.strip():
        raise ApiError("MissingTemplateId")
    job_name = body.get("job_name")
    if job_name is not None:
        if not isinstance(job_name, str) or not job_name.strip() or len(job_name) > 50:
            raise ApiError("InvalidParameter", detail="job_name must be 1 to 50 characters")
        if not JOB_NAME_PATTERN.fullmatch(job_name):
            raise ApiError("InvalidJobName")
    description = body.get("job_description")
    if description is not None and (not isinstance(description, str) or len(description) > 200):
        raise ApiError("InvalidParameter", detail="job_description must be at most 200 characters")
    suffix = body.get("output_model_suffix")
    if suffix is not None and (not isinstance(suffix, str) or not SUFFIX_PATTERN.fullmatch(suffix)):
        raise ApiError(
            "InvalidParameter", detail="output_model_suffix must be 1 to 8 lowercase letters or digits"
        )
    files = body.get("custom_calibration_file_ids")
    if files is not None and (
        not isinstance(files, list) or not all(isinstance(f, str) and f.strip() for f in files)
    ):
        raise ApiError("InvalidParameter", detail="custom_calibration_file_ids must be a list of file ids")
    overrides = body.get("hyper_parameters") or {}
    if not isinstance(overrides, dict):
        raise ApiError("InvalidParameter", detail="hyper_parameters must be an object")
    return {
        "model": model,
        "template_id": template_id,
        "job_name": job_name,
        "job_description": description,
        "output_model_suffix": suffix,
        "custom_calibration_file_ids": files,
        "hyper_parameters": overrides,
    }


@dataclasses.dataclass(frozen=True)
class JobQuery:
    """The compression job list's query, checked; times in epoch seconds."""

    page_no: int
    page_size: int
    started_from: float | None
    ended_by: float | None
    order: str
    select_key: str | None
    status: str | None


def job_query(q: dict[str, str]) -> JobQuery:
    page_no = parse_int(q.get("page_no"), 1, "InvalidPageNo")
    if page_no < 1:
        raise ApiError("InvalidPageNo", value=page_no)
    page_size = parse_int(q.get("page_size"), 10, "InvalidPageSize")
    if not 1 <= page_size <= 100:
        raise ApiError("InvalidPageSize", value=page_size)
    start_from = parse_time_filter(q["start_time"], end_of_day=False) if q.get("start_time") else None
    end_by = parse_time_filter(q["end_time"], end_of_day=True) if q.get("end_time") else None
    if q.get("sort_by", "create_time") != "create_time":
        raise ApiError("InvalidParameter", detail="sort_by supports only create_time")
    order = q.get("sort_order", "desc")
    if order not in ("asc", "desc"):
        raise ApiError("InvalidParameter", detail="sort_order must be asc or desc")
    select_key = q.get("select_key") or None
    if select_key not in (None, "job_name", "job_id"):
        raise ApiError("InvalidParameter", detail="select_key must be job_name or job_id")
    status = q.get("status") or None
    if status is not None and status not in (*CANCELLABLE, "CANCELING", *TERMINAL):
        raise ApiError("InvalidParameter", detail=f"unknown status {status}")
    return JobQuery(page_no, page_size, start_from, end_by, order, select_key, status)

"""Client-side checks of the documented rules, run before any request is sent.

Each failure raises CompressValidationError naming the field and the rule. Rules the
documentation does not state (for example which characters a job name may hold) are left to
the API, whose answer is then raised as an API error.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from airflow_provider_compress.exceptions import CompressValidationError
from airflow_provider_compress.models import HyperParameter, Template

JOB_NAME_MAX = 50
JOB_DESCRIPTION_MAX = 200
SUFFIX_PATTERN = re.compile(r"[a-z0-9]{1,8}")
PAGE_SIZE_MAX = 100
LOG_LINES_MAX = 1000
# The shortest wait between polls of a job, deployment or sensor, in seconds: remote jobs take
# minutes to hours, and a smaller interval only spends the API's rate limit (0 polled 880 times
# in 2 s before this floor).
MIN_POLL_INTERVAL = 1.0
API_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
API_DATE_FORMAT = "%Y-%m-%d"
# The service reports and filters times in China Standard Time (both regions): the default of the
# connection extra ``service_timezone``, to which aware time filters are converted.
SERVICE_TZ = dt.timezone(dt.timedelta(hours=8), "UTC+08:00")


def check_max_length(field: str, value: str | None, limit: int) -> None:
    if value is not None and len(value) > limit:
        raise CompressValidationError(field, f"must be at most {limit} characters, got {len(value)}")


def check_required(field: str, value: Any) -> None:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise CompressValidationError(field, "is required and must not be empty")


def check_text(field: str, value: Any, *, required: bool = False, limit: int | None = None) -> None:
    """A string (not blank when given), at most ``limit`` characters; None when not ``required``."""
    if value is None and not required:
        return
    check_required(field, value)
    if not isinstance(value, str):
        raise CompressValidationError(field, "must be a string", value)
    if limit is not None:
        check_max_length(field, value, limit)


def check_suffix(field: str, value: str | None) -> None:
    if value is not None and not (isinstance(value, str) and SUFFIX_PATTERN.fullmatch(value)):
        raise CompressValidationError(
            field, "must be 1 to 8 characters of lowercase letters a-z and digits 0-9", value
        )


def check_resource_id(field: str, value: Any) -> None:
    """An id that goes into a URL path: ``.`` and ``..`` would be read as dot segments (another
    endpoint), an empty one as the collection itself, control characters break the request."""
    check_text(field, value, required=True)
    if value.strip() in (".", ".."):
        raise CompressValidationError(field, "must not be '.' or '..'", value)
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise CompressValidationError(field, "must not contain control characters", value)


def check_poll_interval(field: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= MIN_POLL_INTERVAL:
        raise CompressValidationError(field, f"must be a number of seconds >= {MIN_POLL_INTERVAL:g}", value)


def check_timeout(field: str, value: Any, *, optional: bool = True) -> None:
    """Seconds to wait at most: a positive number (None: no limit, where ``optional``)."""
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        rule = "must be a number of seconds > 0" + (" or None" if optional else "")
        raise CompressValidationError(field, rule, value)


def rendered_int(value: Any) -> Any:
    """A whole number that a template rendered as text (``"4"``) as that number; any other value
    as it is, for the field's own check."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value


def check_int_range(field: str, value: Any, low: int, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise CompressValidationError(field, "must be an integer", value)
    if value < low or (high is not None and value > high):
        rule = f"must be >= {low}" if high is None else f"must be between {low} and {high}"
        raise CompressValidationError(field, rule, value)


def time_filter(field: str, value: Any) -> dt.date | None:
    """Read a time filter: a date, a datetime (pendulum's types subclass both), or an ISO 8601
    string (``YYYY-MM-DD``, ``YYYY-MM-DD HH:MM:SS``, a ``T`` separator, fractions, an offset or
    ``Z``). ``render_time`` writes it in the service's time zone when the request is sent.
    """
    if value is None or isinstance(value, dt.date):  # a datetime is a date too
        return value
    if isinstance(value, str):
        text = value.strip()
        if text[-1:] in ("Z", "z"):  # Python 3.10's fromisoformat does not read it
            text = text[:-1] + "+00:00"
        try:
            return dt.date.fromisoformat(text) if len(text) == 10 else dt.datetime.fromisoformat(text)
        except ValueError:
            pass
    raise CompressValidationError(
        field, "must be a date, a datetime, or an ISO 8601 string 'YYYY-MM-DD[ HH:MM:SS][+08:00]'", value
    )


def render_time(value: dt.date, service_tz: dt.tzinfo) -> str:
    """A time filter as the API reads it: ``YYYY-MM-DD`` or ``YYYY-MM-DD HH:MM:SS`` in the
    service's time zone. An aware datetime is converted; a naive one is taken as already in it.
    """
    if not isinstance(value, dt.datetime):
        return value.strftime(API_DATE_FORMAT)
    if value.tzinfo is not None:
        value = value.astimezone(service_tz)
    return value.strftime(API_TIME_FORMAT)


def parse_timezone(field: str, value: Any) -> dt.tzinfo:
    """``+08:00``, ``UTC+8``, ``UTC``, ``Z`` or an IANA name such as ``Asia/Shanghai``."""
    text = str(value).strip()
    offset = re.fullmatch(r"(?:UTC|GMT)?([+-])(\d{1,2})(?::?(\d{2}))?", text, re.IGNORECASE)
    if offset:
        sign, hours, minutes = offset.groups()
        delta = dt.timedelta(hours=int(hours), minutes=int(minutes or 0))
        if delta < dt.timedelta(hours=24):
            return dt.timezone(-delta if sign == "-" else delta)
    elif text.upper() in ("UTC", "GMT", "Z"):
        return dt.timezone.utc
    elif text:
        import zoneinfo  # only for zone names

        try:
            return zoneinfo.ZoneInfo(text)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    raise CompressValidationError(
        field, "must be an offset such as '+08:00' or a zone name such as 'Asia/Shanghai'", value
    )


def file_ids(field: str, value: Any) -> tuple[str, ...] | None:
    """A list of file ids, read once: an iterator given here is consumed here only."""
    items = _items(field, value, "must be a list of non-empty file id strings")
    if items is not None and not all(isinstance(i, str) and i.strip() for i in items):
        raise CompressValidationError(field, "must be a list of non-empty file id strings", value)
    return items


def datasets(field: str, value: Any) -> tuple[dict[str, Any], ...] | None:
    """A list of dataset objects (``{"data_source_type": "file_id", "file_id": ...}``), read once."""
    items = _items(field, value, "must be a list of dataset objects")
    if items is not None and not all(isinstance(i, Mapping) for i in items):
        raise CompressValidationError(field, "must be a list of dataset objects", value)
    return None if items is None else tuple(dict(i) for i in items)


def _items(field: str, value: Any, rule: str) -> tuple[Any, ...] | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise CompressValidationError(field, rule, value)
    return tuple(value)


def mapping(field: str, value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise CompressValidationError(field, "must be a mapping of name to value", value)
    return dict(value)


def _number(value: Any) -> Decimal | None:
    """``value`` as a finite number (a numeric string too), or None; a bool is not a number."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def same_value(given: Any, other: Any) -> bool:
    """Whether two hyper-parameter values are the same value: numbers by value (``128``,
    ``128.0`` and ``"128"`` are one value), anything else by type and content (``True`` is not
    ``"True"``). Templates list their enum values as strings; answers may echo numbers.
    """
    if isinstance(given, bool) or isinstance(other, bool):
        return type(given) is type(other) and given == other
    numbers = _number(given), _number(other)
    if None not in numbers:
        return numbers[0] == numbers[1]
    return type(given) is type(other) and given == other


def check_hyper_parameters(template: Template, values: Mapping[str, Any] | None) -> None:
    """Check overrides against the template's schema: names, required, enum, range, step, numbers."""
    values = values or {}
    schema = {p.name: p for p in template.hyper_parameters}
    for name in values:
        if name not in schema:
            allowed = ", ".join(sorted(schema)) or "none"
            raise CompressValidationError(
                f"hyper_parameters.{name}",
                f"is not a hyper-parameter of template {template.template_id} (allowed: {allowed})",
            )
    for name, param in schema.items():
        if name in values:
            _check_value(f"hyper_parameters.{name}", param, values[name])
        elif param.required:
            raise CompressValidationError(
                f"hyper_parameters.{name}", f"is required by template {template.template_id}"
            )


_NUMERIC_TYPES = {"int", "integer", "long", "float", "number", "double"}
_INTEGER_TYPES = {"int", "integer", "long"}


def _check_value(field: str, param: HyperParameter, value: Any) -> None:
    if param.support_values:
        if not any(same_value(value, allowed) for allowed in param.support_values):
            raise CompressValidationError(field, f"must be one of {', '.join(param.support_values)}", value)
        return
    kind = (param.type or "").lower()
    if not (param.data_range or param.step or kind in _NUMERIC_TYPES):
        return
    number = _number(value)
    if number is None:
        raise CompressValidationError(field, "must be a number", value)
    if kind in _INTEGER_TYPES and number != number.to_integral_value():
        raise CompressValidationError(field, "must be a whole number", value)
    low = None
    if param.data_range and len(param.data_range) == 2:
        low, high = (_number(bound) for bound in param.data_range)
        if low is not None and high is not None and not low <= number <= high:
            raise CompressValidationError(
                field, f"must be between {param.data_range[0]} and {param.data_range[1]}", value
            )
    step = _number(param.step)
    # Steps count from the range's lower bound (a slider), or from 0 without a range.
    if step is not None and step > 0 and (number - (low or 0)) % step != 0:
        start = f" from {low}" if low else ""
        raise CompressValidationError(field, f"must go in steps of {param.step}{start}", value)


PTU_FIELDS = ("input_tpm", "output_tpm", "thinking_output_tpm")


def ptu_capacity(field: str, value: Any) -> dict[str, int]:
    """Provisioned throughput: ``input_tpm`` and ``output_tpm`` (``thinking_output_tpm`` for some
    models), whole numbers > 0."""
    given = mapping(field, value) or {}
    unknown = sorted(set(given) - set(PTU_FIELDS))
    if unknown:
        raise CompressValidationError(f"{field}.{unknown[0]}", f"is not one of {', '.join(PTU_FIELDS)}")
    for key in PTU_FIELDS[:2]:
        if key not in given:
            raise CompressValidationError(f"{field}.{key}", "is required")
    for key, number in given.items():
        check_int_range(f"{field}.{key}", number, 1)
    return given

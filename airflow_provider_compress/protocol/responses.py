"""Reading the answers: the envelope or the error it stands for, and where paging ends."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_compress.exceptions import CompressApiError, InvalidResponseError, error_for_status

if TYPE_CHECKING:
    from airflow_provider_compress.models import JobLogs
    from airflow_provider_compress.protocol.resources import ResourceKind

# A list walk or a log read asks for at most this many pages: a server that never ends its
# paging (a page number echoed back, a total that is never reached) cannot hold a task forever.
MAX_PAGES = 1000


@dataclasses.dataclass(frozen=True)
class Reply:
    """A successful answer: its ``output`` and the ``request_id`` support asks for."""

    output: Any
    request_id: str | None = None
    status: int = 200


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


def is_state_refusal(error: BaseException) -> bool:
    """An answer refusing a request because of the resource's state: 400 (UnsupportedOperation)
    or 409. Classified by HTTP status, never by the code string."""
    return isinstance(error, CompressApiError) and error.status_code in (400, 409)


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


# --- paging ---------------------------------------------------------------------------------


def next_page_no(asked: int, seen: int, page: Any, items: Sequence[Any]) -> int | None:
    """The page to ask for after page ``asked`` (whose list is ``items``, ``seen`` items so far),
    or None at the end: an empty page, or ``total`` reached. It advances from what was asked, not
    from the page number the answer echoes, and counts items: the API may serve fewer per page
    than asked."""
    if not items or seen >= page.total:
        return None
    return asked + 1


def endless_list(kind: ResourceKind, pages: int) -> InvalidResponseError:
    """A list walk gave up after ``pages`` pages (``MAX_PAGES``, as the caller read it)."""
    return InvalidResponseError(
        200, None, f"the {kind.noun} list did not end within {pages} pages (is its total wrong?)"
    )


@dataclasses.dataclass(frozen=True)
class LogRead:
    """What a log page adds: the lines from the offset asked, where to read next (None at the end
    of the log so far), and how the answer broke the paging contract, if it did."""

    lines: list[str]
    next_offset: int | None
    problem: str | None = None


def read_log_page(offset: int, asked: int, logs: JobLogs) -> LogRead:
    """The new lines of a log page read from ``offset`` (``asked`` lines asked for), checked
    against the log's ``total``, so that a server that ignores the offset, starts before it or
    shrinks its log never makes a line repeat or vanish unsaid.

    More lines than the log has after ``offset`` means the page did not start there: when it
    reached the end of the log (a short page, or the whole log) its last lines are the new ones;
    otherwise it cannot be placed and nothing of it is taken. A page without ``total`` is
    trusted, and is the last one read.
    """
    lines = logs.logs
    if "total" not in logs.to_dict():
        return LogRead(lines, None)
    total = logs.total
    if total < offset:
        return LogRead([], None, f"the log has {total} lines, fewer than the {offset} read before: it shrank")
    new = total - offset
    if len(lines) <= new:
        following = offset + len(lines)
        return LogRead(lines, following if lines and following < total else None)
    if len(lines) < asked or len(lines) == total:
        return LogRead(
            lines[len(lines) - new :] if new else [],
            None,
            f"a page asked from line {offset} did not start there: its last {new} lines were taken",
        )
    return LogRead([], None, f"a page asked from line {offset} did not start there and cannot be placed")

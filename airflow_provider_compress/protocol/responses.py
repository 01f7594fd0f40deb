"""Reading the answers: the envelope or the error it stands for, and where paging ends.

Whatever the body, ``parse_response`` raises nothing but the provider's errors: a body nested
deeper than any real answer is refused before ``json`` recurses into it, and texts taken from it
(message, code, request id) are strings of bounded length.
"""

from __future__ import annotations

import array
import dataclasses
import itertools
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_compress.exceptions import CompressApiError, InvalidResponseError, error_for_status
from airflow_provider_compress.protocol.bodies import header, unreadable

if TYPE_CHECKING:
    from airflow_provider_compress.models import JobLogs

# A list walk or a log read asks for at most this many pages: a server that never ends its
# paging (a page number echoed back, a total that is never reached) cannot hold a task forever.
MAX_PAGES = 1000
# The API's deepest answers (templates, deployable models) nest 10 levels. Deeper than this is
# refused before parsing: json recurses once per level (RecursionError), and so would whatever
# reads the result (an event's serialization in the triggerer).
MAX_DEPTH = 64
TEXT_MAX = 1000  # characters kept of a message, code or request id taken from an answer

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')  # a JSON string, escapes included
# [ and { one level down (1), ] and } one up (0xff, read as -1); every other byte deleted
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[{]}"))


@dataclasses.dataclass(frozen=True)
class Reply:
    """A successful answer: its ``output`` and the ``request_id`` support asks for."""

    output: Any
    request_id: str | None = None
    status: int = 200


def parse_response(status: int, body: bytes, headers: Mapping[str, str]) -> Reply:
    """Return the envelope's ``output`` and ``request_id``, or raise the error the answer stands for.

    A redirect (3xx) is an error naming where it points: the transports never follow one (its
    target would get the request without the key, and a 302 turns a POST into a GET). A success
    whose envelope carries an error ``code`` (a gateway answering 200) is an
    ``InvalidResponseError`` with that code.
    """
    payload, unreadable_because = _load(body)
    envelope = payload if isinstance(payload, dict) else {}
    request_id = _text(envelope.get("request_id")) or _text(header(headers, "x-request-id"))
    if 300 <= status < 400:
        raise error_for_status(status)(status, None, _redirect(header(headers, "location")), request_id)
    if status >= 400:
        raise error_for_status(status)(
            status,
            _text(envelope.get("code")),
            _text(envelope.get("message")) or _snippet(body) or None,
            request_id,
            retry_after=_retry_after(headers),
        )
    if unreadable_because:
        raise unreadable(status, unreadable_because, request_id)
    if envelope.get("code"):
        message = _text(envelope.get("message")) or "a success status with an error code"
        raise InvalidResponseError(status, _text(envelope["code"]), message, request_id)
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


def _load(body: bytes) -> tuple[Any, str | None]:
    """The body's JSON (None if it is not JSON), and why it cannot be read at all, if so."""
    if not body:
        return None, None
    too_deep = f"the answer is nested deeper than {MAX_DEPTH} levels"
    if _depth_over(body, MAX_DEPTH):
        return None, too_deep
    try:
        return json.loads(body), None
    except ValueError:  # not JSON, not UTF-8
        return None, None
    except RecursionError:  # not after the depth check; kept as the last line of defence
        return None, too_deep
    except MemoryError:
        return None, "the answer does not fit in memory"


def _depth_over(body: bytes, most: int) -> bool:
    """Whether the JSON in ``body`` nests deeper than ``most`` levels, counted on the bytes (the
    brackets outside strings) at C speed: no parse, no recursion."""
    if body.count(b"[") + body.count(b"{") <= most:
        return False
    steps = array.array("b", _STRING.sub(b"", body).translate(_STEPS, _NOT_BRACKETS))
    return max(itertools.accumulate(steps), default=0) > most


def _redirect(location: str | None) -> str:
    """What a redirect says, naming only where it points: scheme, host and port (a URL's path,
    query and credentials are left out)."""
    parts = urlsplit(location or "")
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    if not location:
        target = "without a Location"
    elif not parts.hostname:
        target = "to another path of the same host"
    else:
        target = f"to {parts.scheme}://{parts.hostname[:100]}{port}"
    return f"a redirect {target}, which is never followed: check the connection's Base URL"


def _text(value: Any) -> str | None:
    """A text field of an answer as a bounded string (a server may send any JSON there)."""
    if value is None or value == "":
        return None
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:TEXT_MAX]


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = header(headers, "retry-after")
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff
    # nan or inf: our own backoff; any other value is capped by the policy's max_elapsed
    return max(0.0, seconds) if seconds is not None and math.isfinite(seconds) else None


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


def endless_list(noun: str, pages: int) -> InvalidResponseError:
    """A walk of the list of ``noun``s gave up after ``pages`` pages (``MAX_PAGES``, as the
    caller read it)."""
    return InvalidResponseError(
        200, None, f"the {noun} list did not end within {pages} pages (is its total wrong?)"
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

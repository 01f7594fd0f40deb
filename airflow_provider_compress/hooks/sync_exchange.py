"""One try of a request by the sync transport (requests), its I/O only: the hook builds the request
and reads the answer with ``protocol``.

The connection's timeout is a total for the whole exchange (connect, headers, body), as on the
async side: requests' own timeout bounds each read, so a server that trickles its answer a byte at
a time would hold the task for as long as it likes. So the request is sent and its body read in a
thread of its own, counted as it comes (``protocol.BodyReader``); given up at the deadline, that
thread stops reading and its socket is shut down.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_compress import protocol
from airflow_provider_compress.exceptions import CompressConnectionError, CompressError
from airflow_provider_compress.protocol import ApiRequest, ClientSettings

if TYPE_CHECKING:
    import requests


class GivenUp(Exception):
    """No complete answer within the connection's timeout."""


def exchange(
    session: requests.Session, settings: ClientSettings, request: ApiRequest
) -> tuple[int, Mapping[str, str], bytes]:
    """Send ``request`` and return the answer's status, headers and body (decompressed); raise
    ``GivenUp``, or the provider's errors for a request not built or not answered."""
    import requests

    outcome: list[Any] = []
    opened: list[requests.Response] = []
    given_up = threading.Event()

    def send() -> None:
        try:
            response = session.request(
                request.method,
                settings.url(request),
                params=settings.params(request),
                json=request.body,
                data=request.form,  # with files: a multipart upload
                files=request.files,
                timeout=settings.timeout,
                # per request: a session-level CA file loses to REQUESTS_CA_BUNDLE
                verify=settings.ca_bundle or True,
                allow_redirects=False,  # a redirect is an error (protocol.parse_response)
                stream=True,  # the body is read below, counted
            )
            opened.append(response)
            with response:  # an answer not read to its end drops its connection
                body = _read_body(response, settings.max_response_bytes, given_up)
                outcome.append((response.status_code, response.headers, body))
        except BaseException as err:  # raised in the caller's thread below
            outcome.append(err)

    worker = threading.Thread(target=send, name="dashscope-request", daemon=True)
    worker.start()
    worker.join(settings.timeout)
    if not outcome:
        # The thread stops at its next chunk, or now if it is waiting for one.
        given_up.set()
        for response in opened:
            _shut_down(response)
        raise GivenUp(f"{request.method} {request.path}: no complete answer within {settings.timeout:g} s")
    result = outcome[0]
    if isinstance(result, (ValueError, TypeError, requests.exceptions.InvalidJSONError)):
        raise protocol.request_not_built(request, result) from None
    if isinstance(result, requests.RequestException):
        raise CompressConnectionError(
            f"{request.method} {request.path}: {type(result).__name__}: {result}",
            request_sent=not _never_sent(result),
            retryable=not isinstance(result, requests.exceptions.SSLError),
        ) from None
    if isinstance(result, MemoryError):
        status = opened[0].status_code if opened else 200
        raise protocol.unreadable(status, "the answer does not fit in memory") from None
    if isinstance(result, BaseException):
        raise result
    return result


def _read_body(response: requests.Response, limit: int, given_up: threading.Event) -> bytes:
    """The body of ``response``, decompressed and counted by ``protocol.BodyReader`` as it comes."""
    import requests

    reader = protocol.BodyReader(response.status_code, response.headers, limit)
    if given_up.is_set():  # while the headers came
        return b""
    try:
        for chunk in response.raw.stream(protocol.CHUNK, decode_content=False):
            if given_up.is_set() or not reader.feed(chunk):
                break
    except (CompressError, MemoryError):
        raise
    except Exception as err:  # urllib3's and http.client's errors, which requests wraps elsewhere
        raise requests.ConnectionError(f"{type(err).__name__}: {err}") from None
    return reader.body()


def _shut_down(response: requests.Response) -> None:
    """Wake the thread blocked reading ``response``: shut its socket down (closing the socket
    from another thread would leave the read waiting for its own timeout)."""
    sock = getattr(getattr(response.raw, "connection", None), "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _never_sent(err: BaseException) -> bool:
    """True when the connection failed before the request left (refused, DNS, connect timeout)."""
    import requests

    if isinstance(err, requests.ConnectTimeout):
        return True
    if isinstance(err, requests.ConnectionError):
        reason = getattr(err.args[0], "reason", None) if err.args else None
        return type(reason).__name__ in {"NewConnectionError", "NameResolutionError"}
    return False

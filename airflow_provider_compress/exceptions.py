"""Errors raised by the compression client.

API errors are classified by HTTP status only: the service's code strings are informative
(several were never documented), so nothing here branches on them.
"""

from __future__ import annotations


class CompressError(Exception):
    """Base class of every error this provider raises."""

    # How many tries of the request were made before this was raised (the hooks' retry loops set
    # it: a create that failed on a retry looks for what its lost first try made).
    attempts: int = 1


class CompressValidationError(CompressError, ValueError):
    """Bad input detected locally, before any request was sent."""

    def __init__(self, field: str, rule: str, value: object = None) -> None:
        self.field = field
        self.rule = rule
        self.value = value
        shown = "" if value is None else f" (got {value!r})"
        super().__init__(f"{field}: {rule}{shown}")


class CompressConnectionError(CompressError):
    """The request did not get an HTTP answer: refused, reset or timed out.

    ``request_sent`` is False only when the connection failed before anything was sent, so the
    server cannot have acted on it (safe to retry even a create). ``retryable`` is False for what
    trying again cannot mend: a certificate that does not verify.
    """

    def __init__(self, message: str, *, request_sent: bool = True, retryable: bool = True) -> None:
        self.request_sent = request_sent
        self.retryable = retryable
        super().__init__(message)


class NameTakenError(CompressError):
    """A create met a resource of the same name that was made with other arguments: it is not
    adopted (its output would not be what was asked). ``differences`` says how it differs."""

    def __init__(self, noun: str, resource_id: str, name: str, differences: list) -> None:
        self.resource_id = resource_id
        self.name = name
        self.differences = differences
        super().__init__(
            f"{noun} {resource_id} named {name!r} exists but was made otherwise: "
            + "; ".join(str(d) for d in differences)
        )


class CompressApiError(CompressError):
    """The API answered with an error."""

    def __init__(
        self,
        status_code: int,
        code: str | None = None,
        message: str | None = None,
        request_id: str | None = None,
        *,
        retry_after: float | None = None,
    ) -> None:
        self.status_code = status_code
        self.code = code
        self.message = message
        self.request_id = request_id
        self.retry_after = retry_after
        super().__init__(str(self))

    def __str__(self) -> str:
        return (
            f"HTTP {self.status_code} {self.code or '-'}: {self.message or '(no message)'} "
            f"[request_id={self.request_id or '-'}]"
        )

    def __reduce__(self):  # keep the fields when pickled (XCom, multiprocessing)
        return (
            _rebuild_api_error,
            (type(self), self.status_code, self.code, self.message, self.request_id, self.retry_after),
        )


def _rebuild_api_error(cls, status_code, code, message, request_id, retry_after):
    return cls(status_code, code, message, request_id, retry_after=retry_after)


class BadRequestError(CompressApiError):
    """HTTP 400: invalid parameter, or the job's state does not allow the operation."""


class AuthenticationError(CompressApiError):
    """HTTP 401: the API key is missing or wrong."""


class PermissionDeniedError(CompressApiError):
    """HTTP 403: no access to the resource (workspace, template)."""


class NotFoundError(CompressApiError):
    """HTTP 404: the job or resource does not exist."""


class RateLimitError(CompressApiError):
    """HTTP 429: quota exceeded; ``retry_after`` carries the server's hint in seconds."""


class ServerError(CompressApiError):
    """HTTP 5xx: the service failed."""


class InvalidResponseError(CompressApiError):
    """A success status with a body that is not the documented JSON envelope (truncated, not JSON)."""


class FileUploadError(CompressApiError):
    """The API took an upload but refused the file (its ``failed_uploads``: too large, too many
    files); ``status_code`` is the answer's (200), ``code`` and ``message`` the refusal's."""


_BY_STATUS: dict[int, type[CompressApiError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitError,
}


def error_for_status(status_code: int) -> type[CompressApiError]:
    """The exception class for an HTTP error status."""
    if status_code >= 500:
        return ServerError
    return _BY_STATUS.get(status_code, CompressApiError)

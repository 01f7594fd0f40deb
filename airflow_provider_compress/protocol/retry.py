"""When to try a request again: one rule, given to tenacity by the sync hook and run by the async
hook's own loop."""

from __future__ import annotations

import dataclasses
import logging
import random
from typing import TYPE_CHECKING, Any

from airflow_provider_compress.exceptions import (
    CompressConnectionError,
    CompressError,
    InvalidResponseError,
    RateLimitError,
    ServerError,
)

if TYPE_CHECKING:
    from airflow_provider_compress.protocol.endpoints import ApiRequest


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


def may_retry(error: BaseException, request: ApiRequest) -> bool:
    """Whether to try ``request`` again after ``error``.

    A 429 or a connection that never sent anything cannot have changed state on the server.
    Other transient failures leave the outcome unknown, so only idempotent requests repeat; what
    another try cannot mend (``retryable`` False) is never repeated.
    """
    if isinstance(error, RateLimitError):
        return True
    if isinstance(error, (CompressConnectionError, InvalidResponseError)) and not error.retryable:
        return False  # a certificate that does not verify, an answer too large or too deep
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

    The rule the sync hook gives tenacity (``hooks.base``), as one function for the async hook's
    own loop (tenacity's ``AsyncRetrying`` cost a third of a trigger's CPU per poll: benchmarks/).
    """
    if attempt >= policy.attempts or not may_retry(error, request):
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


def rides_out(error: BaseException) -> bool:
    """Whether a wait rides ``error`` out (for the connection's outage budget) rather than ending:
    the service, or the way to it, is down, overloaded or answering garbage, which says nothing
    of the resource. A 401, a 403 or a certificate that does not verify end the wait at once."""
    if isinstance(error, CompressConnectionError):
        return error.retryable
    return isinstance(error, (ServerError, RateLimitError, InvalidResponseError))


@dataclasses.dataclass
class OutageClock:
    """Failed polls in a row, ridden out until they have lasted ``budget`` seconds (not a count:
    a slow and a fast poll interval tolerate the same outage)."""

    budget: float
    since: float | None = None  # time of the first failure in a row
    failures: int = 0

    def failed(self, now: float) -> bool:
        """Count a failure at ``now``; True once the failures in a row have lasted the budget."""
        if self.since is None:
            self.since = now
        self.failures += 1
        return now - self.since >= self.budget

    def recovered(self) -> None:
        self.since, self.failures = None, 0

    def lasted(self, now: float) -> float:
        return 0.0 if self.since is None else now - self.since


def note_attempts(error: CompressError, attempts: int) -> None:
    """Record on the raised error how many tries were made (a create uses it to recover)."""
    error.attempts = attempts


def attempts_of(error: BaseException) -> int:
    return getattr(error, "attempts", 1)

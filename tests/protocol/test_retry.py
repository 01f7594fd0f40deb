"""The retry rule: the backoff, the delay the async hook waits, which errors are tried again."""

from __future__ import annotations

import pytest

from airflow_provider_compress import protocol
from airflow_provider_compress.exceptions import (
    AuthenticationError,
    BadRequestError,
    CompressConnectionError,
    InvalidResponseError,
    NotFoundError,
    RateLimitError,
    ServerError,
)
from airflow_provider_compress.protocol import COMPRESS
from airflow_provider_compress.specs import CompressJobSpec


def test_wait_grows_is_bounded_and_honours_retry_after():
    policy = protocol.RetryPolicy(attempts=8, initial_delay=1, max_delay=8, max_elapsed=60)
    ceilings = [policy.wait_seconds(n, rand=1.0) for n in range(1, 7)]
    assert ceilings == [1, 2, 4, 8, 8, 8]
    assert policy.wait_seconds(3, rand=0.0) == 2  # jitter keeps at least half the ceiling
    assert policy.wait_seconds(1, retry_after=20, rand=0.0) == 20
    assert policy.wait_seconds(1, retry_after=600, rand=0.0) == 60  # never beyond the total budget


def test_retry_delay_is_the_async_retry_rule():
    policy = protocol.RetryPolicy(attempts=3, initial_delay=1, max_delay=8, max_elapsed=10)
    get = protocol.get_resource(COMPRESS, "j").request
    assert 0.5 <= protocol.retry_delay(policy, get, ServerError(503), 1, 0.0) <= 1
    assert protocol.retry_delay(policy, get, ServerError(503), 3, 0.0) is None  # the attempt limit
    assert protocol.retry_delay(policy, get, ServerError(503), 1, 9.9) is None  # the time budget
    assert protocol.retry_delay(policy, get, BadRequestError(400), 1, 0.0) is None  # not transient
    assert protocol.retry_delay(policy, get, RateLimitError(429, retry_after=4), 1, 0.0) == 4


@pytest.mark.parametrize(
    ("error", "named_create", "plain_get"),
    [
        (RateLimitError(429), True, True),
        (CompressConnectionError("refused", request_sent=False), True, True),
        (ServerError(503), True, True),
        (CompressConnectionError("reset"), True, True),
        (InvalidResponseError(200), True, True),
        (BadRequestError(400), False, False),
        (NotFoundError(404), False, False),
        (AuthenticationError(401), False, False),
    ],
)
def test_what_may_be_retried(error, named_create, plain_get):
    named = CompressJobSpec(model="m", template_id="t", job_name="n").call().request
    unnamed = CompressJobSpec(model="m", template_id="t").call().request
    assert protocol.may_retry(error, named) is named_create
    assert protocol.may_retry(error, protocol.get_resource(COMPRESS, "j").request) is plain_get
    # an unnamed create repeats only what cannot have created a job
    expected_unnamed = isinstance(error, RateLimitError) or (
        isinstance(error, CompressConnectionError) and not error.request_sent
    )
    assert protocol.may_retry(error, unnamed) is expected_unnamed

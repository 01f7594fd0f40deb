"""A create the API refuses with 429: too many requests, or more active jobs than the account's
quota allows ("Too many fine-tune job in running").

The hooks already send a refused create again, as the server's Retry-After asks, within the
connection's retry budget (``retry_limit``, ``retry_max_elapsed``: 8 tries, 5 minutes). Past that
the task fails, saying to run such tasks in an Airflow pool sized to the quota, instead of
waiting on: a create runs in a worker slot (also for a deferrable task, which defers only once
its work exists), so tasks waiting for a free job slot would hold worker slots for as long as
other jobs run (hours), in no particular order; a pool queues them in Airflow, by priority,
without a slot, and shows them waiting in the UI. Why: docs/operations.md#concurrency.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from airflow.sdk.exceptions import AirflowException

from airflow_provider_compress import metrics
from airflow_provider_compress.exceptions import RateLimitError
from airflow_provider_compress.protocol import ResourceKind, attempts_of

POOL_DOCS = "docs/operations.md#concurrency"


@contextlib.contextmanager
def refusals(kind: ResourceKind, name: str | None) -> Iterator[None]:
    """Around a create: a 429 that outlasted the hook's retries fails the task with the advice."""
    try:
        yield
    except RateLimitError as err:
        raise create_refused(kind, name, err) from err


def create_refused(kind: ResourceKind, name: str | None, err: RateLimitError) -> AirflowException:
    """The error a task fails with when the API refused its create with 429 after the retries."""
    metrics.create_throttled(kind)
    return AirflowException(
        f"The API refused to create {kind.noun} {name!r} with HTTP 429 after {attempts_of(err)} tries: "
        f"{err}. Nothing was created. 429 means too many requests, or more active jobs than the "
        f"account's quota allows (shared by every DAG and the console). Run the tasks that create "
        f"{kind.noun}s in an Airflow pool with as many slots as the quota, so that Airflow queues "
        f"the others instead of the API refusing them ({POOL_DOCS}); the task's retries try again"
    )

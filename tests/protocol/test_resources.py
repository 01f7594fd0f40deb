"""The resource kinds: the one source of what a resource's states mean (outcomes, stoppable,
stopping), and ``describe``."""

from __future__ import annotations

import itertools
import json

import pytest

from airflow_provider_compress import protocol
from airflow_provider_compress.exceptions import BadRequestError, NotFoundError, ServerError
from airflow_provider_compress.models import Deployment, FineTuneJob, Job, JobStatus
from airflow_provider_compress.protocol import COMPRESS, DEPLOYMENT, FINE_TUNE, Outcome, describe

KINDS = (COMPRESS, FINE_TUNE, DEPLOYMENT)


@pytest.mark.parametrize(
    ("kind", "status", "outcome"),
    [
        (COMPRESS, "SUCCEEDED", Outcome.SUCCEEDED),
        (COMPRESS, "FAILED", Outcome.FAILED),
        (COMPRESS, "CANCELED", Outcome.STOPPED),
        (COMPRESS, "CANCELING", None),
        (COMPRESS, "ARCHIVED", None),  # unknown: polled on
        (FINE_TUNE, "CANCELED", Outcome.STOPPED),
        (DEPLOYMENT, "RUNNING", Outcome.SUCCEEDED),
        (DEPLOYMENT, "UPDATING_FAILED", Outcome.FAILED),
        (DEPLOYMENT, "ARREARS_DOWN", Outcome.STOPPED),
        (DEPLOYMENT, "DELETING", Outcome.STOPPED),
        (DEPLOYMENT, "DEPLOYING", None),
    ],
)
def test_each_end_state_has_one_outcome(kind, status, outcome):
    assert kind.outcome(status) is outcome
    assert kind.is_terminal(status) is (outcome is not None)


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.noun)
def test_the_state_sets_of_a_kind_do_not_overlap(kind):
    ends = (kind.succeeded, kind.failed, kind.stopped)
    assert all(a.isdisjoint(b) for a, b in itertools.combinations(ends, 2))
    assert kind.ended.isdisjoint(kind.stopping) and kind.ended <= set().union(*ends)
    assert set().union(*ends, kind.ended, kind.stopping) <= kind.statuses
    # a stop goes out in every state not over and not already stopping, an unknown one included
    assert kind.needs_stop("HIBERNATING") and not any(kind.needs_stop(s) for s in kind.stopping)


def test_the_kind_says_which_job_states_end_a_wait():
    """The models know no states of their own: ``COMPRESS.is_terminal`` is the one answer."""
    ended = {s for s in JobStatus if COMPRESS.is_terminal(s)}
    assert ended == {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED}
    assert COMPRESS.is_terminal(Job.from_api({"status": "CANCELED"}).status)
    assert not hasattr(Job, "is_terminal") and not hasattr(JobStatus, "is_terminal")


def test_outcomes_are_plain_strings():
    assert json.loads(json.dumps({"outcome": Outcome.FAILED})) == {"outcome": "failed"}
    assert str(Outcome.STOPPED) == "stopped" and Outcome("succeeded") is Outcome.SUCCEEDED


def test_describe_gives_the_output_the_error_or_the_end():
    succeeded = Job.from_api({"job_id": "q-1", "status": "SUCCEEDED", "quantized_output": "m-q-1"})
    assert describe(COMPRESS, succeeded) == "compression job q-1 reached SUCCEEDED: m-q-1"
    failed = FineTuneJob.from_api({"job_id": "ft-1", "status": "FAILED", "code": "Bad", "message": "no data"})
    assert describe(FINE_TUNE, failed) == "fine-tune job ft-1 failed: Bad: no data"
    job_failed = Job.from_api({"job_id": "q-2", "status": "FAILED", "error": {"code": "C", "message": "m"}})
    assert describe(COMPRESS, job_failed) == "compression job q-2 failed: C: m"
    stopped = Deployment.from_api({"deployed_model": "d-1", "status": "ARREARS_DOWN"})
    assert describe(DEPLOYMENT, stopped) == "deployment d-1 ended ARREARS_DOWN"
    unexplained = Deployment.from_api({"deployed_model": "d-2", "status": "UPDATING_FAILED"})
    assert describe(DEPLOYMENT, unexplained) == "deployment d-2 failed: -: no error details"


def test_a_name_is_matched_exactly_and_filtered_where_the_api_can():
    jobs = [Job.from_api({"job_id": str(i), "job_name": name}) for i, name in enumerate(["n-1", "n", "n-g2"])]
    assert COMPRESS.named_exactly(jobs, "n").job_id == "1" and COMPRESS.named_exactly(jobs, "x") is None
    assert COMPRESS.name_query("n") == {"job_name": "n"} and DEPLOYMENT.name_query("n") == {}


# --- a refused stop (the decision both transports' stop_resource take)


@pytest.mark.parametrize(
    ("error", "attempts", "recheck"),
    [
        (BadRequestError(400, "UnsupportedOperation", "already canceling"), 2, True),
        (NotFoundError(404, "NotFound", "already deleted"), 3, True),
        (BadRequestError(400, "UnsupportedOperation", "job ended"), 1, False),  # a first try's refusal stands
        (NotFoundError(404, "NotFound", "no such job"), 1, False),
        (ServerError(503, None, "busy"), 2, False),  # not a refusal
    ],
)
def test_only_a_retried_stops_refusal_is_checked_against_the_resource(error, attempts, recheck):
    protocol.note_attempts(error, attempts)
    assert protocol.recheck_refused_stop(error) is recheck


@pytest.mark.parametrize(
    ("kind", "status", "took_effect"),
    [
        (COMPRESS, protocol.GONE, True),
        (COMPRESS, "CANCELING", True),
        (COMPRESS, "CANCELED", True),
        (COMPRESS, "SUCCEEDED", True),  # over: nothing left to stop
        (COMPRESS, "RUNNING", False),
        (COMPRESS, "ARCHIVED", False),  # unknown: may be billing
        (COMPRESS, None, False),  # an answer without a status
        (DEPLOYMENT, protocol.GONE, True),
        (DEPLOYMENT, "DELETING", True),
        (DEPLOYMENT, "DEPLOYING", False),
        (DEPLOYMENT, "RUNNING", False),  # settled, not over: it bills until it is deleted
        (DEPLOYMENT, "FAILED", False),
    ],
)
def test_a_stop_took_effect_when_the_resource_is_gone_stopping_or_over(kind, status, took_effect):
    assert protocol.stop_took_effect(kind, status) is took_effect

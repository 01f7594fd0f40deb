"""The resource kinds: compression jobs, fine-tune jobs and deployments, as the shared machinery
(hooks, triggers, operators) sees them. A kind is the one source of what its states mean: which
end a wait and how (``Outcome``), which may be stopped, which are on their way to a stop.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable
from typing import Any, Final

from airflow_provider_compress.exceptions import BadRequestError, NotFoundError
from airflow_provider_compress.models import (
    ApiModel,
    Deployment,
    DeploymentPage,
    DeploymentStatus,
    FineTuneJob,
    FineTunePage,
    Job,
    JobPage,
    JobStatus,
)
from airflow_provider_compress.protocol.retry import attempts_of


class Outcome(str, enum.Enum):
    """How a wait for a resource ended. The values are plain strings (events stay plain JSON)."""

    SUCCEEDED = "succeeded"  # it reached the state the wait was for
    FAILED = "failed"  # it failed, with the API's error code and message
    STOPPED = "stopped"  # it ended otherwise: cancelled, deleted, stopped, in arrears

    def __str__(self) -> str:
        return self.value


@dataclasses.dataclass(frozen=True)
class ResourceKind:
    """What the shared machinery needs to know about a resource that is created, then polled until
    it settles. Adding a resource means adding one of these, not copying the machinery.
    """

    noun: str  # for messages: "compression job"
    collection: str  # path of the collection under /api/v1
    model: type[ApiModel]
    page: type[ApiModel]
    items_field: str  # the page's list: "jobs" or "deployments"
    id_field: str
    name_field: str  # the caller-chosen name used to find an earlier try's resource
    name_filter: str | None  # list query parameter that (fuzzily) filters by name, if any
    output_field: str  # what the wait produces: the output model, or the deployed service
    succeeded: frozenset[str]  # states that end a wait successfully
    failed: frozenset[str]  # states that end a wait in failure, with an error
    stopped: frozenset[str]  # states that end a wait otherwise (a stop, an outside event)
    not_started: frozenset[str]  # states in which a poll does not read logs yet
    ended: frozenset[str]  # states in which there is nothing left to stop: the work is over
    stopping: frozenset[str]  # on its way to a stop: never worth reattaching to
    stop_by_delete: bool  # stop = DELETE the resource (deployments) instead of POST .../cancel
    has_logs: bool
    statuses: frozenset[str]  # the documented states; any other is polled on, with a warning

    def outcome(self, status: object) -> Outcome | None:
        """How a wait ends in ``status``; None while it is still on its way (unknown states included)."""
        if status in self.succeeded:
            return Outcome.SUCCEEDED
        if status in self.failed:
            return Outcome.FAILED
        if status in self.stopped:
            return Outcome.STOPPED
        return None

    def is_terminal(self, status: object) -> bool:
        return self.outcome(status) is not None

    def needs_stop(self, status: object) -> bool:
        """Whether stopping the work means sending the cancel or the delete: in every state not
        known to be over or already stopping, an unknown one included (a status the provider does
        not know may be billing, and billing stops only on the stop)."""
        return status not in self.ended and status not in self.stopping

    def is_known(self, status: object) -> bool:
        """A documented state; an answer without a status is not one (it is polled on, warned)."""
        return status in self.statuses

    def unknown_status_message(self, resource_id: str, status: object) -> str:
        shown = "has no status" if status is None else f"is in status {status!r}"
        return f"{self.noun} {resource_id} {shown}, which the provider does not know: polling on"

    @property
    def stop_verb(self) -> str:
        return "deleted" if self.stop_by_delete else "cancelled"

    def resource_id(self, resource: ApiModel) -> str:
        return str(getattr(resource, self.id_field))

    def output(self, resource: ApiModel) -> str | None:
        return getattr(resource, self.output_field, None)

    def items(self, page: ApiModel) -> list[Any]:
        return list(getattr(page, self.items_field))

    def name_query(self, name: str) -> dict[str, str]:
        """The list filter that narrows a listing to names like ``name`` (none if the API has none)."""
        return {self.name_filter: name} if self.name_filter else {}

    def named_exactly(self, items: Iterable[Any], name: str) -> Any:
        """The API's name filters are fuzzy (or absent): the item named exactly ``name``, or None."""
        return next((item for item in items if getattr(item, self.name_field, None) == name), None)


COMPRESS_PATH = "/fine-tunes/compress"  # the compression API's root under /api/v1
_JOB_SUCCEEDED = frozenset({JobStatus.SUCCEEDED})
_JOB_FAILED = frozenset({JobStatus.FAILED})
_JOB_STOPPED = frozenset({JobStatus.CANCELED})

COMPRESS = ResourceKind(
    noun="compression job",
    collection=f"{COMPRESS_PATH}/jobs",
    model=Job,
    page=JobPage,
    items_field="jobs",
    id_field="job_id",
    name_field="job_name",
    name_filter="job_name",
    output_field="quantized_output",
    succeeded=_JOB_SUCCEEDED,
    failed=_JOB_FAILED,
    stopped=_JOB_STOPPED,
    not_started=frozenset({JobStatus.PENDING, JobStatus.QUEUING}),
    ended=_JOB_SUCCEEDED | _JOB_FAILED | _JOB_STOPPED,  # a job that ended: nothing left to cancel
    stopping=frozenset({JobStatus.CANCELING}),
    stop_by_delete=False,
    has_logs=True,
    statuses=frozenset(JobStatus),
)
# Fine-tune jobs live and behave like compression jobs; the list has no name filter.
FINE_TUNE = dataclasses.replace(
    COMPRESS,
    noun="fine-tune job",
    collection="/fine-tunes",
    model=FineTuneJob,
    page=FineTunePage,
    name_filter=None,
    output_field="finetuned_output",
)
DEPLOYMENT = ResourceKind(
    noun="deployment",
    collection="/deployments",
    model=Deployment,
    page=DeploymentPage,
    items_field="deployments",
    id_field="deployed_model",
    name_field="name",
    name_filter=None,
    output_field="deployed_model",
    succeeded=frozenset({DeploymentStatus.RUNNING}),
    failed=frozenset({DeploymentStatus.FAILED, DeploymentStatus.UPDATING_FAILED}),
    stopped=frozenset(
        {
            DeploymentStatus.STOPPED,
            DeploymentStatus.ARREARS_DOWN,
            DeploymentStatus.DELETING,  # someone deleted it: it will never serve
            DeploymentStatus.OFFLINING,
        }
    ),
    not_started=frozenset(),
    # A deployment exists (and may bill) in every state until it is deleted: a failed or stopped
    # one is deleted too, which also frees its name.
    ended=frozenset(),
    stopping=frozenset({DeploymentStatus.DELETING, DeploymentStatus.OFFLINING}),
    stop_by_delete=True,
    has_logs=False,
    statuses=frozenset(DeploymentStatus),
)


# Deployment states that last until something changes them. Any other one (PENDING, DEPLOYING,
# UPDATING, SCALING, ... and one the provider does not know) is on its way to another.
DEPLOYMENT_SETTLED = frozenset(
    {
        DeploymentStatus.RUNNING,
        DeploymentStatus.FAILED,
        DeploymentStatus.UPDATING_FAILED,
        DeploymentStatus.STOPPED,
        DeploymentStatus.ARREARS_DOWN,
    }
)


def deployment_in_transition(status: object) -> bool:
    """Whether a deployment is changing state (not settled, not going away): a request its state
    refused may pass once it settles."""
    return status not in DEPLOYMENT_SETTLED and status not in DEPLOYMENT.stopping


def after_refused_delete(status: object) -> str:
    """What a delete refused for the deployment's state means, given its status now: "deleting"
    (a delete is under way already), "retry" (it is changing state: send the delete again once it
    settles), or "fail" (it is settled: the same delete would be refused again)."""
    if status in DEPLOYMENT.stopping:
        return "deleting"
    return "retry" if deployment_in_transition(status) else "fail"


GONE: Final = object()  # the status of a resource the API no longer knows (404)


def recheck_refused_stop(error: BaseException) -> bool:
    """Whether a cancel or delete refused with ``error`` calls for reading the resource: a retry's
    refusal (400 "already canceling", 404 "already deleted") may answer a first try that worked
    but whose answer was lost. A first try's refusal stands."""
    return isinstance(error, (BadRequestError, NotFoundError)) and attempts_of(error) >= 2


def stop_took_effect(kind: ResourceKind, status: object) -> bool:
    """Whether a resource read after such a refusal (``status``, or ``GONE``) shows the stop done:
    gone, on its way to a stop, or over (a settled deployment is not: it bills until deleted)."""
    return status is GONE or not kind.needs_stop(status)


def describe(kind: ResourceKind, resource: Any) -> str:
    """One line on how a resource ended, with the API's error code and message when it failed."""
    name = f"{kind.noun} {kind.resource_id(resource)}"
    status = getattr(resource, "status", None)
    outcome = kind.outcome(status)
    if outcome is Outcome.SUCCEEDED:
        return f"{name} reached {status}: {kind.output(resource)}"
    if outcome is Outcome.FAILED:
        error = getattr(resource, "error", None)
        code = getattr(error, "code", None) or getattr(resource, "code", None)
        message = getattr(error, "message", None) or getattr(resource, "message", None)
        return f"{name} failed: {code or '-'}: {message or 'no error details'}"
    return f"{name} ended {status}"

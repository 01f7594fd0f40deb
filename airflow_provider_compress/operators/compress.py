"""Operators that create, cancel and delete compression jobs."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

from airflow_provider_compress import _compat, protocol
from airflow_provider_compress.exceptions import (
    CompressConnectionError,
    CompressError,
    InvalidResponseError,
    ServerError,
)
from airflow_provider_compress.hooks.compress import CompressHook
from airflow_provider_compress.links.compress import CompressJobLink
from airflow_provider_compress.models import Job, JobStatus
from airflow_provider_compress.triggers.compress import CompressJobTrigger, describe
from airflow_provider_compress.validation import JOB_NAME_MAX

if TYPE_CHECKING:
    from airflow.sdk import Context

IfJobExists = Literal["reattach", "fail", "create_new"]
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_GENERATION = re.compile(r"-g(\d+)$")
_DIGEST_LEN = 10
_GENERATION_ROOM = 4  # "-g99"


def derive_job_name(dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> str:
    """A job name that is the same for every try of one task instance, and unique across them.

    Readable dag and task ids first, then a digest of the full identity (dag, run, task, map
    index); within the API's 50 characters, leaving room for a generation suffix ``-gN``.
    """
    digest = hashlib.sha256(f"{dag_id}\0{run_id}\0{task_id}\0{map_index}".encode()).hexdigest()[:_DIGEST_LEN]
    readable = _UNSAFE.sub("-", f"{dag_id}.{task_id}").strip("-.") or "airflow"
    room = JOB_NAME_MAX - _GENERATION_ROOM - _DIGEST_LEN - 1
    return f"{readable[:room]}-{digest}"


def generation_name(base: str, generation: int) -> str:
    return base if generation <= 1 else f"{base}-g{generation}"


def latest_generation(jobs: Sequence[Job], base: str) -> tuple[int, Job | None]:
    """Among jobs named ``base`` or ``base-gN``, the highest generation and its job (0, None if none)."""
    best: tuple[int, Job | None] = (0, None)
    for job in jobs:
        name = job.job_name or ""
        if name == base:
            generation = 1
        elif name.startswith(base) and (match := _GENERATION.fullmatch(name[len(base) :])):
            generation = int(match.group(1))
        else:
            continue
        if generation > best[0]:
            best = (generation, job)
    return best


def plan_create(
    base: str, generation: int, existing: Job | None, if_job_exists: IfJobExists
) -> tuple[Job | None, str]:
    """Decide between reattaching to ``existing`` and creating: returns (job to reattach, name to create)."""
    if existing is None:
        return None, generation_name(base, generation + 1)
    if if_job_exists == "fail":
        raise AirflowException(
            f"Compression job {existing.job_name!r} already exists ({existing.job_id}, {existing.status}) "
            "and if_job_exists='fail'"
        )
    if if_job_exists == "reattach" and existing.status not in (JobStatus.FAILED, JobStatus.CANCELED):
        return existing, ""
    return None, generation_name(base, generation + 1)


class _JobWaiting:
    """Worker-side waiting shared by the create operator and the sensor's poke mode."""

    dashscope_conn_id: str

    @cached_property
    def hook(self) -> CompressHook:
        return CompressHook(dashscope_conn_id=self.dashscope_conn_id)

    def forward_logs_from(self, job_id: str, offset: int) -> int:
        """Write the job's log lines from ``offset`` to the task log; return the new offset."""
        for line in self.hook.iter_logs(job_id, offset=offset):
            offset += 1
            self.log.info("%s", protocol.remote_log_line(job_id, offset, line))  # type: ignore[attr-defined]
        return offset


def fail_unless_succeeded(job: Job) -> None:
    if job.status != JobStatus.SUCCEEDED:
        raise AirflowException(f"Compression {describe(job)}")


class CreateCompressJobOperator(_JobWaiting, BaseOperator):
    """Create a compression job and, by default, wait for it, forwarding its log to the task log.

    Returns the compressed model id (``quantized_output``) when it waited, the job id otherwise; the
    job id is pushed to XCom (key ``job_id``) as soon as the job exists.

    :param model: custom fine-tuned model to compress.
    :param template_id: compression template (see ``CompressHook.list_templates``).
    :param job_name: unique job name; by default derived from dag, run, task and map index, so
        that a retry finds the job of the earlier try instead of paying for a second one.
    :param job_description: free text, at most 200 characters.
    :param hyper_parameters: overrides of the template's hyper-parameters.
    :param custom_calibration_file_ids: calibration dataset file ids.
    :param output_model_suffix: 1 to 8 of a-z0-9, part of the output model's name.
    :param dashscope_conn_id: the ``dashscope`` connection.
    :param wait_for_completion: wait for the job's end (else return right after creating it).
    :param deferrable: wait in the triggerer instead of a worker slot.
    :param poll_interval: seconds between status polls.
    :param timeout: seconds to wait before the job is cancelled and the task fails; None: no limit.
    :param forward_logs: copy the job's log lines into the task log as they appear.
    :param cancel_on_kill: cancel the job when the task is killed (mark failed/success, clear).
    :param if_job_exists: when a job with this task's name exists: ``reattach`` to it unless it
        FAILED or was CANCELED (then create a new generation), ``fail``, or ``create_new``.
    """

    template_fields: Sequence[str] = (
        "model",
        "template_id",
        "job_name",
        "job_description",
        "hyper_parameters",
        "custom_calibration_file_ids",
        "output_model_suffix",
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {"hyper_parameters": "json"}
    operator_extra_links = (CompressJobLink(),)
    ui_color = "#ff6a00"

    def __init__(
        self,
        *,
        model: str,
        template_id: str,
        job_name: str | None = None,
        job_description: str | None = None,
        hyper_parameters: Mapping[str, Any] | None = None,
        custom_calibration_file_ids: Sequence[str] | None = None,
        output_model_suffix: str | None = None,
        dashscope_conn_id: str = CompressHook.default_conn_name,
        wait_for_completion: bool = True,
        deferrable: bool | None = None,
        poll_interval: float = 30,
        timeout: float | None = None,
        forward_logs: bool = True,
        cancel_on_kill: bool = True,
        if_job_exists: IfJobExists = "reattach",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if if_job_exists not in ("reattach", "fail", "create_new"):
            raise ValueError(
                f"if_job_exists: must be 'reattach', 'fail' or 'create_new', got {if_job_exists!r}"
            )
        if poll_interval <= 0:
            raise ValueError(f"poll_interval: must be > 0, got {poll_interval!r}")
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout: must be > 0 seconds or None, got {timeout!r}")
        self.model = model
        self.template_id = template_id
        self.job_name = job_name
        self.job_description = job_description
        self.hyper_parameters = hyper_parameters
        self.custom_calibration_file_ids = custom_calibration_file_ids
        self.output_model_suffix = output_model_suffix
        self.dashscope_conn_id = dashscope_conn_id
        self.wait_for_completion = wait_for_completion
        self.deferrable = _compat.default_deferrable() if deferrable is None else deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.forward_logs = forward_logs
        self.cancel_on_kill = cancel_on_kill
        self.if_job_exists = if_job_exists
        self.job_id: str | None = None

    # --- execute

    def execute(self, context: Context) -> str:
        job = self._create_or_reattach(context)
        self.job_id = job.job_id
        context["ti"].xcom_push(key="job_id", value=job.job_id)
        CompressJobLink.persist(
            context, self.hook.settings.base_url, job.job_id, self.hook.settings.console_url
        )
        if not self.wait_for_completion:
            return job.job_id
        deadline = time.time() + self.timeout if self.timeout else None
        if self.deferrable and not job.is_terminal:
            self.defer(
                trigger=CompressJobTrigger(
                    dashscope_conn_id=self.dashscope_conn_id,
                    job_id=job.job_id,
                    poll_interval=self.poll_interval,
                    deadline=deadline,
                    forward_logs=self.forward_logs,
                    cancel_on_kill=self.cancel_on_kill,
                ),
                method_name="execute_complete",
            )
        return self._finish(context, self._wait(job.job_id, deadline))

    def _create_or_reattach(self, context: Context) -> Job:
        ti = context["ti"]
        base = self.job_name or derive_job_name(
            ti.dag_id, ti.run_id, ti.task_id, ti.map_index if ti.map_index is not None else -1
        )
        generation, existing = latest_generation(list(self.hook.iter_jobs(job_name=base)), base)
        reattach, name = plan_create(base, generation, existing, self.if_job_exists)
        if reattach is not None:
            self.log.info(
                "Reattaching to job %s (%s, %s)", reattach.job_id, reattach.job_name, reattach.status
            )
            return reattach
        self.log.info(
            "Creating compression job %r for model %s, template %s", name, self.model, self.template_id
        )
        try:
            job = self.hook.create_job(
                self.model,
                self.template_id,
                job_name=name,
                job_description=self.job_description,
                hyper_parameters=self.hyper_parameters,
                custom_calibration_file_ids=self.custom_calibration_file_ids,
                output_model_suffix=self.output_model_suffix,
            )
        except (ServerError, CompressConnectionError, InvalidResponseError) as err:
            # The create may have happened even though we got no answer: look before failing.
            found = self.hook.find_job_by_name(name)
            if found is None:
                raise
            self.log.warning("Create of %r answered %s, but the job exists: %s", name, err, found.job_id)
            job = found
        self.log.info("Created job %s", job.job_id)
        return job

    def _wait(self, job_id: str, deadline: float | None) -> Job:
        offset, status = 0, None
        while True:
            job = self.hook.get_job(job_id)
            if job.status != status:
                status = job.status
                self.log.info("Job %s is %s", job_id, status)
            if self.forward_logs and job.status not in (JobStatus.PENDING, JobStatus.QUEUING):
                offset = self.forward_logs_from(job_id, offset)
            if job.is_terminal:
                return job
            if deadline is not None and time.time() >= deadline:
                self._cancel("the timeout passed")
                raise AirflowException(
                    f"Compression job {job_id} did not finish within {self.timeout:g} s; it was cancelled"
                )
            time.sleep(
                self.poll_interval
                if deadline is None
                else max(0, min(self.poll_interval, deadline - time.time()))
            )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> str:
        if not isinstance(event, dict) or not event.get("job_id") or "status" not in event:
            raise AirflowException(f"Unexpected trigger event: {event!r}")
        job_id = event["job_id"]
        self.job_id = job_id
        if self.forward_logs:  # lines written after the trigger's last read; none repeated
            self.forward_logs_from(job_id, int(event.get("log_offset") or 0))
        if event["status"] in ("timeout", "error"):
            raise AirflowException(f"Compression {event.get('message')}")
        return self._finish(context, Job.from_api(event["job"]))

    def _finish(self, context: Context, job: Job) -> str:
        fail_unless_succeeded(job)
        self.log.info("Job %s succeeded: %s", job.job_id, job.quantized_output)
        extra: dict[str, Any] = {
            "job_id": job.job_id,
            "quantized_output": job.quantized_output,
            "template_id": job.template_id,
        }
        for outlet in self.outlets:
            context["outlet_events"][outlet].extra = extra
        return job.quantized_output or ""

    # --- kill

    def on_kill(self) -> None:
        if self.cancel_on_kill and self.job_id:
            self._cancel("the task was killed")

    def _cancel(self, why: str) -> None:
        """Best effort and idempotent: only an active job is cancelled; errors are logged."""
        assert self.job_id is not None
        try:
            job = self.hook.get_job(self.job_id)
            if job.status in (JobStatus.PENDING, JobStatus.QUEUING, JobStatus.RUNNING):
                self.hook.cancel_job(self.job_id)
                self.log.warning("Cancelled job %s: %s", self.job_id, why)
        except CompressError as err:
            self.log.error("Could not cancel job %s (%s): %s", self.job_id, why, err)


class CancelCompressJobOperator(_JobWaiting, BaseOperator):
    """Cancel a job (no-op when it already ended); optionally wait until it is CANCELED.

    Returns the job's status at the end.
    """

    template_fields: Sequence[str] = ("job_id",)

    def __init__(
        self,
        *,
        job_id: str,
        dashscope_conn_id: str = CompressHook.default_conn_name,
        wait_for_cancellation: bool = False,
        poll_interval: float = 5,
        timeout: float = 600,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.job_id = job_id
        self.dashscope_conn_id = dashscope_conn_id
        self.wait_for_cancellation = wait_for_cancellation
        self.poll_interval = poll_interval
        self.timeout = timeout

    def execute(self, context: Context) -> str:
        job = self.hook.get_job(self.job_id)
        if job.status in (JobStatus.PENDING, JobStatus.QUEUING, JobStatus.RUNNING):
            self.hook.cancel_job(self.job_id)
            self.log.info("Cancel of job %s requested", self.job_id)
        else:
            self.log.info("Job %s is %s: nothing to cancel", self.job_id, job.status)
        deadline = time.monotonic() + self.timeout
        while self.wait_for_cancellation and not job.is_terminal:
            if time.monotonic() >= deadline:
                raise AirflowException(f"Job {self.job_id} was not CANCELED within {self.timeout:g} s")
            time.sleep(self.poll_interval)
            job = self.hook.get_job(self.job_id)
        if self.wait_for_cancellation and job.status != JobStatus.CANCELED:
            self.log.warning("Job %s ended %s before the cancel took effect", self.job_id, job.status)
        return str(job.status)


class DeleteCompressJobOperator(_JobWaiting, BaseOperator):
    """Delete a finished job's record (its compressed model stays). An active job is refused by the API."""

    template_fields: Sequence[str] = ("job_id",)

    def __init__(
        self, *, job_id: str, dashscope_conn_id: str = CompressHook.default_conn_name, **kwargs: Any
    ):
        super().__init__(**kwargs)
        self.job_id = job_id
        self.dashscope_conn_id = dashscope_conn_id

    def execute(self, context: Context) -> None:
        self.hook.delete_job(self.job_id)
        self.log.info("Deleted job %s", self.job_id)

"""The emulator's state machines: compression and fine-tune jobs, deployments.

Pure Python with no web framework. A resource's progress is a function of the clock: every read
first ``advance``s it to now, which moves a job along PENDING -> QUEUING -> RUNNING -> end (and
appends the log lines that became due), a deployment along PENDING -> DEPLOYING -> RUNNING.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from collections.abc import Mapping
from typing import Any

from airflow_provider_compress.emulator.catalog import (
    BASE_MODEL,
    LORA_TRAINING,
    SERVICE_TZ,
    TIME_FORMAT,
    SeedTemplate,
    pick,
    texts,
)

CANCELLABLE = ("PENDING", "QUEUING", "RUNNING")
TERMINAL = ("SUCCEEDED", "FAILED", "CANCELED")
CALIBRATION_MARKER = "data process succeeded, start to quantization"


def fmt_time(ts: float | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, SERVICE_TZ).strftime(TIME_FORMAT)


@dataclasses.dataclass
class TimedJob:
    """A job whose progress is a function of the clock; subclasses give the texts and the API view.

    PENDING for the first 10 % of ``duration``, QUEUING until 20 %, RUNNING until the end, then
    SUCCEEDED (or FAILED when ``will_fail``). Cancel: CANCELING, then CANCELED.
    """

    job_id: str
    job_name: str
    model: str
    created: float
    duration: float
    log_lines: int
    will_fail: bool
    base_model: str = BASE_MODEL
    status: str = "PENDING"
    start: float | None = None
    end: float | None = None
    cancel_requested: float | None = None
    lines: list[str] = dataclasses.field(default_factory=list)
    progress_written: int = 0

    # --- what a kind of job says
    def output(self) -> str:
        raise NotImplementedError

    def created_line(self) -> str:
        return f"Job {self.job_id} created"

    def start_lines(self) -> list[str]:
        return []

    def progress_line(self, step: int, steps: int) -> str:
        raise NotImplementedError

    def success_line(self) -> str:
        raise NotImplementedError

    def failure_line(self) -> str:
        raise NotImplementedError

    def to_api(self, lang: str, *, brief: bool = False) -> dict[str, Any]:
        raise NotImplementedError

    # --- the clock
    def _at(self, fraction: float) -> float:
        return self.created + self.duration * fraction

    def _log(self, ts: float, text: str, level: str = "INFO") -> None:
        self.lines.append(f"{fmt_time(ts)} - {level} - {text}")

    def advance(self, now: float, cancel_seconds: float) -> None:
        """Move the job to where the clock says it is, writing the log lines that fell due."""
        if self.status in TERMINAL:
            return
        if self.cancel_requested is not None:
            self._write_progress(min(now, self.cancel_requested))
            if now >= self.cancel_requested + cancel_seconds:
                self.status, self.end = "CANCELED", self.cancel_requested + cancel_seconds
                self._log(self.end, "Job canceled")
            return
        if not self.lines:
            self._log(self.created, self.created_line())
        if self.status == "PENDING" and now >= self._at(0.1):
            self.status = "QUEUING"
            self._log(self._at(0.1), "Job queued, waiting for GPU resources")
        if self.status == "QUEUING" and now >= self._at(0.2):
            self.status, self.start = "RUNNING", self._at(0.2)
            for line in self.start_lines():
                self._log(self.start, line)
        if self.status == "RUNNING":
            self._write_progress(now)
            if now >= self._at(1.0):
                self.end = self._at(1.0)
                if self.will_fail:
                    self.status = "FAILED"
                    self._log(self.end, self.failure_line(), "ERROR")
                else:
                    self.status = "SUCCEEDED"
                    self._log(self.end, self.success_line())

    def _write_progress(self, until: float) -> None:
        """Progress lines spread evenly over the RUNNING phase."""
        if self.start is None:
            return
        span = self._at(1.0) - self.start
        due = self.log_lines if span <= 0 else int(self.log_lines * min(1.0, (until - self.start) / span))
        for i in range(self.progress_written + 1, due + 1):
            self._log(self.start + span * i / self.log_lines, self.progress_line(i, self.log_lines))
        self.progress_written = max(self.progress_written, due)

    def cancel(self, now: float) -> None:
        self.cancel_requested = now
        self._log(now, "Cancel requested, stopping the job")
        self.status = "CANCELING"

    def usage_seconds(self) -> int:
        return int(max(0.0, (self.end or 0) - (self.start or self.end or 0)))


@dataclasses.dataclass(kw_only=True)
class Job(TimedJob):
    """A compression job."""

    job_description: str | None
    template: SeedTemplate
    hyper_parameters: dict[str, Any]
    calibration_files: list[str] | None
    suffix: str | None

    def output(self) -> str:
        middle = f"-{self.suffix}" if self.suffix else ""
        return f"{self.base_model}{middle}-{self.job_id}"

    quantized_output = output

    def created_line(self) -> str:
        return f"Job {self.job_id} created with template {self.template.template_id}"

    def start_lines(self) -> list[str]:
        lines = [f"Starting quantization of {self.model}..."]
        if self.calibration_files:
            lines += [f"Processing calibration data: {', '.join(self.calibration_files)}", CALIBRATION_MARKER]
        return lines

    def progress_line(self, step: int, steps: int) -> str:
        return f"Quantization progress: step {step}/{steps} ({100 * step // steps}%)"

    def success_line(self) -> str:
        return f"Quantization succeeded! Output model: {self.output()}"

    def failure_line(self) -> str:
        return "Quantization failed: accuracy check after calibration"

    def to_api(self, lang: str, *, brief: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "job_id": self.job_id,
            "job_name": self.job_name,
            "job_description": self.job_description,
            "status": self.status,
            "model": self.model,
            "base_model": self.base_model,
            "template_id": self.template.template_id,
            "template_name": pick(self.template.name, lang),
            "template_description": pick(self.template.description, lang),
            "training_type": "quantization",
            "compress_type": "quantization",
            "hyper_parameters": dict(self.hyper_parameters),
            "custom_calibration_file_ids": self.calibration_files,
            "quantized_output": self.output() if self.status == "SUCCEEDED" else None,
            "create_time": fmt_time(self.created),
            "start_time": fmt_time(self.start),
            "end_time": fmt_time(self.end),
            "error": None,
            "group": "quantization",
        }
        if self.status == "FAILED":
            out["error"] = {
                "code": "QuantizationFailed",
                "message": pick(
                    texts(
                        "量化失败:校准后精度校验未通过",
                        "Quantization failed: accuracy check after calibration",
                    ),
                    lang,
                ),
            }
        if self.status in ("SUCCEEDED", "CANCELED"):
            out["usage"] = self.usage_seconds()
        if brief:  # the list endpoint leaves out descriptions and hyper-parameters
            for key in ("job_description", "template_description", "hyper_parameters", "error"):
                out.pop(key, None)
        return out


@dataclasses.dataclass(kw_only=True)
class FineTuneJob(TimedJob):
    """A fine-tune job; on success its output becomes a custom model."""

    training_type: str
    training_files: list[str]  # what the log names: file ids, or dataset file ids
    # The data as the create gave it, echoed as sent: the newer datasets form leaves the file
    # id lists empty (fact sheet, B.0).
    inputs: dict[str, Any]
    hyper_parameters: dict[str, Any]
    model_name: str | None
    suffix: str | None

    def output(self) -> str:
        # Documented only by example: {model}[-{suffix}]-{job_id}; LoRA outputs carry "-lora".
        lora = "-lora" if self.training_type in LORA_TRAINING else ""
        middle = f"-{self.suffix}" if self.suffix else ""
        return f"{self.model}{lora}{middle}-{self.job_id}"

    def created_line(self) -> str:
        return f"finetune-job {self.job_id} created: {self.training_type} of {self.model}"

    def start_lines(self) -> list[str]:
        return [
            f"Data processing: {', '.join(self.training_files)}",
            "Data processing succeeded, start training",
        ]

    def progress_line(self, step: int, steps: int) -> str:
        return f"Training progress: step {step}/{steps}, loss {2.0 / (1 + step):.4f}"

    def success_line(self) -> str:
        return f"finetune-job succeeded, output model {self.output()} ##FT_COMPLETE##"

    def failure_line(self) -> str:
        return "finetune-job failed: training data check failed"

    def to_api(self, lang: str, *, brief: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "job_id": self.job_id,
            "job_name": self.job_name,
            "status": self.status,
            "model": self.model,
            "base_model": self.base_model,
            "finetuned_output": self.output() if self.status == "SUCCEEDED" else None,
            "training_type": self.training_type,
            "training_file_ids": [],
            "validation_file_ids": [],
            **self.inputs,
            "hyper_parameters": dict(self.hyper_parameters),
            "model_name": self.model_name,
            "create_time": fmt_time(self.created),
            "group": "llm",
        }
        if self.status in TERMINAL:
            out["end_time"] = fmt_time(self.end)
        if self.status in ("SUCCEEDED", "CANCELED"):
            out["usage"] = 1000 * self.usage_seconds()  # tokens
        if self.status == "FAILED":
            out["code"] = "InvalidTrainingData"
            out["message"] = pick(texts("训练数据校验失败", "Training data check failed"), lang)
        return out


@dataclasses.dataclass
class Deployment:
    """PENDING for 30 % of ``duration``, DEPLOYING until the end, then RUNNING (billed) or FAILED
    when capacity ran out. Scale: UPDATING, then RUNNING. Delete: DELETING, then gone (404)."""

    deployed_model: str
    name: str
    model_name: str
    base_model: str
    plan: str
    capacity: int
    suffix: str | None
    unit_spec: str | None  # the MU spec (deploy_spec), echoed as model_unit_spec
    created: float
    duration: float
    will_fail: bool
    status: str = "PENDING"
    modified: float = 0.0
    running_since: float | None = None
    billed_seconds: float = 0.0
    update_until: float | None = None
    new_capacity: int | None = None
    delete_after: float | None = None

    def advance(self, now: float) -> None:
        if self.status == "PENDING" and now >= self.created + 0.3 * self.duration:
            self.status, self.modified = "DEPLOYING", self.created + 0.3 * self.duration
        if self.status == "DEPLOYING" and now >= self.created + self.duration:
            self.modified = self.created + self.duration
            if self.will_fail:
                self.status = "FAILED"
            else:
                self.status, self.running_since = "RUNNING", self.modified
        if self.status == "UPDATING" and self.update_until is not None and now >= self.update_until:
            self.status, self.modified = "RUNNING", self.update_until
            self.capacity, self.new_capacity, self.update_until = (
                self.new_capacity or self.capacity,
                None,
                None,
            )

    def stop_billing(self, now: float) -> None:
        if self.running_since is not None:
            self.billed_seconds += now - self.running_since
            self.running_since = None

    def gone(self, now: float) -> bool:
        return self.delete_after is not None and now >= self.delete_after

    def to_api(self, lang: str = "zh-CN", *, brief: bool = False) -> dict[str, Any]:
        iso = "%Y-%m-%dT%H:%M:%S"
        return {
            "deployed_model": self.deployed_model,
            "name": self.name,
            "model_name": self.model_name,
            "base_model": self.base_model,
            "status": self.status,
            "plan": self.plan,
            "base_capacity": 1,
            "capacity": self.new_capacity or self.capacity,
            "ready_capacity": self.capacity if self.status in ("RUNNING", "UPDATING") else 0,
            "charge_type": "post_paid",
            **({"model_unit_spec": self.unit_spec} if self.unit_spec else {}),
            "workspace_id": "llm-emulator",
            "gmt_create": dt.datetime.fromtimestamp(self.created, SERVICE_TZ).strftime(iso),
            "gmt_modified": dt.datetime.fromtimestamp(self.modified or self.created, SERVICE_TZ).strftime(
                iso
            ),
        }


def new_job_id(now: float, taken: Mapping[str, Any], prefix: str = "quant") -> str:
    stamp = dt.datetime.fromtimestamp(now, SERVICE_TZ).strftime("%Y%m%d%H%M")
    while True:
        job_id = f"{prefix}-{stamp}-{secrets.token_hex(2)}"
        if job_id not in taken:
            return job_id

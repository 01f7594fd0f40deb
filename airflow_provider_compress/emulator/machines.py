"""The emulator's state machines of jobs: compression and fine-tune jobs (deployments:
``deployments``; files: ``files``).

Pure Python with no web framework. A job's progress is a function of the clock: every read first
``advance``s it to now, which moves its status along PENDING -> QUEUING -> RUNNING -> end and
appends the log lines that became due.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
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
CHECKPOINTS = 3  # checkpoints a fine-tune saves, evenly over its training
STEPS_PER_LINE = 10  # training steps a progress line stands for: checkpoint-{step}


def fmt_time(ts: float | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, SERVICE_TZ).strftime(TIME_FORMAT)


@dataclasses.dataclass
class TimedJob:
    """A job whose progress is a function of the clock; subclasses give the texts and the API view.

    PENDING for the first 10 % of ``duration``, QUEUING until 20 %, RUNNING until the end, then
    SUCCEEDED (or FAILED when ``will_fail``); with ``start_after`` it is RUNNING that many seconds
    after its create instead (PENDING, then QUEUING, half of it each). Cancel: CANCELING, then
    CANCELED.
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
    # Report the usage so far while the job runs too (the API documents it only at the end).
    early_usage: bool = False
    start_after: float | None = None  # seconds to RUNNING; None: 20 % of the duration
    seen: float = 0.0  # the clock at the last advance: what "so far" means

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
    def _queued_at(self) -> float:
        return self.created + self.start_after / 2 if self.start_after is not None else self._at(0.1)

    def _started_at(self) -> float:
        return self.created + self.start_after if self.start_after is not None else self._at(0.2)

    def _at(self, fraction: float) -> float:
        return self.created + self.duration * fraction

    def _log(self, ts: float, text: str, level: str = "INFO") -> None:
        self.lines.append(f"{fmt_time(ts)} - {level} - {text}")

    def advance(self, now: float, cancel_seconds: float) -> None:
        """Move the job to where the clock says it is, writing the log lines that fell due."""
        self.seen = max(self.seen, now)
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
        if self.status == "PENDING" and now >= self._queued_at():
            self.status = "QUEUING"
            self._log(self._queued_at(), "Job queued, waiting for GPU resources")
        if self.status == "QUEUING" and now >= self._started_at():
            self.status, self.start = "RUNNING", self._started_at()
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
        """Seconds it ran (so far, while it runs)."""
        if self.start is None:
            return 0
        return int(max(0.0, (self.end if self.end is not None else self.seen) - self.start))

    def reports_usage(self) -> bool:
        return self.status in ("SUCCEEDED", "CANCELED") or (self.early_usage and self.start is not None)


@dataclasses.dataclass(kw_only=True)
class Job(TimedJob):
    """A compression job."""

    job_description: str | None
    template: SeedTemplate
    hyper_parameters: dict[str, Any]
    calibration_files: list[str] | None
    suffix: str | None
    calibration_labels: list[str] | None = None  # the files as the log names them

    def output(self) -> str:
        middle = f"-{self.suffix}" if self.suffix else ""
        return f"{self.base_model}{middle}-{self.job_id}"

    quantized_output = output

    def created_line(self) -> str:
        return f"Job {self.job_id} created with template {self.template.template_id}"

    def start_lines(self) -> list[str]:
        lines = [f"Starting quantization of {self.model}..."]
        if self.calibration_files:
            labels = self.calibration_labels or self.calibration_files
            lines += [f"Processing calibration data: {', '.join(labels)}", CALIBRATION_MARKER]
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
        if self.reports_usage():
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
    # checkpoint -> (when its export was asked, the model_name asked for)
    exports: dict[str, tuple[float, str | None]] = dataclasses.field(default_factory=dict)

    def output(self) -> str:
        # Documented only by example (fact sheet B.10): {model}[-{suffix}]-{job_id}, for LoRA too.
        middle = f"-{self.suffix}" if self.suffix else ""
        return f"{self.model}{middle}-{self.job_id}"

    @property
    def is_lora(self) -> bool:
        return self.training_type in LORA_TRAINING

    def created_line(self) -> str:
        return f"finetune-job {self.job_id} created: {self.training_type} of {self.model}"

    # --- checkpoints (fact sheet B.8)
    def saved_checkpoints(self) -> list[tuple[str, int, float]]:
        """(name, step, saved at) of the checkpoints written so far, the newest first."""
        if self.start is None:
            return []
        span = self._at(1.0) - self.start
        # the progress lines they are saved with (fewer lines than checkpoints: one a line)
        lines = sorted({math.ceil(self.log_lines * k / CHECKPOINTS) for k in range(1, CHECKPOINTS + 1)} - {0})
        saved = [
            (
                f"checkpoint-{line * STEPS_PER_LINE}",
                line * STEPS_PER_LINE,
                self.start + span * line / self.log_lines,
            )
            for line in lines
            if line <= self.progress_written
        ]
        return saved[::-1]

    def exported_model(self, checkpoint: str, step: int) -> str:
        """The last checkpoint is the job's output; an exported earlier one is named like the
        fact sheet's example (``…-c160`` for checkpoint-160)."""
        last = self.saved_checkpoints()[0][0] if self.status == "SUCCEEDED" else None
        return self.output() if checkpoint == last else f"{self.output()}-c{step}"

    def checkpoints_api(self, now: float, export_seconds: float) -> list[dict[str, Any]]:
        items = []
        for index, (name, step, saved) in enumerate(self.saved_checkpoints()):
            item: dict[str, Any] = {
                "checkpoint": name,
                "checkpoint_id": f"{self.job_id}:{name}",
                "full_name": f"{self.job_id}:{name}",
                "job_id": self.job_id,
                "step": step,
                "create_time": fmt_time(saved),
                "status": "PENDING",  # saved, not exported
            }
            exported = self.exports.get(name)
            if index == 0 and self.status == "SUCCEEDED":  # the output: exported by the job itself
                item.update(status="SUCCEEDED", model_name=self.output())
            elif exported is not None:
                done = now >= exported[0] + export_seconds
                item["status"] = "SUCCEEDED" if done else "PROCESSING"
                if done:
                    item["model_name"] = self.exported_model(name, step)
                if exported[1]:
                    item["model_display_name"] = exported[1]
            items.append(item)
        return items

    def exported_models(self, now: float, export_seconds: float) -> list[str]:
        """The models this job made: its output once SUCCEEDED, and the checkpoints exported."""
        models = [self.output()] if self.status == "SUCCEEDED" else []
        for name, (asked, _) in self.exports.items():
            if now >= asked + export_seconds:
                models.append(self.exported_model(name, int(name.rsplit("-", 1)[1])))
        return models

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
        if self.reports_usage():
            out["usage"] = 1000 * self.usage_seconds()  # tokens
        if self.status == "FAILED":
            out["code"] = "InvalidTrainingData"
            out["message"] = pick(texts("训练数据校验失败", "Training data check failed"), lang)
        return out


def new_job_id(now: float, taken: Mapping[str, Any], prefix: str = "quant") -> str:
    stamp = dt.datetime.fromtimestamp(now, SERVICE_TZ).strftime("%Y%m%d%H%M")
    while True:
        job_id = f"{prefix}-{stamp}-{secrets.token_hex(2)}"
        if job_id not in taken:
            return job_id

"""The emulator's model of the service: seed data, jobs, their state machine and logs, errors.

Pure Python with no web framework, so the rules can be read in one place. A job's progress is a
function of the clock: every read first ``advance``s the job to now, which moves its status
along PENDING -> QUEUING -> RUNNING -> end and appends the log lines that became due.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import math
import re
import secrets
import time
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

SERVICE_TZ = dt.timezone(dt.timedelta(hours=8))
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
BASE_MODEL = "qwen3.5-flash-2026-02-23"
LANGS = ("zh-CN", "en-US")
TERMINAL = ("SUCCEEDED", "FAILED", "CANCELED")
CANCELLABLE = ("PENDING", "QUEUING", "RUNNING")
CALIBRATION_MARKER = "data process succeeded, start to quantization"
# Job names: letters (any script), digits, space, '-', '_', '.'; the real rule is undocumented.
JOB_NAME_PATTERN = re.compile(r"[\w\-. ]+")
SUFFIX_PATTERN = re.compile(r"[a-z0-9]{1,8}")

# reason -> (HTTP status, zh-CN text, en-US text); the answer's code is CODES[reason], else the
# reason itself. The document's code strings were lost in transfer (section 7): the codes are the
# document's where it shows one (7.3: a LoRA model answers InvalidParameter), the sibling
# fine-tune and deployment APIs' for the same case where the fact sheet has one (DOCUMENTED), and
# invented otherwise (docs/emulator.md marks them). Clients must classify by HTTP status.
ERRORS: dict[str, tuple[int, str, str]] = {
    # 7.1 general
    "InvalidParameter": (400, "请求参数不合法:{detail}", "Invalid parameter: {detail}"),
    "MissingParameter": (400, "缺少必选参数:{detail}", "Missing required parameter: {detail}"),
    "InvalidApiKey": (
        401,
        "认证失败,API Key 无效或缺失",
        "Authentication failed: the API key is invalid or missing",
    ),
    "AccessDenied": (403, "无权限访问:{detail}", "Access denied: {detail}"),
    "NotFound": (404, "资源不存在:{detail}", "Resource not found: {detail}"),
    "JobState": (
        400,
        "资源状态不允许该操作:任务 {job_id} 当前状态为 {status}",
        "The operation is not allowed in the current state: job {job_id} is {status}",
    ),
    "Throttling": (429, "配额超限,请稍后重试", "Quota exceeded, please retry later"),
    "InternalError": (500, "服务内部错误", "Internal server error"),
    "UnsupportedOperation": (
        400,
        "当前状态不支持该操作:{detail}",
        "The operation is not supported in the current state: {detail}",
    ),
    "Conflict": (
        409,
        "模型 {model} 已有同名部署,请设置不同的 suffix",
        "A deployment of {model} with this suffix already exists; set a different suffix",
    ),
    # 7.2 parameters
    "MissingModel": (400, "缺少必选参数:model", "Missing required parameter: model"),
    "MissingTemplateId": (400, "缺少必选参数:template_id", "Missing required parameter: template_id"),
    "BaseModelNotSupported": (
        400,
        "不支持对基础模型 {model} 直接量化,请使用基于它的自定义微调模型",
        "The base model {model} cannot be quantized directly; use a custom fine-tuned model of it",
    ),
    "TemplateNotFound": (
        400,
        "指定的配置模板 {template_id} 不存在",
        "The template {template_id} does not exist",
    ),
    "TemplateNotSupported": (
        400,
        "当前模型 {model} 不支持压缩模板 {template_id}",
        "The model {model} does not support the template {template_id}",
    ),
    "ModelNotSupported": (
        400,
        "模型 {model} 不支持量化",
        "The model {model} is not supported for quantization",
    ),
    "LoraModelNotSupported": (
        400,
        "指定的模型 '{model}' 是 LoRA 微调模型,不支持量化",
        "The specified model '{model}' is a LoRA model and not supported for quantization.",
    ),
    "ModelDataUnavailable": (400, "模型 {model} 的数据不可用", "The data of model {model} is unavailable"),
    "InvalidJobName": (
        400,
        "任务名称包含不支持的字符(允许:字母、数字、空格、-、_、.)",
        "The job name contains unsupported characters (allowed: letters, digits, space, -, _, .)",
    ),
    "JobNameDuplicated": (
        400,
        "任务名称 {job_name} 已存在,同一用户下不允许重复",
        "The job name {job_name} already exists; names are unique per user",
    ),
    "ModelNotReady": (400, "源模型 {model} 尚未就绪", "The source model {model} is not ready yet"),
    "TemplateAccessDenied": (
        403,
        "无权使用压缩模板 {template_id}",
        "You are not allowed to use the template {template_id}",
    ),
    # 7.2 hyper-parameters
    "MissingHyperParameter": (
        400,
        "必选超参数 {name} 未传",
        "The required hyper-parameter {name} is missing",
    ),
    "UnknownHyperParameter": (400, "传入了未知超参数 {name}", "Unknown hyper-parameter {name}"),
    "InvalidHyperParameterValue": (
        400,
        "超参数 {name} 的值 {value} 不在枚举值列表 {allowed} 中",
        "The value {value} of hyper-parameter {name} is not one of {allowed}",
    ),
    "HyperParameterOutOfRange": (
        400,
        "超参数 {name} 的值 {value} 超出数值范围 {allowed}",
        "The value {value} of hyper-parameter {name} is outside the range {allowed}",
    ),
    "HyperParameterOffStep": (
        400,
        "超参数 {name} 的值 {value} 不符合步长 {step}(自 {start} 起)",
        "The value {value} of hyper-parameter {name} is not a step of {step} from {start}",
    ),
    "HyperParameterNotWhole": (
        400,
        "超参数 {name} 的值 {value} 不是整数",
        "The value {value} of hyper-parameter {name} is not a whole number",
    ),
    "InvalidHyperParameterNumber": (
        400,
        "超参数 {name} 的值 {value} 不是合法数字",
        "The value {value} of hyper-parameter {name} is not a valid number",
    ),
    # 7.2 job queries
    "JobNotFound": (404, "指定的压缩任务 {job_id} 不存在", "The compression job {job_id} does not exist"),
    "MissingJobId": (400, "缺少必选参数:job_id", "Missing required parameter: job_id"),
    # 7.2 paging and times
    "InvalidPageNo": (400, "页码参数不合法(须 ≥ 1):{value}", "Invalid page_no (must be >= 1): {value}"),
    "InvalidPageSize": (
        400,
        "每页数量不合法(须 1~100):{value}",
        "Invalid page_size (must be 1-100): {value}",
    ),
    "InvalidTimeFormat": (
        400,
        "时间格式不合法:{value},应为 YYYY-MM-DD 或 YYYY-MM-DD HH:MM:SS",
        "Invalid time format: {value}; expected YYYY-MM-DD or YYYY-MM-DD HH:MM:SS",
    ),
}


CODES = {
    "LoraModelNotSupported": "InvalidParameter",  # section 7.3's example
    "JobState": "UnsupportedOperation",  # 7.1's "state does not allow it": the sibling APIs' code
    "HyperParameterOffStep": "HyperParameterOutOfRange",
    "HyperParameterNotWhole": "InvalidHyperParameterNumber",
}
# Codes shown by the document (7.3) or by the fact sheet of the sibling APIs (section 1.4).
DOCUMENTED = frozenset(
    {"InvalidParameter", "InvalidApiKey", "AccessDenied", "NotFound", "UnsupportedOperation"}
    | {"Conflict", "Throttling", "InternalError"}
)


def code_of(reason: str) -> str:
    return CODES.get(reason, reason)


class ApiError(Exception):
    def __init__(self, reason: str, **fields: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code_of(reason)
        self.fields = fields
        self.status = ERRORS[reason][0]
        self.retry_after: float | None = fields.pop("retry_after", None)

    def message(self, lang: str) -> str:
        _, zh, en = ERRORS[self.reason]
        return (en if lang == "en-US" else zh).format_map(_Blank(self.fields))


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def _t(zh: str, en: str) -> dict[str, str]:
    return {"zh-CN": zh, "en-US": en}


def pick(texts: Mapping[str, str], lang: str) -> str:
    return texts.get(lang) or texts["zh-CN"]


# --- seed data ------------------------------------------------------------------------------


@dataclasses.dataclass
class SeedTemplate:
    template_id: str
    name: dict[str, str]
    description: dict[str, str]
    quant_spec: str
    quant_method: str
    hyper_parameters: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    restricted: bool = False  # listed, but using it answers 403
    excluded_models: tuple[str, ...] = ()  # models this template is not bound to

    def supports(self, model: str) -> bool:
        return model not in self.excluded_models

    def to_api(self, lang: str) -> dict[str, Any]:
        params = []
        for p in self.hyper_parameters:
            shown = {k: v for k, v in p.items() if k not in ("display_name", "description")}
            shown["display_name"] = pick(p["display_name"], lang)
            shown["description"] = pick(p["description"], lang)
            params.append(shown)
        return {
            "template_id": self.template_id,
            "template_name": pick(self.name, lang),
            "description": pick(self.description, lang),
            "compress_type": "quantization",
            "hyper_parameters": params,
        }


def _param(name: str, type_: str, zh: str, en: str, **fields: Any) -> dict[str, Any]:
    advanced = fields.pop("advanced", False)
    return {
        "name": name,
        "type": type_,
        "display_name": _t(zh, en),
        "description": _t(f"{zh}(高级参数,通常保持默认)" if advanced else zh, en),
        "defaultValue": fields.get("defaultValue"),
        "recommend_value": fields.get("recommend_value", fields.get("defaultValue")),
        "required": fields.get("required", False),
        "support_values": fields.get("support_values"),
        "data_range": fields.get("data_range"),
        "step": fields.get("step"),
        "advancedParameter": advanced,
        "is_advanced_parameter": advanced,
    }


def seed_templates() -> list[SeedTemplate]:
    return [
        SeedTemplate(
            "quant-flash-nvfp4-mlp-nomtp",
            _t("W4A4 NVFP4高性能压缩-MU5/MU8/MU9", "W4A4 NVFP4 high-performance compression - MU5/MU8/MU9"),
            _t(
                "在更低比特压缩下兼顾高精度与高性能,进一步降低显存占用并提升推理吞吐。",
                "Lower-bit compression keeping accuracy and speed, with less GPU memory and more throughput.",
            ),
            quant_spec="nvfp4",
            quant_method="rtn",
        ),
        SeedTemplate(
            "quant-flash-w8a8-gptq",
            _t("W8A8 GPTQ高精度压缩-MU2/MU4", "W8A8 GPTQ high-accuracy compression - MU2/MU4"),
            _t(
                "8 比特权重与激活,精度损失最小。",
                "8-bit weights and activations with the least loss of accuracy.",
            ),
            quant_spec="w8a8",
            quant_method="gptq",
            excluded_models=(f"{BASE_MODEL}-ft-202604020000-c3d4",),
            hyper_parameters=[
                _param(
                    "calib_seq_len",
                    "int",
                    "校准序列长度",
                    "Calibration sequence length",
                    required=True,
                    data_range=["512", "8192"],
                    step=512,
                    recommend_value="2048",
                ),
                _param(
                    "group_size",
                    "enum",
                    "量化分组大小",
                    "Quantization group size",
                    defaultValue="128",
                    support_values=["64", "128", "256"],
                ),
                _param(
                    "damp_percent",
                    "float",
                    "阻尼系数",
                    "Dampening factor",
                    defaultValue="0.01",
                    data_range=["0.001", "0.1"],
                    advanced=True,
                ),
            ],
        ),
        SeedTemplate(
            "quant-flash-fp8-dynamic",
            _t("FP8 动态量化-MU8(受限)", "FP8 dynamic quantization - MU8 (restricted)"),
            _t("需要开通权限后使用。", "Needs a grant before use."),
            quant_spec="fp8",
            quant_method="dynamic",
            restricted=True,
        ),
    ]


def seed_models() -> dict[str, dict[str, str]]:
    """Custom full-parameter fine-tunes of the base model: id -> display names."""
    return {
        f"{BASE_MODEL}-ft-202604010000-a1b2": _t("我的SFT微调模型", "My SFT fine-tune"),
        f"{BASE_MODEL}-ft-202604020000-c3d4": _t("我的DPO微调模型", "My DPO fine-tune"),
        f"{BASE_MODEL}-ft-202603150000-fail": _t("会失败的微调模型", "A fine-tune whose compression fails"),
    }


# --- jobs -----------------------------------------------------------------------------------


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
                    _t(
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


TRAINING_TYPES = ("cpt", "sft", "efficient_sft", "dpo_full", "dpo_lora")
LORA_TRAINING = ("efficient_sft", "dpo_lora")
EXPORTABLE_TRAINING = ("sft", "efficient_sft")  # checkpoint export (fact sheet B.8)
CHECKPOINTS = 3  # checkpoints a fine-tune saves, evenly over its training
STEPS_PER_LINE = 10  # training steps a progress line stands for: checkpoint-{step}
# Base models fine-tunes may start from, and the training types each supports.
CATALOG = {BASE_MODEL: ("sft",), "qwen3-8b": TRAINING_TYPES}


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
        if self.status in ("SUCCEEDED", "CANCELED"):
            out["usage"] = 1000 * self.usage_seconds()  # tokens
        if self.status == "FAILED":
            out["code"] = "InvalidTrainingData"
            out["message"] = pick(_t("训练数据校验失败", "Training data check failed"), lang)
        return out


# --- files (fact sheet B.8: POST /api/v1/files, multipart) -------------------------------------

FILE_PURPOSES = ("fine-tune", "file-extract", "batch")
FILE_MAX_BYTES = 300 * 1024 * 1024  # per file (fact sheet B.8)


@dataclasses.dataclass
class UploadedFile:
    """What the emulator keeps of an uploaded file: its size, hash and whether it is JSON lines."""

    file_id: str
    name: str
    purpose: str
    description: str | None
    size: int
    md5: str
    json_lines: bool  # every non-blank line a JSON object: what a training file must be
    created: float

    @classmethod
    def of(
        cls, file_id: str, name: str, content: bytes, purpose: str, description: str | None, now: float
    ) -> UploadedFile:
        return cls(
            file_id,
            name,
            purpose,
            description,
            len(content),
            hashlib.md5(content).hexdigest(),
            _is_json_lines(content),
            now,
        )

    def label(self) -> str:
        return f"{self.name} ({self.file_id})"

    def to_api(self, lang: str = "zh-CN") -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "name": self.name,
            "description": self.description,
            "purpose": self.purpose,
            "size": self.size,
            "md5": self.md5,
            "gmt_create": fmt_time(self.created),
        }


def _is_json_lines(content: bytes) -> bool:
    try:
        lines = [line for line in content.decode("utf-8").splitlines() if line.strip()]
        return bool(lines) and all(isinstance(json.loads(line), dict) for line in lines)
    except ValueError:  # not UTF-8, or a line that is not JSON
        return False


@dataclasses.dataclass
class Deployment:
    """PENDING for 30 % of ``duration``, DEPLOYING until the end, then RUNNING (billed) or FAILED
    when capacity ran out. Scale and rate-limit updates: UPDATING for 30 % of ``duration``, then
    RUNNING with the change (billed while any unit serves), or UPDATING_FAILED when capacity ran
    out (the old capacity serves on). Delete: DELETING, then gone (404)."""

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
    base_capacity: int = 1  # units per instance of the MU template
    limits: dict[str, Any] = dataclasses.field(default_factory=dict)  # rpm_limit, tpm_limit, ptu_capacity
    status: str = "PENDING"
    modified: float = 0.0
    running_since: float | None = None
    billed_seconds: float = 0.0
    update_until: float | None = None
    new_capacity: int | None = None
    new_limits: dict[str, Any] | None = None
    update_will_fail: bool = False
    delete_after: float | None = None

    def advance(self, now: float) -> None:
        if self.status == "PENDING" and now >= self.created + 0.3 * self.duration:
            self.status, self.modified = "DEPLOYING", self.created + 0.3 * self.duration
        if self.status == "DEPLOYING" and now >= self.created + self.duration:
            self.modified = self.created + self.duration
            if self.will_fail:
                self.status = "FAILED"
            else:
                self.status = "RUNNING"
                self._take_changes(self.modified)
        if self.status == "UPDATING" and self.update_until is not None and now >= self.update_until:
            self.modified, self.update_until = self.update_until, None
            if self.update_will_fail:
                self.status, self.new_capacity, self.new_limits = "UPDATING_FAILED", None, None
            else:
                self.status = "RUNNING"
                self._take_changes(self.modified)

    def _take_changes(self, at: float) -> None:
        """A change asked for lands; billing runs while any unit serves (MU bills units x hours)."""
        if self.new_capacity is not None:
            self.capacity, self.new_capacity = self.new_capacity, None
        self.limits.update(self.new_limits or {})
        self.new_limits = None
        if self.capacity == 0 and self.plan in ("mu", "cu"):
            self.stop_billing(at)
        elif self.running_since is None:
            self.running_since = at

    def change(
        self, now: float, window: float, *, capacity: int | None, limits: dict[str, Any], fails: bool
    ) -> None:
        """Scale or update: a deployment still being created takes the change when it is RUNNING;
        any other turns UPDATING for ``window`` seconds."""
        if capacity is not None:
            self.new_capacity = capacity
        self.new_limits = {**(self.new_limits or {}), **limits}
        if self.status in ("PENDING", "DEPLOYING"):
            return
        self.status, self.modified = "UPDATING", now
        self.update_until, self.update_will_fail = now + window, fails

    def force(self, status: str, now: float) -> None:
        """Admin: put the deployment in ``status`` (any string): it stays there until changed."""
        self.status, self.modified, self.update_until = status, now, None
        if status == "RUNNING" and self.running_since is None:
            self.running_since = now

    def stop_billing(self, now: float) -> None:
        if self.running_since is not None:
            self.billed_seconds += now - self.running_since
            self.running_since = None

    def billed(self, now: float) -> float:
        """Seconds billed so far (while any unit served)."""
        return self.billed_seconds + (now - self.running_since if self.running_since is not None else 0.0)

    def gone(self, now: float) -> bool:
        return self.delete_after is not None and now >= self.delete_after

    def to_api(self, lang: str = "zh-CN", *, brief: bool = False) -> dict[str, Any]:
        iso = "%Y-%m-%dT%H:%M:%S"
        serving = self.status in ("RUNNING", "UPDATING", "UPDATING_FAILED")
        # LoRA deployments show no capacities (the fact sheet's LoRA examples, A.0)
        capacities = {
            "base_capacity": self.base_capacity,
            "capacity": self.new_capacity if self.new_capacity is not None else self.capacity,
            "ready_capacity": self.capacity if serving else 0,
        }
        return {
            "deployed_model": self.deployed_model,
            "name": self.name,
            "model_name": self.model_name,
            "base_model": self.base_model,
            "status": self.status,
            "plan": self.plan,
            **({} if self.plan == "lora" else capacities),
            "charge_type": "post_paid",
            **({"model_unit_spec": self.unit_spec} if self.unit_spec else {}),
            **self.limits,
            "workspace_id": "llm-emulator",
            "gmt_create": dt.datetime.fromtimestamp(self.created, SERVICE_TZ).strftime(iso),
            "gmt_modified": dt.datetime.fromtimestamp(self.modified or self.created, SERVICE_TZ).strftime(
                iso
            ),
        }


# MU deployment templates every model deployable on mu lists: id -> units per instance (the
# base capacity a capacity is a multiple of; the fact sheet's example: MU2 needs multiples of 8).
DEPLOY_TEMPLATES = {"MU1": 1, "MU2": 8}
# A LoRA fine-tune's output named as the fact sheet's example is (A.11), deployable with plan lora.
SEED_LORA_MODELS = {"qwen3-8b-ft-202511132025-0260": "qwen3-8b"}
# Base models and the plans they may be deployed with (full and compressed fine-tunes: mu only;
# LoRA fine-tunes: lora or mu).
BASE_PLANS = ("mu", "ptu")


def new_job_id(now: float, taken: Mapping[str, Any], prefix: str = "quant") -> str:
    stamp = dt.datetime.fromtimestamp(now, SERVICE_TZ).strftime("%Y%m%d%H%M")
    while True:
        job_id = f"{prefix}-{stamp}-{secrets.token_hex(2)}"
        if job_id not in taken:
            return job_id


# --- request checks -------------------------------------------------------------------------


def parse_time_filter(value: str, *, end_of_day: bool) -> float:
    text = value.strip()
    for fmt, is_date in ((TIME_FORMAT, False), ("%Y-%m-%d", True)):
        try:
            parsed = dt.datetime.strptime(text, fmt).replace(tzinfo=SERVICE_TZ)
        except ValueError:
            continue
        if is_date and end_of_day:
            parsed += dt.timedelta(days=1, seconds=-1)
        return parsed.timestamp()
    raise ApiError("InvalidTimeFormat", value=value)


def parse_int(value: str | None, default: int, code: str) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ApiError(code, value=value, detail=value) from None


def check_hyper_parameters(template: SeedTemplate, given: Mapping[str, Any]) -> dict[str, Any]:
    """Validate overrides and return the effective values (defaults merged in)."""
    schema = {p["name"]: p for p in template.hyper_parameters}
    for name in given:
        if name not in schema:
            raise ApiError("UnknownHyperParameter", name=name)
    effective: dict[str, Any] = {}
    for name, p in schema.items():
        if name not in given:
            if p["required"]:
                raise ApiError("MissingHyperParameter", name=name)
            if p["defaultValue"] is not None:
                effective[name] = p["defaultValue"]
            continue
        value = given[name]
        if p["support_values"]:
            if not any(_same(value, allowed) for allowed in p["support_values"]):
                allowed = ", ".join(p["support_values"])
                raise ApiError("InvalidHyperParameterValue", name=name, value=value, allowed=allowed)
        elif p["data_range"] or p["type"] in ("int", "float"):
            number = _decimal(value)
            if number is None:
                raise ApiError("InvalidHyperParameterNumber", name=name, value=value)
            if p["type"] == "int" and number != number.to_integral_value():
                raise ApiError("HyperParameterNotWhole", name=name, value=value)
            start = Decimal(0)  # steps count from the range's lower bound, else from 0
            if p["data_range"]:
                start, high = (Decimal(b) for b in p["data_range"])
                if not start <= number <= high:
                    allowed = f"[{start}, {high}]"
                    raise ApiError("HyperParameterOutOfRange", name=name, value=value, allowed=allowed)
            if p["step"] and (number - start) % Decimal(str(p["step"])):
                raise ApiError("HyperParameterOffStep", name=name, value=value, step=p["step"], start=start)
        effective[name] = value
    return effective


def _decimal(value: Any) -> Decimal | None:
    """A JSON number or a numeric string as a finite number; anything else (true too) is None."""
    if type(value) in (int, float, str):
        with contextlib.suppress(InvalidOperation):
            number = Decimal(str(value).strip())
            return number if number.is_finite() else None
    return None


def _same(value: Any, allowed: str) -> bool:
    """An enum value matches by value: 128, 128.0 and "128" are the listed "128"; true is not "true"."""
    number, listed = _decimal(value), _decimal(allowed)
    return number == listed if None not in (number, listed) else value == allowed


def now() -> float:
    return time.time()

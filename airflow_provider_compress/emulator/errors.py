"""The emulator's error catalogue: every error the emulated API answers, its HTTP status, its code
and its message in both languages, raised as ``ApiError``.
"""

from __future__ import annotations

from typing import Any

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

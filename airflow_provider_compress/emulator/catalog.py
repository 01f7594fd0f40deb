"""The emulator's seed catalogue: the base model, the custom models and compression templates an
account starts with, the fine-tune catalogue, and the texts in both languages.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

# The service writes and reads times in China Standard Time, in this format.
SERVICE_TZ = dt.timezone(dt.timedelta(hours=8))
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
BASE_MODEL = "qwen3.5-flash-2026-02-23"
LANGS = ("zh-CN", "en-US")
TRAINING_TYPES = ("cpt", "sft", "efficient_sft", "dpo_full", "dpo_lora")
LORA_TRAINING = ("efficient_sft", "dpo_lora")
EXPORTABLE_TRAINING = ("sft", "efficient_sft")  # checkpoint export (fact sheet B.8)
# Base models fine-tunes may start from, and the training types each supports.
CATALOG = {BASE_MODEL: ("sft",), "qwen3-8b": TRAINING_TYPES}


def texts(zh: str, en: str) -> dict[str, str]:
    return {"zh-CN": zh, "en-US": en}


def pick(by_lang: Mapping[str, str], lang: str) -> str:
    return by_lang.get(lang) or by_lang["zh-CN"]


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
        "display_name": texts(zh, en),
        "description": texts(f"{zh}(高级参数,通常保持默认)" if advanced else zh, en),
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
            texts(
                "W4A4 NVFP4高性能压缩-MU5/MU8/MU9", "W4A4 NVFP4 high-performance compression - MU5/MU8/MU9"
            ),
            texts(
                "在更低比特压缩下兼顾高精度与高性能,进一步降低显存占用并提升推理吞吐。",
                "Lower-bit compression keeping accuracy and speed, with less GPU memory and more throughput.",
            ),
            quant_spec="nvfp4",
            quant_method="rtn",
        ),
        SeedTemplate(
            "quant-flash-w8a8-gptq",
            texts("W8A8 GPTQ高精度压缩-MU2/MU4", "W8A8 GPTQ high-accuracy compression - MU2/MU4"),
            texts(
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
            texts("FP8 动态量化-MU8(受限)", "FP8 dynamic quantization - MU8 (restricted)"),
            texts("需要开通权限后使用。", "Needs a grant before use."),
            quant_spec="fp8",
            quant_method="dynamic",
            restricted=True,
        ),
    ]


def seed_models() -> dict[str, dict[str, str]]:
    """Custom full-parameter fine-tunes of the base model: id -> display names."""
    return {
        f"{BASE_MODEL}-ft-202604010000-a1b2": texts("我的SFT微调模型", "My SFT fine-tune"),
        f"{BASE_MODEL}-ft-202604020000-c3d4": texts("我的DPO微调模型", "My DPO fine-tune"),
        f"{BASE_MODEL}-ft-202603150000-fail": texts(
            "会失败的微调模型", "A fine-tune whose compression fails"
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

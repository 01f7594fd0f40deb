"""The emulated compression API against the API document, over plain HTTP (independent of our
hook): envelopes, templates, languages, the create's errors and checks. The jobs' states, logs
and listing: test_compress_jobs.py."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.support import (
    BASE_MODEL,
    DPO_MODEL,
    FAILING_MODEL,
    PARAM_TEMPLATE,
    PLAIN_TEMPLATE,
    RESTRICTED_TEMPLATE,
    SFT_MODEL,
    TIME,
    raw_create,
    unique_name,
)


def test_success_envelope_and_documented_job_fields(raw):
    job = raw_create(raw, output_model_suffix="test", custom_calibration_file_ids=["file-abc"])
    assert re.fullmatch(r"quant-\d{12}-[0-9a-f]{4}", job["job_id"])
    assert job["status"] == "PENDING"
    assert job["base_model"] == BASE_MODEL
    assert job["training_type"] == job["compress_type"] == job["group"] == "quantization"
    assert job["quantized_output"] is None and job["start_time"] is None and job["end_time"] is None
    assert TIME.fullmatch(job["create_time"])
    resp = raw.call("GET", f"/jobs/{job['job_id']}")
    assert set(resp.json()) == {"request_id", "output"}
    uuid.UUID(resp.json()["request_id"])
    assert "usage" not in resp.json()["output"]


def test_templates_listing_and_model_filter(raw):
    everything = raw.call("GET", "/templates").json()["output"]
    assert everything["base_models"] == [BASE_MODEL]
    models = {m["model"]: m for m in everything["custom_models"]}
    assert {SFT_MODEL, DPO_MODEL, FAILING_MODEL} <= set(models)
    assert not any("-lora-" in m for m in models)
    sft_templates = {t["template_id"]: t for t in models[SFT_MODEL]["templates"]}
    assert sft_templates[PLAIN_TEMPLATE]["hyper_parameters"] == []
    params = {p["name"]: p for p in sft_templates[PARAM_TEMPLATE]["hyper_parameters"]}
    assert params["group_size"]["support_values"] == ["64", "128", "256"]
    assert params["calib_seq_len"]["required"] is True and params["calib_seq_len"]["data_range"] == [
        "512",
        "8192",
    ]
    assert (
        params["damp_percent"]["advancedParameter"] is params["damp_percent"]["is_advanced_parameter"] is True
    )
    # the DPO model is not bound to the GPTQ template
    assert PARAM_TEMPLATE not in {t["template_id"] for t in models[DPO_MODEL]["templates"]}

    one = raw.call("GET", "/templates", params={"model": SFT_MODEL}).json()["output"]["custom_models"]
    assert [m["model"] for m in one] == [SFT_MODEL]
    by_base = raw.call("GET", "/templates", params={"model": BASE_MODEL}).json()["output"]["custom_models"]
    assert {m["model"] for m in by_base} == set(models)


@pytest.mark.parametrize(
    ("query", "header", "expected"),
    [
        (None, None, "zh-CN"),
        ("en-US", None, "en-US"),
        (None, "en-US", "en-US"),
        (None, "en-US,en;q=0.9", "en-US"),
        ("zh-CN", "en-US", "zh-CN"),  # the query parameter wins over the header
        ("fr-FR", None, "zh-CN"),  # unsupported falls back to zh-CN
        (None, "ja-JP", "zh-CN"),
    ],
)
def test_language_priority(raw, query, header, expected):
    params = {"model": SFT_MODEL, **({"lang": query} if query else {})}
    headers = {"Accept-Language": header} if header else {}
    output = raw.call("GET", "/templates", params=params, headers=headers).json()["output"]
    name = next(t for t in output["custom_models"][0]["templates"] if t["template_id"] == PLAIN_TEMPLATE)
    assert (
        name["template_name"]
        == {
            "zh-CN": "W4A4 NVFP4高性能压缩-MU5/MU8/MU9",
            "en-US": "W4A4 NVFP4 high-performance compression - MU5/MU8/MU9",
        }[expected]
    )
    error = raw.call("GET", "/jobs/quant-missing", params=params, headers=headers).json()
    assert ("does not exist" in error["message"]) is (expected == "en-US")


CREATE_ERRORS = [
    ({"model": None}, 400, "MissingModel"),
    ({"template_id": None}, 400, "MissingTemplateId"),
    ({"model": BASE_MODEL}, 400, "BaseModelNotSupported"),
    ({"template_id": "quant-nope"}, 400, "TemplateNotFound"),
    ({"model": DPO_MODEL, "template_id": PARAM_TEMPLATE}, 400, "TemplateNotSupported"),
    ({"model": "qwen3.5-flash-2026-02-23-ft-unknown"}, 400, "ModelNotSupported"),
    ({"model": "qwen3.5-flash-2026-02-23-lora-202604010000-x"}, 400, "InvalidParameter"),  # as 7.3
    ({"model": "qwen3.5-flash-2026-02-23-ft-nodata-1"}, 400, "ModelDataUnavailable"),
    ({"job_name": "bad/name<script>"}, 400, "InvalidJobName"),
    ({"model": "qwen3.5-flash-2026-02-23-ft-notready-1"}, 400, "ModelNotReady"),
    ({"template_id": RESTRICTED_TEMPLATE}, 403, "TemplateAccessDenied"),
    ({"template_id": PARAM_TEMPLATE}, 400, "MissingHyperParameter"),
    (
        {"template_id": PARAM_TEMPLATE, "hyper_parameters": {"calib_seq_len": 1024, "x": 1}},
        400,
        "UnknownHyperParameter",
    ),
    (
        {"template_id": PARAM_TEMPLATE, "hyper_parameters": {"calib_seq_len": 1024, "group_size": "96"}},
        400,
        "InvalidHyperParameterValue",
    ),
    (
        {"template_id": PARAM_TEMPLATE, "hyper_parameters": {"calib_seq_len": 100}},
        400,
        "HyperParameterOutOfRange",
    ),
    (
        {"template_id": PARAM_TEMPLATE, "hyper_parameters": {"calib_seq_len": "long"}},
        400,
        "InvalidHyperParameterNumber",
    ),
    (
        {"template_id": PARAM_TEMPLATE, "hyper_parameters": {"calib_seq_len": 1000}},  # step 512 from 512
        400,
        "HyperParameterOutOfRange",
    ),
    (
        {"template_id": PARAM_TEMPLATE, "hyper_parameters": {"calib_seq_len": 1024.5}},  # type int
        400,
        "InvalidHyperParameterNumber",
    ),
    (
        {"template_id": PARAM_TEMPLATE, "hyper_parameters": {"calib_seq_len": 1024, "group_size": True}},
        400,
        "InvalidHyperParameterValue",
    ),
    ({"job_name": "x" * 51}, 400, "InvalidParameter"),
    ({"job_description": "x" * 201}, 400, "InvalidParameter"),
    ({"output_model_suffix": "Test"}, 400, "InvalidParameter"),
    ({"output_model_suffix": "toolong99"}, 400, "InvalidParameter"),
    ({"custom_calibration_file_ids": "file-1"}, 400, "InvalidParameter"),
]


@pytest.mark.parametrize(("change", "status", "code"), CREATE_ERRORS)
def test_create_errors(raw, change, status, code):
    body = {"model": SFT_MODEL, "template_id": PLAIN_TEMPLATE, "job_name": unique_name(), **change}
    body = {k: v for k, v in body.items() if v is not None}
    before = raw.call("GET", "/jobs").json()["output"]["total"]
    resp = raw.call("POST", "/jobs", json=body, params={"lang": "en-US"})
    assert resp.status_code == status, resp.text
    error = resp.json()
    assert error["code"] == code and error["message"] and error["request_id"]
    assert raw.call("GET", "/jobs").json()["output"]["total"] == before


def test_lora_error_matches_the_document(raw):
    """Section 7.3 shows this answer, code included."""
    resp = raw.call(
        "POST",
        "/jobs",
        json={"model": "xxx-lora-yyy", "template_id": PLAIN_TEMPLATE},
        params={"lang": "en-US"},
    )
    assert resp.status_code == 400 and resp.json()["code"] == "InvalidParameter"
    assert resp.json()["message"] == (
        "The specified model 'xxx-lora-yyy' is a LoRA model and not supported for quantization."
    )


def test_hyper_parameter_values_compare_by_value_and_go_in_steps(raw):
    job = raw_create(
        raw,
        template_id=PARAM_TEMPLATE,
        hyper_parameters={"calib_seq_len": 1536.0, "group_size": 128.0, "damp_percent": 0.05},
    )
    assert job["hyper_parameters"] == {"calib_seq_len": 1536.0, "group_size": 128.0, "damp_percent": 0.05}
    off_step = raw.call(
        "POST",
        "/jobs",
        json={"model": SFT_MODEL, "template_id": PARAM_TEMPLATE, "hyper_parameters": {"calib_seq_len": 1100}},
        params={"lang": "en-US"},
    ).json()
    assert (
        off_step["code"] == "HyperParameterOutOfRange" and "not a step of 512 from 512" in off_step["message"]
    )


def test_missing_body(raw):
    resp = raw.call("POST", "/jobs")
    assert resp.status_code == 400 and resp.json()["code"] == "MissingParameter"


def test_invalid_json_body(raw):
    resp = raw.call("POST", "/jobs", data=b"{not json", headers={"Content-Type": "application/json"})
    assert resp.status_code == 400 and resp.json()["code"] == "InvalidParameter"


def test_job_names_are_unique_and_generated_when_absent(raw):
    job = raw_create(raw)
    again = raw.call(
        "POST", "/jobs", json={"model": SFT_MODEL, "template_id": PLAIN_TEMPLATE, "job_name": job["job_name"]}
    )
    assert again.status_code == 400 and again.json()["code"] == "JobNameDuplicated"
    unnamed = raw.call("POST", "/jobs", json={"model": SFT_MODEL, "template_id": PLAIN_TEMPLATE}).json()[
        "output"
    ]
    assert unnamed["job_name"]


def test_hyper_parameters_effective_values(raw):
    job = raw_create(
        raw, template_id=PARAM_TEMPLATE, hyper_parameters={"calib_seq_len": "2048", "group_size": "64"}
    )
    assert job["hyper_parameters"] == {"calib_seq_len": "2048", "group_size": "64", "damp_percent": "0.01"}


# --- the emulator's own surface (not the API's)

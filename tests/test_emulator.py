"""The emulator against the API document, over plain HTTP (independent of our hook)."""

from __future__ import annotations

import re
import time
import uuid

import pytest
from conftest import (
    BASE_MODEL,
    DPO_MODEL,
    FAILING_MODEL,
    PARAM_TEMPLATE,
    PLAIN_TEMPLATE,
    RESTRICTED_TEMPLATE,
    SFT_MODEL,
    RawClient,
)

from airflow_provider_compress.emulator.process import EmulatorProcess

TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create(raw: RawClient, **body) -> dict:
    body = {"model": SFT_MODEL, "template_id": PLAIN_TEMPLATE, "job_name": unique(), **body}
    resp = raw.call("POST", "/jobs", json=body)
    assert resp.status_code == 200, resp.text
    return resp.json()["output"]


def wait_for(raw: RawClient, job_id: str, statuses: set[str], timeout: float = 15) -> tuple[dict, list[str]]:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = raw.call("GET", f"/jobs/{job_id}").json()["output"]
        if not seen or seen[-1] != job["status"]:
            seen.append(job["status"])
        if job["status"] in statuses:
            return job, seen
        time.sleep(0.03)
    raise AssertionError(f"job {job_id} stayed in {seen}")


def test_success_envelope_and_documented_job_fields(raw):
    job = create(raw, output_model_suffix="test", custom_calibration_file_ids=["file-abc"])
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


@pytest.mark.parametrize(
    ("key", "status", "code"),
    [("", 401, "InvalidApiKey"), ("sk-wrong", 401, "InvalidApiKey")],
)
def test_authentication(slow_emulator, key, status, code):
    resp = RawClient(slow_emulator, key=key).call("GET", "/templates")
    assert resp.status_code == status
    assert resp.json()["code"] == code and resp.json()["request_id"] and resp.json()["message"]


def test_workspace_header(raw):
    assert raw.call("GET", "/templates", headers={"X-DashScope-WorkSpace": "ws-allowed"}).status_code == 200
    denied = raw.call("GET", "/templates", headers={"X-DashScope-WorkSpace": "ws-other"})
    assert denied.status_code == 403 and denied.json()["code"] == "AccessDenied"


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
    body = {"model": SFT_MODEL, "template_id": PLAIN_TEMPLATE, "job_name": unique(), **change}
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
    job = create(
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
    job = create(raw)
    again = raw.call(
        "POST", "/jobs", json={"model": SFT_MODEL, "template_id": PLAIN_TEMPLATE, "job_name": job["job_name"]}
    )
    assert again.status_code == 400 and again.json()["code"] == "JobNameDuplicated"
    unnamed = raw.call("POST", "/jobs", json={"model": SFT_MODEL, "template_id": PLAIN_TEMPLATE}).json()[
        "output"
    ]
    assert unnamed["job_name"]


def test_hyper_parameters_effective_values(raw):
    job = create(
        raw, template_id=PARAM_TEMPLATE, hyper_parameters={"calib_seq_len": "2048", "group_size": "64"}
    )
    assert job["hyper_parameters"] == {"calib_seq_len": "2048", "group_size": "64", "damp_percent": "0.01"}


def test_state_machine_logs_and_output(emulator):
    raw = RawClient(emulator)
    job = create(raw, output_model_suffix="test", custom_calibration_file_ids=["file-abc"])
    log_sizes = []
    done, seen = None, []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        current = raw.call("GET", f"/jobs/{job['job_id']}").json()["output"]
        if not seen or seen[-1] != current["status"]:
            seen.append(current["status"])
        log_sizes.append(
            raw.call("GET", f"/jobs/{job['job_id']}/logs", params={"line": 1000}).json()["output"]["total"]
        )
        if current["status"] == "SUCCEEDED":
            done = current
            break
        time.sleep(0.03)
    assert done is not None, seen
    # PENDING and QUEUING last 0.2 s each here, which a busy machine may poll past: every state
    # seen, in order (test_states_follow_the_clock shows each one on the emulator's own clock)
    order = ["PENDING", "QUEUING", "RUNNING", "SUCCEEDED"]
    assert seen == sorted(seen, key=order.index) and {"RUNNING", "SUCCEEDED"} <= set(seen), seen
    assert done["quantized_output"] == f"{BASE_MODEL}-test-{job['job_id']}"
    assert TIME.fullmatch(done["start_time"]) and TIME.fullmatch(done["end_time"])
    assert isinstance(done["usage"], int) and done["error"] is None
    assert len(set(log_sizes)) > 3, "the log grows while the job runs"
    logs = raw.call("GET", f"/jobs/{job['job_id']}/logs", params={"line": 1000}).json()["output"]["logs"]
    assert any("data process succeeded, start to quantization" in line for line in logs)
    assert "Quantization succeeded!" in logs[-1]


def test_states_follow_the_clock():
    """Every state, the short ones too, at the times the emulator's rules give (a fake clock)."""
    from airflow_provider_compress.emulator.app import Config, Emulator

    now = [1_780_000_000.0]
    emulator = Emulator(Config(job_seconds=10, cancel_seconds=1), clock=lambda: now[0])
    done = emulator.create_job({"model": SFT_MODEL, "template_id": PLAIN_TEMPLATE}).job_id
    cancelled = emulator.create_job({"model": SFT_MODEL, "template_id": PLAIN_TEMPLATE}).job_id
    seen = {}
    for at in (0, 1, 2, 5, 10):
        now[0] = 1_780_000_000.0 + at
        seen[at] = emulator.read_job(done).status
        if at == 5:
            emulator.cancel_job(cancelled)
        if at in (5, 10):
            seen[f"cancel {at}"] = emulator.read_job(cancelled).status
    assert seen == {
        0: "PENDING",
        1: "QUEUING",
        2: "RUNNING",
        5: "RUNNING",
        "cancel 5": "CANCELING",
        10: "SUCCEEDED",
        "cancel 10": "CANCELED",
    }


def test_no_calibration_marker_without_files(emulator):
    raw = RawClient(emulator)
    job, _ = wait_for(raw, create(raw)["job_id"], {"SUCCEEDED"})
    logs = raw.call("GET", f"/jobs/{job['job_id']}/logs", params={"line": 1000}).json()["output"]["logs"]
    assert not any("data process succeeded" in line for line in logs)


def test_failing_model_ends_failed_with_error(emulator):
    raw = RawClient(emulator)
    job, _ = wait_for(raw, create(raw, model=FAILING_MODEL)["job_id"], {"SUCCEEDED", "FAILED"})
    assert job["status"] == "FAILED"
    assert job["error"]["code"] and job["error"]["message"]
    assert job["quantized_output"] is None and "usage" not in job


def test_logs_paging(emulator):
    raw = RawClient(emulator)
    job, _ = wait_for(raw, create(raw)["job_id"], {"SUCCEEDED"})
    full = raw.call("GET", f"/jobs/{job['job_id']}/logs", params={"line": 1000}).json()["output"]
    assert full["total"] == len(full["logs"]) > 10
    page = raw.call("GET", f"/jobs/{job['job_id']}/logs", params={"offset": 3, "line": 4}).json()["output"]
    assert page == {"total": full["total"], "logs": full["logs"][3:7]}
    default = raw.call("GET", f"/jobs/{job['job_id']}/logs").json()["output"]
    assert default["logs"] == full["logs"][:100]
    for params in ({"line": 0}, {"line": 1001}, {"offset": -1}, {"offset": "x"}):
        resp = raw.call("GET", f"/jobs/{job['job_id']}/logs", params=params)
        assert resp.status_code == 400 and resp.json()["code"] == "InvalidParameter", params


def test_cancel_goes_through_canceling(emulator):
    raw = RawClient(emulator)
    job = create(raw)
    resp = raw.call("POST", f"/jobs/{job['job_id']}/cancel")
    assert resp.json()["output"] == {"status": "success"}
    # CANCELING lasts 0.3 s here (on the emulator's own clock: test_states_follow_the_clock)
    assert raw.call("GET", f"/jobs/{job['job_id']}").json()["output"]["status"] in ("CANCELING", "CANCELED")
    done, _ = wait_for(raw, job["job_id"], {"CANCELED"})
    assert "usage" in done and done["end_time"] and done["quantized_output"] is None
    again = raw.call("POST", f"/jobs/{job['job_id']}/cancel")
    assert again.status_code == 400 and again.json()["code"] == "UnsupportedOperation"


def test_delete_only_terminal_jobs(raw, emulator):
    active = create(raw)
    refused = raw.call("DELETE", f"/jobs/{active['job_id']}")
    assert refused.status_code == 400 and refused.json()["code"] == "UnsupportedOperation"
    fast = RawClient(emulator)
    finished, _ = wait_for(fast, create(fast)["job_id"], {"SUCCEEDED"})
    assert fast.call("DELETE", f"/jobs/{finished['job_id']}").json()["output"] == {"status": "success"}
    gone = fast.call("GET", f"/jobs/{finished['job_id']}")
    assert gone.status_code == 404 and gone.json()["code"] == "JobNotFound"


def test_unknown_and_missing_job_id(raw):
    assert raw.call("GET", "/jobs/quant-nope").json()["code"] == "JobNotFound"
    missing = raw.call("GET", "/jobs/%20")
    assert missing.status_code == 400 and missing.json()["code"] == "MissingJobId"


def test_list_filters_sort_and_paging(slow_emulator):
    slow_emulator.reset()
    raw = RawClient(slow_emulator)
    tag = unique("lst")
    made = [
        create(raw, job_name=f"{tag}-a"),
        create(
            raw, job_name=f"{tag}-b", template_id=PARAM_TEMPLATE, hyper_parameters={"calib_seq_len": 1024}
        ),
        create(raw, job_name=f"{tag}-c", model=DPO_MODEL),
    ]
    ids = [j["job_id"] for j in made]

    def listed(**params) -> list[str]:
        return [j["job_id"] for j in raw.call("GET", "/jobs", params=params).json()["output"]["jobs"]]

    assert listed() == ids[::-1]  # newest first by default
    assert listed(sort_order="asc") == ids
    assert listed(model=DPO_MODEL) == [ids[2]]
    assert listed(template_id=PARAM_TEMPLATE) == [ids[1]]
    assert listed(quant_method="gptq") == [ids[1]] and listed(quant_spec="w8a8") == [ids[1]]
    assert listed(job_name=f"{tag}-B".upper()) == [ids[1]]  # fuzzy, case-insensitive
    assert listed(job_id=ids[0][-4:]) == [ids[0]]
    assert listed(search_key=tag, sort_order="asc") == ids
    assert listed(search_key=ids[2], select_key="job_id") == [ids[2]]
    assert listed(search_key=ids[2], select_key="job_name") == []
    assert listed(status="PENDING", sort_order="asc") == ids
    assert listed(status="SUCCEEDED") == []
    assert listed(start_time="2000-01-01") == []  # none has started yet
    raw.call("POST", f"/jobs/{ids[0]}/cancel")
    assert listed(status="CANCELING") == [ids[0]]

    page = raw.call("GET", "/jobs", params={"page_size": 2, "page_no": 2, "sort_order": "asc"}).json()[
        "output"
    ]
    assert (page["total"], page["page_no"], page["page_size"]) == (3, 2, 2)
    assert [j["job_id"] for j in page["jobs"]] == [ids[2]]


def test_list_time_filters(emulator):
    emulator.reset()
    raw = RawClient(emulator)
    job, _ = wait_for(raw, create(raw)["job_id"], {"SUCCEEDED"})
    day = job["start_time"][:10]

    def listed(**params) -> list[str]:
        return [j["job_id"] for j in raw.call("GET", "/jobs", params=params).json()["output"]["jobs"]]

    assert listed(start_time=day, end_time=day) == [job["job_id"]]
    assert listed(start_time=job["start_time"], end_time=job["end_time"]) == [job["job_id"]]
    assert listed(end_time="2000-01-01") == []
    assert listed(start_time="2999-01-01 00:00:00") == []


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"page_no": 0}, "InvalidPageNo"),
        ({"page_no": "x"}, "InvalidPageNo"),
        ({"page_size": 0}, "InvalidPageSize"),
        ({"page_size": 101}, "InvalidPageSize"),
        ({"start_time": "2026/04/01"}, "InvalidTimeFormat"),
        ({"end_time": "yesterday"}, "InvalidTimeFormat"),
        ({"sort_by": "name"}, "InvalidParameter"),
        ({"sort_order": "up"}, "InvalidParameter"),
        ({"select_key": "model"}, "InvalidParameter"),
    ],
)
def test_list_errors(raw, params, code):
    resp = raw.call("GET", "/jobs", params=params)
    assert resp.status_code == 400 and resp.json()["code"] == code


def test_injected_faults(raw, slow_emulator):
    slow_emulator.fail_next(1, status=429, retry_after=2)
    throttled = raw.call("GET", "/templates")
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "2"
    assert throttled.json()["code"] == "Throttling"
    slow_emulator.fail_next(1, status=502)
    assert raw.call("GET", "/templates").status_code == 502
    assert raw.call("GET", "/templates").status_code == 200


def test_quota_answers_429():
    with EmulatorProcess(job_seconds=600, max_active_jobs=1) as emu:
        raw = RawClient(emu)
        create(raw)
        resp = raw.call("POST", "/jobs", json={"model": SFT_MODEL, "template_id": PLAIN_TEMPLATE})
        assert resp.status_code == 429 and resp.json()["code"] == "Throttling"
        assert emu.state()["creates"] == 1


# --- the emulator's own surface (not the API's)


def test_the_admin_api_needs_the_key(slow_emulator):
    import requests

    for method, path in [("GET", "/state"), ("GET", "/faults"), ("POST", "/reset"), ("POST", "/fail-next")]:
        answer = requests.request(method, f"{slow_emulator.url}/_emulator{path}", json={}, timeout=10)
        assert answer.status_code == 401, (method, path)
        wrong = {"Authorization": "Bearer sk-wrong"}
        answer = requests.request(method, f"{slow_emulator.url}/_emulator{path}", headers=wrong, timeout=10)
        assert answer.status_code == 401, (method, path)
    assert slow_emulator.admin("GET", "/state").status_code == 200


def test_a_request_without_the_key_spends_no_queued_fault(raw, slow_emulator):
    slow_emulator.fail_next(1, 503)
    stranger = RawClient(slow_emulator, key="sk-wrong")
    assert stranger.call("GET", "/templates").status_code == 401
    assert raw.call("GET", "/templates").status_code == 503  # the fault is still there for the client
    assert raw.call("GET", "/templates").status_code == 200


def test_the_key_is_not_on_the_emulators_command_line():
    import psutil

    with EmulatorProcess(api_key="sk-PS-VISIBLE-51c2") as emu:
        assert emu.pid is not None
        assert "sk-PS-VISIBLE-51c2" not in " ".join(psutil.Process(emu.pid).cmdline())
        assert RawClient(emu).call("GET", "/templates").status_code == 200


def test_access_log_prints_each_request_without_the_key():
    import os
    import subprocess
    import sys

    import requests

    from airflow_provider_compress.emulator.__main__ import KEY_VARIABLE, READY

    env = {**os.environ, KEY_VARIABLE: "sk-ACCESS-LOG-9d0e"}
    command = [sys.executable, "-m", "airflow_provider_compress.emulator", "--port", "0", "--access-log"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        assert proc.stdout is not None
        ready = proc.stdout.readline()
        assert ready.startswith(READY), ready
        url = ready.split()[-1]
        headers = {"Authorization": "Bearer sk-ACCESS-LOG-9d0e"}
        assert requests.get(f"{url}/api/v1/fine-tunes/compress/templates", headers=headers, timeout=10).ok
        line = proc.stdout.readline()
        assert "GET /api/v1/fine-tunes/compress/templates" in line and "200" in line
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=10)
    assert "sk-ACCESS-LOG-9d0e" not in ready + line + output


@pytest.mark.parametrize(
    ("host", "warned"), [("127.0.0.1", False), ("::1", False), ("localhost", False), ("0.0.0.0", True)]
)
def test_binding_beyond_loopback_is_warned_about(host, warned):
    from airflow_provider_compress.emulator.__main__ import exposure_warning

    assert (exposure_warning(host) is not None) is warned


def test_state_without_jobs_is_the_counters_alone(raw, slow_emulator):
    """What benchmarks read mid-run: listing thousands of jobs would stall the emulator."""
    job_id = create(raw)["job_id"]
    full, counters = slow_emulator.state(), slow_emulator.state(jobs=False)
    assert job_id in full["jobs"] and "jobs" not in counters and "deployments" not in counters
    assert counters["creates"] == full["creates"] and counters["requests"] >= full["requests"]
    assert set(counters) == set(full) - {"jobs", "fine_tunes", "deployments", "files"}

"""The emulated compression jobs over plain HTTP (independent of our hook): their states and log
as functions of the clock, cancel and delete, listing, filters and paging, the quota."""

from __future__ import annotations

import time

import pytest

from airflow_provider_compress.emulator.process import EmulatorProcess
from tests.support import (
    BASE_MODEL,
    DPO_MODEL,
    FAILING_MODEL,
    PARAM_TEMPLATE,
    PLAIN_TEMPLATE,
    SFT_MODEL,
    TIME,
    RawClient,
    raw_create,
    raw_wait,
    unique_name,
)


def test_state_machine_logs_and_output(emulator):
    raw = RawClient(emulator)
    job = raw_create(raw, output_model_suffix="test", custom_calibration_file_ids=["file-abc"])
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


def test_no_calibration_marker_without_files(emulator):
    raw = RawClient(emulator)
    job, _ = raw_wait(raw, raw_create(raw)["job_id"], {"SUCCEEDED"})
    logs = raw.call("GET", f"/jobs/{job['job_id']}/logs", params={"line": 1000}).json()["output"]["logs"]
    assert not any("data process succeeded" in line for line in logs)


def test_failing_model_ends_failed_with_error(emulator):
    raw = RawClient(emulator)
    job, _ = raw_wait(raw, raw_create(raw, model=FAILING_MODEL)["job_id"], {"SUCCEEDED", "FAILED"})
    assert job["status"] == "FAILED"
    assert job["error"]["code"] and job["error"]["message"]
    assert job["quantized_output"] is None and "usage" not in job


def test_logs_paging(emulator):
    raw = RawClient(emulator)
    job, _ = raw_wait(raw, raw_create(raw)["job_id"], {"SUCCEEDED"})
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
    job = raw_create(raw)
    resp = raw.call("POST", f"/jobs/{job['job_id']}/cancel")
    assert resp.json()["output"] == {"status": "success"}
    # CANCELING lasts 0.3 s here (on the emulator's own clock: test_states_follow_the_clock)
    assert raw.call("GET", f"/jobs/{job['job_id']}").json()["output"]["status"] in ("CANCELING", "CANCELED")
    done, _ = raw_wait(raw, job["job_id"], {"CANCELED"})
    assert "usage" in done and done["end_time"] and done["quantized_output"] is None
    again = raw.call("POST", f"/jobs/{job['job_id']}/cancel")
    assert again.status_code == 400 and again.json()["code"] == "UnsupportedOperation"


def test_delete_only_terminal_jobs(raw, emulator):
    active = raw_create(raw)
    refused = raw.call("DELETE", f"/jobs/{active['job_id']}")
    assert refused.status_code == 400 and refused.json()["code"] == "UnsupportedOperation"
    fast = RawClient(emulator)
    finished, _ = raw_wait(fast, raw_create(fast)["job_id"], {"SUCCEEDED"})
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
    tag = unique_name("lst")
    made = [
        raw_create(raw, job_name=f"{tag}-a"),
        raw_create(
            raw, job_name=f"{tag}-b", template_id=PARAM_TEMPLATE, hyper_parameters={"calib_seq_len": 1024}
        ),
        raw_create(raw, job_name=f"{tag}-c", model=DPO_MODEL),
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
    job, _ = raw_wait(raw, raw_create(raw)["job_id"], {"SUCCEEDED"})
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


def test_quota_answers_429():
    with EmulatorProcess(job_seconds=600, max_active_jobs=1) as emu:
        raw = RawClient(emu)
        raw_create(raw)
        resp = raw.call("POST", "/jobs", json={"model": SFT_MODEL, "template_id": PLAIN_TEMPLATE})
        assert resp.status_code == 429 and resp.json()["code"] == "Throttling"
        assert emu.state()["creates"] == 1

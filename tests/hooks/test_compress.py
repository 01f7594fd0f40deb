"""CompressHook and CompressAsyncHook against the emulator over real HTTP: the compression API's
endpoints, its errors, local validation, the create that survives a lost answer.

Most tests run twice, through the sync hook and through its async twin (tests/hooks/conftest.py).
Creating and templates are the sync hook's only (triggers never create). Retries and the async
session: test_transport.py; hostile servers and input: test_hardening.py.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid

import pendulum
import pytest

from airflow_provider_compress.emulator.process import EmulatorProcess
from airflow_provider_compress.exceptions import (
    AuthenticationError,
    BadRequestError,
    CompressValidationError,
    NotFoundError,
    PermissionDeniedError,
    ServerError,
)
from airflow_provider_compress.hooks.compress import CompressHook
from airflow_provider_compress.models import Job, JobStatus, TemplateList
from airflow_provider_compress.protocol import COMPRESS
from tests.support import (
    CANCELLED,
    DPO_MODEL,
    FAILING_MODEL,
    PARAM_TEMPLATE,
    PLAIN_TEMPLATE,
    RESTRICTED_TEMPLATE,
    SFT_MODEL,
    Twin,
    requests_served,
    use_connection,
)


def name() -> str:
    return f"h-{uuid.uuid4().hex[:12]}"


def create(**fields) -> Job:
    """A job made through the sync hook (the async one does not create)."""
    return CompressHook().create_job(
        **{"model": SFT_MODEL, "template_id": PLAIN_TEMPLATE, "job_name": name(), **fields}
    )


def wait_terminal(hook: Twin, job_id: str, timeout: float = 20) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = hook.get_job(job_id)
        if COMPRESS.is_terminal(job.status):
            return job
        time.sleep(0.1)
    raise AssertionError(f"{job_id} did not finish")


def test_list_templates_is_typed(conn):
    listing = CompressHook().list_templates()
    assert isinstance(listing, TemplateList)
    template = listing.find_template(SFT_MODEL, PARAM_TEMPLATE)
    assert template is not None and template.compress_type == "quantization"
    params = {p.name: p for p in template.hyper_parameters}
    assert params["calib_seq_len"].required and params["calib_seq_len"].data_range == ["512", "8192"]
    assert params["group_size"].defaultValue == "128"


def test_create_poll_logs_success(hook, emulator):
    job = create(
        template_id=PARAM_TEMPLATE,
        job_description="from the test",
        hyper_parameters={"calib_seq_len": 1024, "group_size": "64"},
        custom_calibration_file_ids=["file-1"],
        output_model_suffix="t1",
    )
    assert job.status is JobStatus.PENDING and not COMPRESS.is_terminal(job.status)
    done = wait_terminal(hook, job.job_id)
    assert done.status == JobStatus.SUCCEEDED
    assert done.quantized_output == f"qwen3.5-flash-2026-02-23-t1-{job.job_id}"
    assert done.hyper_parameters["group_size"] == "64" and done.usage is not None
    lines = hook.iter_logs(job.job_id)
    assert lines == emulator.full_log(job.job_id)
    page = hook.get_logs(job.job_id, offset=2, line=3)
    assert page.logs == lines[2:5] and page.total == len(lines)


def test_failed_job_carries_its_error(hook):
    done = wait_terminal(hook, create(model=FAILING_MODEL).job_id)
    assert done.status == JobStatus.FAILED
    assert done.error is not None and done.error.code and done.error.message


def test_cancel_and_delete(hook, emulator):
    job = create()
    assert hook.cancel_job(job.job_id).status == "success"
    assert hook.get_job(job.job_id).status in (JobStatus.CANCELING, JobStatus.CANCELED)
    assert wait_terminal(hook, job.job_id).status == JobStatus.CANCELED
    assert hook.delete_job(job.job_id).status == "success"
    with pytest.raises(NotFoundError):
        hook.get_job(job.job_id)


def test_delete_refuses_an_active_job_with_the_api_message(slow_hook):
    job = create()
    with pytest.raises(BadRequestError) as raised:
        slow_hook.delete_job(job.job_id)
    assert raised.value.status_code == 400 and job.job_id in raised.value.message


def test_list_and_iterate_every_page(slow_hook):
    tag = name()
    ids = [create(job_name=f"{tag}-{i}").job_id for i in range(5)]
    page = slow_hook.list_jobs(job_name=tag, page_size=2, sort_order="asc")
    assert page.total == 5 and page.page_size == 2 and [j.job_id for j in page.jobs] == ids[:2]
    assert [j.job_id for j in slow_hook.iter_jobs(job_name=tag, page_size=2, sort_order="asc")] == ids
    found = slow_hook.find_job_by_name(f"{tag}-3")
    assert found is not None and found.job_id == ids[3]
    assert slow_hook.find_job_by_name(f"{tag}-") is None  # fuzzy matches are not exact


@pytest.mark.parametrize(
    "since",
    [
        "2000-01-01",
        "2000-01-01 00:00:00",
        "2000-01-01T00:00:00",
        dt.date(2000, 1, 1),
        dt.datetime(2000, 1, 1),
        dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc),
        pendulum.datetime(2000, 1, 1, tz="Asia/Shanghai"),
        pendulum.date(2000, 1, 1),
        "2000-01-01T00:00:00Z",
        "2000-01-01T00:00:00.250+05:30",
    ],
)
def test_time_filters_accept_strings_dates_and_datetimes(hook, since):
    job = wait_terminal(hook, create().job_id)
    found = hook.list_jobs(job_id=job.job_id, start_time=since, end_time=pendulum.now().add(days=1))
    assert [j.job_id for j in found.jobs] == [job.job_id]
    later = hook.list_jobs(job_id=job.job_id, start_time=pendulum.now().add(days=2))
    assert later.jobs == []


def test_the_service_time_zone_comes_from_the_connection(transport, monkeypatch, emulator):
    use_connection(monkeypatch, emulator)
    job = wait_terminal(Twin(transport), create().job_id)
    # the emulator, like the service, writes and reads times in UTC+08:00
    ended = dt.datetime.strptime(job.end_time, "%Y-%m-%d %H:%M:%S") + dt.timedelta(seconds=1)
    just_after = ended.replace(tzinfo=dt.timezone(dt.timedelta(hours=8))).astimezone(dt.timezone.utc)

    def found(end_time) -> list[str]:
        return [j.job_id for j in Twin(transport).list_jobs(job_id=job.job_id, end_time=end_time).jobs]

    assert found(just_after) == [job.job_id]  # an aware UTC value, converted to the service's zone
    assert found(just_after - dt.timedelta(seconds=2)) == []
    use_connection(monkeypatch, emulator, service_timezone="UTC")  # a zone the emulator does not use
    assert found(just_after) == []  # written as UTC wall time: read 8 hours early
    assert found(ended) == [job.job_id]  # a naive value is the service's own wall time


def test_unknown_fields_are_kept(hook, emulator):
    job = hook.get_job(create().job_id)
    assert job.to_dict()["job_id"] == job.job_id
    assert "group" in job.to_dict()
    listing = CompressHook().list_templates()
    assert listing.to_dict()["base_models"] == ["qwen3.5-flash-2026-02-23"]


ERROR_CASES = [
    ({"model": "x-lora-y"}, BadRequestError, 400),
    ({"model": "qwen3.5-flash-2026-02-23"}, BadRequestError, 400),
    ({"model": "qwen3.5-flash-2026-02-23-ft-notready"}, BadRequestError, 400),
    ({"template_id": "quant-none"}, BadRequestError, 400),
    ({"model": DPO_MODEL, "template_id": PARAM_TEMPLATE}, BadRequestError, 400),
    ({"template_id": RESTRICTED_TEMPLATE}, PermissionDeniedError, 403),
    ({"job_name": "a/b"}, BadRequestError, 400),
]


@pytest.mark.parametrize(("change", "error", "status"), ERROR_CASES)
def test_api_errors_carry_status_code_message_request_id(conn, change, error, status):
    with pytest.raises(error) as raised:
        create(**change)
    err = raised.value
    assert err.status_code == status and err.code and err.message and err.request_id
    text = str(err)
    assert str(status) in text and err.code in text and err.message in text and err.request_id in text


def test_not_found(hook):
    with pytest.raises(NotFoundError) as raised:
        hook.get_job("quant-000000000000-none")
    assert raised.value.status_code == 404


def test_language_from_connection_and_per_call(transport, monkeypatch, emulator):
    use_connection(monkeypatch, emulator, lang="en-US")
    hook = Twin(transport)
    with pytest.raises(NotFoundError) as english:
        hook.get_job("quant-none")
    assert "does not exist" in english.value.message
    with pytest.raises(NotFoundError) as chinese:
        hook.get_job("quant-none", lang="zh-CN")
    assert "不存在" in chinese.value.message
    names = {
        t.template_id: t.template_name
        for t in CompressHook().list_templates(model=SFT_MODEL).custom_models[0].templates
    }
    assert names[PLAIN_TEMPLATE].startswith("W4A4 NVFP4 high-performance")


def test_workspace_is_sent(transport, monkeypatch, slow_emulator):
    use_connection(monkeypatch, slow_emulator, workspace_id="ws-other")
    with pytest.raises(PermissionDeniedError):
        Twin(transport).list_jobs(page_size=1)
    use_connection(monkeypatch, slow_emulator, workspace_id="ws-allowed")
    assert Twin(transport).list_jobs(page_size=1).page_size == 1


def test_wrong_key_is_an_authentication_error_without_the_key(transport, monkeypatch, emulator):
    emulator_key = emulator.api_key
    emulator.api_key = "sk-SECRET-wrong-key-123"
    try:
        use_connection(monkeypatch, emulator)
    finally:
        emulator.api_key = emulator_key
    with pytest.raises(AuthenticationError) as raised:
        Twin(transport).list_jobs(page_size=1)
    assert raised.value.status_code == 401
    assert "sk-SECRET" not in str(raised.value) and "sk-SECRET" not in repr(raised.value)


def test_named_create_whose_answer_was_lost_is_not_duplicated(emulator, conn):
    hook = CompressHook()
    job_name = name()
    hook.get_template(SFT_MODEL, PLAIN_TEMPLATE)  # cached on the hook: the next request is the create
    creates = emulator.state()["creates"]
    emulator.fail_next(1, status=503, after=True)  # the job is created, its answer lost
    job = hook.create_job(model=SFT_MODEL, template_id=PLAIN_TEMPLATE, job_name=job_name)
    assert job.job_name == job_name
    assert emulator.state()["creates"] == creates + 1
    assert [j.job_id for j in hook.iter_jobs(job_name=job_name)] == [job.job_id]


def test_unnamed_create_is_not_repeated_after_an_unknown_outcome(emulator, conn):
    hook = CompressHook()
    hook.get_template(SFT_MODEL, PLAIN_TEMPLATE)
    creates = emulator.state()["creates"]
    emulator.fail_next(1, status=503, after=True)
    with pytest.raises(ServerError) as raised:
        hook.create_job(model=SFT_MODEL, template_id=PLAIN_TEMPLATE)
    assert raised.value.attempts == 1
    assert emulator.state()["creates"] == creates + 1


def test_create_retries_a_429_even_unnamed(emulator, conn):
    hook = CompressHook()
    hook.get_template(SFT_MODEL, PLAIN_TEMPLATE)
    creates = emulator.state()["creates"]
    emulator.fail_next(2, status=429, retry_after=0)
    assert hook.create_job(model=SFT_MODEL, template_id=PLAIN_TEMPLATE).job_id
    assert emulator.state()["creates"] == creates + 1


# --- local validation: raised before any request --------------------------------------------

CREATE_ERRORS = [
    ({"output_model_suffix": "Bad"}, "output_model_suffix"),
    ({"output_model_suffix": "123456789"}, "output_model_suffix"),
    ({"job_name": "x" * 51}, "job_name"),
    ({"job_name": " "}, "job_name"),
    ({"job_description": "x" * 201}, "job_description"),
    ({"model": ""}, "model"),
    ({"model": None}, "model"),
    ({"template_id": ""}, "template_id"),
    ({"custom_calibration_file_ids": "f"}, "custom_calibration_file_ids"),
    ({"custom_calibration_file_ids": ["f", ""]}, "custom_calibration_file_ids"),
    ({"custom_calibration_file_ids": 7}, "custom_calibration_file_ids"),
    ({"hyper_parameters": "calib_seq_len=1024"}, "hyper_parameters"),
]


@pytest.mark.parametrize(("change", "field"), CREATE_ERRORS)
def test_create_arguments_are_checked_before_any_request(conn, change, field):
    before = requests_served(conn)
    with pytest.raises(CompressValidationError) as raised:
        create(**change)
    assert raised.value.field == field and field in str(raised.value)
    assert requests_served(conn) == before


LOCAL_ERRORS = [
    ("list_jobs", {"page_no": 0}, "page_no"),
    ("list_jobs", {"page_size": 0}, "page_size"),
    ("list_jobs", {"page_size": 101}, "page_size"),
    ("list_jobs", {"start_time": "2026/04/01"}, "start_time"),
    ("list_jobs", {"end_time": "soon"}, "end_time"),
    ("list_jobs", {"sort_order": "up"}, "sort_order"),
    ("get_logs", {"job_id": "quant-x", "line": 0}, "line"),
    ("get_logs", {"job_id": "quant-x", "line": 1001}, "line"),
    ("get_logs", {"job_id": "quant-x", "offset": -1}, "offset"),
    ("get_job", {"job_id": " "}, "job_id"),
]


@pytest.mark.parametrize(("method", "args", "field"), LOCAL_ERRORS)
def test_local_validation_sends_nothing(hook, emulator, method, args, field):
    before = requests_served(emulator)
    with pytest.raises(CompressValidationError) as raised:
        getattr(hook, method)(**args)
    assert raised.value.field == field and field in str(raised.value)
    assert requests_served(emulator) == before


HYPER_ERRORS = [
    ({"calib_seq_len": 1024, "nope": 1}, "hyper_parameters.nope", "is not a hyper-parameter"),
    ({}, "hyper_parameters.calib_seq_len", "is required"),
    ({"calib_seq_len": 1024, "group_size": "96"}, "hyper_parameters.group_size", "must be one of"),
    ({"calib_seq_len": 1024, "group_size": True}, "hyper_parameters.group_size", "must be one of"),
    ({"calib_seq_len": 100}, "hyper_parameters.calib_seq_len", "must be between 512 and 8192"),
    ({"calib_seq_len": "long"}, "hyper_parameters.calib_seq_len", "must be a number"),
    ({"calib_seq_len": 1000}, "hyper_parameters.calib_seq_len", "must go in steps of 512 from 512"),
    ({"calib_seq_len": 1024.5}, "hyper_parameters.calib_seq_len", "must be a whole number"),
    ({"calib_seq_len": 1024, "damp_percent": "x"}, "hyper_parameters.damp_percent", "must be a number"),
]


@pytest.mark.parametrize(("values", "field", "rule"), HYPER_ERRORS)
def test_hyper_parameters_checked_against_the_template_before_create(conn, values, field, rule):
    hook = CompressHook()
    hook.get_template(SFT_MODEL, PARAM_TEMPLATE)  # the lookup is cached on the hook
    creates, before = conn.state()["creates"], requests_served(conn)
    with pytest.raises(CompressValidationError) as raised:
        hook.create_job(model=SFT_MODEL, template_id=PARAM_TEMPLATE, job_name=name(), hyper_parameters=values)
    assert raised.value.field == field and rule in raised.value.rule
    assert requests_served(conn) == before and conn.state()["creates"] == creates


def test_enum_and_numbers_compare_by_value(conn):
    """128.0 is the template's "128" and 1536.0 a whole step: the client and the emulator accept them."""
    values = {"calib_seq_len": 1536.0, "group_size": 128.0, "damp_percent": "0.05"}
    job = create(template_id=PARAM_TEMPLATE, hyper_parameters=values)
    assert job.hyper_parameters == values  # effective values, as given


def test_calibration_files_from_a_generator_reach_the_job(conn):
    files = (f"file-calib-{i}" for i in range(3))
    job = create(custom_calibration_file_ids=files)
    assert job.custom_calibration_file_ids == ["file-calib-0", "file-calib-1", "file-calib-2"]
    assert conn.job(job.job_id)["custom_calibration_file_ids"] == job.custom_calibration_file_ids


def test_successful_answers_keep_their_request_id(hook, conn):
    job = create()
    assert job.request_id == conn.state()["last_request_id"]
    read = hook.get_job(job.job_id)
    assert read.request_id == conn.state()["last_request_id"] != job.request_id
    page = hook.list_jobs(job_id=job.job_id)
    assert page.request_id == conn.state()["last_request_id"] and page.jobs[0].job_id == job.job_id
    assert "request_id" not in read.to_dict()  # the object as the API sent it


def test_iter_logs_pages_a_thousand_lines_a_request(transport, monkeypatch):
    with EmulatorProcess(job_seconds=0.5, log_lines=2500) as emu:
        use_connection(monkeypatch, emu)
        hook = Twin(transport)
        job = wait_terminal(hook, create().job_id)
        before = requests_served(emu)
        lines = hook.iter_logs(job.job_id)
        assert lines == emu.full_log(job.job_id) and len(lines) > 2500
        assert requests_served(emu) - before == 3  # ceil(2504 / 1000)
        assert hook.iter_logs(job.job_id, offset=2000) == lines[2000:]


def test_a_stop_whose_answer_was_lost_is_not_an_error(slow_conn, slow_hook):
    """Through either transport: the cancel is served, its answer lost; the retry's 400 is
    checked against the job (canceling), not raised."""
    job = CompressHook().create_job(
        model=SFT_MODEL, template_id=PLAIN_TEMPLATE, job_name=f"lost-{uuid.uuid4().hex[:8]}"
    )
    slow_conn.fail_next(1, status=503, after=True)
    assert slow_hook.stop_resource(COMPRESS, job.job_id) is True
    assert slow_conn.job(job.job_id)["status"] in CANCELLED


def test_a_first_stops_refusal_stands(conn, hook):
    """A cancel refused on its first try (the job ended) is raised, through either transport."""
    job = wait_terminal(hook, create().job_id)
    with pytest.raises(BadRequestError):
        hook.stop_resource(COMPRESS, job.job_id)

"""The protocol core's pure functions: settings, parsing, models, retry decisions, validation."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pendulum
import pytest

from airflow_provider_compress import protocol
from airflow_provider_compress.exceptions import (
    AuthenticationError,
    BadRequestError,
    CompressApiError,
    CompressConnectionError,
    CompressValidationError,
    InvalidResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
)
from airflow_provider_compress.models import Job, JobStatus, Template
from airflow_provider_compress.specs import CompressJobSpec
from airflow_provider_compress.validation import check_hyper_parameters, same_value


@pytest.mark.parametrize(
    ("host", "schema", "port", "expected"),
    [
        (None, None, None, "https://dashscope.aliyuncs.com"),
        ("", None, None, "https://dashscope.aliyuncs.com"),
        ("https://dashscope-intl.aliyuncs.com", None, None, "https://dashscope-intl.aliyuncs.com"),
        ("dashscope-intl.aliyuncs.com", None, None, "https://dashscope-intl.aliyuncs.com"),
        ("http://127.0.0.1:8089/", None, None, "http://127.0.0.1:8089"),
        ("127.0.0.1", "http", 8089, "http://127.0.0.1:8089"),
        (
            "https://dashscope.aliyuncs.com/api/v1/fine-tunes/compress",
            None,
            None,
            "https://dashscope.aliyuncs.com",
        ),
        ("https://dashscope.aliyuncs.com/api/v1", None, None, "https://dashscope.aliyuncs.com"),
        # any endpoint pasted whole, as docs/connection.md says
        ("https://dashscope.aliyuncs.com/api/v1/deployments/", None, None, "https://dashscope.aliyuncs.com"),
        (
            "https://dashscope-intl.aliyuncs.com/api/v1/services/aigc/text-generation/generation",
            None,
            None,
            "https://dashscope-intl.aliyuncs.com",
        ),
        (
            "https://gw.example.com/dashscope/api/v1/fine-tunes",
            None,
            None,
            "https://gw.example.com/dashscope",
        ),
        ("https://gw.example.com/api/v10", None, None, "https://gw.example.com/api/v10"),
    ],
)
def test_base_url(host, schema, port, expected):
    assert protocol.base_url_from(host, schema, port) == expected


def test_settings_from_connection_extras_and_no_key_in_repr():
    settings = protocol.ClientSettings.from_connection(
        host="http://127.0.0.1:1",
        password="sk-SECRET",
        extra={"extra__dashscope__workspace_id": "ws-1", "lang": "en-US", "timeout": "5", "retry_limit": 3},
    )
    assert settings.workspace_id == "ws-1" and settings.lang == "en-US" and settings.timeout == 5
    assert settings.retry.attempts == 3
    assert "sk-SECRET" not in repr(settings)
    assert settings.headers()["X-DashScope-WorkSpace"] == "ws-1"
    assert settings.headers()["Authorization"] == "Bearer sk-SECRET"
    request = protocol.get_job("quant-1").request
    assert settings.params(request) == {"lang": "en-US"}
    assert settings.params(protocol.get_job("quant-1", lang="zh-CN").request) == {"lang": "zh-CN"}
    assert settings.url(request) == "http://127.0.0.1:1/api/v1/fine-tunes/compress/jobs/quant-1"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"timeout": "soon"}, "extra.timeout"),
        ({"retry_limit": 0}, "extra.retry_limit"),
        ({"retry_delay": -1}, "extra.retry_delay"),
        ({"service_timezone": "Mars/Olympus"}, "extra.service_timezone"),
        ({"service_timezone": "+25:00"}, "extra.service_timezone"),
    ],
)
def test_bad_connection_extras_are_named(extra, field):
    with pytest.raises(CompressValidationError) as raised:
        protocol.ClientSettings.from_connection(host=None, password="k", extra=extra)
    assert raised.value.field == field


def test_missing_key_is_a_clear_error():
    with pytest.raises(CompressValidationError, match="API key"):
        protocol.ClientSettings.from_connection(host=None, password=None, extra={})


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (429, RateLimitError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (418, CompressApiError),
    ],
)
def test_errors_classified_by_status_whatever_the_code_string(status, error):
    body = json.dumps({"request_id": "r-1", "code": "", "message": "boom"}).encode()
    with pytest.raises(error) as raised:
        protocol.parse_response(status, body, {"Retry-After": "7"})
    err = raised.value
    assert type(err) is error and err.status_code == status and err.message == "boom"
    assert err.request_id == "r-1" and err.retry_after == 7


def test_error_without_json_body_keeps_the_text():
    with pytest.raises(ServerError) as raised:
        protocol.parse_response(502, b"<html>Bad Gateway</html>", {"X-Request-Id": "gw-1"})
    assert "Bad Gateway" in raised.value.message and raised.value.request_id == "gw-1"


@pytest.mark.parametrize(
    "body", [b'{"request_id": "r", "output": {"job_', b"", b"[]", b'{"request_id": "r"}']
)
def test_success_status_with_a_broken_body(body):
    with pytest.raises(InvalidResponseError) as raised:
        protocol.parse_response(200, body, {})
    assert raised.value.status_code == 200


def test_models_keep_unknown_fields():
    job = Job.from_api({"job_id": "quant-1", "status": "RUNNING", "brand_new": {"x": 1}, "error": None})
    assert job.status == "RUNNING" and job.status is JobStatus.RUNNING
    assert job.brand_new == {"x": 1} and job.extra == {"brand_new": {"x": 1}}
    assert job.to_dict()["brand_new"] == {"x": 1}
    future = Job.from_api({"job_id": "quant-2", "status": "ARCHIVED"})
    assert future.status == "ARCHIVED" and not future.is_terminal
    with pytest.raises(AttributeError):
        _ = job.not_there


def test_status_sets():
    assert {s for s in JobStatus if s.is_terminal} == {
        JobStatus.SUCCEEDED,
        JobStatus.FAILED,
        JobStatus.CANCELED,
    }
    assert str(JobStatus.CANCELING) == "CANCELING" and f"{JobStatus.RUNNING}" == "RUNNING"


def test_wait_grows_is_bounded_and_honours_retry_after():
    policy = protocol.RetryPolicy(attempts=8, initial_delay=1, max_delay=8, max_elapsed=60)
    ceilings = [policy.wait_seconds(n, rand=1.0) for n in range(1, 7)]
    assert ceilings == [1, 2, 4, 8, 8, 8]
    assert policy.wait_seconds(3, rand=0.0) == 2  # jitter keeps at least half the ceiling
    assert policy.wait_seconds(1, retry_after=20, rand=0.0) == 20
    assert policy.wait_seconds(1, retry_after=600, rand=0.0) == 60  # never beyond the total budget


def test_retry_delay_is_the_async_retry_rule():
    policy = protocol.RetryPolicy(attempts=3, initial_delay=1, max_delay=8, max_elapsed=10)
    get = protocol.get_job("j").request
    assert 0.5 <= protocol.retry_delay(policy, get, ServerError(503), 1, 0.0) <= 1
    assert protocol.retry_delay(policy, get, ServerError(503), 3, 0.0) is None  # the attempt limit
    assert protocol.retry_delay(policy, get, ServerError(503), 1, 9.9) is None  # the time budget
    assert protocol.retry_delay(policy, get, BadRequestError(400), 1, 0.0) is None  # not transient
    assert protocol.retry_delay(policy, get, RateLimitError(429, retry_after=4), 1, 0.0) == 4


@pytest.mark.parametrize(
    ("error", "named_create", "plain_get"),
    [
        (RateLimitError(429), True, True),
        (CompressConnectionError("refused", request_sent=False), True, True),
        (ServerError(503), True, True),
        (CompressConnectionError("reset"), True, True),
        (InvalidResponseError(200), True, True),
        (BadRequestError(400), False, False),
        (NotFoundError(404), False, False),
        (AuthenticationError(401), False, False),
    ],
)
def test_transient_errors(error, named_create, plain_get):
    named = CompressJobSpec(model="m", template_id="t", job_name="n").call().request
    unnamed = CompressJobSpec(model="m", template_id="t").call().request
    assert protocol.is_transient(error, named) is named_create
    assert protocol.is_transient(error, protocol.get_job("j").request) is plain_get
    # an unnamed create repeats only what cannot have created a job
    expected_unnamed = isinstance(error, RateLimitError) or (
        isinstance(error, CompressConnectionError) and not error.request_sent
    )
    assert protocol.is_transient(error, unnamed) is expected_unnamed


SHANGHAI = protocol.ClientSettings(api_key="k")  # the default service zone: UTC+08:00
UTC = protocol.ClientSettings.from_connection(host=None, password="k", extra={"service_timezone": "UTC"})


def rendered(settings: protocol.ClientSettings, **filters) -> dict[str, str]:
    """The query parameters as the hooks send them."""
    return settings.params(protocol.list_jobs(**filters).request)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-04-01", "2026-04-01"),
        ("2026-04-01 12:30:00", "2026-04-01 12:30:00"),
        ("2026-04-01T12:30:00", "2026-04-01 12:30:00"),
        ("2026-04-01T04:30:00+00:00", "2026-04-01 12:30:00"),
        ("2026-04-01T04:30:00Z", "2026-04-01 12:30:00"),
        ("2026-04-01T04:30:00.500-00:00", "2026-04-01 12:30:00"),
        ("2026-04-01T12:30:00+08:00", "2026-04-01 12:30:00"),
        (dt.date(2026, 4, 1), "2026-04-01"),
        (dt.datetime(2026, 4, 1, 12, 30), "2026-04-01 12:30:00"),
        (dt.datetime(2026, 4, 1, 4, 30, tzinfo=dt.timezone.utc), "2026-04-01 12:30:00"),
        (pendulum.datetime(2026, 4, 1, 4, 30, tz="UTC"), "2026-04-01 12:30:00"),
        (pendulum.datetime(2026, 4, 1, 6, 30, tz="Europe/Berlin"), "2026-04-01 12:30:00"),
        (pendulum.date(2026, 4, 1), "2026-04-01"),
    ],
)
def test_time_filters(value, expected):
    assert rendered(SHANGHAI, start_time=value)["start_time"] == expected


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, "2026-04-01 12:30:00"),
        ({"service_timezone": "UTC"}, "2026-04-01 04:30:00"),
        ({"service_timezone": "+05:30"}, "2026-04-01 10:00:00"),
        ({"service_timezone": "UTC-3"}, "2026-04-01 01:30:00"),
        ({"service_timezone": "Asia/Shanghai"}, "2026-04-01 12:30:00"),
    ],
)
def test_time_filters_are_written_in_the_connections_service_zone(extra, expected):
    settings = protocol.ClientSettings.from_connection(host=None, password="k", extra=extra)
    aware = pendulum.datetime(2026, 4, 1, 4, 30, tz="UTC")
    assert rendered(settings, end_time=aware)["end_time"] == expected
    # naive values and bare dates are the service's own wall time, whatever its zone
    naive = rendered(settings, start_time="2026-04-01 12:30:00", end_time=dt.date(2026, 4, 2))
    assert (naive["start_time"], naive["end_time"]) == ("2026-04-01 12:30:00", "2026-04-02")


@pytest.mark.parametrize("value", ["2026/04/01", "tomorrow", 20260401, "2026-13-01", ""])
def test_bad_time_filters(value):
    with pytest.raises(CompressValidationError) as raised:
        protocol.list_jobs(end_time=value)
    assert raised.value.field == "end_time" and "YYYY-MM-DD" in raised.value.rule


def test_list_jobs_request_renders_filters():
    call = protocol.list_jobs(status=JobStatus.RUNNING, start_time=dt.date(2026, 4, 1), page_size=50)
    params = SHANGHAI.params(call.request)
    assert params["status"] == "RUNNING" and params["start_time"] == "2026-04-01"
    assert params["sort_by"] == "create_time" and params["sort_order"] == "desc" and params["page_no"] == "1"
    assert UTC.params(call.request)["start_time"] == "2026-04-01"


def test_hyper_parameters_numbers_and_bounds():
    template = Template.from_api(
        {
            "template_id": "t",
            "hyper_parameters": [
                {"name": "ratio", "type": "float", "data_range": ["0.001", "0.1"], "required": False},
            ],
        }
    )
    check_hyper_parameters(template, {"ratio": "0.1"})
    check_hyper_parameters(template, {"ratio": 0.001})
    for bad in ("nan", True, "1e9"):
        with pytest.raises(CompressValidationError):
            check_hyper_parameters(template, {"ratio": bad})


@pytest.mark.parametrize(
    ("given", "other", "same"),
    [
        (128, "128", True),
        (128.0, "128", True),
        ("128.0", "128", True),
        (Decimal("0.010"), "0.01", True),
        (True, "True", False),
        ("True", True, False),
        (True, True, True),
        (1, True, False),
        ("abc", "abc", True),
        ("abc", "ABC", False),
        (None, "None", False),
    ],
)
def test_values_compare_by_value_not_by_text(given, other, same):
    assert same_value(given, other) is same


def test_steps_count_from_the_lower_bound_and_integers_are_whole():
    template = Template.from_api(
        {
            "template_id": "t",
            "hyper_parameters": [
                {"name": "len", "type": "int", "data_range": ["512", "8192"], "step": 512},
                {"name": "k", "type": "int", "step": 4},
                {"name": "size", "type": "enum", "support_values": ["64", "128"]},
            ],
        }
    )
    check_hyper_parameters(template, {"len": "1024", "k": 8, "size": 128.0})
    check_hyper_parameters(template, {"len": 8192.0, "k": -4, "size": "64"})
    for values, rule in [
        ({"len": 1000}, "steps of 512 from 512"),
        ({"len": 1536.5}, "whole number"),
        ({"k": 6}, "steps of 4"),
        ({"size": True}, "one of 64, 128"),
        ({"size": "064x"}, "one of 64, 128"),
    ]:
        with pytest.raises(CompressValidationError, match=rule):
            check_hyper_parameters(template, values)


def test_paging_helpers():
    from airflow_provider_compress.models import JobLogs, JobPage

    def next_page(total, asked, seen, items, echoed=None):
        page = JobPage.from_api({"total": total, "page_no": echoed or asked, "page_size": 2, "jobs": items})
        return protocol.next_page_no(asked, seen, page, page.jobs)

    assert next_page(5, 2, 4, [{}, {}]) == 3
    assert next_page(5, 3, 5, [{}]) is None
    assert next_page(9, 1, 0, []) is None
    # it advances from the page asked for, whatever page number the answer echoes
    assert next_page(5, 2, 4, [{}, {}], echoed=1) == 3
    # and counts items: a server that serves fewer per page than asked is walked to the end
    assert next_page(42, 1, 10, [{}] * 10) == 2
    assert protocol.next_log_offset(0, JobLogs.from_api({"total": 2500, "logs": ["x"] * 1000})) == 1000
    assert protocol.next_log_offset(2000, JobLogs.from_api({"total": 2500, "logs": ["x"] * 500})) is None

"""Reading answers: errors classified by HTTP status, broken bodies, where paging ends; the errors
keep their fields when pickled."""

from __future__ import annotations

import json

import pytest

from airflow_provider_compress import protocol
from airflow_provider_compress.exceptions import (
    AuthenticationError,
    BadRequestError,
    CompressApiError,
    InvalidResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
)


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
    assert protocol.read_log_page(0, 1000, JobLogs.from_api({"total": 2500, "logs": ["x"] * 1000})) == (
        protocol.LogRead(["x"] * 1000, 1000)
    )
    assert protocol.read_log_page(2000, 1000, JobLogs.from_api({"total": 2500, "logs": ["x"] * 500})) == (
        protocol.LogRead(["x"] * 500, None)
    )


LOG = [f"line {n}" for n in range(1, 9)]  # a job's log of 8 lines


def page(total, lines):
    from airflow_provider_compress.models import JobLogs

    return JobLogs.from_api({"total": total, "logs": lines})


def test_a_page_that_starts_where_asked_is_taken_whole():
    assert protocol.read_log_page(4, 100, page(8, LOG[4:])) == protocol.LogRead(LOG[4:], None)
    assert protocol.read_log_page(4, 2, page(8, LOG[4:6])) == protocol.LogRead(LOG[4:6], 6)


def test_a_page_that_ignores_the_offset_gives_only_the_new_lines_and_says_so():
    read = protocol.read_log_page(4, 100, page(8, LOG))  # the whole log, from line 1
    assert read.lines == LOG[4:] and read.next_offset is None
    assert "did not start there" in read.problem


def test_a_page_that_steps_back_gives_only_the_new_lines_and_says_so():
    read = protocol.read_log_page(4, 100, page(8, LOG[2:]))
    assert read.lines == LOG[4:] and "did not start there" in read.problem


def test_a_full_page_that_did_not_start_at_the_offset_is_not_placed():
    # 3 lines asked from line 6 of 8, a full page: more than the 2 left, so it started earlier,
    # and being full it need not end at the log's end either
    read = protocol.read_log_page(6, 3, page(8, LOG[2:5]))
    assert read == protocol.LogRead([], None, read.problem) and "cannot be placed" in read.problem


def test_a_log_that_shrank_below_what_was_read_gives_nothing_and_says_so():
    read = protocol.read_log_page(8, 100, page(3, []))
    assert read.lines == [] and read.next_offset is None and "shrank" in read.problem


def test_a_page_without_a_total_is_trusted_and_ends_the_read():
    from airflow_provider_compress.models import JobLogs

    assert protocol.read_log_page(4, 100, JobLogs.from_api({"logs": LOG[4:]})) == protocol.LogRead(
        LOG[4:], None
    )


def test_api_error_pickles_with_its_fields():
    import pickle

    err = pickle.loads(pickle.dumps(BadRequestError(400, "C", "m", "rid")))
    assert isinstance(err, CompressApiError) and (err.status_code, err.code, err.message, err.request_id) == (
        400,
        "C",
        "m",
        "rid",
    )

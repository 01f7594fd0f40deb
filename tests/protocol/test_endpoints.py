"""Building requests: the compression job list's filters, time filters in the service's zone."""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest

from airflow_provider_compress import protocol
from airflow_provider_compress.exceptions import CompressValidationError
from airflow_provider_compress.models import JobStatus

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

"""The hooks against hostile and careless input, over real HTTP: keys with stray characters,
ids that are path segments, servers that trickle, page forever or answer in the wrong shape, and
(properties) whatever the arguments or answers, only the provider's errors escape, without the key.

The settings' own refusals (clear-text hosts, CA files) are in tests/protocol/test_settings.py, TLS
in test_tls.py."""

from __future__ import annotations

import dataclasses
import json
import logging
import time

import pytest

from airflow_provider_compress import protocol
from airflow_provider_compress.emulator.process import EmulatorProcess
from airflow_provider_compress.exceptions import (
    CompressConnectionError,
    CompressValidationError,
    InvalidResponseError,
)
from airflow_provider_compress.hooks.compress import CompressHook
from airflow_provider_compress.protocol import ClientSettings
from tests.support import JOBS_PATH, PLAIN_TEMPLATE, SFT_MODEL, Twin, provider_log_records, unique_name

KEY = "sk-HARDEN-0d9c41"


@pytest.fixture(scope="module")
def keyed():
    with EmulatorProcess(api_key=KEY, job_seconds=2, log_lines=5) as emu:
        yield emu


@pytest.fixture
def provider_log():
    with provider_log_records() as records:
        yield records


def connection(monkeypatch, emu, password: str | None = None, **extra) -> None:
    conn = json.loads(emu.connection_json(retry_delay=0.01, retry_max_delay=0.05, **extra))
    if password is not None:
        conn["password"] = password
    monkeypatch.setenv("AIRFLOW_CONN_DASHSCOPE_DEFAULT", json.dumps(conn))


# --- keys


@pytest.mark.parametrize("stored", [KEY + "\n", f"  {KEY}\r\n", f"\t{KEY} "])
def test_a_key_with_surrounding_whitespace_is_used_stripped(transport, monkeypatch, keyed, stored):
    connection(monkeypatch, keyed, password=stored)
    assert Twin(transport).list_jobs(page_size=1).page_size == 1


@pytest.mark.parametrize("stored", [f"sk-HARDEN\n{KEY}", f"{KEY}\x00", f"sk-HARD EN-{KEY}", f"{KEY}é"])
def test_a_key_with_other_stray_characters_is_refused_without_quoting_it(
    transport, monkeypatch, keyed, stored
):
    connection(monkeypatch, keyed, password=stored)
    before = keyed.state()["requests"]
    with pytest.raises(
        CompressValidationError, match="password: the API key must be printable ASCII"
    ) as raised:
        Twin(transport).list_jobs(page_size=1)
    assert KEY not in str(raised.value) and "HARDEN" not in repr(raised.value)
    assert keyed.state()["requests"] == before
    ok, message = CompressHook().test_connection()
    assert not ok and KEY not in message


@pytest.mark.parametrize("workspace", ["ws-1\n", "ws-1\r\nX-Injected: 1", "ws 1"])
def test_a_workspace_id_that_is_no_header_value_is_refused_before_any_request(
    transport, monkeypatch, keyed, workspace
):
    """The workspace id is sent as a header too: a line break would end it (or add another)."""
    connection(monkeypatch, keyed, workspace_id=workspace)
    before = keyed.state()["requests"]
    with pytest.raises(CompressValidationError, match=r"extra\.workspace_id: must be printable ASCII"):
        Twin(transport).list_jobs(page_size=1)
    assert keyed.state()["requests"] == before


@pytest.mark.parametrize("transport", ["sync", "async"])
def test_a_request_the_http_library_refuses_is_neither_quoted_nor_retried(
    transport, monkeypatch, keyed, caplog, provider_log
):
    """Past the checks (a key that reached the transport anyway): requests' InvalidHeader and
    aiohttp's ValueError quote the header; the error and the log must not."""
    connection(monkeypatch, keyed)
    bad = dataclasses.replace(ClientSettings.from_connection(host=keyed.url, password=KEY, extra={}))
    object.__setattr__(bad, "api_key", f"{KEY}\nX-Injected: 1")
    monkeypatch.setattr(ClientSettings, "from_connection", classmethod(lambda cls, **given: bad))
    caplog.set_level(logging.DEBUG)
    before = keyed.state()["requests"]
    started = time.monotonic()
    with pytest.raises(CompressValidationError, match=r"request: GET .* could not be sent") as raised:
        Twin(transport).list_jobs(page_size=1)
    assert time.monotonic() - started < 2  # not retried with backoff
    assert KEY not in str(raised.value) and KEY not in caplog.text and KEY not in repr(provider_log)
    assert keyed.state()["requests"] == before


# --- ids


@pytest.mark.parametrize("job_id", ["", "  ", ".", "..", "a\nb", "x\x7f"])
@pytest.mark.parametrize("method", ["get_job", "cancel_job", "delete_job", "get_logs"])
def test_ids_that_are_no_path_segment_are_refused_before_any_request(
    transport, monkeypatch, keyed, job_id, method
):
    connection(monkeypatch, keyed)
    if transport == "async" and method in ("cancel_job", "delete_job", "get_logs"):
        pytest.skip("the async hook reads; one read covers its shared path building")
    before = keyed.state()["requests"]
    with pytest.raises(CompressValidationError, match="job_id"):
        getattr(Twin(transport), method)(job_id)
    assert keyed.state()["requests"] == before


# --- a server that trickles, pages forever, or answers in the wrong shape


def test_the_timeout_is_a_total_even_when_the_answer_trickles(transport, monkeypatch, keyed):
    """The answer's body comes a byte at a time over 8 s: each read is quick, the whole is not."""
    connection(monkeypatch, keyed, timeout=2, retry_limit=1)
    keyed.set_faults(slow_seconds=8)
    keyed.fail_next(1, "trickle")
    try:
        started = time.monotonic()
        with pytest.raises(CompressConnectionError):
            Twin(transport).list_jobs(page_size=1)
        assert time.monotonic() - started < 4
    finally:
        keyed.set_faults(slow_seconds=35)


def page(total: int, page_no: int, count: int) -> str:
    jobs = [{"job_id": f"quant-x-{i}", "job_name": f"n{i}", "status": "RUNNING"} for i in range(count)]
    return json.dumps(
        {"request_id": "r", "output": {"total": total, "page_no": page_no, "page_size": 100, "jobs": jobs}}
    )


def test_paging_ends_at_the_total_when_every_page_echoes_page_1(transport, monkeypatch, keyed):
    """Every page echoes page 1: the walk still ends at ``total`` (it counts items), 7 pages unread."""
    connection(monkeypatch, keyed)
    keyed.answer_next(10, page(total=250, page_no=1, count=100), method="GET", path=JOBS_PATH)
    try:
        assert len(Twin(transport).iter_jobs()) == 300  # three pages asked, then total is reached
        assert keyed.faults()["queued"] == 7
    finally:
        keyed.reset()


def test_paging_advances_from_the_request_not_the_echoed_page(transport, fresh_conn):
    """Page 1 echoes page 7: the walk asks for page 2 next, not page 8 (empty: the walk would end)."""
    name = unique_name("echo")
    for n in range(3):
        CompressHook().create_job(model=SFT_MODEL, template_id=PLAIN_TEMPLATE, job_name=f"{name}-{n}")
    listed = [job.job_id for job in CompressHook().iter_jobs(job_name=name, page_size=1)]
    fresh_conn.answer_next(1, page(total=3, page_no=7, count=1), method="GET", path=JOBS_PATH)
    walked = [job.job_id for job in Twin(transport).iter_jobs(job_name=name, page_size=1)]
    assert len(listed) == 3 and walked == ["quant-x-0", *listed[1:]]  # pages 2 and 3 of the list


def test_paging_stops_on_an_empty_page(transport, monkeypatch, keyed):
    """Full pages queued after the empty one: a walk that went on past it would read them."""
    connection(monkeypatch, keyed)
    keyed.answer_next(1, page(total=1000, page_no=1, count=100), method="GET", path=JOBS_PATH)
    keyed.answer_next(1, page(total=1000, page_no=2, count=0), method="GET", path=JOBS_PATH)
    keyed.answer_next(3, page(total=1000, page_no=3, count=100), method="GET", path=JOBS_PATH)
    try:
        assert len(Twin(transport).iter_jobs()) == 100
        assert keyed.faults()["queued"] == 3
    finally:
        keyed.reset()


def test_paging_is_bounded(transport, monkeypatch, keyed):
    connection(monkeypatch, keyed)
    monkeypatch.setattr(protocol, "MAX_PAGES", 4)
    keyed.answer_next(4, page(total=10**9, page_no=1, count=100), method="GET", path=JOBS_PATH)
    with pytest.raises(InvalidResponseError, match="did not end within 4 pages"):
        Twin(transport).iter_jobs()


def test_a_log_read_is_bounded_and_goes_on_next_time(transport, monkeypatch, keyed):
    connection(monkeypatch, keyed)
    monkeypatch.setattr(protocol, "MAX_PAGES", 2)
    body = json.dumps({"request_id": "r", "output": {"total": 10**9, "logs": ["a line"] * 1000}})
    keyed.answer_next(2, body, method="GET", path=JOBS_PATH + "/.*/logs")
    assert len(Twin(transport).iter_logs("quant-any")) == 2000


@pytest.mark.parametrize(
    ("output", "field"),
    [
        ({"total": 2, "logs": "two\nlines"}, "logs"),
        ({"total": 2, "logs": [1, 2]}, "logs"),
        ({"total": "lots", "logs": []}, "total"),
        ({"total": True, "logs": []}, "total"),
        (["not", "an", "object"], "JobLogs"),
    ],
)
def test_a_log_page_of_another_shape_is_an_invalid_response(transport, monkeypatch, keyed, output, field):
    connection(monkeypatch, keyed, retry_limit=1)
    keyed.answer_next(1, json.dumps({"request_id": "r", "output": output}), path=JOBS_PATH + "/.*/logs")
    with pytest.raises(InvalidResponseError, match=field) as raised:
        Twin(transport).get_logs("quant-any")
    assert raised.value.request_id == "r"


def test_a_log_page_without_lines_is_empty(transport, monkeypatch, keyed):
    connection(monkeypatch, keyed)
    keyed.answer_next(
        1, json.dumps({"request_id": "r", "output": {"total": 0, "logs": None}}), path=JOBS_PATH + "/.*/logs"
    )
    assert Twin(transport).get_logs("quant-any").logs == []


@pytest.mark.parametrize(
    ("output", "field"),
    [({"job_id": "j", "status": 3}, "status"), ({"job_id": "j", "status": {"s": "RUNNING"}}, "status")],
)
def test_a_job_of_another_shape_is_an_invalid_response(transport, monkeypatch, keyed, output, field):
    connection(monkeypatch, keyed, retry_limit=1)
    keyed.answer_next(1, json.dumps({"request_id": "r", "output": output}), path=JOBS_PATH + "/[^/]+")
    with pytest.raises(InvalidResponseError, match=field):
        Twin(transport).get_job("j")


@pytest.mark.parametrize("jobs", ["none", [1, 2], {"a": 1}])
def test_a_list_of_another_shape_is_an_invalid_response(transport, monkeypatch, keyed, jobs):
    connection(monkeypatch, keyed, retry_limit=1)
    body = {"request_id": "r", "output": {"total": 1, "page_no": 1, "page_size": 10, "jobs": jobs}}
    keyed.answer_next(1, json.dumps(body), method="GET", path=JOBS_PATH)
    with pytest.raises(InvalidResponseError, match="jobs"):
        Twin(transport).list_jobs()


# --- properties: whatever the arguments or the answers, only the provider's errors escape, and
# the key appears in no error and no log line


def allowed(error: BaseException, local: bool) -> bool:
    """The provider's own errors; ValueError and TypeError too where the caller's arguments are
    to blame (``local``), never for what a server answered."""
    from airflow_provider_compress.exceptions import CompressError

    return isinstance(error, (CompressError, ValueError, TypeError) if local else CompressError)


def json_values():
    from hypothesis import strategies as st

    scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
        max_leaves=8,
    )


def answers():
    from hypothesis import strategies as st

    shaped = st.fixed_dictionaries(
        {},
        optional={
            "total": json_values(),
            "page_no": json_values(),
            "page_size": json_values(),
            "jobs": json_values(),
            "logs": json_values(),
            "status": json_values(),
            "job_id": json_values(),
            "custom_models": json_values(),
        },
    )
    envelopes = st.fixed_dictionaries(
        {"output": shaped | json_values()}, optional={"request_id": json_values(), "code": json_values()}
    )
    return st.one_of(
        envelopes.map(json.dumps), json_values().map(json.dumps), st.text(max_size=80), st.just("")
    )


CALLS = {
    "get_job": lambda hook: hook.get_job("quant-any"),
    "get_logs": lambda hook: hook.get_logs("quant-any"),
    "list_jobs": lambda hook: hook.list_jobs(),
    "iter_jobs": lambda hook: hook.iter_jobs(),
    "cancel_job": lambda hook: hook.cancel_job("quant-any"),
}


def test_any_answer_raises_nothing_but_the_providers_errors(monkeypatch, keyed, caplog, provider_log):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    connection(monkeypatch, keyed, retry_limit=1)
    caplog.set_level(logging.DEBUG)

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(
        body=answers(),
        status=st.sampled_from([200, 200, 200, 201, 400, 401, 404, 409, 429, 500, 503]),
        call=st.sampled_from(sorted(CALLS)),
        transport=st.sampled_from(["sync", "async"]),
    )
    def check(body, status, call, transport):
        keyed.reset()
        keyed.answer_next(1, body, status=status)
        try:
            CALLS[call](Twin(transport))
        except BaseException as error:
            assert allowed(error, local=False), f"{type(error).__name__} escaped {call}: {error}"
            assert KEY not in str(error) and KEY not in repr(error)

    check()
    assert KEY not in caplog.text
    assert provider_log and KEY not in repr(provider_log)  # the sync hook logs every answer


def test_any_arguments_raise_nothing_but_the_providers_errors(monkeypatch, keyed, caplog, provider_log):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    connection(monkeypatch, keyed, retry_limit=1)
    caplog.set_level(logging.DEBUG)
    anything = json_values() | st.text(max_size=20)
    calls = st.one_of(
        st.tuples(st.just("get_job"), st.fixed_dictionaries({"job_id": anything})),
        st.tuples(
            st.just("get_logs"),
            st.fixed_dictionaries({"job_id": anything, "offset": anything, "line": anything}),
        ),
        st.tuples(
            st.just("list_jobs"),
            st.fixed_dictionaries(
                {},
                optional={
                    "page_no": anything,
                    "page_size": anything,
                    "status": anything,
                    "start_time": anything,
                    "end_time": anything,
                    "sort_order": anything,
                    "job_name": anything,
                },
            ),
        ),
        st.tuples(
            st.just("create_job"),
            st.fixed_dictionaries(
                {
                    "model": st.sampled_from([SFT_MODEL, "x"]) | anything,
                    "template_id": st.just(PLAIN_TEMPLATE) | anything,
                },
                optional={
                    "job_name": anything,
                    "hyper_parameters": anything,
                    "custom_calibration_file_ids": anything,
                    "output_model_suffix": anything,
                    "job_description": anything,
                },
            ),
        ),
    )

    @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(call=calls)
    def check(call):
        method, arguments = call
        try:
            getattr(CompressHook(), method)(**arguments)
        except BaseException as error:
            assert allowed(error, local=True), (
                f"{type(error).__name__} escaped {method}({arguments!r}): {error}"
            )
            assert KEY not in str(error) and KEY not in repr(error)

    check()
    assert KEY not in caplog.text
    assert provider_log and KEY not in repr(provider_log)  # the sync hook logs every answer

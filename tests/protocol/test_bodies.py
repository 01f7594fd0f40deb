"""The pure reading of a hostile answer: ``BodyReader`` (sizes, decompression, error pages) and
``parse_response`` (nesting, redirects, a success carrying an error code, Retry-After, texts of
any JSON type), and which of these errors are tried again. Over real HTTP: tests/hooks/test_hostile.py."""

from __future__ import annotations

import json
import zlib

import pytest

from airflow_provider_compress import protocol
from airflow_provider_compress.exceptions import (
    CompressApiError,
    InvalidResponseError,
    RateLimitError,
    ServerError,
)

LIMIT = 64 * 1024


def read(chunks, status=200, headers=None, limit=LIMIT) -> bytes:
    reader = protocol.BodyReader(status, headers or {}, limit)
    for chunk in chunks:
        if not reader.feed(chunk):
            break
    return reader.body()


def gzip(data: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


def test_a_body_within_the_limit_is_kept_whole_however_it_is_cut():
    body = json.dumps({"output": {"logs": ["line"] * 1000}}).encode()
    assert read([body[i : i + 7] for i in range(0, len(body), 7)]) == body
    assert read([gzip(body)], headers={"Content-Encoding": "gzip"}) == body
    deflated = zlib.compress(body)
    assert read([deflated[:1], deflated[1:]], headers={"content-encoding": "deflate"}) == body
    raw = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    assert read([raw.compress(body) + raw.flush()], headers={"Content-Encoding": "Deflate"}) == body


@pytest.mark.parametrize("encoding", ["identity", "gzip"])
def test_a_success_past_the_limit_is_refused_decompressed_or_not(encoding):
    body = b"x" * (LIMIT + 1)
    chunks = [gzip(body)] if encoding == "gzip" else [body[:LIMIT], body[LIMIT:]]
    with pytest.raises(InvalidResponseError, match=r"max_response_bytes \(65536 bytes\)") as raised:
        read(chunks, headers={"Content-Encoding": encoding, "X-Request-Id": "r-9"})
    assert not raised.value.retryable and raised.value.request_id == "r-9"


def test_a_bomb_is_never_unpacked_past_the_limit():
    """128 MiB of zeros in one chunk of 128 KiB: the reader stops at the limit, it never holds more."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    bomb = b"".join(packer.compress(bytes(1 << 20)) for _ in range(128)) + packer.flush()
    reader = protocol.BodyReader(200, {"Content-Encoding": "gzip"}, LIMIT)
    with pytest.raises(InvalidResponseError, match="larger than"):
        reader.feed(bomb)
    assert sum(map(len, reader._parts)) <= LIMIT


def test_compressed_bytes_count_too():
    """A stream that unpacks to nothing (empty stored blocks, endlessly): capped as it came."""
    empty_block = b"\x00\x00\x00\xff\xff"  # a stored deflate block of length 0
    reader = protocol.BodyReader(200, {"Content-Encoding": "deflate"}, LIMIT)
    reader.feed(b"\x78\x9c")  # a zlib header
    with pytest.raises(InvalidResponseError, match="larger than"):
        for _ in range(LIMIT // len(empty_block) + 1):
            reader.feed(empty_block)


def test_an_error_page_is_cut_not_refused():
    """Of a 5xx only the first ERROR_BODY_MAX bytes are read; ``feed`` then says: no more."""
    reader = protocol.BodyReader(503, {}, 16 * 1024 * 1024)
    assert reader.feed(b"x" * protocol.ERROR_BODY_MAX) is True
    assert reader.feed(b"y") is False
    assert reader.body() == b"x" * protocol.ERROR_BODY_MAX


@pytest.mark.parametrize(
    ("headers", "chunk", "rule", "again"),
    [
        ({"Content-Encoding": "br"}, b"\x0b\x02", "Content-Encoding 'br' was not asked for", False),
        ({"Content-Encoding": "gzip"}, b"not gzip at all", "compressed body is broken", True),
    ],
)
def test_a_body_that_cannot_be_decoded(headers, chunk, rule, again):
    with pytest.raises(InvalidResponseError, match=rule) as raised:
        read([chunk], headers=headers)
    assert raised.value.retryable is again
    assert read([chunk], status=502, headers=headers) == b""  # an error: classified by its status


# --- parse_response


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"output": ' + b'{"a": ' * 65 + b"1" + b"}" * 65 + b"}",
        b'["x", ' + b"[" * 64 + b"]" * 64 + b"]",  # brackets after a string count
    ],
)
def test_an_answer_nested_deeper_than_any_real_one_is_refused_before_parsing(body):
    with pytest.raises(InvalidResponseError, match="nested deeper than 64 levels") as raised:
        protocol.parse_response(200, body, {"X-Request-Id": "r"})
    assert not raised.value.retryable and raised.value.request_id == "r"


def test_brackets_inside_strings_are_no_nesting():
    """A log page whose lines open brackets they never close (and escaped quotes) is read."""
    lines = ["[" * 500 + ' \\" {{{', "[INFO] step 3", '"quoted" ' + "{" * 100]
    body = json.dumps({"request_id": "r", "output": {"total": 3, "logs": lines}}).encode()
    assert protocol.parse_response(200, body, {}).output["logs"] == lines


def test_an_error_nested_too_deep_keeps_its_status():
    with pytest.raises(ServerError) as raised:
        protocol.parse_response(503, b"[" * 10_000, {})
    assert raised.value.message.startswith("[[[[")


@pytest.mark.parametrize(
    ("location", "named"),
    [
        ("http://admin:s3cr3t@other.example:8080/api/v1/x?token=t0k3n", "to http://other.example:8080"),
        ("https://dashscope.aliyuncs.com/api/v1/y", "to https://dashscope.aliyuncs.com"),
        ("/api/v1/elsewhere?token=t0k3n", "to another path of the same host"),
        ("http://h:99999/", "to http://h"),  # a port out of range is left out
        (None, "without a Location"),
    ],
)
def test_a_redirect_is_an_error_naming_only_where_it_points(location, named):
    headers = {"Location": location} if location else {}
    with pytest.raises(CompressApiError) as raised:
        protocol.parse_response(302, b"", headers)
    text = str(raised.value)
    assert type(raised.value) is CompressApiError and raised.value.status_code == 302
    assert f"a redirect {named}, which is never followed" in text
    assert "s3cr3t" not in text and "t0k3n" not in text and "admin" not in text
    assert not protocol.may_retry(raised.value, protocol.get_resource(protocol.COMPRESS, "j").request)


@pytest.mark.parametrize("code", ["Throttling", 500, ["a"], {"x": 1}, True])
def test_a_success_carrying_an_error_code_is_an_invalid_response(code):
    body = json.dumps({"request_id": "gw-1", "code": code, "message": "busy", "output": None}).encode()
    with pytest.raises(InvalidResponseError) as raised:
        protocol.parse_response(200, body, {})
    err = raised.value
    assert (err.code, err.message, err.request_id) == (
        code if isinstance(code, str) else json.dumps(code),
        "busy",
        "gw-1",
    )
    get, create = (
        protocol.get_resource(protocol.COMPRESS, "j").request,
        protocol.upload_file("f", b"x").request,
    )
    assert protocol.may_retry(err, get) and not protocol.may_retry(err, create)


@pytest.mark.parametrize("code", [None, "", 0, False])
def test_an_empty_code_on_a_success_is_no_error(code):
    body = json.dumps({"request_id": "r", "code": code, "output": {"status": "success"}}).encode()
    assert protocol.parse_response(200, body, {}).output == {"status": "success"}


def test_texts_taken_from_an_answer_are_bounded_strings():
    body = json.dumps({"code": {"deep": [1, 2]}, "message": "m" * 10_000, "request_id": 42}).encode()
    with pytest.raises(ServerError) as raised:
        protocol.parse_response(500, body, {})
    err = raised.value
    assert (err.code, err.request_id) == ('{"deep": [1, 2]}', "42")
    assert len(err.message) == 1000


@pytest.mark.parametrize(
    ("value", "expected"),
    [("7", 7.0), ("-3", 0.0), ("nan", None), ("inf", None), ("1e400", None), ("soon", None)],
)
def test_retry_after_is_a_finite_number_of_seconds_or_nothing(value, expected):
    with pytest.raises(RateLimitError) as raised:
        protocol.parse_response(429, b"", {"Retry-After": value})
    assert raised.value.retry_after == expected


def test_a_huge_retry_after_is_capped_by_the_policys_max_elapsed():
    policy = protocol.RetryPolicy(max_elapsed=60)
    assert policy.wait_seconds(1, retry_after=1e12, rand=0) == 60


def test_unreadable_answers_keep_their_retry_rule_when_pickled():
    import pickle

    err = pickle.loads(pickle.dumps(protocol.unreadable(200, "too deep", "r")))
    assert type(err) is InvalidResponseError and err.retryable is False and err.request_id == "r"

"""The one scrubber of what leaves the transports: the key, proxy credentials and any
``user:password@`` are masked in texts, in answers' bodies and in errors."""

from __future__ import annotations

import base64
import json

from airflow_provider_compress.exceptions import CompressConnectionError, ServerError
from airflow_provider_compress.protocol import Scrubber

KEY = "sk-SCRUB-4d2a/9f"
PROXY = "http://egress:p%40ss-W0RD@proxy.internal:3128"


def test_every_form_of_a_secret_is_masked_in_text():
    scrub = Scrubber.of(KEY, PROXY)
    token = base64.b64encode(b"egress:p@ss-W0RD").decode()
    text = (
        f"Bearer {KEY} | {json.dumps(KEY)} | {KEY.replace('/', '%2F')} | sk-SCRUB-4d2a\\/9f"
        f" | p@ss-W0RD | p%40ss-W0RD | Basic {token} | url='http://user:pw@10.0.0.1:9/x'"
    )
    masked = scrub.text(text)
    for secret in (KEY, "4d2a", "p@ss", "W0RD", token, "user:pw"):
        assert secret not in masked, secret
    assert "http://***@10.0.0.1:9/x" in masked


def test_a_body_is_masked_before_it_is_read():
    scrub = Scrubber.of(KEY)
    body = json.dumps({"message": f"Authorization: Bearer {KEY}"}).encode()
    assert json.loads(scrub.body(body)) == {"message": "Authorization: Bearer ***"}
    assert scrub.body(b'{"output": 1}') == b'{"output": 1}'


def test_an_errors_fields_and_text_are_masked_in_place():
    scrub = Scrubber.of(KEY)
    error = ServerError(500, f"code-{KEY}", f"echo {KEY}", KEY, retry_after=3)
    assert scrub.error(error) is error
    assert KEY not in str(error) and KEY not in repr(error) and error.retry_after == 3
    assert (error.code, error.message, error.request_id) == ("code-***", "echo ***", "***")
    lost = scrub.error(CompressConnectionError(f"GET /x: proxy http://egress:{KEY}@p:1", request_sent=False))
    assert KEY not in str(lost) and "egress" not in str(lost) and lost.request_sent is False


def test_nothing_to_mask_without_secrets():
    assert Scrubber.of(None, None, "http://proxy:3128").text("a Bearer sk-x") == "a Bearer sk-x"

"""The UI's Test button: ``test_connection`` on the connection's hook."""

from __future__ import annotations

import json

from airflow_provider_compress.hooks.compress import CompressHook
from tests.support import use_connection


def test_test_connection(transport, monkeypatch, emulator):
    use_connection(monkeypatch, emulator)
    assert CompressHook().test_connection()[0] is True
    monkeypatch.setenv(
        "AIRFLOW_CONN_DASHSCOPE_DEFAULT",
        f'{{"conn_type": "dashscope", "host": "{emulator.url}", "password": "sk-SECRET-bad"}}',
    )
    ok, message = CompressHook().test_connection()
    assert ok is False and "401" in message and "sk-SECRET" not in message


def test_test_connection_names_a_connection_stored_as_another_type(monkeypatch, emulator):
    """What `airflow connections add --conn-type dashscope` stores without the provider installed."""
    generic = json.loads(emulator.connection_json()) | {"conn_type": "generic", "password": "sk-SECRET-g"}
    monkeypatch.setenv("AIRFLOW_CONN_DASHSCOPE_DEFAULT", json.dumps(generic))
    before = emulator.state()["requests"]
    ok, message = CompressHook().test_connection()
    assert ok is False and "has type 'generic', not 'dashscope'" in message
    assert "airflow providers list" in message and "sk-SECRET" not in message
    assert emulator.state()["requests"] == before

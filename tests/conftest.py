"""Shared fixtures: emulators over real HTTP on 127.0.0.1, and connections pointing at them."""

from __future__ import annotations

import os
import re
import tempfile

# Airflow writes its config and database under AIRFLOW_HOME: keep tests away from ~/airflow.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="compress-tests-airflow-"))

import pytest
import requests

from airflow_provider_compress.emulator.process import EmulatorProcess

API = "/api/v1/fine-tunes/compress"
SFT_MODEL = "qwen3.5-flash-2026-02-23-ft-202604010000-a1b2"
DPO_MODEL = "qwen3.5-flash-2026-02-23-ft-202604020000-c3d4"
FAILING_MODEL = "qwen3.5-flash-2026-02-23-ft-202603150000-fail"
BASE_MODEL = "qwen3.5-flash-2026-02-23"
PLAIN_TEMPLATE = "quant-flash-nvfp4-mlp-nomtp"
PARAM_TEMPLATE = "quant-flash-w8a8-gptq"
RESTRICTED_TEMPLATE = "quant-flash-fp8-dynamic"
# Fast retries so that retry tests take milliseconds.
FAST_RETRY = {"retry_delay": 0.01, "retry_max_delay": 0.05}


@pytest.fixture(scope="session")
def emulator():
    """Jobs take 2 s: long enough to be seen RUNNING, short enough to wait for."""
    with EmulatorProcess(job_seconds=2, cancel_seconds=0.3, log_lines=10) as emu:
        yield emu


@pytest.fixture(scope="session")
def slow_emulator():
    """Jobs take 10 minutes: they stay active for the whole test, for cancel and filter tests."""
    with EmulatorProcess(job_seconds=600, cancel_seconds=0.3, workspace=["ws-allowed"]) as emu:
        yield emu


def use_connection(monkeypatch, emu: EmulatorProcess, conn_id: str = "dashscope_default", **extra) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", emu.connection_json(**{**FAST_RETRY, **extra}))


@pytest.fixture
def conn(monkeypatch, emulator):
    use_connection(monkeypatch, emulator)
    return emulator


@pytest.fixture
def slow_conn(monkeypatch, slow_emulator):
    use_connection(monkeypatch, slow_emulator)
    return slow_emulator


class RawClient:
    """Plain HTTP to the emulator, to test the emulator itself independently of our hook."""

    def __init__(self, emu: EmulatorProcess, key: str | None = None) -> None:
        self.base = emu.url + API
        self.key = emu.api_key if key is None else key

    def call(self, method: str, path: str, *, headers: dict | None = None, **kwargs) -> requests.Response:
        all_headers = {"Authorization": f"Bearer {self.key}", **(headers or {})}
        return requests.request(method, self.base + path, headers=all_headers, timeout=10, **kwargs)


@pytest.fixture
def raw(slow_emulator):
    return RawClient(slow_emulator)


def files_containing(root, secret: str) -> list:
    """Every file below ``root`` whose bytes contain ``secret`` (logs, SQLite databases, configs)."""
    from pathlib import Path

    needle = secret.encode()
    return [p for p in Path(root).rglob("*") if p.is_file() and needle in p.read_bytes()]


def migrated_airflow_home(home, dags_folder) -> dict:
    """The environment of a fresh Airflow home on SQLite reading ``dags_folder``, its database migrated."""
    import subprocess
    import sys

    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True, capture_output=True
    )
    return env


def bash_commands(page) -> list[str]:
    """The commands of a docs page's bash blocks as written: continuation lines joined, comments
    dropped (the tests that run or check what the docs tell a user to type)."""
    from pathlib import Path

    blocks = re.findall(r"^```bash\n(.*?)^```", Path(page).read_text(), re.MULTILINE | re.DOTALL)
    lines = "\n".join(block.replace("\\\n", " ") for block in blocks).splitlines()
    commands = [" ".join(re.sub(r"(^|\s)#\s.*$", "", line).split()) for line in lines]
    return [command for command in commands if command]

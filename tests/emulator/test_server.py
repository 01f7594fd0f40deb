"""The emulator as a server: its key (API and admin), workspaces, its process (the key off the
command line, the access log, a warning when it listens beyond loopback), its state read."""

from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
import requests

from airflow_provider_compress.emulator.__main__ import KEY_VARIABLE, READY
from airflow_provider_compress.emulator.process import EmulatorProcess
from tests.support import PLAIN_TEMPLATE, SFT_MODEL, RawClient


@pytest.mark.parametrize(
    ("key", "status", "code"),
    [("", 401, "InvalidApiKey"), ("sk-wrong", 401, "InvalidApiKey")],
)
def test_authentication(slow_emulator, key, status, code):
    resp = RawClient(slow_emulator, key=key).call("GET", "/templates")
    assert resp.status_code == status
    assert resp.json()["code"] == code and resp.json()["request_id"] and resp.json()["message"]


def test_workspace_header(raw):
    assert raw.call("GET", "/templates", headers={"X-DashScope-WorkSpace": "ws-allowed"}).status_code == 200
    denied = raw.call("GET", "/templates", headers={"X-DashScope-WorkSpace": "ws-other"})
    assert denied.status_code == 403 and denied.json()["code"] == "AccessDenied"


def test_the_admin_api_needs_the_key(slow_emulator):
    for method, path in [("GET", "/state"), ("GET", "/faults"), ("POST", "/reset"), ("POST", "/fail-next")]:
        answer = requests.request(method, f"{slow_emulator.url}/_emulator{path}", json={}, timeout=10)
        assert answer.status_code == 401, (method, path)
        wrong = {"Authorization": "Bearer sk-wrong"}
        answer = requests.request(method, f"{slow_emulator.url}/_emulator{path}", headers=wrong, timeout=10)
        assert answer.status_code == 401, (method, path)
    assert slow_emulator.admin("GET", "/state").status_code == 200


def test_the_key_is_not_on_the_emulators_command_line():
    import psutil

    with EmulatorProcess(api_key="sk-PS-VISIBLE-51c2") as emu:
        assert emu.pid is not None
        assert "sk-PS-VISIBLE-51c2" not in " ".join(psutil.Process(emu.pid).cmdline())
        assert RawClient(emu).call("GET", "/templates").status_code == 200


class Output:
    """The emulator's output (stdout and stderr), line by line, read in a thread: a line that
    never comes fails the test's assertion after ``timeout`` instead of hanging it."""

    def __init__(self, stream) -> None:
        self.seen: list[str] = []
        self._lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._reader.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.seen.append(line)
            self._lines.put(line)

    def next_line(self, timeout: float = 10) -> str:
        try:
            return self._lines.get(timeout=timeout)
        except queue.Empty:
            return ""

    def until_ready(self) -> list[str]:
        """The lines up to the one saying where the emulator listens (the last one)."""
        lines = [self.next_line()]
        while lines[-1] and not lines[-1].startswith(READY):
            lines.append(self.next_line())
        return lines

    def everything(self) -> str:
        self._reader.join(10)
        return "".join(self.seen)


@contextlib.contextmanager
def emulator_command(*flags: str, key: str) -> Iterator[Output]:
    """``python -m airflow_provider_compress.emulator --port 0 *flags``, its key in the environment."""
    env = {**os.environ, KEY_VARIABLE: key}
    command = [sys.executable, "-m", "airflow_provider_compress.emulator", "--port", "0", *flags]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        yield Output(proc.stdout)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_access_log_prints_each_request_without_the_key():
    with emulator_command("--access-log", key="sk-ACCESS-LOG-9d0e") as output:
        (ready,) = output.until_ready()  # on 127.0.0.1: no warning before it
        assert ready.startswith(READY), ready
        url = ready.split()[-1]
        headers = {"Authorization": "Bearer sk-ACCESS-LOG-9d0e"}
        assert requests.get(f"{url}/api/v1/fine-tunes/compress/templates", headers=headers, timeout=10).ok
        line = output.next_line()
        assert "GET /api/v1/fine-tunes/compress/templates" in line and "200" in line
    assert "sk-ACCESS-LOG-9d0e" not in output.everything()


def test_the_emulator_warns_when_it_listens_beyond_loopback():
    """Listens on every address for the moment it takes to say so (its key is made for the test)."""
    with emulator_command("--host", "0.0.0.0", key="sk-BIND-WARN-7a1b") as output:
        *before, ready = output.until_ready()
        assert ready.startswith(READY), output.seen
    assert any(line.startswith("WARNING: binding 0.0.0.0") for line in before), output.seen


@pytest.mark.parametrize(
    ("host", "warned"), [("127.0.0.1", False), ("::1", False), ("localhost", False), ("0.0.0.0", True)]
)
def test_binding_beyond_loopback_is_warned_about(host, warned):
    from airflow_provider_compress.emulator.__main__ import exposure_warning

    assert (exposure_warning(host) is not None) is warned


def test_state_without_jobs_is_the_counters_alone(raw, slow_emulator):
    """What benchmarks read mid-run: listing thousands of jobs would stall the emulator."""
    body = {"model": SFT_MODEL, "template_id": PLAIN_TEMPLATE}
    job_id = raw.call("POST", "/jobs", json=body).json()["output"]["job_id"]
    full, counters = slow_emulator.state(), slow_emulator.state(jobs=False)
    assert job_id in full["jobs"] and "jobs" not in counters and "deployments" not in counters
    assert counters["creates"] == full["creates"] and counters["requests"] >= full["requests"]
    assert set(counters) == set(full) - {"jobs", "fine_tunes", "deployments", "files"}

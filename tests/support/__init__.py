"""What the tests share besides fixtures (tests/conftest.py): the emulator's seed names, a
connection pointing at an emulator, plain HTTP to it, a hook called sync or async, and a fresh
Airflow home."""

from __future__ import annotations

import asyncio
import datetime
import inspect
import json
import os
import re
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from airflow.sdk.exceptions import AirflowException

from airflow_provider_compress.emulator.process import EmulatorProcess
from airflow_provider_compress.hooks.compress import CompressAsyncHook, CompressHook, close_async_clients
from airflow_provider_compress.models import JobStatus
from airflow_provider_compress.protocol import ClientSettings

ROOT = Path(__file__).resolve().parents[2]  # the checkout
TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")  # how the API writes times
API = "/api/v1/fine-tunes/compress"
JOBS_PATH = API + "/jobs"  # a regular expression too, for the emulator's answer_next(path=...)
SFT_MODEL = "qwen3.5-flash-2026-02-23-ft-202604010000-a1b2"
DPO_MODEL = "qwen3.5-flash-2026-02-23-ft-202604020000-c3d4"
FAILING_MODEL = "qwen3.5-flash-2026-02-23-ft-202603150000-fail"
BASE_MODEL = "qwen3.5-flash-2026-02-23"
PLAIN_TEMPLATE = "quant-flash-nvfp4-mlp-nomtp"
PARAM_TEMPLATE = "quant-flash-w8a8-gptq"
RESTRICTED_TEMPLATE = "quant-flash-fp8-dynamic"
# Fast retries so that retry tests take milliseconds.
FAST_RETRY = {"retry_delay": 0.01, "retry_max_delay": 0.05}
# A cancelled job is CANCELING for the emulator's 0.3 s, then CANCELED: a slow read sees either.
CANCELLED = ("CANCELING", "CANCELED")
# A log page the provider cannot read (queue it with answer_next for the log path).
UNREADABLE_LOG = json.dumps({"request_id": "r", "output": {"total": 3, "logs": "not a list"}})


# --- the emulator


def use_connection(monkeypatch, emu: EmulatorProcess, conn_id: str = "dashscope_default", **extra) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", emu.connection_json(**{**FAST_RETRY, **extra}))


class RawClient:
    """Plain HTTP to the emulator, to test the emulator itself independently of our hook."""

    def __init__(self, emu: EmulatorProcess, key: str | None = None) -> None:
        self.base = emu.url + API
        self.key = emu.api_key if key is None else key

    def call(self, method: str, path: str, *, headers: dict | None = None, **kwargs) -> requests.Response:
        all_headers = {"Authorization": f"Bearer {self.key}", **(headers or {})}
        return requests.request(method, self.base + path, headers=all_headers, timeout=10, **kwargs)


def requests_served(emu: EmulatorProcess) -> int:
    return emu.state()["requests"]


def wait_for_status(get, resource_id: str, done, timeout: float = 20):
    """``get(resource_id)`` until ``done`` holds for its status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resource = get(resource_id)
        if done(resource.status):
            return resource
        time.sleep(0.1)
    raise AssertionError(f"{resource_id} stayed {resource.status}")


def job_ended(status) -> bool:
    return status in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED)


def new_suffix() -> str:
    """A deployment suffix no other test uses: the same model may be deployed again with it."""
    return uuid.uuid4().hex[:8]


def unique_name(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def raw_create(raw: RawClient, **body) -> dict:
    """A compression job created over plain HTTP: its ``output``."""
    body = {"model": SFT_MODEL, "template_id": PLAIN_TEMPLATE, "job_name": unique_name(), **body}
    resp = raw.call("POST", "/jobs", json=body)
    assert resp.status_code == 200, resp.text
    return resp.json()["output"]


def raw_wait(raw: RawClient, job_id: str, statuses: set[str], timeout: float = 15) -> tuple[dict, list[str]]:
    """Poll a job over plain HTTP until it is in one of ``statuses``: it, and the statuses seen."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = raw.call("GET", f"/jobs/{job_id}").json()["output"]
        if not seen or seen[-1] != job["status"]:
            seen.append(job["status"])
        if job["status"] in statuses:
            return job, seen
        time.sleep(0.03)
    raise AssertionError(f"job {job_id} stayed in {seen}")


# --- hooks


class Twin:
    """Calls a hook method on the sync hook, or on the async hook inside a fresh event loop."""

    def __init__(self, transport: str, conn_id: str = "dashscope_default") -> None:
        self.transport = transport
        self.hook = (CompressHook if transport == "sync" else CompressAsyncHook)(dashscope_conn_id=conn_id)

    def __getattr__(self, name: str):
        method = getattr(self.hook, name)

        def call(*args, **kwargs):
            if self.transport == "sync":
                result = method(*args, **kwargs)
                return list(result) if inspect.isgenerator(result) else result

            async def run():
                try:
                    result = method(*args, **kwargs)
                    if inspect.isasyncgen(result):
                        return [item async for item in result]
                    return await result
                finally:
                    await close_async_clients()

            return asyncio.run(run())

        return call


# --- Airflow, links and lineage


def files_containing(root, secret: str) -> list:
    """Every file below ``root`` whose bytes contain ``secret`` (logs, SQLite databases, configs)."""
    needle = secret.encode()
    return [p for p in Path(root).rglob("*") if p.is_file() and needle in p.read_bytes()]


def bash_commands(page) -> list[str]:
    """The commands of a docs page's bash blocks as written: continuation lines joined, comments
    dropped (the tests that run or check what the docs tell a user to type)."""
    blocks = re.findall(r"^```bash\n(.*?)^```", Path(page).read_text(), re.MULTILINE | re.DOTALL)
    lines = "\n".join(block.replace("\\\n", " ") for block in blocks).splitlines()
    commands = [" ".join(re.sub(r"(^|\s)#\s.*$", "", line).split()) for line in lines]
    return [command for command in commands if command]


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


def has_openlineage() -> bool:
    """Whether the ``openlineage`` extra is installed."""
    try:
        import airflow.providers.openlineage  # noqa: F401
    except ImportError:
        return False
    return True


# The console pages of the three stages' links, after the region's console.
MAINLAND = "https://bailian.console.aliyun.com"
INTERNATIONAL = "https://bailian.console.alibabacloud.com"
PAGES = {
    "fine_tune": "/?tab=model#/efm/model_manager?job_id={}",
    "compress": "/?tab=model#/model-compression/{}",
    "deploy": "/?tab=model#/efm/model_deploy?deployed_model={}",
}


def settings_for(host: str, **extra) -> ClientSettings:
    """Client settings of a connection to ``host`` with ``extra``."""
    return ClientSettings.from_connection(host=host, password="sk-x", extra=extra)


# --- operators without a DAG run


def task_context(
    try_number: int = 1, run_id: str | None = None, max_tries: int = 0, started: float | None = None
) -> dict:
    """What an operator reads of a task instance, for try ``try_number`` of ``max_tries + 1``,
    started at epoch ``started`` (now by default); its XCom pushes are kept and pulled back."""
    run_id = run_id or f"manual__{uuid.uuid4().hex}"
    start_date = datetime.datetime.fromtimestamp(started or time.time(), datetime.timezone.utc)
    ti = SimpleNamespace(
        dag_id="parts",
        run_id=run_id,
        task_id="t",
        map_index=-1,
        try_number=try_number,
        max_tries=max_tries,
        start_date=start_date,
        pushed={},
    )
    ti.xcom_push = lambda key, value: ti.pushed.__setitem__(key, value)
    ti.xcom_pull = lambda task_ids=None, key="return_value", **kw: ti.pushed.get(key)
    return {"ti": ti}


def refusal(operator) -> str:
    """The error of an operator that finds an earlier try's resource made otherwise."""
    with pytest.raises(AirflowException) as raised:
        operator._create_or_reattach(task_context())
    return str(raised.value)

"""Start the emulator in a child process and talk to its admin API (tests, demos, your own DAG tests).

with EmulatorProcess(job_seconds=5) as emulator:
    os.environ["AIRFLOW_CONN_DASHSCOPE_DEFAULT"] = emulator.connection_json()
    ...
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

import requests

from airflow_provider_compress.emulator.__main__ import KEY_VARIABLE, READY


class EmulatorProcess:
    def __init__(
        self, *, api_key: str = "sk-emulator", startup_timeout: float = 30.0, **options: Any
    ) -> None:
        self.api_key = api_key
        self.options = options
        # The admin API needs the key too. It is on loopback and never goes through a proxy,
        # whatever HTTP_PROXY says (the proxy tests count what reaches the proxy).
        self._admin = requests.Session()
        self._admin.trust_env = False
        self._admin.headers["Authorization"] = f"Bearer {api_key}"
        self.startup_timeout = startup_timeout
        self.url = ""
        self._proc: subprocess.Popen[str] | None = None

    def start(self) -> EmulatorProcess:
        args = [sys.executable, "-m", "airflow_provider_compress.emulator", "--port", "0"]
        for name, value in self.options.items():
            flag = "--" + name.replace("_", "-")
            for item in value if isinstance(value, (list, tuple)) else [value]:
                args += [flag] if item is True else [flag, str(item)]
        env = {**os.environ, KEY_VARIABLE: self.api_key}  # not on the command line, visible in ps
        self._proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=env)
        deadline = time.monotonic() + self.startup_timeout
        assert self._proc.stdout is not None
        while time.monotonic() < deadline:
            line = self._proc.stdout.readline()
            if line.startswith(READY):
                self.url = line.split()[-1]
                return self
            if not line and self._proc.poll() is not None:
                break
        self.stop()
        raise RuntimeError("the emulator did not start")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc is not None and self._proc.stdout:
            self._proc.stdout.close()
        self._admin.close()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def connection_json(self, **extra: Any) -> str:
        """An Airflow connection (for AIRFLOW_CONN_<ID>) pointing at this emulator."""
        return json.dumps(
            {"conn_type": "dashscope", "host": self.url, "password": self.api_key, "extra": extra}
        )

    # --- admin API
    def admin(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """A request to the admin API (``/_emulator/...``), with the key it needs."""
        return self._admin.request(method, f"{self.url}/_emulator{path}", timeout=10, **kwargs)

    def faults(self) -> dict[str, Any]:
        """The fault plan and what was injected so far, by kind."""
        return self.admin("GET", "/faults").json()

    def state(self, jobs: bool = True) -> dict[str, Any]:
        """Counters, and every job, fine-tune and deployment unless ``jobs`` is false (thousands of
        jobs take the emulator a while to list: benchmarks read the counters mid-run)."""
        params = None if jobs else {"jobs": "false"}
        return self.admin("GET", "/state", params=params).json()

    def job(self, job_id: str) -> dict[str, Any]:
        return self.state()["jobs"][job_id]

    def full_log(self, job_id: str) -> list[str]:
        return self._admin.get(f"{self.url}/_emulator/jobs/{job_id}/logs", timeout=10).json()["logs"]

    def fail_next(
        self,
        count: int,
        status: int | str = 503,
        retry_after: float | None = None,
        after: bool = False,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """Queue ``count`` faults: a status (429, 500, 502, 503) or a kind (reset, slow, lost, ...),
        for the next requests of any method or only of ``method`` (and ``path``, a regex)."""
        spec = {"count": count, "kind": str(status), "retry_after": retry_after, "after": after}
        spec.update(method=method, path=path)
        self._admin.post(f"{self.url}/_emulator/fail-next", json=spec, timeout=10).raise_for_status()

    def answer_next(
        self, count: int, body: str, status: int = 200, method: str | None = None, path: str | None = None
    ) -> None:
        """The next ``count`` API requests (of ``method``, matching ``path``) get ``status`` and
        ``body`` instead of the API's answer: a broken or hostile server."""
        spec = {
            "count": count,
            "kind": "answer",
            "status": status,
            "body": body,
            "method": method,
            "path": path,
        }
        self.admin("POST", "/fail-next", json=spec).raise_for_status()

    def set_timing(self, **seconds: float) -> dict[str, Any]:
        """How long jobs and deployments created from now on take: job_seconds, deploy_seconds,
        cancel_seconds."""
        answer = self.admin("POST", "/timing", json=seconds)
        answer.raise_for_status()
        return answer.json()

    def set_faults(self, **plan: Any) -> dict[str, Any]:
        """Random faults from now on: rate, kinds, slow_seconds, retry_after, seed."""
        answer = self._admin.post(f"{self.url}/_emulator/faults", json=plan, timeout=10)
        answer.raise_for_status()
        return answer.json()

    def misbehave(self, **spec: Any) -> dict[str, Any]:
        """From now on, a server that answers wrongly or not for a while: ``outage_seconds`` (and
        ``outage_status``), ``log_offsets`` ("ignore", "step_back", "shrink", "honest"),
        ``capacity_lag`` (seconds, "inf": never), ``sticky_deletes``. ``reset`` ends them."""
        answer = self.admin("POST", "/misbehave", json=spec)
        answer.raise_for_status()
        return answer.json()

    def force_deployment_status(self, deployed_model: str, status: str) -> dict[str, Any]:
        """Put a deployment in ``status``, one the provider may not know: it stays there until a
        scale, update or delete changes it."""
        answer = self.admin("POST", f"/deployments/{deployed_model}/status", json={"status": status})
        answer.raise_for_status()
        return answer.json()

    def refuse_deletes_in(self, *statuses: str) -> None:
        """From now on a deployment delete in one of ``statuses`` answers 400 (none: accepted always)."""
        answer = self.admin("POST", "/deployment-rules", json={"delete_refused_in": list(statuses)})
        answer.raise_for_status()

    def reset(self) -> None:
        self._admin.post(f"{self.url}/_emulator/reset", timeout=10).raise_for_status()

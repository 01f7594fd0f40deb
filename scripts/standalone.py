"""Airflow (api-server, scheduler, dag-processor, triggerer via `airflow standalone`) with the
example DAGs and a connection to a local emulator, all on 127.0.0.1: watch the pipeline and its
forwarded logs in the Airflow UI. Ctrl-C stops everything.

Run through scripts/standalone.sh, which installs everything first.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from airflow_provider_compress.emulator.process import EmulatorProcess

ROOT = Path(__file__).resolve().parent.parent
GRACE_SECONDS = 3  # for the components to stop on their own after Ctrl-C
FORCE_SECONDS = 10  # after a second SIGTERM


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="Airflow UI port (default: a free one)")
    parser.add_argument("--job-seconds", type=float, default=60, help="how long each remote stage takes")
    parser.add_argument("--home", default=str(ROOT / ".demo" / "airflow"), help="AIRFLOW_HOME to use")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill` stops it like Ctrl-C

    port = args.port or free_port()
    url = f"http://127.0.0.1:{port}"
    home = Path(args.home)
    home.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        # `airflow standalone` starts its components as `airflow ...`: find ours first
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "example_dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": url,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
    }
    with EmulatorProcess(job_seconds=args.job_seconds, log_lines=30) as emulator:
        env["AIRFLOW_CONN_DASHSCOPE_DEFAULT"] = emulator.connection_json(lang="en-US")
        airflow = subprocess.Popen(
            [sys.executable, "-m", "airflow", "standalone"],
            env=env,
            stdout=open(home / "standalone.log", "a"),  # noqa: SIM115 - lives as long as the child
            stderr=subprocess.STDOUT,
            start_new_session=True,  # one process group: stopping it stops every component
        )
        try:
            passwords = home / "simple_auth_manager_passwords.json.generated"
            deadline = time.monotonic() + 300
            while not passwords.exists() or not _answers(url):
                if airflow.poll() is not None or time.monotonic() > deadline:
                    print(f"Airflow did not start; see {home / 'standalone.log'}", file=sys.stderr)
                    return 1
                time.sleep(1)
            password = json.loads(passwords.read_text())["admin"]
            print(f"emulator:   {emulator.url}")
            print(f"Airflow UI: {url}   login: admin / {password}")
            print("DAGs:       example_compress_pipeline (trigger it), example_compress_mapped, ...")
            print(f"logs:       {home / 'standalone.log'}   Ctrl-C to stop", flush=True)
            airflow.wait()
        except KeyboardInterrupt:
            pass
        finally:
            print(f"Airflow {stop(airflow)} (exit code {airflow.returncode})", flush=True)
    return 0


def stop(airflow: subprocess.Popen) -> str:
    """Stop `airflow standalone` and everything it started, within seconds; say how it ended.

    Only SIGINT (its Ctrl-C) makes it shut down: it sends each component SIGTERM and waits for
    them. (SIGTERM ends it at once and leaves its components to whatever kills them next.) It gets
    no SIGINT from the terminal, running in a session of its own so that nothing it started can
    outlive this: it is sent one. A component still stopping after a few seconds (the triggerer
    takes about ten) gets a second SIGTERM, which Airflow's components take as "now".
    Returns "stopped" or, when even that did not work, "killed".
    """
    steps = [
        (lambda: os.kill(airflow.pid, signal.SIGINT), GRACE_SECONDS),
        (lambda: _signal_children(airflow.pid, signal.SIGTERM), FORCE_SECONDS),
    ]
    how = f"killed: it did not stop within {GRACE_SECONDS + FORCE_SECONDS} s"
    for send, seconds in steps:
        with contextlib.suppress(ProcessLookupError):
            send()
        with contextlib.suppress(subprocess.TimeoutExpired):
            airflow.wait(seconds)
            how = "stopped"
            break
    with contextlib.suppress(ProcessLookupError):
        os.killpg(airflow.pid, signal.SIGKILL)  # whatever of its process group is left
    airflow.wait()
    return how


def _signal_children(pid: int, sig: int) -> None:
    import psutil

    with contextlib.suppress(psutil.NoSuchProcess):
        for child in psutil.Process(pid).children():
            with contextlib.suppress(psutil.NoSuchProcess):
                child.send_signal(sig)


def _answers(url: str) -> bool:
    import requests

    try:
        return requests.get(f"{url}/api/v2/monitor/health", timeout=2).ok
    except requests.RequestException:
        return False


if __name__ == "__main__":
    sys.exit(main())

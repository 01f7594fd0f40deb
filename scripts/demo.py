"""The demo: example_compress_pipeline (upload -> fine-tune -> compress -> deploy -> scale) end to end with
`airflow dags test`, against the emulator on a free port, in a throwaway AIRFLOW_HOME on SQLite.

Prints the remote jobs' log lines as the tasks forward them, then the deployed model id.
Run through scripts/demo.sh, which installs everything first.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

from airflow_provider_compress.emulator.process import EmulatorProcess

ROOT = Path(__file__).resolve().parent.parent
DAG_ID = "example_compress_pipeline"
# What the demo shows of Airflow's output: forwarded job lines and the tasks' own milestones.
KINDS = r"(?:fine-tune job|compression job|deployment)"
SHOWN = re.compile(
    rf"\[(?:ft|quant)-\S+ #\d+\] .*|(?:Creating|Created|Reattaching to) {KINDS} .*|Deploying .*|"
    rf"{KINDS} \S+ (?:reached|failed|ended|did not) .*|Pausing task as DEFERRED|\S+ is file \S+|"
    r"Deployment \S+(?:: scaling| is RUNNING with) .*"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--job-seconds", type=float, default=8, help="how long each remote stage takes")
    parser.add_argument("--api-key", default="sk-emulator", help="the emulator's (and connection's) key")
    parser.add_argument("--home", help="AIRFLOW_HOME to use and keep (default: a temporary one, removed)")
    args = parser.parse_args()

    home = Path(args.home or tempfile.mkdtemp(prefix="compress-demo-airflow-"))
    home.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "example_dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    try:
        with EmulatorProcess(api_key=args.api_key, job_seconds=args.job_seconds, log_lines=6) as emulator:
            print(f"emulator:     {emulator.url}")
            print(f"AIRFLOW_HOME: {home}")
            env["AIRFLOW_CONN_DASHSCOPE_DEFAULT"] = emulator.connection_json(lang="en-US")
            airflow = [sys.executable, "-m", "airflow"]
            subprocess.run([*airflow, "db", "migrate"], env=env, check=True, capture_output=True)
            print(f"running:      airflow dags test {DAG_ID}\n")
            run = subprocess.Popen(
                [*airflow, "dags", "test", DAG_ID],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            assert run.stdout is not None
            try:
                for line in run.stdout:
                    if match := SHOWN.search(line):
                        print("  " + re.split(r"\s{2,}\[|\s\[(?:airflow|task)", match.group(0))[0].rstrip())
                run.wait()
            finally:
                if run.poll() is None:  # interrupted: stop the run too
                    run.kill()
                    run.wait()
            with sqlite3.connect(home / "airflow.db") as db:
                states = dict(
                    db.execute("SELECT task_id, state FROM task_instance WHERE dag_id = ?", (DAG_ID,))
                )
                row = db.execute(
                    "SELECT value FROM xcom WHERE dag_id = ? AND task_id = 'deploy' AND key = 'return_value'",
                    (DAG_ID,),
                ).fetchone()
        print(f"\ntask states:    {states}")
        if row is None:
            print("the pipeline did not deploy a model", file=sys.stderr)
            return 1
        print(f"deployed model: {json.loads(row[0])}")
        return 0
    finally:
        if not args.home:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# Airflow UI with the example DAGs against the emulator, on 127.0.0.1 (Ctrl-C stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh .venv "apache-airflow>=3.3,<3.4" >/dev/null
exec .venv/bin/python scripts/standalone.py "$@"

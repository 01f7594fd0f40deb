#!/usr/bin/env bash
# The demo: start the emulator, compress a model, stream the job's log live, print the result.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh .venv "apache-airflow>=3.3,<3.4" >/dev/null
exec .venv/bin/python scripts/demo.py "$@"

#!/usr/bin/env bash
# Everything CI checks: lint, types, and the test suite on the newest Airflow 3.3.x and on 3.1.x.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh .venv "apache-airflow>=3.3,<3.4"
scripts/setup.sh .venv-3.1 "apache-airflow>=3.1,<3.2"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
echo "== tests on Airflow $(.venv/bin/python -c 'import airflow; print(airflow.__version__)' 2>/dev/null | tail -1)"
.venv/bin/python -m pytest "$@"
echo "== tests on Airflow $(.venv-3.1/bin/python -c 'import airflow; print(airflow.__version__)' 2>/dev/null | tail -1)"
.venv-3.1/bin/python -m pytest "$@"

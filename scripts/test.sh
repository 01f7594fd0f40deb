#!/usr/bin/env bash
# Everything CI checks: lint, types, the docs site (strict build), and the test suite on the newest
# Airflow 3.3.x and on 3.1.x.
# The two suites run side by side (most of their time is spent waiting on jobs and Airflow
# start-up); their outputs are printed one after the other.
set -euo pipefail
cd "$(dirname "$0")/.."
# The live tests run Airflow on PostgreSQL: Debian's server binaries (tests/postgres.py starts a
# private cluster of its own; nothing is configured system-wide).
if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
fi
scripts/setup.sh .venv "apache-airflow>=3.3,<3.4" test,docs
scripts/setup.sh .venv-3.1 "apache-airflow>=3.1,<3.2"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
# Warnings are errors (strict: true): a broken link, a missing example section, a bad docstring.
# (Not --quiet: it hides the warnings from the strict count, and the build would pass.)
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict
logs=$(mktemp -d)
for venv in .venv .venv-3.1; do
  ( version=$("$venv/bin/python" -c 'import airflow; print(airflow.__version__)' 2>/dev/null | tail -1)
    echo "== tests on Airflow $version"
    "$venv/bin/python" -m pytest -p no:cacheprovider "$@" ) > "$logs/${venv#.}.log" 2>&1 &
done
status=0
for job in $(jobs -p); do wait "$job" || status=1; done
cat "$logs/venv.log" "$logs/venv-3.1.log"
rm -rf "$logs"
exit "$status"

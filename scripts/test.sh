#!/usr/bin/env bash
# Everything CI checks: lint, types, the docs site (strict build), and the test suite on the newest
# Airflow 3.3.x and on 3.1.x.
# The two suites run side by side (most of their time is spent waiting on jobs and Airflow
# start-up); their outputs are printed one after the other.
set -euo pipefail
cd "$(dirname "$0")/.."
# System packages the tests need, installed when missing (CI runs as root on a fresh machine):
# Debian's PostgreSQL server binaries for the live tests (tests/support/postgres.py starts a private
# cluster of its own; nothing is configured system-wide), redis-server as the Celery live tests'
# broker (tests/support/redis.py starts a private server likewise) and chromium + chromium-driver
# for the browser tests (tests/live/test_ui_browser.py).
missing=()
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing+=(postgresql)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "missing ${missing[*]} and not root: the live or browser tests will fail or be skipped" >&2
  fi
fi
scripts/setup.sh .venv "apache-airflow>=3.3,<3.4" test,docs,openlineage
# Airflow 3.1's get_fernet sets an attribute on cryptography's MultiFernet, which cryptography 51
# made a Rust object without one: the first encryption of a process fails (a deferral is then
# marked failed by the API server). Airflow's constraints pin an older one; so does this.
scripts/setup.sh .venv-3.1 "apache-airflow>=3.1,<3.2" test,openlineage "cryptography<51"
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
    "$venv/bin/python" -m pytest -p no:cacheprovider --durations=25 "$@" ) > "$logs/${venv#.}.log" 2>&1 &
done
status=0
for job in $(jobs -p); do wait "$job" || status=1; done
cat "$logs/venv.log" "$logs/venv-3.1.log"
rm -rf "$logs"
exit "$status"

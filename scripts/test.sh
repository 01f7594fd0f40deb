#!/usr/bin/env bash
# Everything CI checks: lint, types, the docs site (strict build), and the test suite on the newest
# Airflow 3.3.x and on 3.1.x.
# The two suites run side by side (most of their time is spent waiting on jobs and Airflow
# start-up); their outputs are printed one after the other.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh .venv "apache-airflow>=3.3,<3.4" test,docs,openlineage
scripts/setup.sh .venv-3.1 "apache-airflow>=3.1,<3.2" test,openlineage
# The browser tests (tests/test_ui_browser.py) drive Debian's chromium through chromium-driver.
# Installed when missing and this runs as root (as CI does); else those tests are skipped.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  else
    echo "chromium/chromium-driver missing and not root: the browser tests will be skipped" >&2
  fi
fi
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

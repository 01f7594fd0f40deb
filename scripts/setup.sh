#!/usr/bin/env bash
# Create (or reuse) a virtualenv with the provider, its test tools and one Airflow line.
#   scripts/setup.sh [VENV_DIR] [AIRFLOW_SPEC] [EXTRAS] [MORE_SPECS...]
#   defaults: .venv "apache-airflow>=3.3,<3.4" test   (EXTRAS: comma-separated, e.g. test,docs;
#   MORE_SPECS: further requirements of that Airflow line, e.g. "cryptography<51")
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${1:-.venv}"
airflow_spec="${2:-apache-airflow>=3.3,<3.4}"
extras="${3:-test}"
shift $(( $# < 3 ? $# : 3 ))
python="${PYTHON:-python3}"
if ! command -v uv >/dev/null 2>&1; then
  "$python" -m pip install --quiet uv
fi
[ -x "$venv/bin/python" ] || uv venv --quiet --python "$python" "$venv"
VIRTUAL_ENV="$venv" uv pip install --quiet -e ".[$extras]" "$airflow_spec" "$@"
"$venv/bin/python" -c "import airflow; print('airflow', airflow.__version__, 'in $venv')" 2>/dev/null | tail -1

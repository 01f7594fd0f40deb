"""The quick starts as a new user runs them.

A fresh ``AIRFLOW_HOME`` (only the variable set, as a new user has it), the DAG of step 3 saved in
its DAGs folder, then every command of the English page's bash blocks, in order, in one shell
that stops at the first failure: ``airflow db migrate``, the connection, the emulator on a port it
picks, ``airflow dags test``. The Chinese page shows the same commands but the connection's
language. The install commands (``pip install``, ``uv build``) and each page's connection commands
run from the built wheel in a fresh virtualenv in tests/meta/test_release.py.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT, bash_commands
from tests.support.docs import LOG_LINE, quick_start_dag

INSTALL = ("pip install", "uv build")
KEY = "sk-QUICKSTART-51c9e2"


ENGLISH, CHINESE = ROOT / "docs" / "quickstart.md", ROOT / "docs" / "quickstart-zh.md"


def commands(page: Path) -> list[str]:
    return [c for c in bash_commands(page) if not c.startswith(INSTALL)]


def test_both_quick_starts_show_the_same_commands_but_the_language():
    """So that running the English one runs the Chinese one's (whose connection commands also
    run, each page's own, in tests/meta/test_release.py)."""
    chinese = [c.replace('"lang": "zh-CN"', '"lang": "en-US"') for c in commands(CHINESE)]
    assert chinese == commands(ENGLISH)
    assert quick_start_dag(CHINESE) == quick_start_dag(ENGLISH)


def test_the_quick_start_runs_as_written(tmp_path):
    page = ENGLISH
    shown = commands(page)
    first_connection = next(i for i, c in enumerate(shown) if c.startswith("airflow connections"))
    assert "airflow db migrate" in shown[:first_connection]  # it needs the database
    home = tmp_path / "airflow"
    (home / "dags").mkdir(parents=True)
    (home / "dags" / "compress_and_deploy.py").write_text(quick_start_dag(page))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "VIRTUAL_ENV"))}
    env.update(
        AIRFLOW_HOME=str(home), DASHSCOPE_API_KEY=KEY, PATH=f"{Path(sys.executable).parent}:{env['PATH']}"
    )
    shell = subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", "\n".join(shown)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # the emulator it starts is in its process group
    )
    try:
        output, _ = shell.communicate(timeout=900)
    finally:
        with contextlib.suppress(ProcessLookupError):  # whatever of it is left: the emulator if a step failed
            os.killpg(shell.pid, signal.SIGTERM)
    assert shell.returncode == 0, output[-5000:]
    assert "compress emulator ready on http://127.0.0.1:" in (tmp_path / "emulator.out").read_text()
    assert re.search(r"DagRun Finished: dag_id=compress_and_deploy, .*state=success", output), output[-5000:]
    # the task log line the page shows: the same line number and text, from the run itself
    documented = LOG_LINE.search(page.read_text())
    line = rf"\[quant-\S+ #{documented['number']}\] [\d-]+ [\d:]+ - {re.escape(documented['rest'])}"
    assert re.search(line, output), output[-5000:]
    assert KEY not in output

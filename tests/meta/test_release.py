"""The release as a user gets it: sdist and wheel built from this checkout by the project's build
backend (hatchling, through ``uv build``: the sdist first, the wheel from the sdist), ``twine check``
clean, and the wheel installed into a fresh virtualenv with nothing but this suite's Airflow. There
Airflow lists the provider with its version and docs link, the example pipeline runs with
``airflow dags test`` against the emulator (scripts/demo.py, run by that venv's Python, so that
the provider and the emulator come from the wheel), and the README's and quick starts' install and
connection commands work as written.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import airflow
import pytest

from airflow_provider_compress import __version__
from airflow_provider_compress.get_provider_info import DOCS_URL
from tests.support import ROOT, bash_commands

UV = shutil.which("uv")
STEM = f"airflow_provider_compress-{__version__}"

pytestmark = pytest.mark.skipif(UV is None, reason="uv (which scripts/setup.sh installs) is not on PATH")


def run(*args: str | Path, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=600, **kwargs)
    assert done.returncode == 0, f"{args}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    run(UV, "build", "--quiet", "--out-dir", out, ROOT)
    return out


def test_one_sdist_and_one_wheel_pass_twine_check(dist):
    assert sorted(p.name for p in dist.iterdir() if not p.name.startswith(".")) == [
        f"{STEM}-py3-none-any.whl",
        f"{STEM}.tar.gz",
    ]
    checked = run(sys.executable, "-m", "twine", "check", "--strict", *sorted(dist.glob("airflow_*")))
    assert checked.stdout.count("PASSED") == 2, checked.stdout


def test_the_wheel_and_the_sdist_hold_what_they_should(dist):
    with zipfile.ZipFile(dist / f"{STEM}-py3-none-any.whl") as wheel:
        names = set(wheel.namelist())
        metadata = Parser().parsestr(wheel.read(f"{STEM}.dist-info/METADATA").decode())
        entry_points = wheel.read(f"{STEM}.dist-info/entry_points.txt").decode()
    for module in ("py.typed", "links/console.py", "lineage.py", "emulator/app.py", "get_provider_info.py"):
        assert f"airflow_provider_compress/{module}" in names
    assert not [n for n in names if n.startswith(("tests/", "example_dags/", "docs/"))]
    assert metadata["Version"] == __version__
    assert f"Documentation, {DOCS_URL}" in metadata.get_all("Project-URL")
    assert "openlineage" in metadata.get_all("Provides-Extra")
    assert "[apache_airflow_provider]" in entry_points
    with tarfile.open(dist / f"{STEM}.tar.gz") as sdist:
        files = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    expected = {"CHANGELOG.md", "README.md", "pyproject.toml", "example_dags/example_compress_pipeline.py"}
    assert expected <= files
    assert not [f for f in files if f.startswith((".venv", "site/", "dist/")) or "__pycache__" in f]


@pytest.fixture(scope="module")
def venv(dist, tmp_path_factory) -> Path:
    """A fresh virtualenv with the wheel and this suite's Airflow, nothing else (but what
    scripts/test.sh pins for that Airflow line: Airflow 3.1 fails on cryptography 51)."""
    path = tmp_path_factory.mktemp("release") / "venv"
    run(UV, "venv", "--quiet", "--python", sys.executable, path)
    wheel, pinned = dist / f"{STEM}-py3-none-any.whl", [f"apache-airflow=={airflow.__version__}"]
    if airflow.__version__.startswith("3.1."):
        pinned.append("cryptography<51")
    run(UV, "pip", "install", "--quiet", "--python", path / "bin" / "python", wheel, *pinned)
    return path


def fresh_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "VIRTUAL_ENV", "PYTHON"))}
    return {**env, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}


def test_airflow_lists_the_installed_provider_with_its_version_and_docs_link(venv, tmp_path):
    env, python = fresh_env(tmp_path / "home"), venv / "bin" / "python"
    where = run(
        python,
        "-c",
        "import airflow_provider_compress as provider; print(provider.__file__)",
        env=env,
        cwd=tmp_path,
    )
    assert Path(where.stdout.strip()).is_relative_to(venv)  # the wheel, not this checkout
    listed = run(venv / "bin" / "airflow", "providers", "list", "--output", "json", env=env, cwd=tmp_path)
    providers = json.loads(listed.stdout[listed.stdout.index("[") :])
    ours = [p for p in providers if p["package_name"] == "airflow-provider-compress"]
    assert [p["version"] for p in ours] == [__version__]
    info = run(
        python,
        "-c",
        "from airflow.providers_manager import ProvidersManager as M; "
        "print(M().providers['airflow-provider-compress'].data['documentation-url'])",
        env=env,
        cwd=tmp_path,
    )
    assert info.stdout.strip().splitlines()[-1] == DOCS_URL


def test_the_example_pipeline_runs_from_the_wheel(venv, tmp_path):
    done = run(
        venv / "bin" / "python",
        ROOT / "scripts" / "demo.py",
        "--job-seconds",
        "2",
        "--home",
        tmp_path / "home",
        env=fresh_env(tmp_path / "home"),
        cwd=tmp_path,
    )
    assert "deployed model: qwen3.5-flash-2026-02-23-demo-quant-" in done.stdout, done.stdout[-3000:]
    for task_id in ("fine_tune", "compress", "deploy", "scale"):
        assert f"'{task_id}': 'success'" in done.stdout


QUICK_STARTS = [ROOT / "README.md", ROOT / "docs" / "quickstart.md", ROOT / "docs" / "quickstart-zh.md"]
SETUP = ("pip install", "uv build", "airflow providers", "airflow connections")


def test_the_quick_starts_install_and_connection_commands_work(dist, venv, tmp_path):
    """Each page's install and connection commands, taken from the page: the wheel they install is
    the one `uv build` makes (the one in this venv); their `airflow` commands, run as written in
    that venv, find the provider and store the connection with the type `dashscope`. Last,
    `pip install .` from the clone."""
    key = "sk-QUICKSTART-7d0e4b"
    shared: list[str] = []  # shown by every page: run once
    connections: dict[str, list[Path]] = {}  # each page's connection commands, run in a home of their own
    from_clone = False
    for page in QUICK_STARTS:
        block = []
        for command in (c for c in bash_commands(page) if c.startswith(SETUP)):
            if command == "uv build":
                continue  # the dist fixture ran it
            elif command.startswith("pip install dist/"):
                wanted = command.removeprefix("pip install ")
                assert [w.name for w in dist.glob("*.whl") if fnmatch.fnmatch(f"dist/{w.name}", wanted)] == [
                    f"{STEM}-py3-none-any.whl"
                ], f"{page.name}: {command}"
            elif command == "pip install .":
                from_clone = True
            elif command.startswith("airflow connections "):
                block.append(command)
            elif command.startswith("airflow "):
                shared += [command] if command not in shared else []
            else:
                raise AssertionError(f"{page.name}: a command this test does not know: {command}")
        add = "airflow connections add dashscope_default --conn-type dashscope "
        assert any(c.startswith(add) for c in block), f"{page.name}: no {add!r}"
        connections.setdefault("\n".join(block), []).append(page)

    def bash(script: str, home: Path) -> str:
        env = {**fresh_env(home), "PATH": f"{venv / 'bin'}:{os.environ['PATH']}", "DASHSCOPE_API_KEY": key}
        done = run("bash", "-euo", "pipefail", "-c", script, env=env, cwd=tmp_path)
        assert key not in done.stdout + done.stderr
        return done.stdout

    template = tmp_path / "template"
    template.mkdir()
    run(venv / "bin" / "airflow", "db", "migrate", env=fresh_env(template), cwd=tmp_path)
    assert "airflow-provider-compress" in bash("\n".join(shared), template)  # providers list | grep
    for block, pages in connections.items():  # README and quickstart.md show the same commands
        home = tmp_path / pages[0].stem
        home.mkdir()
        shutil.copy(template / "airflow.db", home / "airflow.db")
        shown = bash(block, home)
        assert re.search(r"^\s*conn_type: dashscope$", shown, re.MULTILINE), f"{pages}:\n{shown}"
        with sqlite3.connect(home / "airflow.db") as db:
            stored = db.execute("SELECT conn_type, host FROM connection WHERE conn_id = 'dashscope_default'")
            assert stored.fetchall() == [("dashscope", "https://dashscope.aliyuncs.com")]
    assert from_clone
    # `pip install .` in the clone (last: the tests before used the wheel)
    python = venv / "bin" / "python"
    ours = "airflow-provider-compress"
    run(UV, "pip", "install", "--quiet", "--python", python, "--reinstall-package", ours, ROOT)
    show = "import airflow_provider_compress as provider; print(provider.__version__, provider.__file__)"
    version, where = run(python, "-c", show, cwd=tmp_path).stdout.split()
    assert version == __version__ and Path(where).is_relative_to(venv)

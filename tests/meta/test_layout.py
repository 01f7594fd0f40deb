"""The layout rules of the package and its tests (docs/architecture.md), checked statically."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support import ROOT

PACKAGE = ROOT / "airflow_provider_compress"
MAX_LINES = 400
# A module may be longer when its docstring says why.
LONGER_ON_PURPOSE = "Longer than 400 lines on purpose"


def modules(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize(
    "path", modules(PACKAGE) + modules(ROOT / "tests"), ids=lambda p: str(p.relative_to(ROOT))
)
def test_no_module_is_longer_than_400_lines_without_saying_why(path):
    text = path.read_text()
    docstring = ast.get_docstring(ast.parse(text)) or ""
    assert len(text.splitlines()) <= MAX_LINES or LONGER_ON_PURPOSE in docstring


def test_the_sensor_and_the_triggers_do_not_import_the_operators():
    for folder in ("sensors", "triggers"):
        for path in modules(PACKAGE / folder):
            assert not {m for m in imported(path) if m.startswith("airflow_provider_compress.operators")}, (
                path
            )


def test_the_protocol_and_the_emulator_import_no_airflow():
    """The protocol core is pure; the emulator is the tests' independent oracle."""
    for folder in ("protocol", "emulator"):
        for path in modules(PACKAGE / folder):
            assert not {m for m in imported(path) if m.split(".")[0] == "airflow"}, path


def test_the_protocol_core_imports_no_transport():
    """The core decides, the hooks do the I/O: the HTTP clients, sockets and tenacity (which runs
    the sync hook's retry loop) are imported by the hooks only."""
    transport = {"requests", "aiohttp", "tenacity", "urllib3", "socket", "ssl", "asyncio"}
    for path in modules(PACKAGE / "protocol"):
        assert not {m for m in imported(path) if m.split(".")[0] in transport}, path


def test_the_emulator_does_not_reuse_the_clients_rules():
    client = ("protocol", "validation", "specs", "models", "hooks")
    for path in modules(PACKAGE / "emulator"):
        ours = {m.split(".")[1] for m in imported(path) if m.startswith("airflow_provider_compress.")}
        assert not ours & set(client), path


def test_no_single_letter_module_aliases():
    for path in modules(PACKAGE) + modules(ROOT / "tests"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                assert all(alias.asname is None or len(alias.asname) > 1 for alias in node.names), path


def test_tests_share_helpers_through_the_support_package_not_conftest_or_each_other():
    for path in modules(ROOT / "tests"):
        for name in imported(path):
            assert name != "conftest" and not name.split(".")[-1].startswith("test_"), (path, name)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def runtime_imports(path: Path, known: set[str]) -> set[str]:
    """The package's modules ``path`` imports when it runs, lazily inside a function included (a
    lazy import only hides a circle): not those under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text())
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                found.add(name if name in known else node.module)
    return found & known


def test_no_import_circle():
    paths = {module_name(path): path for path in modules(PACKAGE)}
    graph = {name: runtime_imports(path, set(paths)) - {name} for name, path in paths.items()}

    def reaches(start: str, goal: str) -> list[str] | None:
        seen, todo = set(), [[start]]
        while todo:
            trail = todo.pop()
            for after in graph[trail[-1]]:
                if after == goal:
                    return [*trail, after]
                if after not in seen:
                    seen.add(after)
                    todo.append([*trail, after])
        return None

    circles = [trail for name in graph if (trail := reaches(name, name))]
    assert circles == []


# Airflow's public interfaces, which any module may import: the Task SDK, the triggers' base,
# the plugins' base and other providers' APIs. Anything else of Airflow (and its UI's Flask) is
# version-bound and goes through _compat.py.
PUBLIC_AIRFLOW = ("airflow.sdk", "airflow.sdk.exceptions", "airflow.triggers.base", "airflow.plugins_manager")
AIRFLOW_ROOTS = ("airflow", "flask", "flask_appbuilder", "flask_babel", "wtforms")
# The UI plugin's app runs inside the API server and reads its database and its auth manager:
# no public interface offers those, and no other module of the package may use them.
SERVER_SIDE = {
    "airflow_provider_compress/plugins/app.py": {
        "airflow.api_fastapi.app",
        "airflow.api_fastapi.core_api.security",
        "airflow.utils.session",
    },
    "airflow_provider_compress/plugins/records.py": {
        "airflow.models.connection",
        "airflow.models.dagrun",
        "airflow.models.taskinstance",
        "airflow.models.xcom",
    },
}


def test_only_compat_reaches_into_airflow():
    for path in modules(PACKAGE):
        if path.name == "_compat.py":
            continue
        internal = {
            name
            for name in imported(path)
            if name.split(".")[0] in AIRFLOW_ROOTS
            and name not in PUBLIC_AIRFLOW
            and not name.startswith("airflow.providers.")
        } - SERVER_SIDE.get(str(path.relative_to(ROOT)), set())
        assert internal == set(), f"{path.relative_to(ROOT)} imports {sorted(internal)}: use _compat"

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

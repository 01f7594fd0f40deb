"""docs/errors.md is complete and every row points at a test that exists."""

from __future__ import annotations

import re

from airflow_provider_compress.emulator.errors import DOCUMENTED, ERRORS, code_of
from tests.support import ROOT

DOC = (ROOT / "docs" / "errors.md").read_text()


def rows() -> list[list[str]]:
    return [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in DOC.splitlines()
        if line.startswith("| ") and not line.startswith("| ---") and "test |" not in line
    ]


def test_every_row_names_a_test_that_exists():
    defined = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        defined |= set(re.findall(r"^(?:async )?def (test_\w+)", path.read_text(), re.MULTILINE))
    named = [row[-1].strip("`") for row in rows()]
    assert len(named) > 40
    assert [name for name in named if name not in defined] == []


def test_every_error_code_of_the_emulator_has_a_row():
    documented = set(re.findall(r"`(\w+)`", " ".join(row[0] for row in rows())))
    assert {code_of(reason) for reason in ERRORS} - documented == set()


def test_the_emulator_doc_marks_every_invented_code_and_only_those():
    """Codes the document and the fact sheet do not show are the emulator's: docs/emulator.md says so."""
    text = (ROOT / "docs" / "emulator.md").read_text()
    table = text[text.index("## Errors") : text.index("## Fault injection")]
    marked: dict[str, str] = {}
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[1][:1].isdigit():
            marked.update(dict.fromkeys((c.strip() for c in cells[0].split("/")), cells[2]))
    answered = {code_of(reason) for reason in ERRORS}
    assert set(marked) == answered
    assert {code for code, source in marked.items() if source == "invented"} == answered - DOCUMENTED

"""MkDocs hook: include sections of example DAGs marked Airflow-style.

A line ``--8<-- "example_dags/file.py:name"`` is replaced by a Python code block, titled with the
file's path, of the lines between ``# [START name]`` and ``# [END name]`` of that file (paths
relative to the repository root), dedented and indented like the directive. Marker lines nested
inside the section are dropped. A missing file, a missing or unpaired marker fails the build.
(The directive is not inside a fence of its own, so that ``ruff format`` leaves it alone.)
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from mkdocs.exceptions import PluginError

ROOT = Path(__file__).resolve().parents[2]
DIRECTIVE = re.compile(r'^(?P<indent>[ \t]*)--8<-- "(?P<path>[^":]+):(?P<name>[\w.-]+)"[ \t]*$', re.MULTILINE)
MARKER = re.compile(r"^\s*# \[(START|END) ([\w.-]+)\]\s*$")


def section(path: str, name: str) -> str:
    """The dedented text between ``# [START name]`` and ``# [END name]`` of ``path``."""
    file = (ROOT / path).resolve()
    if ROOT not in file.parents or not file.is_file():
        raise PluginError(f"example include: no file {path!r}")
    lines = file.read_text(encoding="utf-8").splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == f"# [START {name}]"]
    ends = [i for i, line in enumerate(lines) if line.strip() == f"# [END {name}]"]
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        raise PluginError(
            f"example include: {path} needs exactly one '# [START {name}]' followed by one "
            f"'# [END {name}]' (found {len(starts)} START, {len(ends)} END)"
        )
    body = [line for line in lines[starts[0] + 1 : ends[0]] if not MARKER.match(line)]
    text = textwrap.dedent("\n".join(body)).strip("\n")
    if not text:
        raise PluginError(f"example include: section {name!r} of {path} is empty")
    return text


def on_page_markdown(markdown: str, page, config, files) -> str:
    def replace(match: re.Match[str]) -> str:
        block = f'```python title="{match["path"]}"\n{section(match["path"], match["name"])}\n```'
        return textwrap.indent(block, match["indent"])

    return DIRECTIVE.sub(replace, markdown)

"""The docs site stays complete and its examples real (the strict build runs in scripts/test.sh).

- every public operator, sensor and trigger is on the operators page and in the API reference,
  and every operator and sensor there is shown by an example included from example_dags/;
- every include names a file and a ``# [START name]`` / ``# [END name]`` pair that exist;
- every START in example_dags/ has its END;
- the README's DAG and the quick starts' DAGs are one DAG, and it builds against the real operators;
- the quick starts' example log line is numbered as the emulator numbers it, the emulator page's
  Python snippet runs, and the Chinese quick start uses the service's words and Chinese punctuation.
(The quick starts' install and connection commands run in a fresh virtualenv in
tests/meta/test_release.py; all their other commands in tests/meta/test_quickstart.py. What the
docs claim, by class of claim: tests/meta/test_docs_claims.py.)
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import time
import uuid
from pathlib import Path

import pytest

from tests.support import ROOT, bash_commands, use_connection
from tests.support.docs import LOG_LINE, public_classes, quick_start_dag

DOCS = ROOT / "docs"
EXAMPLES = ROOT / "example_dags"
OPERATORS_PAGE = DOCS / "operators.md"
# The include directive of docs/_hooks/include_examples.py.
INCLUDE = re.compile(r'^[ \t]*--8<-- "(?P<path>[^":]+):(?P<name>[\w.-]+)"[ \t]*$', re.MULTILINE)
MARKER = re.compile(r"^[ \t]*# \[(?P<kind>START|END) (?P<name>[\w.-]+)\][ \t]*$", re.MULTILINE)
QUICK_STARTS = [ROOT / "README.md", DOCS / "quickstart.md", DOCS / "quickstart-zh.md"]


def pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def section(path: str, name: str) -> str:
    """The text between the START and END markers of ``name``, checked as the docs build checks it."""
    file = ROOT / path
    assert file.is_file(), f"included file {path} does not exist"
    text = file.read_text()
    starts = [m.end() for m in MARKER.finditer(text) if m["kind"] == "START" and m["name"] == name]
    ends = [m.start() for m in MARKER.finditer(text) if m["kind"] == "END" and m["name"] == name]
    assert len(starts) == 1 and len(ends) == 1 and starts[0] < ends[0], f"{path}: markers of {name!r}"
    return text[starts[0] : ends[0]]


def includes(text: str) -> list[tuple[str, str]]:
    return [(m["path"], m["name"]) for m in INCLUDE.finditer(text)]


def test_the_classes_are_found():
    names = {cls.__name__ for cls in public_classes()}
    expected = {"CreateCompressJobOperator", "CompressJobSensor", "CompressJobTrigger", "DeploymentTrigger"}
    assert expected <= names


def test_every_operator_sensor_and_trigger_is_on_the_operators_page():
    page = OPERATORS_PAGE.read_text()
    assert [c.__name__ for c in public_classes() if f"`{c.__name__}`" not in page] == []


def test_every_operator_sensor_and_trigger_is_in_the_api_reference():
    reference = "\n".join(p.read_text() for p in (DOCS / "api").glob("*.md"))
    directives = set(re.findall(r"^::: ([\w.]+)\s*$", reference, re.MULTILINE))
    missing = [
        f"{c.__module__}.{c.__name__}"
        for c in public_classes()
        if f"{c.__module__}.{c.__name__}" not in directives and c.__module__ not in directives
    ]
    assert missing == [], "\n".join(missing)


def test_every_operator_and_sensor_is_shown_by_an_included_example():
    from airflow.sdk import BaseOperator

    shown = "\n".join(section(path, name) for path, name in includes(OPERATORS_PAGE.read_text()))
    classes = [c for c in public_classes() if issubclass(c, BaseOperator)]
    bases = {base for c in classes for base in c.__mro__[1:]}
    concrete = [c.__name__ for c in classes if c not in bases]  # the shared base is not used in DAGs
    assert [n for n in concrete if not re.search(rf"\b{n}(\(|\.partial\()", shown)] == []


def test_the_triggers_section_includes_a_deferrable_example():
    page = OPERATORS_PAGE.read_text()
    triggers = page[page.index("## Triggers") :]
    assert any("deferrable=True" in section(path, name) for path, name in includes(triggers))


@pytest.mark.parametrize("page", [*pages(), ROOT / "README.md"], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_include_names_a_marked_section(page):
    for path, name in includes(page.read_text()):
        assert section(path, name).strip(), f"{page.name}: {path}:{name} is empty"


def test_the_docs_include_examples():
    assert len({inc for page in pages() for inc in includes(page.read_text())}) >= 10


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.py")), ids=lambda p: p.name)
def test_every_start_has_an_end(example):
    markers = [(m["kind"], m["name"]) for m in MARKER.finditer(example.read_text())]
    open_names: list[str] = []
    seen: set[str] = set()
    for kind, name in markers:
        if kind == "START":
            assert name not in seen, f"START {name} twice"
            seen.add(name)
            open_names.append(name)
        else:
            assert name in open_names, f"END {name} without its START"
            open_names.remove(name)
    assert open_names == [], f"START without END: {open_names}"


def test_the_readme_and_the_quick_starts_show_one_dag():
    assert len({quick_start_dag(path) for path in QUICK_STARTS}) == 1


def test_the_readme_dag_builds_without_network_or_connections(monkeypatch):
    from airflow.sdk import BaseHook, BaseOperator

    def refuse(*args, **kwargs):
        raise AssertionError("the README's DAG touched the network or a connection at parse time")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(BaseHook, "get_connection", classmethod(refuse))
    code = quick_start_dag(ROOT / "README.md")
    assert len(code.splitlines()) <= 30
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    operators = [v for v in namespace.values() if isinstance(v, BaseOperator)]
    assert operators, "the README's DAG binds no operator"
    dag = operators[0].dag
    assert sorted(dag.task_ids) == ["compress", "deploy"]
    assert dag.get_task("deploy").upstream_task_ids == {"compress"}


# --- what the quick starts and the emulator page show, against the real thing

JOB_ID = re.compile(r"quant-\d{12}-[0-9a-f]{4}")


def test_the_quick_starts_log_line_is_numbered_as_the_emulator_numbers_it(monkeypatch):
    """The documented line is the one the quick start's own DAG and emulator command produce."""
    from airflow_provider_compress.emulator.__main__ import parse_args
    from airflow_provider_compress.emulator.process import EmulatorProcess
    from airflow_provider_compress.hooks.compress import CompressHook
    from airflow_provider_compress.log_forwarding import remote_log_line
    from airflow_provider_compress.validation import API_TIME_FORMAT

    quick_starts = QUICK_STARTS[1:]
    shown = {m.group(0) for path in quick_starts for m in LOG_LINE.finditer(path.read_text())}
    assert len(shown) == 1, f"one example line in both quick starts: {shown}"
    documented = LOG_LINE.fullmatch(shown.pop())
    commands = {c for path in quick_starts for c in bash_commands(path)}
    (command,) = [c for c in commands if c.startswith("python -m airflow_provider_compress.emulator")]
    arguments = shlex.split(command)[3:]
    options = parse_args(arguments[: next((i for i, a in enumerate(arguments) if a in (">", "&")), None)])
    namespace: dict = {}
    exec(compile(quick_start_dag(quick_starts[0]), "quickstart.md", "exec"), namespace)
    compress = namespace["compressed"]
    with EmulatorProcess(job_seconds=2, log_lines=options.log_lines) as emulator:
        use_connection(monkeypatch, emulator)
        job = CompressHook().create(compress.build_spec(f"quickstart-{uuid.uuid4().hex[:8]}"))
        deadline = time.monotonic() + 30
        while emulator.job(job.job_id)["status"] != "SUCCEEDED" and time.monotonic() < deadline:
            time.sleep(0.1)
        full = emulator.full_log(job.job_id)
    lines = [remote_log_line(job.job_id, n, line) for n, line in enumerate(full, 1)]
    (real,) = [LOG_LINE.fullmatch(f"`{line}`") for line in lines if line.endswith(documented["rest"])]
    assert real is not None and documented["number"] == real["number"]
    assert JOB_ID.fullmatch(documented["job"]) and JOB_ID.fullmatch(real["job"])
    for match in (documented, real):
        time.strptime(match["time"], API_TIME_FORMAT)


def test_the_emulator_pages_python_snippet_runs(monkeypatch):
    """Copied into a file as it stands (imports included), it starts and stops an emulator."""
    monkeypatch.setenv("AIRFLOW_CONN_DASHSCOPE_DEFAULT", "")  # restored afterwards: the snippet sets it
    page = (DOCS / "emulator.md").read_text()
    blocks = re.findall(r"^```python\n(.*?)^```", page, re.MULTILINE | re.DOTALL)
    (snippet,) = [block for block in blocks if "EmulatorProcess(" in block]
    exec(compile(snippet, "emulator.md", "exec"), {})
    assert json.loads(os.environ["AIRFLOW_CONN_DASHSCOPE_DEFAULT"])["conn_type"] == "dashscope"


CJK = r"[\u3400-\u9fff]"


def chinese_prose(path: Path) -> list[str]:
    """The page's lines without code blocks, inline code and link targets."""
    text = re.sub(r"^```.*?^```", "", path.read_text(), flags=re.MULTILINE | re.DOTALL)
    text = re.sub(r"`[^`]*`", "``", text)
    return [re.sub(r"\]\([^)]*\)", "]", line) for line in text.splitlines()]


def test_the_chinese_quick_start_speaks_the_services_chinese():
    """The service's words (任务, 模型调优, 模型部署; not 作业) and Chinese punctuation in Chinese text."""
    lines = chinese_prose(DOCS / "quickstart-zh.md")
    text = "\n".join(lines)
    assert "作业" not in text
    assert "模型调优" in text and "模型部署" in text and "任务" in text
    ascii_next_to_chinese = re.compile(rf'{CJK}[,.:;!?()"]|[,:;!?("]{CJK}')
    assert [line for line in lines if ascii_next_to_chinese.search(line) or '"' in line] == []


def test_the_chinese_quick_start_says_where_a_link_leads_to_an_english_page():
    heading = ""
    unmarked = []
    for line in chinese_prose(DOCS / "quickstart-zh.md"):
        if line.startswith("#"):
            heading = line
        elif re.search(r"\[[^\]]+\]", line) and "英文" not in line + heading:
            unmarked.append(line)
    assert unmarked == []

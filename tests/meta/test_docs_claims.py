"""What the docs claim, checked against the code and the built site, one test per class of claim:

- every test the docs cite (a file, a test's name) and every module path of a layout table exists;
- every markdown table renders as a table (no row cut off by a blank line, shown as pipes);
- the API reference (mkdocstrings, from the docstrings) shows every operator's and sensor's
  parameters, each in a row of its own (no paragraph of the docstring inside a parameter's row),
  defaults as values, and as "Bases" only classes it shows;
- the README's links are absolute (a package index page shows the README), each to a page and
  anchor of the docs site, whose address is the package's docs link;
- the Airflow and Python versions the docs state are the package's.

The quick starts' commands run in tests/meta/test_quickstart.py.
"""

from __future__ import annotations

import html
import importlib
import importlib.metadata
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT
from tests.support.docs import public_classes

DOCS = ROOT / "docs"
PACKAGE = ROOT / "airflow_provider_compress"
PAGES = [*sorted(DOCS.rglob("*.md")), ROOT / "README.md", ROOT / "CHANGELOG.md"]
FENCE = re.compile(r"^\s*```.*?^\s*```", re.MULTILINE | re.DOTALL)


def page_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


def prose(path: Path) -> str:
    """A page without its fenced code blocks."""
    return FENCE.sub("", path.read_text(encoding="utf-8"))


# --- cited tests and paths


def defined_tests() -> set[str]:
    return {
        name
        for path in (ROOT / "tests").rglob("*.py")
        for name in re.findall(r"^\s*(?:async )?def (test_\w+)", path.read_text(), re.MULTILINE)
    }


@pytest.mark.parametrize("page", [*PAGES, *sorted((ROOT / "tests").rglob("*.py"))], ids=page_id)
def test_every_test_a_page_cites_exists(page):
    """A test file by its path, a test by its name (in backticks), never by a letter ("test (d)")."""
    text = page.read_text(encoding="utf-8")
    paths = set(re.findall(r"\btests/[\w/]+\.py\b", text))
    assert [p for p in sorted(paths) if not (ROOT / p).is_file()] == []
    if page.suffix == ".md":
        assert [n for n in sorted(set(re.findall(r"`(test_\w+)`", text))) if n not in defined_tests()] == []
        assert re.findall(r"\btests?\s+\([a-z]\)", text) == []


def layout_paths(page: Path) -> list[str]:
    """The paths in the first column of the page's layout tables ("module | role"): braces
    expanded, a bare file name beside the path before it (``hooks/base.py``, ``base_async.py``)."""
    found = []
    in_layout = False
    for line in prose(page).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
        if not cells:
            in_layout = False
            continue
        if cells[0] == "module":
            in_layout = True
            continue
        if not in_layout or set(cells[0]) <= set("-: "):
            continue
        folder = ""
        for item in re.findall(r"`([^`]+)`", cells[0]):
            braces = re.search(r"\{([^}]+)\}", item)
            for name in braces[1].split(",") if braces else [""]:
                path = item.replace(braces[0], name) if braces else item
                if "/" not in path.rstrip("/"):
                    path = folder + path
                folder = path.rsplit("/", 1)[0] + "/" if "/" in path.rstrip("/") else ""
                found.append(path)
    return found


@pytest.mark.parametrize("page", [ROOT / "README.md", DOCS / "architecture.md"], ids=page_id)
def test_every_module_of_a_layout_table_exists(page):
    """README's paths are from the checkout's root, architecture.md's from the package's."""
    base = ROOT if page.name == "README.md" else PACKAGE
    paths = layout_paths(page)
    assert len(paths) >= 15
    assert [p for p in paths if not (base / p).exists()] == []


# --- tables


def rendered(text: str) -> str:
    """Markdown as the docs site renders it: Python-Markdown with mkdocs.yml's extensions."""
    markdown = pytest.importorskip("markdown")
    yaml = pytest.importorskip("yaml")
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    extensions, configs = [], {}
    for extension in config["markdown_extensions"]:
        name = extension if isinstance(extension, str) else next(iter(extension))
        extensions.append(name)
        if isinstance(extension, dict):
            configs[name] = extension[name] or {}
    return markdown.markdown(text, extensions=extensions, extension_configs=configs)


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_table_row_renders_in_a_table(page):
    """Every `| ... |` line outside code blocks is a row of a rendered table (a blank line inside
    a table cuts the rows after it off: they show as a paragraph of pipes)."""
    text = page.read_text(encoding="utf-8")
    lines = [line for line in prose(page).splitlines() if re.match(r"^\s*\|.*\|\s*$", line)]
    separators = [line for line in lines if re.match(r"^\s*\|[\s:|-]+\|\s*$", line)]
    shown = rendered(text)
    assert [p for p in re.findall(r"<p>(\|.*?)</p>", shown, re.DOTALL)] == []
    assert shown.count("<tr>") == len(lines) - len(separators)


# --- the built site: API reference, README links


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    pytest.importorskip("mkdocs")
    built = tmp_path_factory.mktemp("site")
    build = subprocess.run(
        # not --quiet: it hides the warnings from the strict count, and the build would pass
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(built)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert build.returncode == 0, build.stderr
    return built


def reference(site: Path) -> str:
    return "\n".join(p.read_text() for p in sorted((site / "api").rglob("index.html")))


def test_the_api_reference_renders_every_operator_and_sensor_parameter(site):
    """Each keyword of an operator's or sensor's own ``__init__`` has a row in the Parameters table
    the site shows for it (the strict build does not check this: a parameter left out of a
    docstring renders nothing). A class that inherits its ``__init__`` points to its base's."""
    from airflow.sdk import BaseOperator

    shown = reference(site)
    missing = []
    for cls in public_classes():
        if not issubclass(cls, BaseOperator) or "__init__" not in vars(cls):
            continue
        start = shown.find(f'id="{cls.__module__}.{cls.__name__}"')
        assert start >= 0, f"{cls.__name__} is not rendered"
        end = shown.find('class="doc doc-object doc-class"', start)
        rendered_class = shown[start : end if end > 0 else len(shown)]
        for name, param in inspect.signature(cls.__init__).parameters.items():
            row = re.search(rf"<td>\s*<code>{name}</code>", rendered_class)
            if name != "self" and param.kind is not param.VAR_KEYWORD and not row:
                missing.append(f"{cls.__name__}.{name}")
    assert missing == [], "\n".join(missing)


def test_no_paragraph_of_a_docstring_renders_inside_a_parameters_row(site):
    """Text after the last ``:param`` belongs to that parameter for the docstring parser: a
    paragraph meant for the class must come before the parameters."""
    inside = []
    for page in sorted((site / "api").rglob("index.html")):
        for row in re.findall(r'<tr class="doc-section-item">(.*?)</tr>', page.read_text(), re.DOTALL):
            name = re.search(r"<code>(\w+)</code>", row)
            if row.count("<p>") > 1:
                text = re.sub(r"<[^>]+>", "", row.split("<p>")[2])
                inside.append(f"{page.parent.name}: {name[1] if name else '?'}: {html.unescape(text)[:60]}")
    assert inside == [], "\n".join(inside)


def test_defaults_show_their_values(site):
    """Not the name of the attribute that holds one (``DeploymentHook.default_conn_name``)."""
    text = html.unescape(re.sub(r"<[^>]+>", "", reference(site)))
    assert re.findall(r"= \S*default_conn_name", text) == []
    assert '= "dashscope_default"' in text


def test_bases_name_only_classes_the_reference_shows(site):
    """Not a private base or a mixin the reference leaves out: their own bases instead."""
    hidden = []
    for bases in re.findall(r"Bases: (.*?)</p>", reference(site)):
        for base in re.findall(r"<code>(.*?)</code>", bases):
            # a base of this package is a link to its entry; another package's is plain text
            title = re.match(r'<span title="([\w.]+)"', base)
            if title and defined_here(title[1]):
                hidden.append(title[1])
    assert hidden == []


def defined_here(path: str) -> bool:
    """Whether ``path`` names a class of this package (not one it imports, as _compat does)."""
    module, _, name = path.rpartition(".")
    if not module.startswith("airflow_provider_compress"):
        return False
    found = getattr(importlib.import_module(module), name, None)
    return inspect.isclass(found) and found.__module__.startswith("airflow_provider_compress")


def test_the_readme_links_to_the_docs_site_by_absolute_addresses(site):
    """A package index shows the README without the repository around it: each link is
    absolute, and each to the docs site names a page it has, and an anchor on that page."""
    from airflow_provider_compress.get_provider_info import DOCS_URL

    links = re.findall(r"\]\(([^)\s]+)\)", (ROOT / "README.md").read_text())
    assert links and [link for link in links if not link.startswith("https://")] == []
    ours = [link for link in links if link.startswith(DOCS_URL)]
    assert len(ours) >= 10
    broken = []
    for link in ours:
        page, _, anchor = link.removeprefix(DOCS_URL).partition("#")
        built = site / page / "index.html"
        if not built.is_file() or (anchor and f'id="{anchor}"' not in built.read_text()):
            broken.append(link)
    assert broken == []


def test_one_docs_address_for_the_site_the_package_and_airflow():
    """mkdocs.yml's site_url is the package's Documentation URL and the provider info's
    documentation-url, which Airflow's Providers page links to."""
    from airflow_provider_compress.get_provider_info import DOCS_URL, get_provider_info

    (site_url,) = re.findall(r"^site_url: (\S+)$", (ROOT / "mkdocs.yml").read_text(), re.MULTILINE)
    urls = importlib.metadata.metadata("airflow-provider-compress").get_all("Project-URL")
    assert site_url == DOCS_URL == get_provider_info()["documentation-url"]
    assert f"Documentation, {DOCS_URL}" in urls


# --- versions


def test_the_supported_versions_the_docs_state_are_the_packages():
    """ "Airflow 3.1.x through 3.3.x": the package requires that range and no more, and this
    suite's Airflow is in it; "Python >= 3.10": requires-python, and the classifiers from there."""
    import airflow
    from packaging.requirements import Requirement
    from packaging.version import Version

    metadata = importlib.metadata.metadata("airflow-provider-compress")
    (required,) = [
        Requirement(r)
        for r in metadata.get_all("Requires-Dist")
        if r.startswith("apache-airflow<") or r.startswith("apache-airflow>")
    ]
    for page in (ROOT / "README.md", DOCS / "quickstart.md"):
        (low, high) = re.findall(r"Airflow (\d+\.\d+)\.x through (\d+\.\d+)\.x", page.read_text())[0]
        major, minor = map(int, high.split("."))
        assert required.specifier.contains(f"{low}.0") and required.specifier.contains(f"{high}.99"), (
            page.name
        )
        assert not required.specifier.contains(f"{major}.{minor + 1}.0"), page.name
        assert re.search(r"Python >= (\d+\.\d+)", page.read_text())[1] == metadata[
            "Requires-Python"
        ].removeprefix(">=")
    assert required.specifier.contains(Version(airflow.__version__).base_version)
    pythons = [
        c.rsplit(" :: ", 1)[1] for c in metadata.get_all("Classifier") if re.search(r"Python :: 3\.\d+$", c)
    ]
    assert pythons[0] == metadata["Requires-Python"].removeprefix(">=") and len(pythons) >= 2

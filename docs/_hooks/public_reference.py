"""Griffe extension of the API reference (mkdocs.yml): it shows what a user writes and can look up.

- A default that names a hook's ``default_conn_name`` shows its value, ``'dashscope_default'``.
- "Bases:" names only classes the reference shows (or another package's, like Airflow's
  ``BaseOperator``): a base it hides (a private class, a mixin of a module not in docs/api/) is
  replaced by its own bases.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import griffe

API = Path(__file__).resolve().parents[1] / "api"
DIRECTIVE = re.compile(r"^::: ([\w.]+)\s*$", re.MULTILINE)
PACKAGE = "airflow_provider_compress"


class PublicReference(griffe.Extension):
    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        if pkg.name != PACKAGE:
            return
        shown = set(DIRECTIVE.findall("\n".join(p.read_text(encoding="utf-8") for p in API.glob("*.md"))))
        conn_name = pkg["hooks.base.DashScopeBaseHook"].members["default_conn_name"].value
        for obj in _walk(pkg):
            if obj.is_class:
                obj.bases = _public_bases(obj, shown, loader)
            for function in (obj, obj.members.get("__init__")) if obj.is_class else (obj,):
                if isinstance(function, griffe.Function):
                    for parameter in function.parameters:
                        if str(parameter.default).split(".")[-1] == "default_conn_name":
                            parameter.default = conn_name


def _walk(module: griffe.Module) -> list[Any]:
    found, todo = [], [module]
    while todo:
        obj = todo.pop()
        for member in obj.members.values():
            if member.is_alias:
                continue
            found.append(member)
            if member.is_module or member.is_class:
                todo.append(member)
    return found


def _public_bases(cls: griffe.Class, shown: set[str], loader: griffe.GriffeLoader) -> list[Any]:
    bases = []
    for base in cls.bases:
        path = getattr(base, "canonical_path", str(base))
        if not path.startswith(PACKAGE + ".") or _is_shown(path, shown):
            bases.append(base)
            continue
        try:
            hidden = loader.modules_collection[path]
            if hidden.is_alias:  # a name imported from elsewhere (Airflow's, through _compat)
                hidden = hidden.final_target
        except (KeyError, griffe.AliasResolutionError):
            bases.append(base)  # not loaded: another package's
            continue
        if hidden.path.startswith(PACKAGE + "."):
            bases += _public_bases(hidden, shown, loader)
        else:
            bases.append(base)
    return bases


def _is_shown(path: str, shown: set[str]) -> bool:
    module, _, name = path.rpartition(".")
    return path in shown or (module in shown and not name.startswith("_"))

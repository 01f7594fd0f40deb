"""What the docs tests share: the provider's public task classes, the quick starts' DAG and the
log line they show."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

from tests.support import ROOT

# `[<job id> #<n>] <time> - <level> - <text>`: a forwarded log line, as the quick starts show one.
LOG_LINE = re.compile(r"`\[(?P<job>\S+) #(?P<number>\d+)\] (?P<time>[\d-]+ [\d:]+) - (?P<rest>\w+ - [^`]+)`")


def public_classes() -> list[type]:
    """Operators, sensors and triggers defined (not just imported) in the provider's modules."""
    from airflow.sdk import BaseOperator
    from airflow.triggers.base import BaseTrigger

    found = []
    for package in ("operators", "sensors", "triggers"):
        path = ROOT / "airflow_provider_compress" / package
        for info in pkgutil.iter_modules([str(path)]):
            module = importlib.import_module(f"airflow_provider_compress.{package}.{info.name}")
            for name, obj in vars(module).items():
                if (
                    inspect.isclass(obj)
                    and obj.__module__ == module.__name__
                    and not name.startswith("_")
                    and issubclass(obj, (BaseOperator, BaseTrigger))
                ):
                    found.append(obj)
    return found


def quick_start_dag(path: Path) -> str:
    blocks = re.findall(r"^```python\n(.*?)^```", path.read_text(), re.MULTILINE | re.DOTALL)
    dags = [block for block in blocks if "with DAG(" in block]
    assert len(dags) == 1, f"{path.name}: expected one DAG code block"
    return dags[0]

"""Former names of arguments, still accepted with a warning (docs/operators.md#renamed-arguments)."""

from __future__ import annotations

import warnings
from typing import TypeVar

from airflow_provider_compress import _compat
from airflow_provider_compress.exceptions import CompressValidationError

T = TypeVar("T")


def renamed_argument(old: str, old_value: T | None, new: str, new_value: T | None) -> T | None:
    """The value of argument ``new``, or of its former name ``old`` (with a warning)."""
    if old_value is None:
        return new_value
    if new_value is not None and new_value != old_value:
        raise CompressValidationError(old, f"the former name of {new}; pass {new} only")
    warnings.warn(f"{old} is deprecated: use {new}", _compat.provider_deprecation(), stacklevel=3)
    return old_value

"""``template_ext = (".json",)`` for the operators whose fields take a mapping or a list, as
``BigQueryInsertJobOperator`` or ``EmrAddStepsOperator`` allow.

Such a field may name a ``.json`` file instead: Airflow finds it like any template file (next to
the DAG file, or in the DAG's ``template_searchpath``) and renders it with Jinja; the text it
renders to is read as JSON before ``execute``. (A field rendered to JSON text in another way,
``'{{ var.value.hyper_parameters }}'`` say, is read the same way.)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, ClassVar

from airflow_provider_compress.exceptions import CompressValidationError


class JsonTemplates:
    """Mixin of an operator; ``json_fields``: its fields that take a mapping or a list."""

    template_ext: Sequence[str] = (".json",)
    json_fields: ClassVar[tuple[str, ...]] = ()

    def pre_execute(self, context: Any) -> None:
        super().pre_execute(context)  # type: ignore[misc]
        for field in self.json_fields:
            value = getattr(self, field)
            if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
                try:
                    setattr(self, field, json.loads(value))
                except ValueError as err:
                    raise CompressValidationError(field, f"must render to JSON ({err})") from None

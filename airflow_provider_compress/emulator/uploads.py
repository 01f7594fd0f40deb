"""The emulator's uploaded files (fact sheet B.8): what it keeps of each, and how it shows it."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from airflow_provider_compress.emulator.machines import fmt_time

FILE_PURPOSES = ("fine-tune", "file-extract", "batch")
FILE_MAX_BYTES = 300 * 1024 * 1024  # per file (fact sheet B.8)


@dataclasses.dataclass
class UploadedFile:
    """What the emulator keeps of an uploaded file: its size, hash and whether it is JSON lines."""

    file_id: str
    name: str
    purpose: str
    description: str | None
    size: int
    md5: str
    json_lines: bool  # every non-blank line a JSON object: what a training file must be
    created: float

    @classmethod
    def of(
        cls, file_id: str, name: str, content: bytes, purpose: str, description: str | None, now: float
    ) -> UploadedFile:
        return cls(
            file_id,
            name,
            purpose,
            description,
            len(content),
            hashlib.md5(content).hexdigest(),
            _is_json_lines(content),
            now,
        )

    def label(self) -> str:
        return f"{self.name} ({self.file_id})"

    def to_api(self, lang: str = "zh-CN") -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "name": self.name,
            "description": self.description,
            "purpose": self.purpose,
            "size": self.size,
            "md5": self.md5,
            "gmt_create": fmt_time(self.created),
        }


def _is_json_lines(content: bytes) -> bool:
    try:
        lines = [line for line in content.decode("utf-8").splitlines() if line.strip()]
        return bool(lines) and all(isinstance(json.loads(line), dict) for line in lines)
    except ValueError:  # not UTF-8, or a line that is not JSON
        return False

"""Misbehaviours of a server that answers, but wrongly or not for a while: the ways a wait can end
that no single fault makes (docs/exits.md).

- an **outage** of a given length: every API request answers ``outage_status`` until it is over;
- **log offsets that lie**: a log page that ignores the ``offset`` asked (``ignore``), starts two
  lines before it (``step_back``), or a log whose ``total`` shrinks by five lines (``shrink``);
- a **scale whose capacity lags**: a landed scale shows the old capacity for ``capacity_lag``
  more seconds (``"inf"``: never, "asked 4, got 1");
- a **delete that stays**: ``DELETE`` answers 200 and the deployment goes on RUNNING.

Set at run time through ``POST /_emulator/misbehave``; ``reset`` ends them all.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

LOG_OFFSETS = ("honest", "ignore", "step_back", "shrink")
SHRUNK_BY = 5  # lines a "shrink" log loses
STEPPED_BACK_BY = 2  # lines a "step_back" page starts before the offset asked


@dataclasses.dataclass
class Misbehaviour:
    outage_until: float = 0.0  # epoch seconds
    outage_status: int = 503
    log_offsets: str = "honest"
    capacity_lag: float = 0.0
    sticky_deletes: bool = False

    def configure(self, now: float, spec: dict[str, Any]) -> None:
        """Apply ``spec`` (``outage_seconds``, ``outage_status``, ``log_offsets``, ``capacity_lag``,
        ``sticky_deletes``) if all of it is valid; a refused one changes nothing."""
        changes: dict[str, Any] = {}
        if "outage_seconds" in spec:
            seconds = float(spec["outage_seconds"])
            if not 0 <= seconds < math.inf:
                raise ValueError("outage_seconds must be a finite number >= 0")
            changes["outage_until"] = now + seconds
        if "outage_status" in spec:
            status = int(spec["outage_status"])
            if not 400 <= status <= 599:
                raise ValueError("outage_status must be an HTTP error status")
            changes["outage_status"] = status
        if "log_offsets" in spec:
            if spec["log_offsets"] not in LOG_OFFSETS:
                raise ValueError(f"log_offsets must be one of {', '.join(LOG_OFFSETS)}")
            changes["log_offsets"] = spec["log_offsets"]
        if "capacity_lag" in spec:
            lag = float(spec["capacity_lag"])
            if not lag >= 0:
                raise ValueError("capacity_lag must be >= 0 (inf: the capacity never lands)")
            changes["capacity_lag"] = lag
        if "sticky_deletes" in spec:
            changes["sticky_deletes"] = bool(spec["sticky_deletes"])
        for name, value in changes.items():
            setattr(self, name, value)

    def in_outage(self, now: float) -> bool:
        return now < self.outage_until

    def log_page(self, lines: list[str], offset: int, line: int) -> dict[str, Any]:
        """The log page a server with these ``log_offsets`` answers for ``offset`` and ``line``."""
        total = len(lines)
        if self.log_offsets == "ignore":
            offset = 0
        elif self.log_offsets == "step_back":
            offset = max(0, offset - STEPPED_BACK_BY)
        elif self.log_offsets == "shrink":
            total = max(0, total - SHRUNK_BY)
            lines = lines[:total]
        return {"total": total, "logs": lines[offset : offset + line]}

    def summary(self, now: float) -> dict[str, Any]:
        return {
            "outage_seconds_left": max(0.0, self.outage_until - now),
            "outage_status": self.outage_status,
            "log_offsets": self.log_offsets,
            "capacity_lag": None if math.isinf(self.capacity_lag) else self.capacity_lag,  # null: never
            "sticky_deletes": self.sticky_deletes,
        }

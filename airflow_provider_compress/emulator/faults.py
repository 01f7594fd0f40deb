"""Fault injection for the emulator: the failures a real network and service produce.

A fault is drawn for every API request: first from a queue (``fail-next``), else at random with
the plan's ``rate``. Some faults stop the request before it is served (429, 5xx, ``reset``);
others serve it and then spoil the answer (``lost``, ``slow``, ``trickle``, ``truncated``,
``invalid``, and a status fault with ``after``), so that a create happens although the client
never learns it. ``answer`` (queued only) replaces the answer with any status, body and headers:
what a hostile or broken server could send.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import re
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

KINDS = ("429", "500", "502", "503", "reset", "slow", "trickle", "truncated", "invalid", "lost")
SERVED_FIRST = frozenset({"slow", "trickle", "truncated", "invalid", "lost"})
QUEUED_ONLY = ("answer",)


@dataclasses.dataclass(frozen=True)
class Fault:
    kind: str  # one of KINDS
    retry_after: float | None = None  # for 429
    after: bool = False  # for status faults: serve the request first, then fail the answer
    method: str | None = None  # only for requests of this HTTP method (a queued fault waits for one)
    path: str | None = None  # only for requests whose path matches this regular expression
    answer_status: int = 200  # for "answer": the status, body and headers sent instead of the API's
    body: str = ""
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def status(self) -> int | None:
        return int(self.kind) if self.kind.isdigit() else None

    @property
    def served_first(self) -> bool:
        return self.after or self.kind in SERVED_FIRST

    def applies_to(self, method: str, path: str) -> bool:
        return self.method in (None, method) and (
            self.path is None or re.fullmatch(self.path, path) is not None
        )

    def replacement(self) -> Response:
        """The answer of an ``answer`` fault."""
        return Response(
            self.body.encode(),
            status_code=self.answer_status,
            media_type="application/json",
            headers=dict(self.headers),
        )


class ResetResponse(Response):
    """Promise a body, send part of it and drop the connection: the client sees a reset."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", b"4096")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b'{"request_id": "', "more_body": True})
        raise ConnectionResetError("emulated connection reset")


@dataclasses.dataclass
class FaultPlan:
    rate: float = 0.0
    kinds: tuple[str, ...] = KINDS
    slow_seconds: float = 35.0  # longer than the client's default 30 s timeout
    retry_after: float = 1.0
    seed: int | None = None
    queue: list[Fault] = dataclasses.field(default_factory=list)
    injected: Counter[str] = dataclasses.field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.configure()

    def configure(self, **changes: Any) -> None:
        """Apply ``changes`` (None: keep) if the result is valid; a refused change changes nothing."""
        new: dict[str, Any] = {k: v for k, v in changes.items() if v is not None}
        if "kinds" in new:
            new["kinds"] = tuple(new["kinds"])
        unknown = set(new.get("kinds", self.kinds)) - set(KINDS)
        if unknown or not 0 <= new.get("rate", self.rate) <= 1:
            raise ValueError(f"rate must be 0..1 and kinds among {', '.join(KINDS)} (got {sorted(unknown)})")
        for name, value in new.items():
            setattr(self, name, value)
        self._random = random.Random(self.seed)

    def draw(self, method: str, path: str = "") -> Fault | None:
        queued = next((i for i, f in enumerate(self.queue) if f.applies_to(method, path)), None)
        if queued is not None:
            fault = self.queue.pop(queued)
        elif self.rate and self._random.random() < self.rate:
            kind = self._random.choice(self.kinds)
            fault = Fault(kind, self.retry_after if kind == "429" else None)
        else:
            return None
        self.injected[fault.kind + ("-after" if fault.after else "")] += 1
        return fault

    async def spoil(self, fault: Fault, answer: Response) -> Response:
        """The answer of a request that was served, as the fault leaves it."""
        if fault.kind == "lost":
            return ResetResponse()
        if fault.kind == "slow":
            await asyncio.sleep(self.slow_seconds)
            return answer
        if fault.kind == "trickle":  # headers at once, then the body a byte at a time
            return StreamingResponse(self._trickle(bytes(answer.body)), media_type="application/json")
        if fault.kind == "truncated":
            body = bytes(answer.body)
            return Response(body[: max(1, len(body) // 2)], media_type="application/json")
        if fault.kind == "invalid":
            return Response(b"<html><body>502 Bad Gateway</body></html>", media_type="application/json")
        raise AssertionError(fault.kind)

    async def _trickle(self, body: bytes) -> AsyncIterator[bytes]:
        pause = self.slow_seconds / max(1, len(body))  # the whole body takes slow_seconds
        for byte in body:
            await asyncio.sleep(pause)
            yield bytes([byte])

    def summary(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "kinds": list(self.kinds),
            "slow_seconds": self.slow_seconds,
            "retry_after": self.retry_after,
            "seed": self.seed,
            "queued": len(self.queue),
            "injected": dict(self.injected),
        }

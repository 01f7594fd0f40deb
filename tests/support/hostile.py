"""A small hostile HTTP server on 127.0.0.1, for what the emulator cannot send: answers written
byte for byte (any status, headers and Content-Encoding, a Content-Length that lies, a body of any
size or without end, a slow one). It records what it was asked, and how many answers the client
stopped reading before their end (``hung_up``).

Each connection carries one request and is closed after its answer (``Connection: close``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator


@dataclasses.dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    # the bytes, or a function giving them part by part (an endless body: an endless iterator)
    body: bytes | Callable[[], Iterable[bytes]] = b""
    framing: str = "length"  # "length" (a Content-Length), "chunked", "close" (until the end)
    pause: float = 0.0  # seconds between parts: a slow body

    def head(self) -> bytes:
        headers = {"Content-Type": "application/json", "Connection": "close", **self.headers}
        if self.framing == "length" and isinstance(self.body, bytes):
            headers.setdefault("Content-Length", str(len(self.body)))
        elif self.framing == "chunked":
            headers["Transfer-Encoding"] = "chunked"
        lines = [f"HTTP/1.1 {self.status} Status"] + [f"{n}: {v}" for n, v in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def parts(self) -> Iterator[bytes]:
        if isinstance(self.body, bytes):
            for start in range(0, len(self.body), 65536):
                yield self.body[start : start + 65536]
        else:
            yield from self.body()


@dataclasses.dataclass(frozen=True)
class Seen:
    method: str
    target: str
    headers: dict[str, str]


Responder = Answer | Callable[[Seen], Answer]


class HostileServer:
    def __init__(self, answer: Responder | None = None) -> None:
        self.answer: Responder = answer or Answer()
        self.requests: list[Seen] = []
        self.hung_up = 0
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._tasks: set[asyncio.Task] = set()

    def start(self) -> HostileServer:
        self._thread.start()
        start = asyncio.start_server(self._serve, "127.0.0.1", 0)
        self._server = asyncio.run_coroutine_threadsafe(start, self._loop).result(10)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    def stop(self) -> None:
        async def close() -> None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *lines = head.decode("latin-1").split("\r\n")
            method, target, _version = request_line.split(" ", 2)
            pairs = [line.split(":", 1) for line in lines if ":" in line]
            headers = {name.strip().lower(): value.strip() for name, value in pairs}
            await reader.readexactly(int(headers.get("content-length", 0)))
            seen = Seen(method, target, headers)
            self.requests.append(seen)
            answer = self.answer(seen) if callable(self.answer) else self.answer
            writer.write(answer.head())
            for part in answer.parts():
                writer.write(b"%x\r\n%s\r\n" % (len(part), part) if answer.framing == "chunked" else part)
                await writer.drain()
                if answer.pause:
                    await asyncio.sleep(answer.pause)
            if answer.framing == "chunked":
                writer.write(b"0\r\n\r\n")
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            self.hung_up += 1
        finally:
            self._tasks.discard(task)
            with contextlib.suppress(ConnectionError, RuntimeError):
                writer.close()


def job_answer(status: str = "RUNNING", job_id: str = "quant-hostile") -> bytes:
    return json.dumps({"request_id": "r", "output": {"job_id": job_id, "status": status}}).encode()


def compressed(data: Iterable[bytes], encoding: str = "gzip") -> bytes:
    """``data`` gzip- (or zlib-, raw-deflate-) compressed, part by part (a bomb never whole)."""
    wbits = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS, "raw-deflate": -zlib.MAX_WBITS}
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits[encoding])
    return b"".join(packer.compress(part) for part in data) + packer.flush()


def zeros(total: int, part: int = 1 << 20) -> Iterator[bytes]:
    block = bytes(part)
    for start in range(0, total, part):
        yield block[: min(part, total - start)]


# --- any answer, for the property tests (hypothesis is imported only by them)

ECHO = b"<authorization>"  # replaced by the request's Authorization header: a server that echoes it
BOMB = 64 * 1024 * 1024  # bytes a bomb unpacks to
STATUSES = [200, 200, 200, 201, 204, 301, 302, 307, 400, 401, 404, 409, 413, 429, 500, 503]


def hostile_answers(limit: int):
    """A hypothesis strategy of responders (``Seen -> Answer``): any status, a body of any JSON
    shape, any bytes, nested without end, around ``limit`` bytes or a 64 MiB bomb; any
    Content-Encoding (asked for or not, true or not), framing, Retry-After and Location; some
    echo the request's key."""
    from hypothesis import strategies as st

    scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
    values = st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
        max_leaves=8,
    )
    fields = ("output", "data", "code", "message", "request_id", "total", "logs", "status", "job_id", "jobs")
    envelopes = st.dictionaries(st.sampled_from(fields), values, max_size=5) | st.fixed_dictionaries(
        {"request_id": st.just("r"), "output": st.dictionaries(st.sampled_from(fields), values, max_size=4)}
    )
    bodies = st.one_of(
        envelopes.map(lambda value: json.dumps(value).encode()),
        values.map(lambda value: json.dumps(value).encode()),
        st.binary(max_size=512),
        st.integers(60, 200_000).map(lambda depth: b'{"output": ' + b"[" * depth + b"]" * depth + b"}"),
        st.integers(limit - 64, 3 * limit).map(lambda size: b'{"output": "' + b"x" * size + b'"}'),
        st.sampled_from([b'{"code": "E", "message": "' + ECHO + b'"}', b"<html>" + ECHO + b"</html>"]),
    )
    return st.builds(
        _responder,
        status=st.sampled_from(STATUSES),
        body=bodies,
        encoding=st.sampled_from(["identity", "gzip", "deflate", "raw-deflate", "br", "fake-gzip", "bomb"]),
        framing=st.sampled_from(["length", "chunked", "close", "short"]),
        retry_after=st.none() | st.sampled_from(["nan", "inf", "1e12", "-1", "0", "soon"]),
        location=st.none() | st.sampled_from(["http://u:p4ss@127.0.0.1:9/x?token=t0k3n", "/x", "ftp://"]),
    )


def _responder(status, body, encoding, framing, retry_after, location) -> Callable[[Seen], Answer]:
    def respond(seen: Seen) -> Answer:
        text = body.replace(ECHO, seen.headers.get("authorization", "").encode())
        headers = {}
        if encoding in ("gzip", "deflate", "raw-deflate"):
            text = compressed([text], encoding)
            headers["Content-Encoding"] = "deflate" if encoding == "raw-deflate" else encoding
        elif encoding == "bomb":
            text = _bomb()
            headers["Content-Encoding"] = "gzip"
        elif encoding != "identity":
            headers["Content-Encoding"] = "gzip" if encoding == "fake-gzip" else encoding
        if framing == "short":  # a Content-Length that promises more than is sent
            headers["Content-Length"] = str(len(text) + 100)
        if retry_after is not None:
            headers["Retry-After"] = retry_after
        if location is not None:
            headers["Location"] = location
        return Answer(status, headers, text, "length" if framing == "short" else framing)

    return respond


@functools.cache
def _bomb() -> bytes:
    return compressed(zeros(BOMB))

"""A real HTTP forward proxy on 127.0.0.1 for the proxy tests: it takes absolute-form requests
(``GET http://host:port/path HTTP/1.1``), forwards them and counts what it forwarded, by target,
and keeps each request's method and path (a wiretap: every request a client made, also those the
emulator has no route for).

Each request gets its own upstream connection and ``Connection: close``; clients open a new
connection for the next one. Optional Basic credentials: without them the answer is 407.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import threading
from collections import Counter
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authorization", "te", "upgrade"}


class ForwardProxy:
    def __init__(self, credentials: tuple[str, str] | None = None) -> None:
        self.credentials = credentials
        self.forwarded: Counter[str] = Counter()  # "127.0.0.1:8089" -> requests forwarded there
        self.requests: list[str] = []  # "GET /api/v1/deployments/d-1" (no query): what was forwarded
        self.refused = 0  # requests answered 407
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> ForwardProxy:
        self._thread.start()
        server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, "127.0.0.1", 0), self._loop
        ).result(10)
        self._server = server
        self.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        return self

    def stop(self) -> None:
        async def close() -> None:
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def __enter__(self) -> ForwardProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def url_with_credentials(self) -> str:
        assert self.credentials is not None
        user, password = self.credentials
        return self.url.replace("http://", f"http://{user}:{password}@")

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, target, _version = request_line.split(" ", 2)
            headers = [line.split(":", 1) for line in header_lines if ":" in line]
            found = {name.strip().lower(): value.strip() for name, value in headers}
            body = await reader.readexactly(int(found.get("content-length", 0)))
            if self.credentials and found.get("proxy-authorization") != self._expected_auth():
                self.refused += 1
                writer.write(
                    b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                    b'Proxy-Authenticate: Basic realm="test"\r\n'
                    b"Content-Length: 0\r\nConnection: close\r\n\r\n"
                )
                return
            parts = urlsplit(target)
            host, port = parts.hostname or "", parts.port or 80
            self.forwarded[f"{host}:{port}"] += 1
            self.requests.append(f"{method} {parts.path}")
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            upstream_reader, upstream_writer = await asyncio.open_connection(host, port)
            kept = "".join(f"{n}:{v}\r\n" for n, v in headers if n.strip().lower() not in HOP_BY_HOP)
            upstream_writer.write(
                f"{method} {path} HTTP/1.1\r\n{kept}Connection: close\r\n\r\n".encode("latin-1")
            )
            upstream_writer.write(body)
            await upstream_writer.drain()
            writer.write(await upstream_reader.read())  # until the server closes: the whole answer
            upstream_writer.close()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            with contextlib.suppress(ConnectionError):
                await writer.drain()
            writer.close()

    def _expected_auth(self) -> str:
        assert self.credentials is not None
        token = base64.b64encode(":".join(self.credentials).encode()).decode()
        return f"Basic {token}"

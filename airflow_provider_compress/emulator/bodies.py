"""The emulator's request bodies: none read past a size (``BodyLimit``, an ASGI middleware), and an
upload's form read into what ``service.Emulator.upload_files`` takes."""

from __future__ import annotations

import contextlib

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from airflow_provider_compress.emulator.uploads import FILE_MAX_BYTES

BODY_MAX = 1024 * 1024  # bytes of a request body; an upload's may hold one file besides
UPLOAD_PATH = "/api/v1/files"


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: a request body larger than its path's limit is answered 413, at once
    when its Content-Length says so, else as soon as the bytes received pass it (chunked
    uploads); the app never gets more, and its own answer to the cut body is dropped."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = BODY_MAX + (FILE_MAX_BYTES if scope["path"] == UPLOAD_PATH else 0)
        length = dict(scope["headers"]).get(b"content-length", b"0")
        if not length.isdigit() or int(length) > limit:
            await _too_large(send, limit)
            return
        received, answered = 0, False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge
            return message

        async def unless_too_large(message: Message) -> None:
            nonlocal answered
            if received <= limit:
                answered = True
                await send(message)

        with contextlib.suppress(BodyTooLarge):
            await self.app(scope, counted, unless_too_large)
        if received > limit and not answered:
            await _too_large(send, limit)


async def _too_large(send: Send, limit: int) -> None:
    """What a gateway answers: 413, outside the API's envelope."""
    body = f"request body larger than {limit} bytes".encode()
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def read_uploads(request: Request) -> tuple[list[tuple[str, bytes]], str | None, list[str]]:
    """The files, purpose and descriptions of a multipart upload (none when it is not one)."""
    uploads: list[tuple[str, bytes]] = []
    purpose, descriptions = None, []
    with contextlib.suppress(Exception):  # not multipart: no files, which the API refuses
        form = await request.form(max_files=100)
        uploads = [
            (f.filename or "file", await f.read()) for f in form.getlist("files") if isinstance(f, UploadFile)
        ]
        given = form.get("purpose")
        purpose = given if isinstance(given, str) else None
        descriptions = [d for d in form.getlist("descriptions") if isinstance(d, str)]
    return uploads, purpose, descriptions

"""An answer's body as it arrives: decompressed here and counted, so that no answer takes more
memory than the connection allows, however it is sent (a Content-Length that lies, chunks
without end, a gzip body that unpacks a thousandfold).

Both transports read the raw bytes (requests' ``raw.stream(decode_content=False)``, aiohttp with
``auto_decompress=False``) and hand them to a ``BodyReader``, chunk by chunk: the one rule for
both, and a decompression that never produces more than the room left.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping

from airflow_provider_compress.exceptions import InvalidResponseError

# What the transports ask for (``Accept-Encoding``), and all that a BodyReader decodes.
ACCEPT_ENCODING = "gzip, deflate"
CHUNK = 64 * 1024  # bytes a transport reads at a time
# The default of the connection's ``max_response_bytes``: the API's largest answer is a page of
# 1,000 log lines (74 KB from the emulator; lines of 2 KB would make 2 MB), so wide room.
DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024
# Of an error's body (3xx, 4xx, 5xx) no more is read: the error is classified by its status, and
# its code and message are at the start of a JSON error. A 5xx page of any size stays a 5xx.
ERROR_BODY_MAX = 64 * 1024


class BodyReader:
    """Takes the bytes of one answer as they arrive; ``body()`` is the decompressed whole.

    A success's body larger than ``limit`` (decompressed, or as it came) is an
    ``InvalidResponseError`` naming the limit, not retried: the same request gets the same
    answer. An error's body is cut at ``ERROR_BODY_MAX`` (``feed`` returns False: read no more).
    """

    def __init__(self, status: int, headers: Mapping[str, str], limit: int) -> None:
        self.status = status
        self.success = status < 300
        self.limit = limit if self.success else min(limit, ERROR_BODY_MAX)
        self._request_id = header(headers, "x-request-id")
        encoding = (header(headers, "content-encoding") or "identity").strip().lower()
        self._decoder = _decoder(encoding)
        self._received = 0  # bytes as they came
        self._size = 0  # bytes decompressed
        self._parts: list[bytes] = []
        self._done = False  # an error's body that is cut, or cannot be decoded: read no more
        if self._decoder is None and encoding != "identity":
            # deterministic: another try gets the same encoding
            self._give_up(f"the answer's Content-Encoding {encoding[:40]!r} was not asked for", again=False)

    def feed(self, chunk: bytes) -> bool:
        """Take the next bytes received; False when no more are wanted."""
        if self._done or not chunk:
            return not self._done
        self._received += len(chunk)
        room = self.limit - self._size
        data = self._decode(chunk, room + 1)
        if len(data) > room or self._received > self.limit:
            if self.success:
                raise unreadable(
                    self.status,
                    f"the answer is larger than the connection's max_response_bytes ({self.limit} bytes)",
                    self._request_id,
                )
            data, self._done = data[:room], True
        self._parts.append(data)
        self._size += len(data)
        return not self._done

    def body(self) -> bytes:
        return b"".join(self._parts)

    def _decode(self, chunk: bytes, most: int) -> bytes:
        if self._decoder is None:
            return chunk[:most]
        if self._decoder.eof:  # past the end of the compressed stream: not read
            return b""
        try:
            # never more than ``most`` bytes out, however much the chunk would unpack to
            return self._decoder.decompress(chunk, most)
        except zlib.error:
            self._give_up("the answer's compressed body is broken")
            return b""

    def _give_up(self, reason: str, again: bool = True) -> None:
        """A success's body that cannot be decoded is an error (retried when ``again``: a proxy
        may have cut it); an error's is kept as read so far."""
        if self.success:
            raise InvalidResponseError(self.status, None, reason, self._request_id, retryable=again)
        self._done = True


def unreadable(status: int, reason: str, request_id: str | None = None) -> InvalidResponseError:
    """An answer that cannot be read, and will not be on another try (too large, too deep)."""
    return InvalidResponseError(status, None, reason, request_id, retryable=False)


def header(headers: Mapping[str, str], name: str) -> str | None:
    """The value of header ``name`` (lower case), whatever case the answer wrote it in."""
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


class _Inflater:
    """gzip or deflate; a ``deflate`` body may be a zlib stream or raw deflate (servers send both)."""

    def __init__(self, wbits: int) -> None:
        self._wbits = wbits
        self._decompressor = zlib.decompressobj(wbits)
        self._started = False

    @property
    def eof(self) -> bool:
        return self._decompressor.eof

    def decompress(self, data: bytes, most: int) -> bytes:
        try:
            out = self._decompressor.decompress(data, most)
        except zlib.error:
            if self._started or self._wbits != zlib.MAX_WBITS:
                raise
            self._wbits = -zlib.MAX_WBITS  # not a zlib stream: raw deflate
            self._decompressor = zlib.decompressobj(self._wbits)
            out = self._decompressor.decompress(data, most)
        self._started = True
        return out


def _decoder(encoding: str) -> _Inflater | None:
    if encoding in ("gzip", "x-gzip"):
        return _Inflater(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return _Inflater(zlib.MAX_WBITS)
    return None

"""Masking secrets in what leaves the transports: the API key, a proxy's credentials, and the
``user:password@`` of any URL.

One ``Scrubber`` per connection, used by both transports on every answer's body before it is read
(so that a server echoing the ``Authorization`` header puts the key in no error, log line or
event) and on every error they raise (texts built from the HTTP libraries' errors, which quote
proxy URLs with their credentials). The retry warnings and the triggers' events are built from
those errors, so they carry no secret either.

A secret is masked as sent and as JSON or a URL would quote it; a server that encodes it some
other way on purpose is out of reach (it has the key anyway: what matters is that an echo does
not put it into the task logs).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from typing import TypeVar
from urllib.parse import quote, unquote, urlsplit

MASK = "***"
# user[:password]@ right after a URL's scheme
_URL_CREDENTIALS = re.compile(r"(?<=://)[^\s/?#@'\"]+@")

E = TypeVar("E", bound=BaseException)


@dataclasses.dataclass(frozen=True)
class Scrubber:
    """Masks the given secrets (every form of them, longest first) and URL credentials."""

    secrets: tuple[str, ...] = ()

    @classmethod
    def of(cls, api_key: str | None, *proxies: str | None) -> Scrubber:
        """The scrubber of a connection: its key, and the password of each proxy URL (also as the
        ``Proxy-Authorization`` header sends it, which a proxy's error page may echo)."""
        forms: set[str] = set()
        if api_key:
            forms |= _forms(api_key)
        for proxy in proxies:
            parts = urlsplit(proxy or "")
            if parts.password:
                user, password = unquote(parts.username or ""), unquote(parts.password)
                forms |= _forms(password) | _forms(parts.password)
                forms.add(base64.b64encode(f"{user}:{password}".encode()).decode())
        return cls(tuple(sorted(forms - {""}, key=len, reverse=True)))

    def text(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return _URL_CREDENTIALS.sub(MASK + "@", text)

    def body(self, body: bytes) -> bytes:
        """An answer's body with the secrets masked, before it is parsed (cheap: a search per form)."""
        for secret in self.secrets:
            encoded = secret.encode()
            if encoded in body:
                body = body.replace(encoded, MASK.encode())
        return body

    def error(self, error: E) -> E:
        """``error`` with its texts masked, in place (its type, fields and traceback stay)."""
        for name in ("message", "code", "request_id"):
            value = getattr(error, name, None)
            if isinstance(value, str):
                setattr(error, name, self.text(value))
        error.args = tuple(self.text(arg) if isinstance(arg, str) else arg for arg in error.args)
        return error


def _forms(secret: str) -> set[str]:
    """A secret as sent, as a JSON string holds it (``/`` may be escaped too) and URL-quoted."""
    in_json = json.dumps(secret)[1:-1]
    return {secret, in_json, in_json.replace("/", "\\/"), quote(secret, safe="")}

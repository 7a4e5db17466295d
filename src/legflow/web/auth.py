"""Token authentication as notebook servers do it.

The token comes from ``LEGFLOW_TOKEN`` or is generated at start and printed inside a login URL.
Requests carry it as ``Authorization: Bearer TOKEN`` or, after ``/login?token=TOKEN``, as an
HTTP-only, same-site cookie. The WebSocket also checks the Origin, so that a page from another site
cannot ride on the cookie. The token never reaches a log: `RedactToken` scrubs it from access logs.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import secrets
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection

TOKEN_ENV = "LEGFLOW_TOKEN"
COOKIE = "legflow_token"
_TOKEN_IN_TEXT = re.compile(r"(token=)[^&\s\"']+")


def server_token() -> tuple[str, bool]:
    """The token, and whether it was generated here (then the login URL is printed with it)."""
    given = os.environ.get(TOKEN_ENV, "").strip()
    return (given, False) if given else (secrets.token_hex(24), True)


class TokenAuth:
    """Checks the token of a request or WebSocket against the server's, in constant time."""

    def __init__(self, token: str, allowed_origins: set[str]):
        self.token = token
        self.allowed_origins = allowed_origins

    def presented(self, conn: HTTPConnection) -> str | None:
        header = conn.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            return header[7:].strip()
        return conn.cookies.get(COOKIE)

    def token_matches(self, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(given.encode(), self.token.encode())  # type: ignore[union-attr]

    def accepts(self, conn: HTTPConnection) -> bool:
        return self.token_matches(self.presented(conn))

    def origin_ok(self, conn: HTTPConnection) -> bool:
        """A browser always sends Origin on a WebSocket: it must be this server's own page.
        Clients that are not browsers send none and are judged by their token alone."""
        origin = conn.headers.get("origin")
        if origin is None:
            return True
        if origin in self.allowed_origins:
            return True
        parts = urlsplit(origin)  # the page's own origin, whatever address the user typed
        return parts.scheme in ("http", "https") and parts.netloc == conn.headers.get("host", "")


def _is_local(hostname: str | None) -> bool:
    return hostname in ("127.0.0.1", "localhost", "::1")


def allowed_origins(host: str, port: int) -> set[str]:
    names = {host, "127.0.0.1", "localhost"} if _is_local(host) or host == "0.0.0.0" else {host}
    return {f"http://{name}:{port}" for name in names}


class RedactToken(logging.Filter):
    """Scrubs ``token=...`` from every log line (uvicorn's access log prints query strings)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_TOKEN_IN_TEXT.sub(r"\1[redacted]", a) if isinstance(a, str) else a
                                for a in record.args)  # fmt: skip
        if isinstance(record.msg, str):
            record.msg = _TOKEN_IN_TEXT.sub(r"\1[redacted]", record.msg)
        return True

"""Token authentication as notebook servers do it, with the defences a browser needs.

The token comes from ``LEGFLOW_TOKEN`` (at least 32 characters, not repetitive) or is generated at
start and printed inside a login URL. Scripts send it as ``Authorization: Bearer TOKEN``; a browser
opens ``/login?token=TOKEN`` once and gets a session cookie: a random id that the server maps to
the login, so the long-lived token never sits in the browser. Wrong tokens are rate-limited per
client. `Site` knows the names and origins of the server's own pages (DNS rebinding, pages of other
sites on the WebSocket). `RedactToken` keeps the token out of every log line.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import math
import os
import re
import secrets
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote_plus, urlsplit

from starlette.requests import HTTPConnection

from legflow.errors import UsageError

TOKEN_ENV = "LEGFLOW_TOKEN"
COOKIE = "legflow_session"
#: A token must be this long, and carry this many bits by its own letter counts.
MIN_TOKEN_CHARS = 32
MIN_TOKEN_BITS = 64.0
#: Wrong tokens a client may send in the window before it must wait (429).
MAX_FAILURES = 10
FAILURE_WINDOW_S = 60.0
#: A login lasts this long, or until the server stops; the oldest are dropped past the count.
SESSION_S = 7 * 24 * 3600.0
MAX_SESSIONS = 1000
#: Clients whose failures are remembered at once (a flood of addresses cannot fill the memory).
MAX_CLIENTS = 10_000
_TOKEN_IN_TEXT = re.compile(r"(token=)[^&\s\"']+", re.IGNORECASE)


class WeakToken(UsageError):
    """``LEGFLOW_TOKEN`` is too short or too repetitive to stand against guessing."""

    exit_code = 2


class TooManyFailures(Exception):
    """A client sent too many wrong tokens: it may try again in ``retry_after_s`` (HTTP 429)."""

    def __init__(self, retry_after_s: int):
        self.retry_after_s = retry_after_s
        super().__init__(f"too many wrong tokens from this address: try again in {retry_after_s} s")


def token_bits(token: str) -> float:
    """A rough strength: the length times the entropy of its letter counts (0 for 'aaaa…')."""
    counts = Counter(token)
    return -sum(n * math.log2(n / len(token)) for n in counts.values())


def server_token() -> tuple[str, bool]:
    """The token, and whether it was generated here (then the login URL is printed with it).
    A weak ``LEGFLOW_TOKEN`` is refused: anyone who reaches the port could guess it."""
    given = os.environ.get(TOKEN_ENV, "").strip()
    if not given:
        return secrets.token_hex(24), True
    if len(given) < MIN_TOKEN_CHARS or token_bits(given) < MIN_TOKEN_BITS:
        raise WeakToken(
            f"{TOKEN_ENV} is too weak: use at least {MIN_TOKEN_CHARS} random characters (python -c "
            "'import secrets; print(secrets.token_hex(24))'), or unset it to get a generated token"
        )
    return given, False


class TokenAuth:
    """Checks tokens in constant time, limits wrong ones per client, and keeps the logins.
    ``clock`` (monotonic seconds) is injectable so that tests can pass the windows."""

    def __init__(self, token: str, clock: Callable[[], float] = time.monotonic):
        self.token = token
        self.clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, deque[float]] = {}
        self._sessions: dict[str, float] = {}  # sha256 of a session id -> when it was issued

    # -- the token ---------------------------------------------------------------------------
    def check(self, given: str, client: str) -> bool:
        """Whether ``given`` is the token; raises `TooManyFailures` while ``client`` must wait,
        whatever it sends, so that guessing gains nothing from the answers."""
        with self._lock:
            now = self.clock()
            failures = self._failures.get(client)
            if failures is not None:
                while failures and failures[0] <= now - FAILURE_WINDOW_S:
                    failures.popleft()
                if len(failures) >= MAX_FAILURES:
                    raise TooManyFailures(max(1, math.ceil(failures[0] + FAILURE_WINDOW_S - now)))
            if hmac.compare_digest(given.encode(), self.token.encode()):
                return True
            if client not in self._failures and len(self._failures) >= MAX_CLIENTS:
                self._forget_old_failures(now)
            self._failures.setdefault(client, deque()).append(now)
            return False

    def _forget_old_failures(self, now: float) -> None:
        for client in [c for c, f in self._failures.items() if not f or f[-1] <= now - FAILURE_WINDOW_S]:
            del self._failures[client]
        while len(self._failures) >= MAX_CLIENTS:  # all recent: the oldest client goes
            del self._failures[next(iter(self._failures))]

    # -- logins ------------------------------------------------------------------------------
    def login(self) -> str:
        """A new session id for a cookie; only its hash is kept."""
        session = secrets.token_urlsafe(32)
        with self._lock:
            if len(self._sessions) >= MAX_SESSIONS:
                del self._sessions[next(iter(self._sessions))]
            self._sessions[_digest(session)] = self.clock()
        return session

    def _logged_in(self, session: str) -> bool:
        with self._lock:
            issued = self._sessions.get(_digest(session))
            if issued is None:
                return False
            if self.clock() - issued > SESSION_S:
                del self._sessions[_digest(session)]
                return False
            return True

    # -- requests ----------------------------------------------------------------------------
    def accepts(self, conn: HTTPConnection) -> bool:
        """A request with the token as a Bearer header or, without that header, with a valid
        session cookie. An unknown cookie is no attempt at the token (a server restart forgets
        every login)."""
        header = conn.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            return self.check(header[7:].strip(), client_of(conn))
        session = conn.cookies.get(COOKIE)
        return bool(session and self._logged_in(session))


def client_of(conn: HTTPConnection) -> str:
    """The address a request came from: the key of its rate limit."""
    return conn.client.host if conn.client else "unknown"


def _digest(session: str) -> str:
    return hashlib.sha256(session.encode()).hexdigest()


# -- the names and origins of the server ---------------------------------------------------------
_HOST_HEADER = re.compile(r"(?:\[(?P<ipv6>[0-9a-fA-F:.]+)\]|(?P<name>[A-Za-z0-9.-]+))(?::[0-9]{1,5})?")
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARDS = ("0.0.0.0", "::", "")


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Site:
    """The host names a browser may use to reach this server, and its port.

    A page of another site can point its own domain at this machine (DNS rebinding): its requests
    then carry that domain in ``Host`` and ``Origin``, and are refused. Bound to every interface
    (``any_ip``), the server answers any IP address typed in a browser: an address is no domain
    that a page of another site could own."""

    names: frozenset[str]
    port: int
    any_ip: bool = False

    def host_ok(self, name: str | None) -> bool:
        """``name``: the host of a ``Host`` header or an origin, without port or brackets."""
        if not name:
            return False
        name = name.lower().rstrip(".")
        return name in self.names or (self.any_ip and _is_ip(name))

    def host_header_ok(self, header: str | None) -> bool:
        """A ``Host`` header of one of these names (any port: a proxy may forward another)."""
        match = _HOST_HEADER.fullmatch(header or "")
        return match is not None and self.host_ok(match["ipv6"] or match["name"])

    def origin_ok(self, origin: str | None) -> bool:
        """A browser always sends Origin on a WebSocket: it must be one of this server's pages.
        Clients that are not browsers send none and are judged by their token alone."""
        if origin is None:
            return True
        try:
            parts = urlsplit(origin)
            port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
        except ValueError:
            return False
        return parts.scheme in ("http", "https") and port == self.port and self.host_ok(parts.hostname)


def site_for(host: str, port: int) -> Site:
    """The names of a server bound to ``host``: that name and the loopback names; bound to every
    interface, also this machine's host names and any IP address."""
    names = set(LOOPBACK_NAMES)
    wildcard = host in WILDCARDS
    if wildcard:
        names |= {socket.gethostname(), socket.getfqdn()}
    else:
        names.add(host.strip("[]"))
    return Site(frozenset(n.lower() for n in names if n), port, any_ip=wildcard)


# -- logs ----------------------------------------------------------------------------------------
class RedactToken(logging.Filter):
    """Scrubs the token from every log line: ``token=...`` however the query spells it (the access
    log prints query strings as sent, percent-encoded), and the token itself anywhere."""

    def __init__(self, token: str | None = None):
        super().__init__()
        self.token = token

    def _scrub(self, text: str) -> str:
        text = _TOKEN_IN_TEXT.sub(r"\1[redacted]", text)
        return text.replace(self.token, "[redacted]") if self.token else text

    def redact(self, text: str) -> str:
        """The line as the server reads it (decoded) if that reveals a token, else as it came."""
        decoded = unquote_plus(text)
        scrubbed = self._scrub(decoded)
        return scrubbed if scrubbed != decoded else self._scrub(text)

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self.redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = self.redact(record.msg)
        return True

"""What every request passes before the dashboard sees it (plain ASGI middleware):

* `HostCheck`: only this server's own names in ``Host`` (a page of another site that points its
  domain at this machine is refused: DNS rebinding);
* `BodyLimit`: a body over 1 MiB is refused (413) by its Content-Length, or as it streams in,
  before it is read whole;
* `SecurityHeaders`: the Content-Security-Policy and the other headers that keep a browser from
  framing the pages, guessing content types or sending the URL (with a login token) elsewhere.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from legflow.web.auth import Site

#: The largest request body (programs are a few kB; the editor accepts 200,000 characters).
BODY_LIMIT = 1024 * 1024


class HostCheck:
    """Answers 400 to an HTTP request, and refuses a WebSocket, whose Host is not the server's."""

    def __init__(self, app: ASGIApp, site: Site):
        self.app = app
        self.site = site

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and not self.site.host_header_ok(
            Headers(scope=scope).get("host")
        ):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})  # before accept: HTTP 403
                return
            why = "this server does not answer to that host name (see: legflow serve --host)"
            await PlainTextResponse(why, status_code=400)(scope, receive, send)
            return
        await self.app(scope, receive, send)


class _TooLarge(Exception):
    """Raised inside the app's ``receive`` when a streamed body passes the limit."""


class BodyLimit:
    """Refuses request bodies over ``limit`` bytes with 413, counting them as they arrive."""

    def __init__(self, app: ASGIApp, limit: int = BODY_LIMIT):
        self.app = app
        self.limit = limit

    def _refusal(self) -> JSONResponse:
        why = f"the request body is over the {self.limit // 1024 // 1024} MiB limit"
        return JSONResponse({"detail": why}, status_code=413)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await self._refusal()(scope, receive, send)
            return
        received = 0
        over = started = False

        async def limited_receive() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    over = True
                    raise _TooLarge
            return message

        async def send_unless_over(message: Message) -> None:
            nonlocal started
            if not over:  # whatever the app answers to a body cut short, the client gets the 413
                started = True
                await send(message)

        try:
            await self.app(scope, limited_receive, send_unless_over)
        except Exception:
            if not over:
                raise
        if over and not started:
            await self._refusal()(scope, receive, send)


class SecurityHeaders:
    """Adds the Content-Security-Policy and the other browser security headers to every answer."""

    def __init__(self, app: ASGIApp, policy: str):
        self.app = app
        self.headers = {
            "Content-Security-Policy": policy,
            "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)

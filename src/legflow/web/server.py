"""The dashboard's server: FastAPI app, token login, the live WebSocket, static pages, `serve`."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import os
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from legflow.errors import (
    HistoryError,
    LegflowError,
    ProgramError,
    ScreeningError,
    UnfitGarment,
    UnknownProgram,
)
from legflow.web.api import build_router
from legflow.web.auth import COOKIE, RedactToken, Site, TokenAuth, TooManyFailures, client_of
from legflow.web.guard import BODY_LIMIT, BodyLimit, HostCheck, SecurityHeaders
from legflow.web.live import NoSession, SessionBusy, SessionManager

#: The login page is shown before the token, so it cannot load the pages' stylesheet (that needs
#: the token): its few rules are inline, allowed by their hash in the Content-Security-Policy.
LOGIN_STYLE = "body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}"
LOGIN_PAGE = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>legflow: log in</title>
<style>{LOGIN_STYLE}</style></head><body>
<main><h1>legflow</h1><p>Open the login URL that <code>legflow serve</code> printed, or paste its token.</p>
<form method="post" action="/login"><label>Token <input name="token" type="password" autofocus
autocomplete="current-password" required></label> <button>Log in</button></form></main></body></html>"""

#: Scripts and styles only from this server; no framing. The pages set a few ``style`` attributes
#: from script (column widths, chart legend colours): ``style-src-attr`` allows those, not sheets.
_LOGIN_STYLE_SHA256 = base64.b64encode(hashlib.sha256(LOGIN_STYLE.encode()).digest()).decode()
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        f"style-src 'self' 'sha256-{_LOGIN_STYLE_SHA256}'",
        "style-src-attr 'unsafe-inline'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

#: The files under /static, by the ending of their names.
STATIC_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}

#: Controls a page may send over the WebSocket (the emergency stop's fast path).
WS_ACTIONS = ("emergency_stop", "pause", "resume", "stop")


def _static():
    return resources.files("legflow.web") / "static"


def _error_status(exc: LegflowError) -> int:
    if isinstance(exc, SessionBusy | NoSession):
        return 409
    if isinstance(exc, ProgramError | ScreeningError | UnfitGarment):
        return 422
    if isinstance(exc, HistoryError):  # the store, not the request: damaged, read-only or busy
        return 503
    if isinstance(exc, UnknownProgram):
        return 404
    return 400


def create_app(manager: SessionManager, auth: TokenAuth, site: Site) -> FastAPI:
    """The whole dashboard; ``manager`` runs sessions, ``auth`` guards every route, ``site`` names
    the hosts and origins the server answers to."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        manager.bind(asyncio.get_running_loop())
        yield
        if manager.running:  # a server going away leaves no cell inflated
            manager.emergency_stop()
            manager.wait(2.0)

    about = "Run, watch and review massage sessions. Every route needs the token."
    app = FastAPI(
        title="legflow", version="1", lifespan=lifespan, description=about, docs_url=None, openapi_url=None
    )

    def authenticated(request: Request) -> None:
        try:
            accepted = auth.accepts(request)
        except TooManyFailures as exc:
            raise HTTPException(429, str(exc), headers={"Retry-After": str(exc.retry_after_s)}) from None
        if not accepted:
            why = "missing or wrong token: open the login URL that `legflow serve` printed"
            raise HTTPException(401, why, headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(LegflowError)
    async def legflow_error(request: Request, exc: LegflowError) -> JSONResponse:
        said = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if isinstance(exc, HistoryError):  # the history file by its name, not the server's folders
            folder = Path(manager.history_path).parent
            for where in {str(folder), str(folder.resolve())}:
                said = said.replace(where + os.sep, "")
        body: dict[str, Any] = {"detail": said}
        if isinstance(exc, ProgramError):
            body = {
                "detail": f"{len(exc.problems)} problem(s) in the program",
                "problems": [p.__dict__ for p in exc.problems],
            }
        if isinstance(exc, UnfitGarment):
            body["fit"] = exc.fit
        return JSONResponse(body, status_code=_error_status(exc))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        messages = [
            f"{'.'.join(str(p) for p in e['loc'] if p != 'body')}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        ]
        return JSONResponse({"detail": "; ".join(messages) or "bad request"}, status_code=422)

    app.include_router(build_router(manager, authenticated))

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(request: Request) -> JSONResponse:
        authenticated(request)
        return JSONResponse(app.openapi())

    @app.get("/", include_in_schema=False)
    def index(request: Request) -> HTMLResponse:
        try:
            if not auth.accepts(request):
                return HTMLResponse(LOGIN_PAGE, status_code=401)
        except TooManyFailures as exc:
            return _login_page(exc)
        return HTMLResponse((_static() / "index.html").read_text(encoding="utf-8"))

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str, request: Request) -> Response:
        authenticated(request)
        files = {f.name: f for f in _static().iterdir() if f.name.endswith(tuple(STATIC_TYPES))}
        if name not in files:
            raise HTTPException(404, f"no static file named '{name}'")
        return Response(files[name].read_bytes(), media_type=STATIC_TYPES["." + name.rsplit(".", 1)[1]])

    def _login(request: Request, token: str) -> Response:
        """The login page again for a wrong token (429 for a client that must wait), else a fresh
        session cookie; the token itself never goes into the cookie."""
        if not token:
            return HTMLResponse(LOGIN_PAGE, status_code=401)
        try:
            if not auth.check(token, client_of(request)):
                return HTMLResponse(LOGIN_PAGE, status_code=401)
        except TooManyFailures as exc:
            return _login_page(exc)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            COOKIE, auth.login(), httponly=True, samesite="strict", secure=request.url.scheme == "https"
        )
        return response

    @app.get("/login", include_in_schema=False)
    def login_link(request: Request, token: str = "") -> Response:
        return _login(request, token)

    @app.post("/login", include_in_schema=False)
    async def login_form(request: Request) -> Response:
        form = await request.form()
        return _login(request, str(form.get("token", "")))

    @app.websocket("/api/v1/live")
    async def live(ws: WebSocket) -> None:
        try:
            accepted = auth.accepts(ws) and site.origin_ok(ws.headers.get("origin"))
        except TooManyFailures:
            accepted = False
        if not accepted:
            await ws.close(code=1008)  # before accept: the handshake is refused (HTTP 403)
            return
        await ws.accept()
        queue = manager.subscribe()
        try:
            await ws.send_text(json.dumps(manager.hello()))
            if manager.latest is not None:
                await ws.send_text(json.dumps(manager.latest))
            await _serve_client(ws, queue, manager)
        except WebSocketDisconnect:
            pass
        finally:
            manager.unsubscribe(queue)

    app.add_middleware(BodyLimit)
    app.add_middleware(HostCheck, site=site)
    app.add_middleware(SecurityHeaders, policy=CONTENT_SECURITY_POLICY)  # outermost: on every answer
    return app


def _login_page(exc: TooManyFailures) -> HTMLResponse:
    """The login page for a client that sent too many wrong tokens: it must wait."""
    return HTMLResponse(
        LOGIN_PAGE.replace("<main><h1>legflow</h1>", f"<main><h1>legflow</h1><p>{exc}.</p>"),
        status_code=429,
        headers={"Retry-After": str(exc.retry_after_s)},
    )


async def _serve_client(ws: WebSocket, queue: asyncio.Queue, manager: SessionManager) -> None:
    """Send what the session publishes; take control messages; end when either side does."""

    async def send() -> None:
        while True:
            await ws.send_text(await queue.get())

    async def receive() -> None:
        while True:
            try:
                message = json.loads(await ws.receive_text())
                action = message.get("action") if isinstance(message, dict) else None
            except json.JSONDecodeError:
                action = None
            if action not in WS_ACTIONS:
                await ws.send_text(
                    json.dumps({"type": "error", "detail": f"unknown action; one of {WS_ACTIONS}"})
                )
                continue
            if action == "emergency_stop":  # first the safe state, then the answer
                was_running = manager.emergency_stop()
                detail = "safe state: pump off, cells vented" if was_running else "no session is running"
                await ws.send_text(
                    json.dumps({"type": "emergency_stop", "was_running": was_running, "detail": detail})
                )
                continue
            try:
                getattr(manager, action)()
            except LegflowError as exc:
                await ws.send_text(json.dumps({"type": "error", "detail": str(exc)}))

    tasks = [asyncio.create_task(send()), asyncio.create_task(receive())]
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    for task in done:
        if task.exception() is not None and not isinstance(task.exception(), WebSocketDisconnect):
            raise task.exception()  # type: ignore[misc]


def redact_logs(token: str) -> None:
    """Keep the token out of every log uvicorn writes."""
    for name in ("uvicorn", "uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).addFilter(RedactToken(token))


def serve(manager: SessionManager, auth: TokenAuth, site: Site, host: str, port: int) -> None:
    """Run the dashboard until Ctrl-C (uvicorn); the token stays out of its logs."""
    import uvicorn

    app = create_app(manager, auth, site)
    config = uvicorn.Config(app, host=host, port=port, log_level="info", ws_max_size=BODY_LIMIT)
    server = uvicorn.Server(config)
    redact_logs(auth.token)
    server.run()

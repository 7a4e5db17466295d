"""The dashboard's server: FastAPI app, token login, the live WebSocket, static pages, `serve`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

from fastapi import FastAPI, HTTPException, Request, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from legflow.errors import LegflowError, ProfileError, ProgramError, ScreeningError
from legflow.web.api import build_router
from legflow.web.auth import COOKIE, RedactToken, TokenAuth
from legflow.web.live import NoSession, SessionBusy, SessionManager

LOGIN_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>legflow: log in</title>
<link rel="stylesheet" href="/static/style.css"></head><body class="login">
<main><h1>legflow</h1><p>Open the login URL that <code>legflow serve</code> printed, or paste its token.</p>
<form method="post" action="/login"><label>Token <input name="token" type="password" autofocus
autocomplete="current-password" required></label> <button>Log in</button></form></main></body></html>"""

#: Controls a page may send over the WebSocket (the emergency stop's fast path).
WS_ACTIONS = ("emergency_stop", "pause", "resume", "stop")


def _static():
    return resources.files("legflow.web") / "static"


def _error_status(exc: LegflowError) -> int:
    if isinstance(exc, SessionBusy | NoSession):
        return 409
    if isinstance(exc, ProgramError | ScreeningError):
        return 422
    if isinstance(exc, ProfileError):
        return 404 if "no built-in program" in str(exc) or "neither a built-in" in str(exc) else 400
    return 400


def create_app(manager: SessionManager, auth: TokenAuth) -> FastAPI:
    """The whole dashboard; ``manager`` runs sessions, ``auth`` guards every API route."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        manager.bind(asyncio.get_running_loop())
        yield
        if manager.running:  # a server going away leaves no cell inflated
            manager.emergency_stop()
            manager.wait(2.0)

    about = "Run, watch and review massage sessions. Every route needs the token."
    app = FastAPI(title="legflow", version="1", lifespan=lifespan, description=about, docs_url=None,
                  openapi_url=None)  # fmt: skip

    def authenticated(request: Request) -> None:
        if not auth.accepts(request):
            why = "missing or wrong token: open the login URL that `legflow serve` printed"
            raise HTTPException(401, why, headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(LegflowError)
    async def legflow_error(request: Request, exc: LegflowError) -> JSONResponse:
        body: dict[str, Any] = {"detail": str(exc).splitlines()[0] if str(exc) else type(exc).__name__}
        if isinstance(exc, ProgramError):
            body = {"detail": f"{len(exc.problems)} problem(s) in the program",
                    "problems": [p.__dict__ for p in exc.problems]}  # fmt: skip
        return JSONResponse(body, status_code=_error_status(exc))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        messages = [f"{'.'.join(str(p) for p in e['loc'] if p != 'body')}: {e['msg']}" for e in exc.errors()]
        return JSONResponse({"detail": "; ".join(messages) or "bad request"}, status_code=422)

    app.include_router(build_router(manager, authenticated))

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(request: Request) -> JSONResponse:
        authenticated(request)
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        authenticated(request)
        return get_swagger_ui_html(openapi_url="/openapi.json", title="legflow API")

    @app.get("/", include_in_schema=False)
    def index(request: Request) -> HTMLResponse:
        if not auth.accepts(request):
            return HTMLResponse(LOGIN_PAGE, status_code=401)
        return HTMLResponse((_static() / "index.html").read_text(encoding="utf-8"))

    def _logged_in(token: str) -> RedirectResponse:
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
        return response

    @app.get("/login", include_in_schema=False)
    def login_link(token: str = "") -> Any:
        if not auth.token_matches(token):
            return HTMLResponse(LOGIN_PAGE, status_code=401)
        return _logged_in(token)

    @app.post("/login", include_in_schema=False)
    async def login_form(request: Request) -> Any:
        form = await request.form()
        token = str(form.get("token", ""))
        if not auth.token_matches(token):
            return HTMLResponse(LOGIN_PAGE, status_code=401)
        return _logged_in(token)

    @app.websocket("/api/v1/live")
    async def live(ws: WebSocket) -> None:
        if not auth.accepts(ws) or not auth.origin_ok(ws):
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

    app.mount("/static", StaticFiles(directory=str(_static())), name="static")
    return app


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


def redact_logs() -> None:
    """Keep the token out of every log uvicorn writes."""
    for name in ("uvicorn", "uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).addFilter(RedactToken())


def serve(manager: SessionManager, auth: TokenAuth, host: str, port: int) -> None:
    """Run the dashboard until Ctrl-C (uvicorn); the token stays out of its logs."""
    import uvicorn

    config = uvicorn.Config(create_app(manager, auth), host=host, port=port, log_level="info")
    server = uvicorn.Server(config)
    redact_logs()
    server.run()

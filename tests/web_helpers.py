"""A real dashboard server (uvicorn on a loopback port, in a thread) for the API and browser tests."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn

from legflow.web.auth import TokenAuth, site_for
from legflow.web.live import SessionManager
from legflow.web.server import create_app

TOKEN = "test-token-5f2a9c1e7b3d48a6c09e2f71d5b8a4c3"

#: A 12-second program: long enough to watch, short enough for a test.
SHORT_PROGRAM = """\
# a short calf-and-foot program for the dashboard tests
[program]
name = "Short test"
goal = "circulation"

[[phase]]
name = "squeeze"
duration_min = 0.2
  [phase.compression]
  pattern = "sequential"
  zones = ["foot", "calf"]
  pressure_mmHg = [50, 45]
  inflate_s = 1.5
  delay_s = 0.2
  hold_s = 3.0
  release_s = 1.0
  rest_s = 2.0
"""


@dataclass
class Dashboard:
    url: str
    manager: SessionManager
    client: httpx.Client  # carries the token as a Bearer header

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


@contextlib.contextmanager
def running_dashboard(
    home: Path, stream_hz: float = 50.0, clock: Callable[[], float] = time.monotonic
) -> Iterator[Dashboard]:
    """``clock``: the one the token's rate limit counts its window on."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    manager = SessionManager(str(home / "history.sqlite"), stream_hz=stream_hz)
    app = create_app(manager, TokenAuth(TOKEN, clock), site_for("127.0.0.1", port))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as client:
        for _ in range(200):
            if server.started:
                break
            threading.Event().wait(0.05)
        try:
            yield Dashboard(url, manager, client)
        finally:
            if manager.running:
                manager.emergency_stop()
                manager.wait(5)
            server.should_exit = True
            thread.join(10)
            sock.close()


def until(predicate: Callable[[], object], timeout_s: float = 20.0):
    """Poll ``predicate`` until it gives something true (returned), or fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def reachable(url: str) -> bool:
    """A dashboard answers at ``url`` (its login page refuses a request without a token)."""
    try:
        return httpx.get(url + "/login", timeout=1).status_code == 401
    except httpx.TransportError:
        return False


def serve(home: Path, *args: str, token: str | None = None, columns: int = 200, merge_stderr: bool = False):
    """`legflow serve ARGS` in its own process on ``home``, with ``token`` as LEGFLOW_TOKEN (none:
    the server makes one) and a terminal ``columns`` wide; stderr into stdout if ``merge_stderr``."""
    env = {**os.environ, "LEGFLOW_HOME": str(home), "COLUMNS": str(columns)}
    env.pop("LEGFLOW_TOKEN", None)
    if token is not None:
        env["LEGFLOW_TOKEN"] = token
    stderr = subprocess.STDOUT if merge_stderr else subprocess.PIPE
    return subprocess.Popen([sys.executable, "-m", "legflow", "serve", *args], env=env,
                            stdout=subprocess.PIPE, stderr=stderr, text=True)  # fmt: skip

"""`legflow serve`: start the dashboard, print how to log in, warn when it is open to the network."""

from __future__ import annotations

from rich.console import Console

from legflow.errors import LegflowError
from legflow.store import default_history
from legflow.web.auth import TOKEN_ENV, TokenAuth, server_token, site_for
from legflow.web.live import SessionManager
from legflow.web.server import serve


def serve_dashboard(host: str, port: int, console: Console) -> None:
    if not 0 < port < 65536:
        raise LegflowError(f"port must be 1..65535, got {port}")
    token, generated = server_token()  # a weak LEGFLOW_TOKEN stops here, before anything starts
    history = default_history()  # opens (and creates) the database now: a bad path fails here
    path = str(history.path)
    history.close()
    if host in ("0.0.0.0", "::"):
        console.print(
            f"[bold yellow]warning:[/] --host {host} makes the dashboard reachable from the network; anyone "
            "with the token can start sessions. Use it only on a network you trust."
        )
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    address = f"[{shown}]" if ":" in shown else shown
    # soft_wrap: the URL stays on one line however narrow the terminal, so that copying it works
    if generated:
        console.print(
            f"legflow dashboard: http://{address}:{port}/login?token={token}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    else:
        console.print(
            f"legflow dashboard: http://{address}:{port}/ (log in with the token in ${TOKEN_ENV})",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    manager = SessionManager(path)
    serve(manager, TokenAuth(token), site_for(host, port), host, port)

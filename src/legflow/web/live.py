"""One session at a time, run in a background thread, watched by any number of WebSockets.

The session thread publishes its live state; the server's event loop fans each message out to one
bounded queue per client, dropping a slow client's oldest messages rather than ever slowing the
session. Controls (pause, stop, emergency stop) go straight to the session's thread-safe controls,
so an emergency stop never waits behind anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from legflow.apps.comfort import learn_comfort
from legflow.apps.fitting import fit_before_session
from legflow.apps.launch import Launch, prepare_session
from legflow.clock import wall_s
from legflow.engine.intensity import Intensity
from legflow.engine.session import LiveState
from legflow.errors import HistoryError, LegflowError, UnfitGarment
from legflow.safety.limits import Limits
from legflow.store import History
from legflow.twin.model import Posture

log = logging.getLogger("legflow.web")

#: Messages a client may fall behind by before its oldest are dropped.
CLIENT_QUEUE = 256


class SessionBusy(LegflowError):
    """A session is already running (the API answers 409)."""


class NoSession(LegflowError):
    """No session is running (the API answers 409)."""


@dataclass(frozen=True)
class StartOptions:
    program: str
    profile: str
    limits: Limits
    subject: str = "adult"
    posture: Posture = "supine"
    fixed_rest: bool = False
    inject: tuple[str, ...] = ()
    #: Whose fits teach the baseline; ``fit``: check (start only if every cell fits), anyway
    #: (start whatever it finds: the user agreed on the page) or skip.
    user: str = "default"
    fit: str = "check"


def state_message(state: LiveState, run: int, session_id: int | None, program: str) -> dict[str, Any]:
    """The live state as the JSON the page draws; ``run`` counts the sessions this server started."""
    trip = state.trip
    return {
        "type": "state",
        "run": run,
        "session_id": session_id,
        "program": program,
        "t_s": round(state.t_s, 2),
        "duration_s": state.duration_s,
        "phase": state.phase,
        "phase_left_s": round(state.phase_left_s, 1),
        "cells": state.cells,
        "pressure_mmHg": np.round(state.pressure_mmHg, 1).tolist(),
        "setpoint_mmHg": np.round(state.setpoint_mmHg, 1).tolist(),
        "skin_temp_C": np.round(state.skin_temp_C, 2).tolist(),
        "heat_target_C": state.heat_target_C,
        "rollers": state.rollers,
        "vibration_level": state.vibration_level,
        "guide": state.guide,
        "paused": state.paused,
        "status": state.status,
        "venting": state.venting,
        "vented": state.vented,
        "clock_s": round(state.clock_s, 2),
        "trip": None
        if trip is None
        else {
            "detector": trip.detector,
            "where": trip.where,
            "message": trip.message,
            "is_fault": trip.is_fault,
        },
        "twin": state.twin,
        "intensity": intensity_message(state.intensity),
        "sent_s": wall_s(),
    }


def intensity_message(intensity: Intensity) -> dict[str, Any]:
    """What the user asked of the intensity, as the page shows it."""
    return {
        "level": intensity.level,
        "boost": intensity.boost,
        "paused": sorted(intensity.paused),
        "text": intensity.describe(),
    }


class SessionManager:
    """Starts sessions, holds the one that runs, and broadcasts its live state."""

    def __init__(self, history_path: str, stream_hz: float = 50.0):
        self.history_path = history_path
        self.stream_hz = stream_hz
        self._lock = threading.Lock()
        self._launch: Launch | None = None
        self._thread: threading.Thread | None = None
        self._clients: set[asyncio.Queue] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.runs = 0  # sessions started by this server: the page tells their messages apart by it
        self.latest: dict[str, Any] | None = None
        self.last_summary: dict[str, Any] | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, options: StartOptions) -> dict[str, Any]:
        """Check and start a session; `SessionBusy` if one runs, `LegflowError` on bad input."""
        with self._lock:
            if self.running:
                raise SessionBusy("a session is already running: stop it first")
            history = History(self.history_path)
            try:
                launch = prepare_session(
                    options.program,
                    limits=options.limits,
                    history=history,
                    user=options.user,
                    profile=options.profile,
                    inject=list(options.inject),
                    subject=options.subject,
                    posture=options.posture,
                    fixed_rest=options.fixed_rest,
                )
            except BaseException:
                history.close()
                raise
            try:
                self._fit(launch, options, history)
            except BaseException:
                launch.supervisor.close()
                history.close()
                raise
            self._launch = launch
            self.runs += 1
            self.latest = None
            self.last_summary = None
            self._broadcast(self.hello())
            self._thread = threading.Thread(
                target=self._run, args=(launch, history, options.user), daemon=True, name="legflow-session"
            )
            self._thread.start()
        return self.hello()

    def _run(self, launch: Launch, history: History, user: str) -> None:
        try:
            with launch:  # leaving it, even on an error, puts the massager in the safe state
                summary = launch.session.run(on_update=self._publish, update_every_s=1.0 / self.stream_hz)
            self.last_summary = summary
            self._broadcast({"type": "end", "summary": summary})
            # what the user ended it at on the page teaches their comfort, as in a terminal; a
            # history that cannot take it now loses that lesson, not the session's end
            try:
                learn_comfort(summary, launch.session, history, user)
            except HistoryError as exc:
                log.warning("comfort of user %s not stored: %s", user, exc)
        except Exception as exc:  # a bug must end the session visibly, never silently
            log.exception("session %s ended on an internal error", launch.label)
            detail = (
                f"the session stopped on an internal error ({type(exc).__name__}); the massager is vented"
            )
            self._broadcast({"type": "error", "detail": detail})
        finally:
            history.close()

    def wait(self, timeout_s: float | None = None) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)

    def _fit(self, launch: Launch, options: StartOptions, history: History) -> None:
        """The fit check before a session (as `legflow run` does): a cell that does not fit stops
        the start (`UnfitGarment`, with the fit for the page to show) unless the user agreed."""
        if options.fit == "skip" or not launch.source.program.needs_device:
            return
        result = fit_before_session(
            launch,
            options.user,
            history,
            inject=list(options.inject),
            seed=0,
            subject=options.subject,
            posture=options.posture,
            simulated=True,
        )
        launch.session.fit = {c.cell: (c.verdict, c.advice) for c in result.cells}
        if not result.ok and options.fit != "anyway":
            found = "; ".join(f"{c.cell} {c.verdict}: {c.advice}" for c in result.cells if c.verdict != "ok")
            raise UnfitGarment(f"fit check: {result.stopped or found}", result.as_json())

    # -- controls ----------------------------------------------------------------------------
    def _session(self):
        launch = self._launch
        if launch is None or not self.running:
            raise NoSession("no session is running")
        return launch.session

    def pause(self) -> None:
        self._session().control.pause()

    def resume(self) -> None:
        self._session().control.resume()

    def stop(self) -> None:
        self._session().control.stop()

    def intensity(self, level: int | None, boost: str | None, paused: list[str] | None) -> dict[str, Any]:
        """Change what is given (None: leave it); `UsageError` for a level or zone out of range."""
        control = self._session().control
        control.ask(level, boost, paused)  # all of it, or nothing when a part is refused
        message = intensity_message(control.intensity)
        session = self._session()
        if session.cost is not None:  # what it gives the leg, beside the program as written
            shares = session.shares_run(control.intensity)
            message["cost"] = {"as_written": session.cost({}), "as_run": session.cost(shares)}
        return message

    def emergency_stop(self) -> bool:
        """The safe state at once. Works whatever the session does; False if none was running."""
        launch = self._launch
        if launch is None:
            return False
        launch.session.control.emergency_stop()
        return self.running

    # -- what clients see --------------------------------------------------------------------
    def hello(self) -> dict[str, Any]:
        """What a page needs before the first state: the program, the cells and where they sit."""
        launch = self._launch
        if launch is None:
            return {"type": "hello", "running": False}
        profile = launch.supervisor.profile
        # what the supervisor holds each cell to (screening, blocked zones, the cell's rating), not
        # the rating alone: the page shows the limit in force
        limits = [float(limit) for limit in launch.supervisor.cell_limit_mmHg]
        return {
            "type": "hello",
            "running": self.running,
            "run": self.runs,
            "session_id": launch.session.session_id,
            "program": launch.label,
            "title": launch.source.program.program.name,
            "profile": profile.name,
            "cells": profile.cell_names(),
            "cell_zones": profile.cell_zones(),
            "cell_limit_mmHg": limits,
            "legs": list(profile.legs),
            "duration_s": launch.session.timeline.duration_s,
            "adapted": list(launch.changes),
            "zones": list(dict.fromkeys(cell.zone for cell in profile.cells)),
        }

    def subscribe(self) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(CLIENT_QUEUE)
        self._clients.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        self._clients.discard(queue)

    def _publish(self, state: LiveState) -> None:
        launch = self._launch
        if launch is None:
            return
        message = state_message(state, self.runs, launch.session.session_id, launch.label)
        self.latest = message
        self._broadcast(message)

    def _broadcast(self, message: dict[str, Any]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        text = json.dumps(message)
        with contextlib.suppress(RuntimeError):  # the server is shutting down
            loop.call_soon_threadsafe(self._fan_out, text)

    def _fan_out(self, text: str) -> None:
        for queue in list(self._clients):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(text)

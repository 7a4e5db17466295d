"""Session history in SQLite (WAL mode): sessions, per-second samples and events.

One sample per session second; the session commits them at most every 0.25 s of wall time (every
session second in real time), so a crash or a power cut loses at most the last second, and WAL
journaling keeps the file consistent whatever happens.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from legflow.errors import LegflowError
from legflow.paths import data_dir

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY,
    program TEXT NOT NULL,
    profile TEXT NOT NULL,
    started_at TEXT NOT NULL,
    pid INTEGER NOT NULL,
    status TEXT NOT NULL,              -- running | completed | stopped | fault
    duration_s REAL NOT NULL DEFAULT 0,
    cells TEXT NOT NULL,               -- JSON list of cell names, the order of sample arrays
    summary TEXT                       -- JSON session summary (contract v1) once it ends
);
CREATE TABLE IF NOT EXISTS samples (
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    t_s REAL NOT NULL,
    pressure_mmHg TEXT NOT NULL,       -- JSON list per cell, as sensed
    setpoint_mmHg TEXT NOT NULL,       -- JSON list per cell
    skin_temp_C TEXT NOT NULL,         -- JSON list per leg
    twin TEXT                          -- JSON object of twin signals, when a twin runs
);
CREATE INDEX IF NOT EXISTS samples_by_session ON samples(session_id, t_s);
CREATE TABLE IF NOT EXISTS events (
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    t_s REAL NOT NULL,
    kind TEXT NOT NULL,                -- phase | guide | fault | pause | resume | stop | end
    detail TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class SessionRow:
    id: int
    program: str
    profile: str
    started_at: str
    status: str
    duration_s: float
    cells: list[str]
    summary: dict[str, Any] | None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class History:
    """The history database. One writer per session; readers never block it (WAL)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path, timeout=10, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise LegflowError(f"history database {self.path} cannot be opened: {exc}") from None

    def close(self) -> None:
        self.db.close()

    # -- writing -----------------------------------------------------------------------------
    def start(self, program: str, profile: str, cells: list[str]) -> int:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self.db:
            cur = self.db.execute(
                "INSERT INTO sessions (program, profile, started_at, pid, status, cells) "
                "VALUES (?,?,?,?,?,?)",
                (program, profile, now, os.getpid(), "running", json.dumps(cells)),
            )
        return int(cur.lastrowid)

    def add_sample(
        self, session: int, t_s: float, pressure, setpoint, skin, twin: dict | None = None
    ) -> None:
        """Queue one sample; `commit` makes it durable."""
        self.db.execute(
            "INSERT INTO samples VALUES (?,?,?,?,?,?)",
            (
                session,
                t_s,
                _floats(pressure),
                _floats(setpoint),
                _floats(skin),
                json.dumps(twin) if twin else None,
            ),
        )

    def add_event(self, session: int, t_s: float, kind: str, detail: str) -> None:
        self.db.execute("INSERT INTO events VALUES (?,?,?,?)", (session, t_s, kind, detail))

    def commit(self, session: int, duration_s: float) -> None:
        self.db.execute("UPDATE sessions SET duration_s = ? WHERE id = ?", (duration_s, session))
        self.db.commit()

    def finish(self, session: int, summary: dict[str, Any]) -> None:
        with self.db:
            self.db.execute(
                "UPDATE sessions SET status = ?, duration_s = ?, summary = ? WHERE id = ?",
                (summary["status"], summary["duration_s"], json.dumps(summary), session),
            )

    # -- reading -----------------------------------------------------------------------------
    def _row(self, row: tuple) -> SessionRow:
        sid, program, profile, started, pid, status, duration, cells, summary = row
        if status == "running" and not _pid_alive(pid):
            status = "interrupted"
        return SessionRow(sid, program, profile, started, status, duration, json.loads(cells),
                          json.loads(summary) if summary else None)  # fmt: skip

    def sessions(self) -> list[SessionRow]:
        rows = self.db.execute("SELECT * FROM sessions ORDER BY id DESC").fetchall()
        return [self._row(r) for r in rows]

    def session(self, session: int) -> SessionRow:
        row = self.db.execute("SELECT * FROM sessions WHERE id = ?", (session,)).fetchone()
        if row is None:
            raise LegflowError(f"no session {session} in the history (see: legflow history)")
        return self._row(row)

    def samples(self, session: int) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT t_s, pressure_mmHg, setpoint_mmHg, skin_temp_C, twin FROM samples "
            "WHERE session_id = ? ORDER BY t_s",
            (session,),
        ).fetchall()
        return [
            {"t_s": t, "pressure_mmHg": json.loads(p), "setpoint_mmHg": json.loads(s),
             "skin_temp_C": json.loads(k), "twin": json.loads(w) if w else None}
            for t, p, s, k, w in rows
        ]  # fmt: skip

    def events(self, session: int) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT t_s, kind, detail FROM events WHERE session_id = ? ORDER BY rowid", (session,)
        ).fetchall()
        return [{"t_s": t, "kind": k, "detail": d} for t, k, d in rows]


def _floats(values) -> str:
    return json.dumps([round(float(v), 2) for v in values])


def default_history() -> History:
    return History(data_dir() / "history.sqlite")

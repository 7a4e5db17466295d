"""Session history in SQLite (WAL mode): sessions, per-second samples, the full-rate trace (every
control tick's sensed pressure and setpoint per cell, in compressed chunks) and events; beside
them each user's fit checks, comfort, plan versions and outcomes.

One sample per session second. A session queues its samples and events in memory and writes them
in one short transaction at each commit (at most every 0.25 s of wall time; every session second
in real time), so sessions running side by side on one home take turns in milliseconds, a crash or
a power cut loses at most the rows since the last commit, and WAL journaling keeps the file
consistent whatever happens.

Nothing stored is ever overwritten: a writer checks the file before it writes (`PRAGMA
quick_check`) and refuses one that is damaged, empty or not a SQLite database; a missing file is
the only one made anew, and it is built under another name and linked into place. Readers open
the file read-only, so a read-only home still shows its history. Every failure is one
`HistoryError` line naming the file and what to do; `move_aside` sets a damaged file aside when
the user asks.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import statistics
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from legflow.errors import HistoryError, LegflowError
from legflow.paths import data_dir

#: The first 16 bytes of every SQLite database file.
HEADER = b"SQLite format 3\x00"
#: How long opening, starting and finishing a session wait while another session writes.
WRITE_WAIT_s = 10.0
#: How long a commit in the middle of a session waits; past that its rows stay queued for the next
#: commit, so another program holding the history never holds up a session's loop for long.
COMMIT_WAIT_s = 0.1
#: What a user does with a file that is not a usable history: it is never changed or deleted.
KEPT = "it is kept as is: move it aside with `legflow history move-aside`, then run again"

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
    summary TEXT,                      -- JSON session summary (contract v1) once it ends
    user TEXT NOT NULL DEFAULT 'default'  -- whose session (the screening profile's name)
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
CREATE TABLE IF NOT EXISTS traces (    -- the full-rate trace: every control tick, in chunks
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    first_ms INTEGER NOT NULL,         -- session time of the chunk's first tick
    ticks INTEGER NOT NULL,
    data BLOB NOT NULL                 -- zlib: t int32[n] (ms), pressure, setpoint int16[n, cells] (0.1 mmHg)
);
CREATE INDEX IF NOT EXISTS traces_by_session ON traces(session_id, first_ms);
CREATE TABLE IF NOT EXISTS events (
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    t_s REAL NOT NULL,
    kind TEXT NOT NULL,                -- phase | guide | fault | pause | resume | stop | end
    detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS fits (      -- one row per cell of each fit check
    user TEXT NOT NULL,
    profile TEXT NOT NULL,
    at TEXT NOT NULL,                  -- UTC, ISO 8601
    cell TEXT NOT NULL,
    verdict TEXT NOT NULL,             -- ok | loose | tight | leaking
    fill_mL REAL NOT NULL,             -- air the cell took to the test pressure
    kept REAL NOT NULL                 -- share of its pressure it held once sealed
);
CREATE INDEX IF NOT EXISTS fits_by_user ON fits(user, profile, cell, at);
CREATE TABLE IF NOT EXISTS plans (     -- every version of each user's plan, never changed
    user TEXT NOT NULL,
    at TEXT NOT NULL,                  -- UTC, ISO 8601: when this version was set
    set_by TEXT NOT NULL,              -- who set it, by name
    role TEXT NOT NULL,                -- user | clinician
    plan TEXT NOT NULL                 -- JSON of `legflow.records.plan.Plan`
);
CREATE TABLE IF NOT EXISTS outcomes (  -- what the user measured and recorded
    user TEXT NOT NULL,
    at TEXT NOT NULL,                  -- UTC, ISO 8601: when it was measured
    measure TEXT NOT NULL,             -- `legflow.records.outcomes.MEASURES`
    site TEXT NOT NULL DEFAULT '',     -- where, for a circumference (e.g. left.calf)
    value REAL NOT NULL,
    note TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS comfort (   -- per zone, the share of the pressure a session ended at
    user TEXT NOT NULL,
    at TEXT NOT NULL,                  -- UTC, ISO 8601
    zone TEXT NOT NULL,
    share REAL NOT NULL
);
"""
#: How many of a user's latest sessions make their comfort scaling of a zone (its median).
COMFORT_SESSIONS = 5
#: How many of a user's latest ok fits of a cell make their baseline (its median).
BASELINE_FITS = 5


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
    user: str = "default"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class History:
    """The history database, opened for writing (a session) or read-only (listing, showing,
    exporting). Readers never block a writer, and writers hold the lock only while they commit."""

    def __init__(
        self, path: str | Path, *, readonly: bool = False, now: Callable[[], datetime] | None = None
    ):
        self.path = Path(path)
        self.readonly = readonly
        #: When things happen, for what is stored (aware): the wall clock, unless a sample record
        #: (`legflow.apps.sample_record`) or a test sets its own days.
        self.now = now or (lambda: datetime.now(UTC))
        self._samples: list[tuple] = []  # queued until the next commit
        self._events: list[tuple] = []
        # the trace's queued ticks: (session, first ms), and rows [t_s, pressure..., setpoint...]
        self._trace_of: tuple[int, int] | None = None
        self._trace = np.zeros((0, 0))
        self._traced = 0
        self.db = self._open_reader() if readonly else self._open_writer()

    def close(self) -> None:
        self.db.close()

    def _stamp(self) -> str:
        return self.now().astimezone(UTC).isoformat(timespec="seconds")

    # -- opening -----------------------------------------------------------------------------
    def _open_writer(self) -> sqlite3.Connection:
        """A connection for a session: only to a file that passes SQLite's quick check."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():
                _create(self.path)
        except OSError as exc:
            raise HistoryError(_cannot(self.path, exc.strerror or str(exc), "written")) from None
        _check_header(self.path)
        db = sqlite3.connect(self.path, timeout=WRITE_WAIT_s, isolation_level=None, check_same_thread=False)
        try:
            with self._errors():
                problems = [row[0] for row in db.execute("PRAGMA quick_check").fetchall()]
                if problems != ["ok"]:
                    raise HistoryError(_damaged(self.path, problems[0].splitlines()[-1]))
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute(f"PRAGMA busy_timeout = {round(WRITE_WAIT_s * 1000)}")
                db.executescript(f"BEGIN IMMEDIATE;{SCHEMA}")
                try:  # inside the write lock: writers opening an old file at once upgrade it once
                    upgrade = _upgrade(db)
                    if upgrade:
                        db.execute(upgrade)
                    db.execute("COMMIT")
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
        except BaseException:
            db.close()
            raise
        return db

    def _open_reader(self) -> sqlite3.Connection:
        """A read-only connection: it never creates, changes or checkpoints the file."""
        if not self.path.exists():  # nothing stored yet: an empty history, and no file made for it
            db = sqlite3.connect(":memory:", check_same_thread=False)
            db.executescript(SCHEMA)
            return db
        _check_header(self.path)
        uri = f"{self.path.absolute().as_uri()}?mode=ro"
        db = sqlite3.connect(uri, uri=True, timeout=WRITE_WAIT_s, check_same_thread=False)
        try:
            db.execute("PRAGMA schema_version").fetchone()  # the file is opened here, not above
            _read_as_current(db)
            return db
        except sqlite3.DatabaseError as exc:
            db.close()
            no_shm = isinstance(exc, sqlite3.OperationalError) and not _writable(self.path.parent)
            if not no_shm or _has_wal(self.path):
                raise HistoryError(_explain(self.path, exc, readonly=True)) from None
        # A read-only folder: SQLite cannot make the shared-memory file a WAL reader needs. No
        # writer can be at work there, and with no -wal file everything committed is in the file.
        db = sqlite3.connect(f"{uri}&immutable=1", uri=True, check_same_thread=False)
        try:
            with self._errors():
                db.execute("PRAGMA schema_version").fetchone()
                _read_as_current(db)
        except BaseException:
            db.close()
            raise
        return db

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """SQLite's errors about the file as one `HistoryError` line saying what to do."""
        try:
            yield
        except (sqlite3.ProgrammingError, sqlite3.IntegrityError):
            raise  # a mistake in legflow, not a problem with the file
        except sqlite3.DatabaseError as exc:
            raise HistoryError(_explain(self.path, exc, self.readonly)) from None

    def _write(self, wait_s: float, write: Callable[[sqlite3.Connection], None]) -> bool:
        """Run `write` in one short transaction; False if another writer held the history for
        longer than `wait_s` (nothing is written then)."""
        with self._errors():
            self.db.execute(f"PRAGMA busy_timeout = {round(wait_s * 1000)}")
            try:
                self.db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorname.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
                    return False
                raise
            try:
                write(self.db)
                self.db.execute("COMMIT")
            except BaseException:
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                raise
        return True

    def _write_or_fail(self, write: Callable[[sqlite3.Connection], None]) -> None:
        if not self._write(WRITE_WAIT_s, write):
            raise HistoryError(_busy(self.path))

    # -- fit checks --------------------------------------------------------------------------
    def add_fit(self, user: str, profile: str, cells: list[tuple[str, str, float, float]]) -> None:
        """One fit check: (cell, verdict, fill_mL, kept) per cell, in one transaction."""
        at = self._stamp()
        rows = [(user, profile, at, cell, verdict, fill, kept) for cell, verdict, fill, kept in cells]

        def write(db: sqlite3.Connection) -> None:
            db.executemany("INSERT INTO fits VALUES (?, ?, ?, ?, ?, ?, ?)", rows)

        self._write_or_fail(write)

    def fit_baseline(self, user: str, profile: str) -> dict[str, float]:
        """Per cell, the median air of this user's latest BASELINE_FITS ok fits on this device
        (their garment as they wear it); cells with none are left out."""
        with self._errors():
            rows = self.db.execute(
                "SELECT cell, fill_mL FROM fits WHERE user = ? AND profile = ? AND verdict = 'ok' "
                "ORDER BY at DESC, rowid DESC",
                (user, profile),
            ).fetchall()
        fills: dict[str, list[float]] = {}
        for cell, fill in rows:
            if len(fills.setdefault(cell, [])) < BASELINE_FITS:
                fills[cell].append(fill)
        return {cell: float(statistics.median(v)) for cell, v in fills.items()}

    # -- plans and outcomes -------------------------------------------------------------------
    def set_plan(
        self,
        user: str,
        plan: dict[str, Any],
        set_by: str,
        role: str,
        check: Callable[[list[tuple[str, str, str, dict[str, Any]]]], None] | None = None,
    ) -> str:
        """Store a new version of `user`'s plan; earlier versions stay. `check` sees the stored
        versions (as `plans` gives them) in the same transaction, and may refuse by raising.
        Returns when it was set (UTC)."""
        at = self._stamp()

        def write(db: sqlite3.Connection) -> None:
            if check is not None:
                check(self._plans(db, user))
            db.execute("INSERT INTO plans VALUES (?, ?, ?, ?, ?)", (user, at, set_by, role, json.dumps(plan)))

        self._write_or_fail(write)
        return at

    def plans(self, user: str) -> list[tuple[str, str, str, dict[str, Any]]]:
        """Every version of `user`'s plan, oldest first: (at, set_by, role, plan)."""
        with self._errors():
            return self._plans(self.db, user)

    @staticmethod
    def _plans(db: sqlite3.Connection, user: str) -> list[tuple[str, str, str, dict[str, Any]]]:
        rows = db.execute(
            "SELECT at, set_by, role, plan FROM plans WHERE user = ? ORDER BY rowid", (user,)
        ).fetchall()
        return [(at, by, role, json.loads(plan)) for at, by, role, plan in rows]

    def add_outcome(self, user: str, at: str, measure: str, site: str, value: float, note: str) -> None:
        def write(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO outcomes VALUES (?, ?, ?, ?, ?, ?)", (user, at, measure, site, value, note)
            )

        self._write_or_fail(write)

    def outcomes(self, user: str) -> list[tuple[str, str, str, float, str]]:
        """`user`'s recorded outcomes in time order: (at, measure, site, value, note)."""
        with self._errors():
            return self.db.execute(
                "SELECT at, measure, site, value, note FROM outcomes WHERE user = ? ORDER BY at, rowid",
                (user,),
            ).fetchall()

    # -- comfort -------------------------------------------------------------------------------
    def add_comfort(self, user: str, shares: dict[str, float]) -> None:
        """What one session ended at, per zone (`legflow.engine.intensity.comfort_shares`)."""
        at = self._stamp()

        def write(db: sqlite3.Connection) -> None:
            db.executemany(
                "INSERT INTO comfort VALUES (?, ?, ?, ?)", [(user, at, z, s) for z, s in shares.items()]
            )

        self._write_or_fail(write)

    def comfort(self, user: str) -> dict[str, tuple[float, int]]:
        """Per zone, the median share of this user's latest COMFORT_SESSIONS sessions, and how
        many sessions it is from."""
        with self._errors():
            rows = self.db.execute(
                "SELECT zone, share FROM comfort WHERE user = ? ORDER BY at DESC, rowid DESC", (user,)
            ).fetchall()
        shares: dict[str, list[float]] = {}
        for zone, share in rows:
            if len(shares.setdefault(zone, [])) < COMFORT_SESSIONS:
                shares[zone].append(share)
        return {zone: (float(statistics.median(v)), len(v)) for zone, v in shares.items()}

    def reset_comfort(self, user: str) -> int:
        """Forget what this user's sessions taught of their comfort; how many rows it was."""
        gone: list[int] = []

        def write(db: sqlite3.Connection) -> None:
            gone.append(db.execute("DELETE FROM comfort WHERE user = ?", (user,)).rowcount)

        self._write_or_fail(write)
        return gone[0]

    # -- writing -----------------------------------------------------------------------------
    def start(self, program: str, profile: str, cells: list[str], user: str = "default") -> int:
        now = self._stamp()
        row: list[int] = []

        def insert(db: sqlite3.Connection) -> None:
            cur = db.execute(
                "INSERT INTO sessions (program, profile, started_at, pid, status, cells, user) "
                "VALUES (?,?,?,?,?,?,?)",
                (program, profile, now, os.getpid(), "running", json.dumps(cells), user),
            )
            assert cur.lastrowid is not None  # set by the INSERT
            row.append(cur.lastrowid)

        self._write_or_fail(insert)
        return row[0]

    def add_sample(
        self, session: int, t_s: float, pressure, setpoint, skin, twin: dict | None = None
    ) -> None:
        """Queue one sample; `commit` stores it."""
        self._samples.append(
            (
                session,
                t_s,
                _floats(pressure),
                _floats(setpoint),
                _floats(skin),
                json.dumps(twin) if twin else None,
            )
        )

    def add_tick(self, session: int, t_s: float, pressure: np.ndarray, setpoint: np.ndarray) -> None:
        """Queue one control tick of the full-rate trace; `commit` stores the ticks as one chunk."""
        n, cells = self._traced, len(pressure)
        if self._trace_of is None:
            self._trace_of = (session, round(t_s * 1000))
        if self._trace.shape[1] != 1 + 2 * cells:  # the first tick (a new session's width)
            self._trace = np.zeros((256, 1 + 2 * cells))
        elif n == len(self._trace):
            self._trace = np.concatenate([self._trace, np.zeros_like(self._trace)])
        row = self._trace[n]
        row[0] = t_s
        row[1 : 1 + cells] = pressure
        row[1 + cells :] = setpoint
        self._traced = n + 1

    def add_event(self, session: int, t_s: float, kind: str, detail: str) -> None:
        """Queue one event; `commit` stores it."""
        self._events.append((session, t_s, kind, detail))

    def _flush(self, db: sqlite3.Connection) -> None:
        db.executemany("INSERT INTO samples VALUES (?,?,?,?,?,?)", self._samples)
        db.executemany("INSERT INTO events VALUES (?,?,?,?)", self._events)
        if self._trace_of is not None and self._traced:
            rows = self._trace[: self._traced]
            cells = (rows.shape[1] - 1) // 2
            ticks = np.round(rows[:, 0] * 1000).astype("<i4")
            pressure, setpoint = _tenths(rows[:, 1 : 1 + cells]), _tenths(rows[:, 1 + cells :])
            blob = zlib.compress(ticks.tobytes() + pressure.tobytes() + setpoint.tobytes(), 6)
            session, first = self._trace_of
            db.execute("INSERT INTO traces VALUES (?,?,?,?)", (session, first, len(ticks), blob))

    def _clear(self) -> None:
        self._samples.clear()
        self._events.clear()
        self._trace_of, self._traced = None, 0

    def commit(self, session: int, duration_s: float) -> None:
        """Store the queued rows and the duration so far, in one transaction. If another program
        holds the history past COMMIT_WAIT_s, the rows wait for the next commit instead."""

        def write(db: sqlite3.Connection) -> None:
            self._flush(db)
            db.execute("UPDATE sessions SET duration_s = ? WHERE id = ?", (duration_s, session))

        if self._write(COMMIT_WAIT_s, write):
            self._clear()

    def finish(self, session: int, summary: dict[str, Any]) -> None:
        """Store what is still queued and the session's end, waiting up to WRITE_WAIT_s."""

        def write(db: sqlite3.Connection) -> None:
            self._flush(db)
            db.execute(
                "UPDATE sessions SET status = ?, duration_s = ?, summary = ? WHERE id = ?",
                (summary["status"], summary["duration_s"], json.dumps(summary), session),
            )

        self._write_or_fail(write)
        self._clear()

    # -- reading -----------------------------------------------------------------------------
    def _session_columns(self) -> str:
        """The session row's columns; a history from before users read as the default user's."""
        with self._errors():
            names = {r[1] for r in self.db.execute("PRAGMA table_info(sessions)")}
        user = "user" if "user" in names else "'default'"
        return f"id, program, profile, started_at, pid, status, duration_s, cells, summary, {user}"

    def _row(self, row: tuple) -> SessionRow:
        sid, program, profile, started, pid, status, duration, cells, summary, user = row
        if status == "running" and not _pid_alive(pid):
            status = "interrupted"
        return SessionRow(
            sid,
            program,
            profile,
            started,
            status,
            duration,
            json.loads(cells),
            json.loads(summary) if summary else None,
            user,
        )

    def sessions(self, user: str | None = None) -> list[SessionRow]:
        """Every stored session, newest first; only `user`'s when given."""
        columns = self._session_columns()
        with self._errors():
            if user is None:
                rows = self.db.execute(f"SELECT {columns} FROM sessions ORDER BY id DESC").fetchall()
            else:
                owner = "user" if columns.endswith(", user") else "'default'"
                rows = self.db.execute(
                    f"SELECT {columns} FROM sessions WHERE {owner} = ? ORDER BY id DESC", (user,)
                ).fetchall()
        return [self._row(r) for r in rows]

    def session(self, session: int) -> SessionRow:
        with self._errors():
            row = self.db.execute(
                f"SELECT {self._session_columns()} FROM sessions WHERE id = ?", (session,)
            ).fetchone()
        if row is None:
            raise LegflowError(f"no session {session} in the history (see: legflow history)")
        return self._row(row)

    def samples(self, session: int) -> list[dict[str, Any]]:
        with self._errors():
            rows = self.db.execute(
                "SELECT t_s, pressure_mmHg, setpoint_mmHg, skin_temp_C, twin FROM samples "
                "WHERE session_id = ? ORDER BY t_s",
                (session,),
            ).fetchall()
        return [
            {
                "t_s": t,
                "pressure_mmHg": json.loads(p),
                "setpoint_mmHg": json.loads(s),
                "skin_temp_C": json.loads(k),
                "twin": json.loads(w) if w else None,
            }
            for t, p, s, k, w in rows
        ]

    def trace(self, session: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The full-rate trace of a session: each stored tick's session time (s, to the ms), and
        each cell's sensed pressure and setpoint at it (mmHg, to 0.1): arrays [ticks], [ticks, cells]."""
        cells = len(self.session(session).cells)
        with self._errors():
            rows = self.db.execute(
                "SELECT ticks, data FROM traces WHERE session_id = ? ORDER BY first_ms", (session,)
            ).fetchall()
        parts = []
        for n, blob in rows:
            raw = zlib.decompress(blob)
            ticks = np.frombuffer(raw, "<i4", n) / 1000.0
            values = np.frombuffer(raw, "<i2", offset=4 * n).reshape(2, n, cells) / 10.0
            parts.append((ticks, values[0], values[1]))
        if not parts:
            return np.zeros(0), np.zeros((0, cells)), np.zeros((0, cells))
        return (
            np.concatenate([p[0] for p in parts]),
            np.concatenate([p[1] for p in parts]),
            np.concatenate([p[2] for p in parts]),
        )

    def events(self, session: int) -> list[dict[str, Any]]:
        with self._errors():
            rows = self.db.execute(
                "SELECT t_s, kind, detail FROM events WHERE session_id = ? ORDER BY rowid", (session,)
            ).fetchall()
        return [{"t_s": t, "kind": k, "detail": d} for t, k, d in rows]


def _read_as_current(db: sqlite3.Connection) -> None:
    """A reader of a history made by an earlier legflow sees the tables added since as empty
    ones (temporary, in its own connection: the file is never changed by reading it)."""
    present = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for statement in SCHEMA.split(";"):
        words = statement.split()
        if words[:5] == ["CREATE", "TABLE", "IF", "NOT", "EXISTS"] and words[5] not in present:
            db.execute(statement.replace("CREATE TABLE", "CREATE TEMP TABLE", 1))


def _upgrade(db: sqlite3.Connection) -> str:
    """What a history made before sessions had users needs: the column, the old rows the
    default user's (nothing else of them changes)."""
    names = {r[1] for r in db.execute("PRAGMA table_info(sessions)")}
    if not names or "user" in names:  # a new file (SCHEMA makes the table) or one already upgraded
        return ""
    return "ALTER TABLE sessions ADD COLUMN user TEXT NOT NULL DEFAULT 'default';"


def _tenths(mmHg: np.ndarray) -> np.ndarray:
    """mmHg as int16 tenths (±3276.7 mmHg, far past any cell): the trace's storage."""
    return np.ascontiguousarray(np.round(np.clip(mmHg, -3276.7, 3276.7) * 10.0).astype("<i2"))


def _floats(values) -> str:
    return json.dumps([round(float(v), 2) for v in values])


def history_path() -> Path:
    return data_dir() / "history.sqlite"


def default_history(*, readonly: bool = False) -> History:
    """The user's history: read-only to list, show and export; for writing to run a session."""
    return History(history_path(), readonly=readonly)


# -- the file itself ------------------------------------------------------------------------------
def _create(path: Path) -> None:
    """A new, empty history at `path`, which is missing. It is built under another name and
    linked into place: the history path never holds a half-made file (which another process
    would take for an emptied history), and a file another process made meanwhile is kept."""
    if _has_wal(path):  # what a removed file left behind: SQLite would replay it into a new one
        raise HistoryError(f"history database {path} is missing but its {path.name}-wal is there; {KEPT}")
    if not _writable(path.parent):
        raise HistoryError(_cannot(path, "its folder is read-only", "created"))
    new = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.new")
    try:
        db = sqlite3.connect(new, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
        finally:
            db.close()  # the last connection: its -wal is merged into the file and removed
        try:
            os.link(new, path)
        except FileExistsError:
            pass  # another session made it first: both use that one
        except OSError:  # a file system without hard links (FAT): rename, which could replace
            if not path.exists():
                os.rename(new, path)
    finally:
        new.unlink(missing_ok=True)


def _check_header(path: Path) -> None:
    """Refuse a file at the history path that holds no SQLite database: SQLite would take an
    empty file for a new database and write a history into it."""
    try:
        with path.open("rb") as f:
            head = f.read(len(HEADER))
    except OSError as exc:
        raise HistoryError(_cannot(path, exc.strerror or str(exc), "read")) from None
    if not head:
        raise HistoryError(f"history database {path} is empty (0 bytes), not a history; {KEPT}")
    if head != HEADER:
        raise HistoryError(f"history database {path} is not a SQLite database; {KEPT}")


def damage(path: Path) -> str | None:
    """What makes the file at `path` no usable history (one line ending in KEPT), or None if it
    is sound. A file that cannot be checked now (busy, unreadable) raises `HistoryError`."""
    try:
        history = History(path, readonly=True)  # the header, and that SQLite opens it
        try:
            with history._errors():
                problems = [row[0] for row in history.db.execute("PRAGMA quick_check").fetchall()]
        finally:
            history.close()
    except HistoryError as exc:
        if str(exc).endswith(KEPT):
            return str(exc)
        raise
    return None if problems == ["ok"] else _damaged(path, problems[0].splitlines()[-1])


def move_aside(path: Path) -> Path:
    """Rename a damaged history to `<name>.damaged-<UTC time>`, its -wal and -shm files with it
    (so SQLite's own tools can still recover what is in it), or the -wal a removed history left;
    the next session starts a new history. A sound history is refused: a user's sessions are
    never moved out of sight."""
    if not path.exists() and not _has_wal(path):
        raise HistoryError(f"there is no history database at {path}: nothing to move aside")
    if path.exists() and damage(path) is None:
        raise HistoryError(f"history database {path} is not damaged: nothing to move aside")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    while target.exists():
        target = path.with_name(f"{target.name}x")
    # the -wal first: a new history must never find the old one's -wal beside it
    for suffix in ("-wal", "-shm", ""):
        side = Path(f"{path}{suffix}")
        if side.exists():
            try:
                side.rename(f"{target}{suffix}")
            except OSError as exc:
                raise HistoryError(_cannot(path, exc.strerror or str(exc), "moved aside")) from None
    return target


# -- what to tell the user ------------------------------------------------------------------------
def _writable(folder: Path) -> bool:
    return os.access(folder, os.W_OK)


def _has_wal(path: Path) -> bool:
    wal = Path(f"{path}-wal")
    return wal.exists() and wal.stat().st_size > 0


def _damaged(path: Path, reason: str) -> str:
    return f"history database {path} is damaged ({reason}); {KEPT}"


def _busy(path: Path) -> str:
    return f"history database {path} is busy (another program held it for over {WRITE_WAIT_s:g} s): try again"


def _cannot(path: Path, reason: str, what: str) -> str:
    return (
        f"history database {path} cannot be {what} ({reason}): make its folder writable, or set "
        "LEGFLOW_HOME to a folder you can write"
    )


def _explain(path: Path, exc: sqlite3.DatabaseError, readonly: bool) -> str:
    """One line for an error SQLite raised on the history file."""
    name = getattr(exc, "sqlite_errorname", "")
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return _busy(path)
    if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH")):
        return _cannot(path, str(exc), "read" if readonly else "written")
    if name == "SQLITE_FULL":
        return f"the disk holding history database {path} is full: free some space, then run again"
    if "no such table" in str(exc):
        return f"history database {path} is not a legflow history ({exc}); {KEPT}"
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or not isinstance(exc, sqlite3.OperationalError):
        return _damaged(path, str(exc))
    return f"history database {path} cannot be used ({exc})"

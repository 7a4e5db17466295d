"""The history store when things go wrong: sessions in parallel on one home, a damaged, emptied or
foreign file at the history path, a read-only home, and a session killed mid-way.

Everything is real: SQLite files on disk damaged by overwriting their bytes, `legflow` processes
run in parallel or killed with SIGKILL, and a home that really cannot be written (for root, whom
permissions do not stop: a read-only mount).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli_helpers import run_cli
from legflow.device.profile import DEFAULT_PROFILE, load_profile
from legflow.errors import HistoryError
from legflow.store import History
from legflow.store import history as history_module

#: Real processes, servers, browsers or terminals: left out of the fast subset (README, testing).
pytestmark = pytest.mark.system

CELLS = load_profile(DEFAULT_PROFILE).cell_names()
#: A 40-minute program: at --fast a few seconds of wall time each, so parallel sessions overlap.
LONG_PROGRAM = "lymph"
LONG_S = 2400.0


@pytest.fixture
def cli(capsys, monkeypatch):
    return lambda *args: run_cli(capsys, monkeypatch, *args)


def _db(home: Path) -> Path:
    return home / "history.sqlite"


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "LEGFLOW_HOME": str(home), "COLUMNS": "140"}


def _legflow(home: Path, *args: str, prefix: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real `legflow` command in a process of its own (behind `prefix`, when given)."""
    return subprocess.run(
        [*(prefix or []), sys.executable, "-m", "legflow", *args], env=_env(home), cwd=home.parent,
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _integrity(db: Path) -> list[tuple]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute("PRAGMA integrity_check").fetchall()
    finally:
        conn.close()


def _one_error_line(err: str) -> str:
    """The one error line a refusal ends with (progress lines such as a first run's compiling may
    come before it), and no traceback."""
    lines = err.strip().splitlines()
    assert [line for line in lines if line.startswith("error:")] == lines[-1:], err
    assert "Traceback" not in err and "internal error" not in err, err
    return lines[-1]


def _sample(history: History, session: int, t_s: float) -> None:
    history.add_sample(session, t_s, [0.0] * len(CELLS), [0.0] * len(CELLS), [33.0, 33.0])


def _stored_session(home: Path) -> Path:
    """A home with one completed 5-minute session, its database closed (nothing left in a -wal)."""
    done = _legflow(home, "run", "pre-sport", "--fast", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["id"] == 1
    db = _db(home)
    assert db.exists() and not Path(f"{db}-wal").exists()
    return db


def _damage(db: Path) -> None:
    """Overwrite the middle half of the file with a byte pattern, as a failing disk would."""
    size = db.stat().st_size
    with db.open("r+b") as f:
        f.seek(size // 4)
        f.write(bytes(range(256)) * (size // 2 // 256))


def _set_aside(home: Path) -> list[Path]:
    """The history files moved aside (without the -wal and -shm files that went with them)."""
    return [p for p in home.glob("history.sqlite.damaged-*") if not p.name.endswith(("-wal", "-shm"))]


# -- sessions in parallel -------------------------------------------------------------------------


def test_four_sessions_in_parallel_on_one_home_all_complete_and_are_stored(isolated_home, tmp_path):
    command = [sys.executable, "-m", "legflow", "run", LONG_PROGRAM, "--fast", "--json"]
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    procs = [subprocess.Popen(command, env=_env(isolated_home), cwd=tmp_path, **pipes) for _ in range(4)]
    try:
        outputs = [proc.communicate(timeout=300) for proc in procs]
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    summaries = [json.loads(out) for out, _ in outputs]
    assert sorted(s["id"] for s in summaries) == [1, 2, 3, 4]
    assert all(s["status"] == "completed" and s["duration_s"] == LONG_S for s in summaries)

    db = _db(isolated_home)
    assert _integrity(db) == [("ok",)]
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT id, status, duration_s FROM sessions ORDER BY id").fetchall()
        assert rows == [(k, "completed", LONG_S) for k in (1, 2, 3, 4)]
        for k in (1, 2, 3, 4):
            rows = conn.execute("SELECT t_s FROM samples WHERE session_id = ? ORDER BY t_s", (k,))
            times = [t for (t,) in rows]  # one a second, then what the vent at the end adds
            assert times[: int(LONG_S) + 1] == [float(s) for s in range(int(LONG_S) + 1)]
            assert all(b > a for a, b in itertools.pairwise(times))
            assert conn.execute("SELECT kind, detail FROM events WHERE session_id = ? ORDER BY rowid DESC "
                                "LIMIT 1", (k,)).fetchone() == ("end", "completed")  # fmt: skip
    finally:
        conn.close()


def test_a_session_between_its_commits_holds_no_lock_on_the_history(tmp_path):
    db = tmp_path / "history.sqlite"
    first, second = History(db), History(db)
    try:
        one = first.start("one", DEFAULT_PROFILE, CELLS)
        _sample(first, one, 0.0)
        first.add_event(one, 0.0, "phase", "warm-up")
        began = time.monotonic()
        two = second.start("two", DEFAULT_PROFILE, CELLS)  # while the first has rows not committed
        _sample(second, two, 0.0)
        second.commit(two, 0.0)
        assert time.monotonic() - began < 1.0
        first.commit(one, 0.0)
        for history in (first, second):
            assert [(r.id, len(history.samples(r.id))) for r in history.sessions()] == [(2, 1), (1, 1)]
            assert history.events(one) == [{"t_s": 0.0, "kind": "phase", "detail": "warm-up"}]
    finally:
        first.close()
        second.close()


def test_a_commit_that_finds_the_history_busy_keeps_its_rows_for_the_next(tmp_path, monkeypatch):
    monkeypatch.setattr(history_module, "WRITE_WAIT_s", 0.3)
    db = tmp_path / "history.sqlite"
    history = History(db)
    other = sqlite3.connect(db, isolation_level=None)
    try:
        session = history.start("one", DEFAULT_PROFILE, CELLS)
        _sample(history, session, 0.0)
        other.execute("BEGIN IMMEDIATE")  # another writer holds the lock for a long time
        began = time.monotonic()
        history.commit(session, 0.0)  # gives up quickly, keeping the sample
        assert time.monotonic() - began < 1.0
        _sample(history, session, 1.0)
        other.execute("COMMIT")
        history.commit(session, 1.0)
        assert [s["t_s"] for s in history.samples(session)] == [0.0, 1.0]
        assert history.session(session).duration_s == 1.0

        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(HistoryError) as refused:
            history.start("two", DEFAULT_PROFILE, CELLS)
        assert str(refused.value) == (
            f"history database {db} is busy (another program held it for over 0.3 s): try again"
        )
        other.execute("ROLLBACK")
    finally:
        other.close()
        history.close()


# -- a damaged, emptied or foreign file ----------------------------------------------------------------


def test_a_damaged_history_is_reported_in_one_line_and_never_written(cli, isolated_home):
    db = _stored_session(isolated_home)
    _damage(db)
    damaged = _sha(db)
    said = f"error: history database {db} is damaged"
    what_to_do = "it is kept as is: move it aside with `legflow history move-aside`, then run again"
    for args in (("history", "export", "1", "--csv"), ("history", "show", "1"), ("run", "pre-sport")):
        result = cli(*args)
        assert result.code == 1, (args, result.err)
        line = _one_error_line(result.err)
        assert line.startswith(said) and line.endswith(what_to_do), line
    assert _sha(db) == damaged  # the refused run wrote nothing into it

    from tests.web_helpers import running_dashboard

    with running_dashboard(isolated_home) as dash:
        export = dash.client.get("/api/v1/history/1/export", params={"format": "csv"})
        # the same line, the file named without the server's folders
        assert export.status_code == 503 and str(isolated_home) not in export.text
        assert export.json()["detail"].startswith(f"history database {db.name} is damaged")
        started = dash.client.post("/api/v1/sessions", json={"program": "pre-sport"})
        assert started.status_code == 503 and "is damaged" in started.json()["detail"]
    assert _sha(db) == damaged


def test_move_aside_keeps_a_damaged_history_as_is_and_the_next_run_starts_a_new_one(cli, isolated_home):
    db = _stored_session(isolated_home)
    healthy = cli("history", "move-aside")
    assert healthy.code == 1
    said = _one_error_line(healthy.err)
    assert said == f"error: history database {db} is not damaged: nothing to move aside"
    assert db.exists()

    _damage(db)
    damaged = _sha(db)
    moved = cli("history", "move-aside")
    assert moved.code == 0, moved.err
    (kept,) = _set_aside(isolated_home)
    assert not db.exists() and _sha(kept) == damaged
    assert f"moved the damaged history {db} to {kept}" in moved.out.replace("\n", "")

    fresh = cli("run", "pre-sport", "--fast", "--json")
    assert fresh.code == 0 and json.loads(fresh.out)["id"] == 1
    assert _integrity(db) == [("ok",)] and _sha(kept) == damaged


@pytest.mark.parametrize(
    ("content", "what"),
    [(b"", "is empty (0 bytes)"), (b"sessions I kept by hand\n" * 200, "is not a SQLite database")],
)
def test_an_emptied_or_foreign_file_is_reported_never_replaced(cli, isolated_home, content, what):
    db = _stored_session(isolated_home)
    db.write_bytes(content)
    for args in (("history",), ("history", "export", "1"), ("run", "pre-sport", "--fast")):
        result = cli(*args)
        assert result.code == 1, (args, result.out)
        line = _one_error_line(result.err)
        assert line.startswith(f"error: history database {db} {what}"), line
        assert "move-aside" in line
    assert db.read_bytes() == content  # not made into a new, empty history
    assert cli("history", "move-aside").code == 0
    assert [p.read_bytes() for p in _set_aside(isolated_home)] == [content]


def test_the_wal_a_removed_history_left_is_never_replayed_into_a_new_one(cli, isolated_home):
    db = _stored_session(isolated_home)
    # a process that commits and dies leaves its last transaction in the -wal; then the file goes
    script = (
        "import os, sqlite3, sys; db = sqlite3.connect(sys.argv[1]); "
        "db.execute(\"UPDATE sessions SET program = 'changed'\"); db.commit(); os._exit(0)"
    )
    subprocess.run([sys.executable, "-c", script, str(db)], check=True)
    wal = Path(f"{db}-wal")
    assert wal.stat().st_size > 0
    left = wal.read_bytes()
    db.unlink()
    refused = cli("run", "pre-sport", "--fast")
    assert refused.code == 1
    assert _one_error_line(refused.err) == (
        f"error: history database {db} is missing but its history.sqlite-wal is there; it is kept as "
        "is: move it aside with `legflow history move-aside`, then run again"
    )
    assert not db.exists() and wal.read_bytes() == left
    assert cli("history", "move-aside").code == 0
    (kept,) = isolated_home.glob("history.sqlite.damaged-*-wal")
    assert kept.read_bytes() == left and not wal.exists()
    fresh = cli("run", "pre-sport", "--fast", "--json")
    assert fresh.code == 0 and json.loads(fresh.out)["id"] == 1


def test_a_missing_history_is_created_by_a_run_and_never_by_a_reader(cli, isolated_home):
    listed = cli("history", "--json")
    assert listed.code == 0 and json.loads(listed.out) == []
    missing = cli("history", "show", "1")
    assert missing.code == 1 and _one_error_line(missing.err).startswith("error: no session 1")
    assert not isolated_home.exists() or list(isolated_home.iterdir()) == []
    assert cli("run", "pre-sport", "--fast").code == 0
    assert _integrity(_db(isolated_home)) == [("ok",)]


# -- a read-only home ------------------------------------------------------------------------------


def _read_only(home: Path) -> list[str]:
    """A command prefix under which `home` cannot be written: its permissions do that for a user;
    root ignores them, so for root the command runs in a mount namespace of its own where `home`
    is a read-only bind mount of itself."""
    if os.geteuid() != 0:
        return []
    mount = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" "$1" && shift && exec "$@"'
    return ["unshare", "--mount", "sh", "-c", mount, "sh", str(home)]


@pytest.fixture
def read_only_home(isolated_home) -> Iterator[tuple[Path, list[str], str]]:
    """A home with one stored session, its folder and file read-only, the command prefix that
    runs a process which really cannot write there (or a skip where none can be made), and the
    session's CSV export as read while the home was writable."""
    home = isolated_home
    db = _stored_session(home)
    exported = _legflow(home, "history", "export", "1", "--csv")
    assert exported.returncode == 0, exported.stderr
    db.chmod(0o444)
    home.chmod(0o555)
    try:
        prefix = _read_only(home)
        probe = [*prefix, sys.executable, "-c", f"open({str(home / 'probe')!r}, 'w')"]
        if shutil.which(probe[0]) is None or subprocess.run(probe, capture_output=True).returncode == 0:
            pytest.skip("no way here to make a folder this user cannot write")
        yield home, prefix, exported.stdout
    finally:
        home.chmod(0o755)


def test_a_read_only_home_lists_shows_and_exports_its_history(read_only_home):
    home, prefix, csv_text = read_only_home
    before = sorted(p.name for p in home.iterdir())
    listed = _legflow(home, "history", "--json", prefix=prefix)
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert row["id"] == 1 and row["status"] == "completed" and row["program"] == "pre-sport"
    shown = _legflow(home, "history", "show", "1", prefix=prefix)
    assert shown.returncode == 0 and "cell pressure over" in shown.stdout, shown.stderr
    exported = _legflow(home, "history", "export", "1", "--csv", prefix=prefix)
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout == csv_text and len(csv_text.splitlines()) > 300
    assert sorted(p.name for p in home.iterdir()) == before


def test_a_run_on_a_read_only_home_is_refused_in_one_line(read_only_home):
    home, prefix, _ = read_only_home
    db = _db(home)
    stored = _sha(db)
    refused = _legflow(home, "run", "pre-sport", "--fast", prefix=prefix)
    assert refused.returncode == 1
    line = _one_error_line(refused.stderr)
    assert line.startswith(f"error: history database {db} cannot be written"), line
    assert line.endswith("make its folder writable, or set LEGFLOW_HOME to a folder you can write")
    assert _sha(db) == stored


def test_a_run_on_a_read_only_home_without_a_history_is_refused_in_one_line(isolated_home):
    isolated_home.mkdir()
    isolated_home.chmod(0o555)
    try:
        prefix = _read_only(isolated_home)
        refused = _legflow(isolated_home, "run", "pre-sport", "--fast", prefix=prefix)
        listed = _legflow(isolated_home, "history", "--json", prefix=prefix)
    finally:
        isolated_home.chmod(0o755)
    assert refused.returncode == 1
    assert _one_error_line(refused.stderr) == (
        f"error: history database {_db(isolated_home)} cannot be created (its folder is read-only): make "
        "its folder writable, or set LEGFLOW_HOME to a folder you can write"
    )
    assert listed.returncode == 0 and json.loads(listed.stdout) == []
    assert list(isolated_home.iterdir()) == []


# -- a session killed mid-way -----------------------------------------------------------------------


def test_a_session_killed_mid_way_leaves_the_history_whole(isolated_home, tmp_path):
    db = _stored_session(isolated_home)
    exported = _legflow(isolated_home, "history", "export", "1", "--csv")
    summary = _legflow(isolated_home, "history", "export", "1")
    assert exported.returncode == 0 and summary.returncode == 0

    command = [sys.executable, "-m", "legflow", "run", LONG_PROGRAM, "--fast", "--json"]
    proc = subprocess.Popen(command, env=_env(isolated_home), cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while _committed(db, proc.pid) < 30:  # well into the session: samples committed more than once
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "no samples committed"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
        if proc.stderr:
            proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL

    assert _integrity(db) == [("ok",)]
    listed = _legflow(isolated_home, "history", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [(r["id"], r["program"], r["status"]) for r in rows] == [
        (2, LONG_PROGRAM, "interrupted"),
        (1, "pre-sport", "completed"),
    ]
    killed = rows[0]
    assert killed["summary"] is None and 30 <= killed["duration_s"] < LONG_S
    samples = _legflow(isolated_home, "history", "export", "2", "--csv")
    assert samples.returncode == 0, samples.stderr
    times = [float(line.split(",")[0]) for line in samples.stdout.splitlines()[1:]]
    assert times == [float(k) for k in range(len(times))] and times[-1] == killed["duration_s"]
    assert all(b > a for a, b in itertools.pairwise(times))
    # the earlier session reads back exactly as before
    assert _legflow(isolated_home, "history", "export", "1", "--csv").stdout == exported.stdout
    assert _legflow(isolated_home, "history", "export", "1").stdout == summary.stdout

    after = _legflow(isolated_home, "run", "pre-sport", "--fast", "--json")
    assert after.returncode == 0 and json.loads(after.stdout)["id"] == 3


def _committed(db: Path, pid: int) -> int:
    """Samples committed so far by the session of process `pid`, read without writing anything."""
    if not db.exists():
        return 0
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        (count,) = conn.execute(
            "SELECT count(*) FROM samples JOIN sessions ON sessions.id = samples.session_id WHERE pid = ?",
            (pid,),
        ).fetchone()
    finally:
        conn.close()
    return int(count)

"""Session history: crash safety of the SQLite store under SIGKILL, and the `history` commands.

Everything here runs the real components: a real `python -m legflow run` subprocess killed at random
moments, a real SQLite database in WAL mode, and the real command-line entry point.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli_helpers import run_cli
from legflow.apps.launch import prepare_session
from legflow.device.profile import DEFAULT_PROFILE, load_profile
from legflow.engine import session as session_module
from legflow.safety.limits import DEFAULT_LIMITS
from legflow.store import History
from legflow.store.history import default_history, history_path

CELLS = load_profile(DEFAULT_PROFILE).cell_names()
LEGS = ["left", "right"]
KILLS = 12
POLL_S = 0.02
#: Upper bound on the wait for a subprocess to reach the session time it is killed at.
SESSION_WAIT_S = 60.0
#: The kill comes once the session has committed a random session time up to this (of 1,500 s),
#: then a random wall delay up to KILL_JITTER_S (so not always just after a commit).
KILL_BY_s = 1000.0
KILL_JITTER_S = 0.1
TWIN_SIGNALS = ("fluid_cleared_mL", "outflow_mL_per_min", "venous_change_mL")  # sorted, as exported


@pytest.fixture
def cli(capsys, monkeypatch):
    return lambda *args: run_cli(capsys, monkeypatch, *args)


def _db(home: Path) -> Path:
    return home / "history.sqlite"


def _committed(db: Path, pid: int) -> tuple[int, float]:
    """Samples and session seconds committed so far by the session that process `pid` runs; read
    with a fresh connection (never creating the file, and tolerating a database whose schema is not
    there yet)."""
    if not db.exists():
        return 0, 0.0
    try:
        conn = sqlite3.connect(db, timeout=5)
        try:
            row = conn.execute(
                "SELECT count(samples.t_s), coalesce(max(sessions.duration_s), 0) FROM sessions "
                "LEFT JOIN samples ON sessions.id = samples.session_id WHERE sessions.pid = ?",
                (pid,),
            ).fetchone()
        finally:
            conn.close()
    except sqlite3.OperationalError:  # the tables are not created yet
        return 0, 0.0
    return int(row[0]), float(row[1])


def _wait_for(db: Path, proc: subprocess.Popen, log: Path, until_s: float) -> None:
    """Wait until the session of `proc` has committed a sample and reached `until_s` of session
    time: a moment in the session, whatever the machine's speed."""
    deadline = time.monotonic() + SESSION_WAIT_S
    while (progress := _committed(db, proc.pid))[0] == 0 or progress[1] < until_s:
        if proc.poll() is not None:
            pytest.fail(f"the session exited ({proc.returncode}) at {progress}: {log.read_text()}")
        if time.monotonic() > deadline:
            pytest.fail(f"the session did not reach {until_s} s within {SESSION_WAIT_S} s: {log.read_text()}")
        time.sleep(POLL_S)


def _assert_contiguous(samples: list[dict]) -> None:
    """One sample per second of session time from 0 s, t_s strictly increasing, none missing."""
    times = [s["t_s"] for s in samples]
    assert times[0] == 0.0
    assert all(b > a for a, b in itertools.pairwise(times))
    assert times == pytest.approx([float(k) for k in range(len(times))], abs=1e-6)
    for s in samples:
        assert len(s["pressure_mmHg"]) == len(CELLS)
        assert len(s["setpoint_mmHg"]) == len(CELLS)
        assert len(s["skin_temp_C"]) == len(LEGS)


def _assert_database_readable(db: Path, n_sessions: int) -> History:
    """The file passes SQLite's integrity check and every session in it reads back in full."""
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        conn.close()
    history = History(db)
    rows = history.sessions()
    assert [r.id for r in rows] == list(range(n_sessions, 0, -1))
    for row in rows:
        assert history.session(row.id) == row
        assert row.cells == CELLS
        history.samples(row.id)
        history.events(row.id)
    return history


@pytest.mark.system
def test_sigkill_at_random_moments_never_corrupts_the_history(isolated_home, tmp_path):
    rng = random.Random(20240611)
    db = _db(isolated_home)
    env = {**os.environ, "LEGFLOW_HOME": str(isolated_home)}
    # --seed 1: this program completes on this seed, so no session can end by itself before its kill
    command = [sys.executable, "-m", "legflow", "run", "recovery", "--fast", "--json", "--seed", "1"]
    killed_ids = []
    for k in range(1, KILLS + 1):
        log = tmp_path / f"run-{k}.log"
        with log.open("wb") as stderr:
            proc = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=stderr)
            try:
                _wait_for(db, proc, log, until_s=rng.uniform(0.0, KILL_BY_s))  # a random moment
                time.sleep(rng.uniform(0.0, KILL_JITTER_S))
                assert proc.poll() is None, f"run {k} ended before it could be killed: {log.read_text()}"
                proc.send_signal(signal.SIGKILL)
            finally:
                proc.kill()  # no-op when already dead; never leave a stray process behind
                proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL

        history = _assert_database_readable(db, k)
        try:
            killed = history.session(k)
            killed_ids.append(killed.id)
            # the session row is the one this process started, and is seen as interrupted (pid dead)
            conn = sqlite3.connect(db)
            try:
                assert conn.execute("SELECT pid, status FROM sessions WHERE id = ?", (k,)).fetchone() == (
                    proc.pid,
                    "running",
                )
            finally:
                conn.close()
            assert killed.program == "recovery" and killed.profile == DEFAULT_PROFILE
            assert killed.status == "interrupted" and killed.summary is None
            samples = history.samples(k)
            assert len(samples) >= 1
            _assert_contiguous(samples)
            # the session's duration is committed in the same transaction as its last sample
            assert killed.duration_s == samples[-1]["t_s"]
            events = history.events(k)
            assert events[:2] == [
                {"t_s": 0.0, "kind": "fit", "detail": "every cell fits (10)"},
                {"t_s": 0.0, "kind": "phase", "detail": "warm-up"},
            ]
            assert all(e["kind"] not in ("end", "fault", "stop") for e in events)
            assert all(e["t_s"] <= killed.duration_s for e in events)
            # earlier killed sessions are untouched by the later runs
            for earlier in history.sessions()[1:]:
                assert earlier.status == "interrupted" and earlier.summary is None
        finally:
            history.close()
    # kills landed at different moments, not all at the first sample
    history = History(db)
    try:
        durations = {history.session(i).duration_s for i in killed_ids}
    finally:
        history.close()
    assert len(durations) > KILLS // 2

    # a complete session appended to the same (many times killed) database lands as completed
    done = subprocess.run(
        [sys.executable, "-m", "legflow", "run", "pre-sport", "--fast", "--json"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["status"] == "completed" and summary["id"] == KILLS + 1
    assert summary["duration_s"] == 300.0 and summary["faults"] == []
    history = _assert_database_readable(db, KILLS + 1)
    try:
        row = history.session(KILLS + 1)
        assert row.program == "pre-sport" and row.status == "completed" and row.duration_s == 300.0
        assert row.summary == {k: v for k, v in summary.items() if k != "id"}
        assert set(row.summary["cells"]) == set(CELLS)
        samples = history.samples(row.id)
        assert len(samples) == 301
        _assert_contiguous(samples)
        end = history.events(row.id)[-1]
        assert end == {"t_s": pytest.approx(300.0), "kind": "end", "detail": "completed"}
        assert [r.status for r in history.sessions()] == ["completed"] + ["interrupted"] * KILLS
    finally:
        history.close()


# -- the history commands -----------------------------------------------------------------------


@pytest.fixture
def one_session(cli, isolated_home) -> dict:
    result = cli("run", "pre-sport", "--fast", "--json")
    assert result.code == 0, result.err
    summary = json.loads(result.out)
    assert summary["status"] == "completed" and summary["id"] == 1
    return summary


def test_history_lists_the_session_as_a_table_and_as_json(cli, one_session):
    table = cli("history")
    assert table.code == 0
    line = next(line for line in table.out.splitlines() if "pre-sport" in line)
    assert line.split("│")[1].strip() == "1"
    assert "completed" in line and DEFAULT_PROFILE in line and "5.0" in line

    listed = cli("history", "--json")
    assert listed.code == 0
    rows = json.loads(listed.out)
    assert len(rows) == 1
    assert rows[0]["id"] == 1 and rows[0]["program"] == "pre-sport" and rows[0]["status"] == "completed"
    assert rows[0]["duration_s"] == 300.0 and rows[0]["cells"] == CELLS
    assert rows[0]["summary"] == {k: v for k, v in one_session.items() if k != "id"}


@pytest.mark.slow
def test_history_show_lists_every_stored_event(cli, one_session, isolated_home):
    """As the dashboard does: an override (what screening kept an actuator from doing), a clinician's
    bounds and a guide step are shown too."""
    history = History(_db(isolated_home))
    try:
        for t_s, kind in ((1.0, "override"), (2.0, "bounds"), (3.0, "guide")):
            history.add_event(1, t_s, kind, f"the {kind} event")
        history.commit(1, 300.0)
        stored = history.events(1)
    finally:
        history.close()
    shown = " ".join(cli("history", "show", "1").out.split())  # as one line: long ones wrap
    for event in stored:
        assert f"{event['t_s']:.1f} s {event['kind']} {event['detail']}" in shown, event


@pytest.mark.slow
def test_history_show_prints_the_summary_and_a_pressure_plot(cli, one_session, isolated_home):
    history = History(_db(isolated_home))
    try:
        samples = history.samples(1)
    finally:
        history.close()
    result = cli("history", "show", "1")
    assert result.code == 0
    assert '"status": "completed"' in result.out and '"program": "pre-sport"' in result.out
    assert "max_pressure_mmHg" in result.out
    assert "end" in result.out and "brisk wave" in result.out  # events: the phase and the end
    assert "cell pressure over 300 s" in result.out
    lines = result.out.splitlines()
    for cell in CELLS:
        row = [line for line in lines if line.strip().startswith(cell + " ")]
        assert len(row) == 1, cell
        assert any(bar in row[0] for bar in "▄▅▆▇█") and row[0].rstrip().endswith("mmHg")  # squeezes show
        # the plot shows the peak of the stored per-second samples, never above the 50 Hz maximum
        k = CELLS.index(cell)
        peak = float(row[0].split()[-2])
        assert peak == round(max(s["pressure_mmHg"][k] for s in samples))
        assert peak <= one_session["cells"][cell]["max_pressure_mmHg"] + 0.5


@pytest.mark.slow
def test_history_export_csv_has_one_row_per_stored_sample(cli, one_session, isolated_home, tmp_path):
    result = cli("history", "export", "1", "--csv")
    assert result.code == 0
    table = list(csv.reader(io.StringIO(result.out)))
    header, rows = table[0], table[1:]
    assert header == [
        "t_s",
        *[f"{c}_mmHg" for c in CELLS],
        *[f"{c}_setpoint_mmHg" for c in CELLS],
        *[f"{leg}_skin_C" for leg in LEGS],
        *[f"{leg}_twin_{key}" for key in TWIN_SIGNALS for leg in LEGS],
    ]
    history = History(_db(isolated_home))
    try:
        samples = history.samples(1)
    finally:
        history.close()
    assert len(samples) == 301 and len(rows) == len(samples)
    for row, sample in zip(rows, samples, strict=True):
        values = [float(v) for v in row]
        assert len(values) == len(header)
        assert values[0] == sample["t_s"]
        assert values[1 : 1 + len(CELLS)] == sample["pressure_mmHg"]
        skin = 1 + 2 * len(CELLS)
        assert values[skin : skin + len(LEGS)] == sample["skin_temp_C"]
        assert values[skin + len(LEGS) :] == [v for key in TWIN_SIGNALS for v in sample["twin"][key]]
    assert max(float(v) for row in rows for v in row[1 : 1 + len(CELLS)]) > 20.0  # it did inflate

    out = tmp_path / "s1.csv"
    written = cli("history", "export", "1", "--csv", "-o", str(out))
    assert written.code == 0 and written.out == "" and "wrote" in written.err
    assert out.read_bytes().decode("utf-8") == result.out


@pytest.mark.slow
def test_history_export_json_has_the_session_and_its_events(cli, one_session):
    result = cli("history", "export", "1")
    assert result.code == 0
    data = json.loads(result.out)
    assert set(data) == {"session", "events"}
    assert data["session"]["id"] == 1 and data["session"]["status"] == "completed"
    assert data["session"]["summary"]["duration_s"] == 300.0
    kinds = [e["kind"] for e in data["events"]]
    assert kinds[:2] == ["fit", "phase"] and kinds[-1] == "end" and "fault" not in kinds
    assert data["events"][0]["detail"] == "every cell fits (10)"
    assert data["events"][-1]["detail"] == "completed"


@pytest.mark.slow
def test_history_show_of_a_missing_session_is_one_error_line(cli, one_session):
    for args in (("history", "show", "999"), ("history", "export", "999", "--csv")):
        result = cli(*args)
        assert result.code == 1
        assert result.out == ""
        lines = result.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: no session 999"), result.err


def test_an_injected_pump_failure_is_stored_as_a_fault(cli, isolated_home):
    result = cli("run", "pre-sport", "--fast", "--json", "--inject", "pump_failure@30")
    assert result.code == 4
    summary = json.loads(result.out)
    assert summary["status"] == "fault"
    (fault,) = summary["faults"]
    assert fault["kind"] == "pump_failure" and fault["at_s"] == 30.0
    assert 30.0 <= fault["detected_s"] <= 40.0
    assert fault["detected_s"] <= fault["safe_at_s"] <= fault["detected_s"] + 1.0
    assert summary["duration_s"] == pytest.approx(fault["detected_s"], abs=0.1)

    history = History(_db(isolated_home))
    try:
        row = history.session(summary["id"])
        assert row.status == "fault"
        assert row.summary == {k: v for k, v in summary.items() if k != "id"}
        assert row.summary["faults"][0]["kind"] == "pump_failure"
        events = history.events(row.id)
        faults = [e for e in events if e["kind"] == "fault"]
        assert len(faults) == 1
        assert faults[0]["t_s"] == pytest.approx(fault["detected_s"], abs=0.05)  # within a tick or two
        assert faults[0]["detail"].startswith(fault["detector"])
        assert events[-1]["kind"] == "end" and events[-1]["detail"] == "fault"
        samples = history.samples(row.id)
        _assert_contiguous(samples)
        assert samples[-1]["t_s"] <= fault["detected_s"]
    finally:
        history.close()

    listed = cli("history")
    line = next(line for line in listed.out.splitlines() if "pre-sport" in line)
    assert "fault" in line and line.split("│")[-2].strip() == "1"  # the faults column


def test_a_fast_session_commits_by_session_time_however_fast_the_machine(isolated_home, monkeypatch):
    """On a machine so fast that no wall time passes, a power loss still costs at most
    COMMIT_EVERY_SESSION_s of the session: a reader always sees the session that recent."""
    monkeypatch.setattr(session_module, "wall_s", lambda: 1000.0)  # the wall clock never moves
    lags: list[float] = []

    def look(state) -> None:
        conn = sqlite3.connect(f"file:{history_path()}?mode=ro", uri=True)
        try:
            (stored,) = conn.execute("SELECT max(duration_s) FROM sessions").fetchone()
        finally:
            conn.close()
        lags.append(state.t_s - (stored or 0.0))

    history = default_history()
    try:
        with prepare_session("sitting-break", limits=DEFAULT_LIMITS, history=history, fast=True) as launch:
            launch.session.run(on_update=look, update_every_s=1.0)
    finally:
        history.close()
    assert len(lags) > 100
    assert max(lags) <= session_module.COMMIT_EVERY_SESSION_s + 1.0

"""`legflow run`: the contract's options, refusals with clear errors, and Ctrl-C on a real
process (once: stop and vent; twice: emergency stop)."""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from cli_helpers import run_cli
from legflow.apps.launch import prepare_session
from legflow.cli.live import render
from legflow.safety.limits import DEFAULT_LIMITS

#: Real processes, servers, browsers or terminals: left out of the fast subset (README, testing).
pytestmark = pytest.mark.system

HERE = Path(__file__).parent
#: Two holds: the cells are full when each phase ends.
TWO_HOLDS = HERE / "programs" / "two-holds.toml"


@pytest.fixture
def cli(capsys, monkeypatch):
    return lambda *args: run_cli(capsys, monkeypatch, *args)


def test_fast_json_prints_the_summary(cli):
    result = cli("run", "pre-sport", "--fast", "--json")
    summary = json.loads(result.out)
    assert result.code == 0 and summary["status"] == "completed" and summary["duration_s"] == 300.0
    assert summary["faults"] == [] and summary["program"] == "pre-sport"


def test_live_display_shows_cells_legs_and_the_outcome(cli):
    result = cli("run", "sitting-break", "--fast")
    assert result.code == 0
    for text in ("legflow session", "left.calf", "right.thigh", "mmHg", "heat", "completed after 480 s"):
        assert text in result.out


def test_fast_run_ends_with_every_cell_vented(cli):
    """The program ends mid-hold: the session vents and waits for the cells before it ends."""
    result = cli("run", str(TWO_HOLDS), "--fast", "--json")
    summary = json.loads(result.out)
    assert result.code == 0 and summary["status"] == "completed" and summary["duration_s"] == 30.0
    assert summary["duration_s"] < summary["vented_at_s"] < summary["duration_s"] + 3
    assert max(cell["max_pressure_mmHg"] for cell in summary["cells"].values()) > 35
    assert all(cell["end_pressure_mmHg"] < 3 for cell in summary["cells"].values())  # as last sensed


def _screen(state, program: str = "Two holds") -> str:
    console = Console(width=140, record=True, file=io.StringIO())
    console.print(render(state, program))
    return console.export_text()


def test_live_display_after_one_ctrl_c_says_stopping_then_stays_on_the_phase_it_stopped_in():
    launch = prepare_session(str(TWO_HOLDS), limits=DEFAULT_LIMITS, history=None, fast=True)
    session = launch.session
    screens: list[str] = []

    def update(state):
        screens.append(_screen(state))
        if state.t_s >= 8 and not session.control.stop_requested:
            session.control.stop()  # what the first Ctrl-C does
            screens.clear()

    with launch:
        summary = session.run(on_update=update, update_every_s=0.1)
    assert summary["status"] == "stopped"
    assert any("STOPPING (venting)" in screen for screen in screens)
    assert not any("PAUSED" in screen for screen in screens)
    end = _screen(session.last_state)
    assert "phase: first hold" in end and "Rest your legs flat." in end
    assert "last hold" not in end and "Stand up and walk." not in end


def test_injected_fault_exits_4_with_the_fault_in_the_summary(cli):
    result = cli("run", "pre-sport", "--fast", "--json", "--inject", "pump_failure:left@30")
    summary = json.loads(result.out)
    assert result.code == 4 and summary["status"] == "fault"
    (fault,) = summary["faults"]
    assert fault["kind"] == "pump_failure" and fault["cell"] == "left" and fault["at_s"] == 30.0
    assert 30.0 <= fault["detected_s"] <= fault["safe_at_s"] < 35.0


@pytest.mark.parametrize(
    "spec, message",
    [("bogus@3", "unknown fault kind"), ("leak@x", "bad fault"), ("leak:left.elbow@3", "no cell or leg")],
)
def test_bad_fault_specs_are_one_line_errors(cli, spec, message):
    result = cli("run", "pre-sport", "--fast", "--inject", spec)
    assert result.code == 1 and message in result.err and len(result.err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "option, value, choices",
    [("--comfort", "maybe", "ask, apply or skip"), ("--refill-from", "moon", "auto, twin or sensor")],
)
def test_a_choice_not_offered_is_refused_before_the_session(cli, option, value, choices):
    result = cli("run", "pre-sport", "--fast", option, value)
    assert result.code != 0 and result.out == ""
    assert result.err.strip() == f"error: {option} must be {choices}, not '{value}'"


def test_a_program_the_device_refuses_never_starts(cli):
    result = cli("run", str(HERE / "broken" / "device-calf-150.toml"), "--fast")
    assert result.code == 2 and "limit of 100 mmHg" in result.err
    result = cli("run", "lymph", "--fast", "--profile", "home-foot-calf")
    assert result.code == 2 and "a lymph program needs the thigh" in result.err


def test_a_blocked_user_cannot_start(cli):
    assert cli("screen", "--answers", str(HERE / "answers" / "dvt.toml")).code == 0
    result = cli("run", "pre-sport", "--fast")
    assert result.code == 2 and "screening blocks sessions" in result.err


def test_other_profiles_run_their_programs(cli):
    result = cli("run", "sitting-break", "--fast", "--json", "--profile", "recovery-boots")
    assert result.code == 0 and json.loads(result.out)["status"] == "completed"


def _start_real_time(home: Path) -> subprocess.Popen:
    env = {**os.environ, "LEGFLOW_HOME": str(home)}
    return subprocess.Popen(
        [sys.executable, "-m", "legflow", "run", "circulation", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def _wait_for_samples(home: Path, count: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        db = home / "history.sqlite"
        if db.exists():
            with sqlite3.connect(db) as con:
                try:
                    if con.execute("SELECT COUNT(*) FROM samples").fetchone()[0] >= count:
                        return
                except sqlite3.OperationalError:
                    pass
        time.sleep(0.1)
    raise AssertionError("the session never stored samples")


@pytest.mark.parametrize(
    "presses, status, detector", [(1, "stopped", "stop"), (2, "stopped", "emergency_stop")]
)
def test_ctrl_c_stops_once_and_emergency_stops_twice(tmp_path, presses, status, detector):
    proc = _start_real_time(tmp_path)
    _wait_for_samples(tmp_path, 2, proc)
    for _ in range(presses):
        proc.send_signal(signal.SIGINT)
        time.sleep(0.2)  # two presses, not one: signals of one kind do not queue
    out, err = proc.communicate(timeout=30)
    assert "Traceback" not in err
    summary = json.loads(out)
    assert proc.returncode == 0 and summary["status"] == status
    assert 1.0 <= summary["duration_s"] < 30
    with sqlite3.connect(tmp_path / "history.sqlite") as con:
        events = [d for (d,) in con.execute("SELECT detail FROM events WHERE kind = 'stop'")]
    assert any(e.startswith(detector + " ") for e in events)

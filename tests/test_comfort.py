"""Comfort that legflow learns: what a user ends each session at (level, boost) is kept per zone;
the next run proposes it, says what it does to the program's evidence dose, and applies it only
if the user agrees; `legflow comfort` shows and resets it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cli_helpers import run_cli
from legflow.apps.launch import prepare_session
from legflow.engine.intensity import BOOST_mmHg, Intensity, comfort_shares
from legflow.safety.limits import DEFAULT_LIMITS
from legflow.store import History
from legflow.store.history import default_history
from legflow.web.live import SessionManager
from tty_helpers import Terminal


def test_what_a_session_ended_at_per_zone():
    peaks = {"calf": 50.0, "thigh": 40.0, "foot": 60.0}
    asked = Intensity(level=-1, boost="calf", paused=frozenset({"foot"}))
    assert comfort_shares(peaks, {"thigh": 0.8}, asked) == {
        "calf": pytest.approx(0.9 + BOOST_mmHg / 50.0),
        "thigh": pytest.approx(0.72),
    }  # the paused foot tells nothing of a pressure
    assert comfort_shares(peaks, {}, Intensity(level=-2)) == {"calf": 0.8, "thigh": 0.8, "foot": 0.8}
    assert comfort_shares({"calf": 50.0}, {"calf": 0.6}, Intensity(level=-2)) == {"calf": 0.6}  # bounded


def test_the_scaling_is_the_median_of_the_latest_sessions(tmp_path):
    history = History(tmp_path / "h.sqlite")
    try:
        for share in (1.0, 0.8, 0.9, 0.8, 0.7, 0.8):
            history.add_comfort("ann", {"calf": share})
        history.add_comfort("bob", {"calf": 1.2})
        assert history.comfort("ann") == {"calf": (0.8, 5)}
        assert history.reset_comfort("ann") == 6 and history.comfort("ann") == {}
        assert history.comfort("bob") == {"calf": (1.2, 1)}
    finally:
        history.close()


def _seed(shares: dict[str, float], times: int = 3) -> None:
    history = default_history()
    try:
        for _ in range(times):
            history.add_comfort("default", shares)
    finally:
        history.close()


@pytest.mark.slow
def test_the_next_run_proposes_it_and_applies_it_only_when_asked(capsys, monkeypatch):
    _seed({"foot": 0.7, "ankle": 0.7, "calf": 0.7, "knee": 0.7, "thigh": 1.0})
    args = ["run", "recovery", "--fast", "--json"]
    plain = run_cli(capsys, monkeypatch, *args)  # no terminal to ask in: shown, not applied
    assert plain.code == 0
    zones = "foot 70%, ankle 70%, calf 70%, knee 70%"
    assert f"comfort: your last sessions ended at {zones} of the programs' pressures" in plain.err
    assert "not applied: --comfort apply applies it" in plain.err
    # recovery's peak is 80 mmHg (the foot), the pneumatic evidence's 60-80: 70 % of the foot to
    # the knee leaves the thigh's 70 mmHg as the peak, inside; at 0.7 too it would be 56, below
    below = "recovery.pneumatic: peak pressure"
    assert f"at that scaling, {below}" not in plain.err
    applied = run_cli(capsys, monkeypatch, *args, "--comfort", "apply")
    assert applied.code == 0
    before, after = json.loads(plain.out), json.loads(applied.out)
    calf_before = before["cells"]["left.calf"]["true_max_pressure_mmHg"]
    calf_after = after["cells"]["left.calf"]["true_max_pressure_mmHg"]
    assert calf_after == pytest.approx(0.7 * calf_before, abs=4.0)
    block = after["intensity"]
    assert block["comfort"] == {"foot": 0.7, "ankle": 0.7, "calf": 0.7, "knee": 0.7} and block["level"] == 0
    assert block["as_run"]["fluid_cleared_mL"] < block["as_written"]["fluid_cleared_mL"]
    thigh = before["cells"]["left.thigh"]["true_max_pressure_mmHg"]
    assert after["cells"]["left.thigh"]["true_max_pressure_mmHg"] == pytest.approx(thigh, abs=3.0)
    _seed({"thigh": 0.7}, times=5)  # now every zone at 70 %: the peak falls below the evidence's dose
    lower = run_cli(capsys, monkeypatch, *args, "--comfort", "skip").err
    assert lower == "" or "comfort" not in lower
    warned = run_cli(capsys, monkeypatch, *args)
    said = " ".join(warned.err.split())  # the console wraps long lines
    assert "at that scaling, recovery.pneumatic:" in said
    assert "peak pressure 56 mmHg is below the 60–80 mmHg studied" in said
    shown = run_cli(capsys, monkeypatch, "history", "show", str(after["id"]))
    assert f"your comfort scaling: {zones}" in shown.out
    skipped = run_cli(capsys, monkeypatch, *args, "--comfort", "skip")
    assert skipped.code == 0 and "comfort:" not in skipped.err


def test_legflow_comfort_shows_and_resets(capsys, monkeypatch):
    assert "no comfort learned yet for user 'default'" in run_cli(capsys, monkeypatch, "comfort").out
    _seed({"thigh": 1.1, "calf": 0.9}, times=2)
    shown = json.loads(run_cli(capsys, monkeypatch, "comfort", "--json").out)
    assert shown == {
        "user": "default",
        "zones": {"calf": {"share": 0.9, "sessions": 2}, "thigh": {"share": 1.1, "sessions": 2}},
    }
    reset = run_cli(capsys, monkeypatch, "comfort", "--reset")
    assert reset.code == 0 and "forgot 4 comfort record(s) of user 'default'" in reset.err
    assert json.loads(run_cli(capsys, monkeypatch, "comfort", "--json").out)["zones"] == {}


@pytest.mark.system
def test_sessions_turned_down_at_the_keys_teach_the_next_one(isolated_home):
    """Two sessions in a real terminal, each turned down two levels (`-` `-`): the calf's comfort
    becomes 80 %, and the third run proposes it and, asked at the prompt, applies it."""
    for _ in range(2):
        terminal = Terminal("run", "recovery", "--fast", "--comfort", "skip")
        terminal.read_until("b boost calf")
        terminal.type("--")
        terminal.read_until("completed after")
        assert terminal.wait() == 0
    learned = subprocess.run(
        [sys.executable, "-m", "legflow", "comfort", "--json"], capture_output=True, text=True, check=True
    )
    assert json.loads(learned.stdout)["zones"]["calf"] == {"share": 0.8, "sessions": 2}
    terminal = Terminal("run", "sitting-break", "--fast")
    assert "calf 80%" in terminal.read_until("Apply your comfort scaling?")
    terminal.type("y\n")
    terminal.read_until("completed after")
    assert terminal.wait() == 0


@pytest.mark.slow
def test_a_dashboard_session_teaches_comfort_as_a_terminal_one_does(isolated_home):
    """The dashboard's session runner learns what the user ended at, as `legflow run` does: an
    intensity lowered on the page is proposed at the next run."""
    manager = SessionManager(str(isolated_home / "history.sqlite"))
    history = History(manager.history_path)
    launch = prepare_session("sitting-break", limits=DEFAULT_LIMITS, history=history, fast=True, user="ann")
    launch.session.control.set_level(-2)
    manager._run(launch, history, "ann")  # the runner's thread body; it closes the history
    assert manager.last_summary is not None and manager.last_summary["status"] == "completed"
    reader = History(manager.history_path, readonly=True)
    try:
        learned = reader.comfort("ann")
    finally:
        reader.close()
    assert learned and all(share == pytest.approx(0.8) and n == 1 for share, n in learned.values())

"""Intensity in the user's hands (`legflow.engine.intensity`): a level, a boost on one zone and a
zone paused, from the session's control (the CLI's keys, the web page's buttons), applied at each
cell's next cycle when it squeezes more and at once when it squeezes less, never past a limit,
and recorded as events."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest

from legflow.apps.limb import intensity_cost, leg_twin
from legflow.cli.keys import IntensityKeys
from legflow.clock import VirtualClock
from legflow.device.profile import load_profile
from legflow.device.sim import SimulatedMassager
from legflow.engine.intensity import BOOST_mmHg, Intensity, IntensityInForce
from legflow.engine.session import Session
from legflow.errors import UsageError
from legflow.programs.library import builtin_source
from legflow.safety.limits import DEFAULT_LIMITS
from legflow.safety.supervisor import Supervisor
from legflow.store import History
from tty_helpers import Terminal

ZONES = ["calf", "thigh"]
LIMITS = np.array([100.0, 100.0])


def test_more_waits_for_the_next_cycle_and_less_comes_at_once():
    force = IntensityInForce(ZONES, LIMITS)
    squeezing = np.array([60.0, 60.0])
    up = Intensity(level=2, boost="calf")
    assert list(force.apply(squeezing, up)) == [60.0, 60.0]  # mid-squeeze: unchanged
    assert list(force.apply(np.array([0.0, 0.0]), up)) == [0.0, 0.0]  # at rest: adopted
    assert list(force.apply(squeezing, up)) == pytest.approx([60.0 * 1.2 + BOOST_mmHg, 72.0])
    down = Intensity(level=-1, paused=frozenset({"thigh"}))
    assert list(force.apply(squeezing, down)) == pytest.approx([54.0, 0.0])  # at once


def test_never_past_a_cells_limit():
    force = IntensityInForce(ZONES, LIMITS)
    force.apply(np.zeros(2), Intensity(level=2, boost="thigh"))
    assert list(force.apply(np.array([95.0, 95.0]), Intensity(level=2, boost="thigh"))) == [100.0, 100.0]


def session(db: Path, profile: str = "reference") -> tuple[Session, History]:
    device = load_profile(profile)
    clock = VirtualClock()
    twin = leg_twin(device)
    supervisor = Supervisor(SimulatedMassager(device, clock, limb=twin), DEFAULT_LIMITS, clock)
    history = History(db)
    program = builtin_source("sitting-break").program
    cost = intensity_cost(program, device)
    return Session(
        program, "sitting-break", supervisor, clock, twin=twin, history=history, cost=cost
    ), history


@pytest.mark.slow
def test_a_session_squeezes_as_the_user_asks_and_records_it(tmp_path):
    plain, _ = session(tmp_path / "plain.db")
    plain.run()
    asked, history = session(tmp_path / "asked.db")
    asked.control.set_level(2)
    asked.control.set_boost("calf")
    asked.control.pause_zone("thigh")
    summary = asked.run()
    base = plain.summary.cells
    cells = summary["cells"]
    calf = cells["left.calf"]["true_max_pressure_mmHg"]
    assert calf > base["left.calf"].true_max_pressure_mmHg * 1.2 + BOOST_mmHg - 6.0
    assert calf <= DEFAULT_LIMITS.pressure_limit_mmHg("calf")[0] + 10.0
    assert cells["left.thigh"]["true_max_pressure_mmHg"] < 5.0  # paused all along
    events = [e["detail"] for e in history.events(summary["id"]) if e["kind"] == "intensity"]
    assert events == [
        "level +2 (120% of the program's pressures)",
        "level +2 (120% of the program's pressures); calf boosted +10 mmHg",
        "level +2 (120% of the program's pressures); calf boosted +10 mmHg; paused: thigh",
    ]
    # what it costs the leg, beside the program as written (the twin alone, both the same way)
    block = summary["intensity"]
    assert (block["level"], block["boost"], block["paused"], block["comfort"]) == (2, "calf", ["thigh"], {})
    program = builtin_source("sitting-break").program
    cost = intensity_cost(program, load_profile("reference"))
    assert block["as_written"] == cost({})
    assert block["as_run"] == cost(
        {"foot": 1.2, "ankle": 1.2, "calf": 1.2 + BOOST_mmHg / 46.0, "knee": 1.2, "thigh": 0.0}
    )
    assert block["as_run"] != block["as_written"]
    assert "intensity" not in plain.summary.as_json()  # untouched: no block


def test_a_bad_request_is_refused_with_the_reason(tmp_path):
    s, _ = session(tmp_path / "history.db", "calf-sleeve")
    with pytest.raises(UsageError, match=re.escape("level 3 is out of -2..+2")):
        s.control.set_level(3)
    with pytest.raises(
        UsageError, match=re.escape("no zone 'thigh' on this device (it has: ankle, calf, knee)")
    ):
        s.control.set_boost("thigh")
    assert s.control.intensity == Intensity()


@pytest.mark.system
def test_keys_in_a_terminal_change_the_intensity(isolated_home):
    """In a real pseudo-terminal, `legflow run` shows the keys; `+` raises the level and `b`
    boosts the calf; both land in the session's events and in the pressures it reached."""
    terminal = Terminal("run", "recovery", "--fast")
    seen = terminal.read_until("b boost calf")
    terminal.type("+b")
    seen += terminal.read_until("completed after")
    seen += terminal.read_until("(a model's prediction)")  # the cost line comes after the outcome
    assert terminal.wait() == 0
    history = History(isolated_home / "history.sqlite", readonly=True)
    try:
        (row,) = history.sessions()
        changes = [e["detail"] for e in history.events(row.id) if e["kind"] == "intensity"]
        assert changes[-1] == "level +1 (110% of the program's pressures); calf boosted +10 mmHg", changes
        assert row.summary is not None
        # recovery squeezes the calf at 75 mmHg at most: boosted, it went past that
        assert row.summary["cells"]["left.calf"]["true_max_pressure_mmHg"] > 80.0
    finally:
        history.close()
    assert "keys: + - level" in seen  # the keys are on screen
    said = " ".join(seen.split())
    assert "at the intensity you ended at, the twin gives" in said and "the program as written" in said


def test_the_live_display_shows_what_the_intensity_costs_the_leg(tmp_path):
    """Worked out in a thread once the user changes the intensity; the same numbers as the
    summary's block (`intensity_cost` both ways)."""
    from legflow.cli.sessions import IntensityCost

    s, _ = session(tmp_path / "history.db")
    cost = IntensityCost(s)
    state = s._live(s.supervisor.read(), s.vented, s.program.phases[0], 0.0, False)
    assert cost.line(state) is None  # nothing asked: nothing to compare
    s.control.set_level(-2)
    state = s._live(s.supervisor.read(), s.vented, s.program.phases[0], 0.0, False)
    deadline = time.monotonic() + 30
    while cost.line(state) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    line = cost.line(state)
    run = s.cost(dict.fromkeys(["foot", "ankle", "calf", "knee", "thigh"], 0.8))
    assert line is not None and line.startswith("at this intensity the twin gives")
    assert f"clears {run['fluid_cleared_mL']:.0f} mL of fluid" in line


@pytest.mark.slow
def test_once_the_program_has_ended_the_intensity_stays_as_it_ended(tmp_path):
    """During the final vent a change would be recorded nowhere, yet learned as the user's comfort:
    it is refused (the dashboard's 400), and a key does nothing."""
    s, _ = session(tmp_path / "history.db")
    s.control.set_level(-1)
    s.run()
    with pytest.raises(UsageError, match="the session has ended"):
        s.control.set_level(-2)
    keys = object.__new__(IntensityKeys)  # its keys without the terminal it would read them from
    keys.control, keys.zones, keys.zone = s.control, ["foot", "calf"], "calf"
    keys.press("-")
    assert s.control.intensity == Intensity(level=-1)

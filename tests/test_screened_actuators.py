"""Screening reaches the actuators, not only the program check: the supervisor itself stops deep
rollers and rollers on a blocked sole zone whatever a program or a caller asks, the heater's
auto-off counts wall time from its first switch-on, and the rollers' zones and depth travel from
the program phase through the engine to the simulator and over the wire."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from fakes import ScriptedMassager
from legflow.clock import VirtualClock
from legflow.device.massager import ROLLER_ZONES, Commands
from legflow.device.profile import load_profile
from legflow.device.sim import SimulatedMassager
from legflow.device.wire.emulator import Emulator
from legflow.device.wire.serial_massager import SerialMassager
from legflow.engine.session import Session
from legflow.programs.model import Program
from legflow.safety.limits import DEFAULT_LIMITS, Limits
from legflow.safety.supervisor import Supervisor
from legflow.screening import Answers, decide, load_answers_file
from legflow.store import History

HERE = Path(__file__).parent
TICK = 0.02
ANTICOAGULANTS = decide(load_answers_file(HERE / "answers" / "anticoagulants.toml"))[0]


def pregnancy() -> Limits:
    answers = load_answers_file(HERE / "answers" / "none.toml").model_dump()
    return decide(Answers(**{**answers, "pregnancy": True}))[0]


def rig(limits: Limits, profile: str = "reference", selects_zones: bool = True):
    clock = VirtualClock()
    fake = ScriptedMassager(load_profile(profile), clock)
    fake.selects_roller_zones = selects_zones
    return clock, fake, Supervisor(fake, limits, clock)


def rollers(sup: Supervisor, *zones: str, deep: bool = False, speed: float = 0.6) -> Commands:
    """Every cell vented, the rollers of both legs on ``zones`` (none: the whole roller bed)."""
    c = Commands.idle(sup.n_legs, sup.n_cells)
    c.roller_speed[:] = speed
    c.roller_zones[:] = [z in zones for z in ROLLER_ZONES]
    c.roller_deep[:] = deep
    return c


def sent_zones(fake: ScriptedMassager, leg: int = 0) -> list[str]:
    return [z for z, on in zip(ROLLER_ZONES, fake.applied[-1].roller_zones[leg], strict=True) if on]


# --- the supervisor's clamp, asked directly --------------------------------------------------------
def test_deep_rollers_stop_where_screening_refuses_deep_pressure():
    _, fake, sup = rig(ANTICOAGULANTS)
    sup.apply(rollers(sup, "sole.arch", deep=True))
    sent = fake.applied[-1]
    assert not sent.roller_speed.any() and not sent.roller_zones.any() and not sent.roller_deep.any()
    sup.apply(rollers(sup, "sole.arch"))  # gentle is allowed, on the zones asked only
    assert list(fake.applied[-1].roller_speed) == [0.6, 0.6] and sent_zones(fake) == ["sole.arch"]
    _, fake, sup = rig(DEFAULT_LIMITS)  # without screening, deep passes
    sup.apply(rollers(sup, "sole.arch", deep=True))
    assert fake.applied[-1].roller_deep.all() and fake.applied[-1].roller_speed.all()
    assert sup.take_overrides() == []


def test_each_refusal_is_noted_once_as_it_starts_with_its_reason():
    _, _, sup = rig(ANTICOAGULANTS)
    why = ANTICOAGULANTS.reason("deep_rollers_allowed")
    sup.apply(rollers(sup, "sole.arch", deep=True))
    assert sup.take_overrides() == [
        f"rollers on the {leg} leg refused: deep pressure is refused ({why})" for leg in ("left", "right")
    ]
    sup.apply(rollers(sup, "sole.arch", deep=True))  # still refused: nothing new
    assert sup.take_overrides() == []
    sup.apply(rollers(sup, "sole.arch"))  # allowed again ...
    sup.apply(rollers(sup, "sole.arch", deep=True))  # ... then refused anew
    assert len(sup.take_overrides()) == 2
    _, _, sup = rig(pregnancy())
    sup.apply(rollers(sup, "sole.heel"))
    assert "which is blocked (" in sup.take_overrides()[0]


def test_rollers_stop_on_a_sole_zone_screening_blocks():
    limits = pregnancy()
    assert "sole.heel" in limits.blocked_zones
    _, fake, sup = rig(limits)
    sup.apply(rollers(sup, "sole.arch", "sole.heel"))  # the heel among others: the leg's rollers stop
    assert not fake.applied[-1].roller_speed.any() and not fake.applied[-1].roller_zones.any()
    sup.apply(rollers(sup))  # no zone named: the whole bed, heel included
    assert not fake.applied[-1].roller_speed.any()
    sup.apply(rollers(sup, "sole.arch", "sole.toes"))
    assert fake.applied[-1].roller_speed.all() and sent_zones(fake, 1) == ["sole.toes", "sole.arch"]
    mixed = rollers(sup, "sole.arch")
    mixed.roller_zones[1] = [z == "sole.heel" for z in ROLLER_ZONES]  # right leg on the heel
    sup.apply(mixed)
    assert list(fake.applied[-1].roller_speed) == [0.6, 0.0]


def test_a_blocked_foot_stops_every_sole_zone():
    _, fake, sup = rig(DEFAULT_LIMITS.tighten("test", blocked_zones=["foot"]))
    sup.apply(rollers(sup, "sole.toes"))
    assert not fake.applied[-1].roller_speed.any()


def test_a_device_that_cannot_choose_its_zones_is_judged_on_its_whole_reach():
    _, fake, sup = rig(pregnancy(), "home-foot-calf", selects_zones=False)
    sup.apply(rollers(sup, "sole.arch"))  # its roller bed works the heel too
    assert not fake.applied[-1].roller_speed.any()
    _, fake, sup = rig(DEFAULT_LIMITS, "home-foot-calf", selects_zones=False)
    sup.apply(rollers(sup, "sole.arch"))
    assert fake.applied[-1].roller_speed.all()
    assert sent_zones(fake) == ["sole.toes", "sole.ball", "sole.arch", "sole.heel"]  # what it works


# --- heater auto-off by wall time ------------------------------------------------------------------
def _heat_in_pulses(clock, fake, sup, seconds: float, every: int = 10) -> list[float]:
    """A heater switched on one tick in ``every`` (a low mean duty): what reached the heater
    on each "on" tick."""
    powers = []
    for k in range(round(seconds / TICK)):
        clock.advance(TICK)
        sup.read()
        c = Commands.idle(sup.n_legs, sup.n_cells)
        c.heater_power[:] = 0.5 if k % every == 0 else 0.0
        sup.apply(c)
        if k % every == 0:
            powers.append(float(fake.applied[-1].heater_power[0]))
    return powers


def test_heater_auto_off_counts_wall_time_from_its_first_switch_on_not_its_on_time():
    clock, fake, sup = rig(DEFAULT_LIMITS.tighten("test", heat_on_min=2.0))
    fake.skin[:] = 36.0
    before = _heat_in_pulses(clock, fake, sup, 119.0)  # on 10 % of the time: 12 s of "on" time
    assert all(p == 0.5 for p in before) and not sup.latched
    assert sup.take_overrides() == []
    _heat_in_pulses(clock, fake, sup, 1.5)  # two minutes after the first switch-on
    after = _heat_in_pulses(clock, fake, sup, 30.0)
    assert all(p == 0.0 for p in after) and not sup.latched
    assert sup.take_overrides() == [
        f"heat on the {leg} leg refused: the heater's auto-off after 2 min (test)"
        for leg in ("left", "right")
    ]


def test_a_heater_switched_off_early_cannot_start_again_after_the_auto_off():
    clock, fake, sup = rig(DEFAULT_LIMITS.tighten("test", heat_on_min=2.0))
    fake.skin[:] = 36.0
    _heat_in_pulses(clock, fake, sup, 10.0, every=1)
    for _ in range(round(115.0 / TICK)):  # off for almost two minutes
        clock.advance(TICK)
        sup.read()
        sup.apply(Commands.idle(sup.n_legs, sup.n_cells))
    assert _heat_in_pulses(clock, fake, sup, 2.0, every=1)[:5] == [0.0] * 5
    sup.emergency_stop()
    sup.reset()  # a user's reset does not restart the heat clock
    sup.read()
    assert _heat_in_pulses(clock, fake, sup, 1.0, every=1)[-1] == 0.0


# --- through the engine and the simulator ----------------------------------------------------------
def _roller_program(zones: list[str], depth: str) -> Program:
    return Program.model_validate({
        "program": {"name": "rollers", "goal": "reflexology"},
        "phase": [{"name": "soles", "duration_min": 0.1,
                   "rollers": {"zones": zones, "speed": "medium", "depth": depth}}],
    })  # fmt: skip


def _rollers_worked(program: Program, limits: Limits) -> tuple[np.ndarray, np.ndarray, float]:
    """(zones, deep) the simulated rollers work mid-session, and the roller current: the program
    goes straight to a session, past the program check, as a bug or a stale check would."""
    clock = VirtualClock()
    sim = SimulatedMassager(load_profile("reference"), clock)
    session = Session(program, "test", Supervisor(sim, limits, clock), clock)
    seen = {}

    def look(state) -> None:
        if state.t_s >= 3.0 and not seen:
            seen["work"] = sim.true_roller_work
            seen["current"] = float(sim.read().roller_current_A.max())

    assert session.run(on_update=look, update_every_s=0.5)["status"] == "completed"
    zones, deep = seen["work"]
    return zones, deep, seen["current"]


def test_the_engine_passes_the_phase_zones_and_depth_and_the_supervisor_stops_deep_ones():
    zones, deep, current = _rollers_worked(
        _roller_program(["sole.arch", "sole.heel"], "deep"), DEFAULT_LIMITS
    )
    assert [ROLLER_ZONES[i] for i in np.flatnonzero(zones[0])] == ["sole.arch", "sole.heel"]
    assert deep.all() and current > 0.05
    zones, deep, current = _rollers_worked(_roller_program(["sole.arch"], "deep"), ANTICOAGULANTS)
    assert not zones.any() and not deep.any() and current < 0.01


def test_the_session_history_keeps_what_the_supervisor_refused(tmp_path):
    clock = VirtualClock()
    sim = SimulatedMassager(load_profile("reference"), clock)
    history = History(tmp_path / "history.db")
    program = _roller_program(["sole.arch"], "deep")
    summary = Session(program, "test", Supervisor(sim, ANTICOAGULANTS, clock), clock, history=history).run()
    refused = [e["detail"] for e in history.events(summary["id"]) if e["kind"] == "override"]
    assert len(refused) == 2 and all("deep pressure is refused" in line for line in refused)


def test_a_program_rolling_the_heel_in_pregnancy_gets_no_rollers():
    zones, _, current = _rollers_worked(_roller_program(["sole.arch", "sole.heel"], "gentle"), pregnancy())
    assert not zones.any() and current < 0.01
    zones, _, _ = _rollers_worked(_roller_program(["sole.arch"], "gentle"), pregnancy())
    assert [ROLLER_ZONES[i] for i in np.flatnonzero(zones[1])] == ["sole.arch"]


# --- over the wire ---------------------------------------------------------------------------------
@pytest.fixture
def emulator():
    em = Emulator(load_profile())
    em.start()
    yield em
    em.stop()


def test_roller_zones_and_depth_travel_over_the_wire(emulator):
    massager = SerialMassager(emulator.port)
    try:
        assert massager.capabilities.roller_zones and massager.selects_roller_zones
        c = Commands.idle(massager.n_legs, massager.n_cells)
        c.roller_speed[0] = 0.6
        c.roller_zones[0] = [z in ("sole.ball", "sole.arch") for z in ROLLER_ZONES]
        c.roller_deep[0] = True
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            c.heartbeat += 1
            massager.apply(c)
            with emulator.lock:
                zones, deep = emulator.sim.true_roller_work if emulator.sim is not None else (None, None)
            if zones is not None and zones.any():
                break
            time.sleep(0.02)
        assert [ROLLER_ZONES[i] for i in np.flatnonzero(zones[0])] == ["sole.ball", "sole.arch"]
        assert list(deep) == [True, False] and not zones[1].any()
    finally:
        massager.close()

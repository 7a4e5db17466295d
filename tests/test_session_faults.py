"""Every fault kind on every device profile: detected, safe state reached, pressure bounded.

Each case runs a real session (simulated massager, supervisor, engine) on a virtual clock, with
the fault injected as a physical change at 60 s, and watches the *true* cell pressures.
"""

from __future__ import annotations

import pytest

from legflow.clock import VirtualClock
from legflow.device.faults import FAULT_KINDS, FaultSpec
from legflow.device.massager import HEARTBEAT_TIMEOUT_s
from legflow.device.profile import load_profile, profile_names
from legflow.device.sim import SimulatedMassager
from legflow.engine.session import Session, leg_twin
from legflow.engine.testprogram import exercise_program
from legflow.safety.limits import DEFAULT_LIMITS
from legflow.safety.supervisor import Supervisor

CASES = [
    (profile, kind)
    for profile in profile_names()
    for kind in FAULT_KINDS
    if kind != "heater_runaway" or load_profile(profile).heater_max_C is not None
]


def run_with_fault(profile_name: str, kind: str, minutes: float = 4.0):
    profile = load_profile(profile_name)
    clock = VirtualClock()
    spec = FaultSpec(kind, 60.0)
    twin = leg_twin(profile)  # the leg inside the cells: it empties under them, as a real one does
    sim = SimulatedMassager(profile, clock, faults=[spec], limb=twin)
    sup = Supervisor(sim, DEFAULT_LIMITS, clock)
    peak = {"pressure": 0.0, "skin_C": 0.0}
    read = sup.read

    def watched_read():
        sensors = read()
        peak["pressure"] = max(peak["pressure"], float(sim.true_pressure_mmHg.max()))
        peak["skin_C"] = max(peak["skin_C"], float(sim.true_skin_temp_C.max()))
        return sensors

    sup.read = watched_read
    program = exercise_program(profile, minutes)
    summary = Session(program, "exercise", sup, clock, injected=[spec], twin=twin).run()
    clock.advance(1.0)  # time goes on after the session ends; the device keeps its own watch
    sim.read()
    return summary, sim, sup, peak


@pytest.mark.parametrize("profile, kind", CASES, ids=[f"{p}-{k}" for p, k in CASES])
def test_fault_is_detected_and_made_safe(profile, kind):
    minutes = 12.0 if kind == "heater_runaway" else 4.0  # a pad needs minutes to pass its target
    summary, sim, sup, peak = run_with_fault(profile, kind, minutes)
    assert summary["status"] == "fault", summary
    fault = summary["faults"][0]
    assert fault["kind"] == kind and fault["at_s"] == 60.0
    assert fault["detected_s"] >= 60.0 and fault["safe_at_s"] >= fault["detected_s"]
    if kind == "heater_runaway":
        # a shorted heater switch looks like normal heating until the pad passes its target;
        # it must be caught before the skin reaches the limit
        assert peak["skin_C"] <= DEFAULT_LIMITS.heat_C
    else:
        assert fault["safe_at_s"] - fault["at_s"] < 120.0
    limit = max(sup.cell_limit_mmHg)
    assert peak["pressure"] <= limit + 25.0
    if kind == "link_loss":
        # the host cannot reach the device: its own failsafe vents 0.5 s after the last command
        assert sim.failsafe_at_s is not None
        assert sim.failsafe_at_s - sim.created_at_s <= fault["detected_s"] + HEARTBEAT_TIMEOUT_s
    else:
        assert sim.relay_open
        assert sim.true_pressure_mmHg.max() < 120.0

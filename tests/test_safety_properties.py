"""Property: random valid programs × random faults at random times, on every profile, never break
a pressure, heat or time limit. The true physical state of the simulated massager is checked at
every tick, not what its sensors say.

CI runs 1,000 examples; a soak runs as many as asked: ``LEGFLOW_SOAK=20000 pytest
tests/test_safety_properties.py``.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from legflow.anatomy import COMPRESSION_ZONES
from legflow.clock import VirtualClock
from legflow.device.faults import FAULT_KINDS, FaultSpec
from legflow.device.massager import HEARTBEAT_TIMEOUT_s
from legflow.device.profile import load_profile, profile_names
from legflow.device.sim import SimulatedMassager
from legflow.engine.session import Session
from legflow.safety.limits import DEFAULT_LIMITS
from legflow.safety.supervisor import Supervisor
from strategies import device_checked

EXAMPLES = int(os.environ.get("LEGFLOW_SOAK", "1000"))
OVER_LIMIT_MAX_mmHg = 25.0


@st.composite
def device_program(draw):
    """A profile and a short program that passes the device check for it."""
    profile = load_profile(draw(st.sampled_from(profile_names())))
    zones = [z for z in COMPRESSION_ZONES if z in profile.zones]
    phases = []
    for _ in range(draw(st.integers(1, 3))):
        chosen = sorted(draw(st.sets(st.sampled_from(zones), min_size=1)), key=COMPRESSION_ZONES.index)
        limit = {z: min(c.max_pressure_mmHg for c in profile.cells_in_zone(z)) for z in chosen}
        limit = {z: min(p, DEFAULT_LIMITS.pressure_limit_mmHg(z)[0]) for z, p in limit.items()}
        phase = {
            "name": "p",
            "duration_min": draw(st.floats(0.1, 0.6)),
            "compression": {
                "pattern": draw(st.sampled_from(["sequential", "wave", "pulse", "hold"])),
                "zones": chosen,
                "pressure_mmHg": [round(draw(st.floats(5, limit[z])), 1) for z in chosen],
                "inflate_s": draw(st.floats(0.5, 6)),
                "delay_s": draw(st.floats(0, 2)),
                "hold_s": draw(st.floats(0, 20)),
                "release_s": draw(st.floats(0.5, 5)),
                "rest_s": draw(st.floats(0, 20)),
            },
        }
        if profile.heater_max_C is not None and draw(st.booleans()):
            phase["heat"] = {"target_C": round(draw(st.floats(30, 42)), 1)}
        if profile.vibration_max_level and draw(st.booleans()):
            phase["vibration"] = {"level": draw(st.integers(0, profile.vibration_max_level))}
        if profile.rollers is not None and draw(st.booleans()):
            phase["rollers"] = {"zones": list(profile.rollers.zones)[:2], "speed": "fast"}
        phases.append(phase)
    legs = draw(st.sampled_from(["both", "left", "right", "alternate"]))
    return profile, device_checked(profile, phases, legs)


@pytest.mark.slow
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    case=device_program(),
    kind=st.sampled_from((None, *FAULT_KINDS)),
    at_fraction=st.floats(0, 1),
    seed=st.integers(0, 2**16),
)
def test_no_program_and_no_fault_breaks_a_limit(case, kind, at_fraction, seed):
    profile, program = case
    clock = VirtualClock()
    faults = [] if kind is None else [FaultSpec(kind, round(at_fraction * program.duration_s, 2))]
    sim = SimulatedMassager(profile, clock, faults=faults, seed=seed)
    sup = Supervisor(sim, DEFAULT_LIMITS, clock)
    limit = sup.cell_limit_mmHg + OVER_LIMIT_MAX_mmHg
    worst = {"over_mmHg": -np.inf, "skin_C": -np.inf}
    read = sup.read

    def watched_read():
        sensors = read()
        worst["over_mmHg"] = max(worst["over_mmHg"], float(np.max(sim.true_pressure_mmHg - limit)))
        worst["skin_C"] = max(worst["skin_C"], float(np.max(sim.true_skin_temp_C)))
        return sensors

    sup.read = watched_read
    summary = Session(program, "random", sup, clock, injected=faults).run()
    assert worst["over_mmHg"] <= 0.0, summary
    assert worst["skin_C"] <= DEFAULT_LIMITS.heat_C
    assert summary["duration_s"] <= min(program.duration_s, DEFAULT_LIMITS.session_min * 60) + 0.05
    if summary["status"] == "fault":
        clock.advance(HEARTBEAT_TIMEOUT_s + 0.1)  # the device keeps its own watch after the host gives up
        sim.read()
        assert float(sim.true_pump_flow_L_per_min.max()) == 0.0 and float(sim.heater_power_W.max()) == 0.0

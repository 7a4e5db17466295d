"""How closely the controller tracks its setpoints, measured on the simulated massager's *true*
cell pressures, with the leg twin inside the cells: the error at the end of each inflate ramp and
the overshoot while it is held (`tests/test_session.py`, `python -m benchmarks.controller`)."""

from __future__ import annotations

import numpy as np

from legflow.apps.limb import leg_twin
from legflow.clock import VirtualClock
from legflow.device.profile import load_profile
from legflow.device.sim import SimulatedMassager
from legflow.engine.session import Session
from legflow.programs.model import Program
from legflow.safety.limits import DEFAULT_LIMITS
from legflow.safety.supervisor import Supervisor


def tracking(program: Program, profile_name: str, seed: int = 0) -> tuple[str, np.ndarray, np.ndarray]:
    """Run one session (``seed``: the simulator's sensor noise); return its status, the end-of-ramp
    errors and the overshoots."""
    clock = VirtualClock()
    profile = load_profile(profile_name)
    twin = leg_twin(profile)  # a leg that empties under the cells, as in `legflow run`
    sim = SimulatedMassager(profile, clock, limb=twin, seed=seed)
    sup = Supervisor(sim, DEFAULT_LIMITS, clock)
    # programmed rests, so the setpoints are the timeline's table
    session = Session(program, "tracking", sup, clock, twin=twin, adaptive_rest=False)
    truth: list[np.ndarray] = []
    read = sup.read

    def watched():
        sensors = read()
        truth.append(sim.true_pressure_mmHg.copy())
        return sensors

    sup.read = watched
    status = session.run()["status"]
    true = np.array(truth[1:])
    table = session.table[: len(true)]
    errors, overshoot = [], []
    for c in range(true.shape[1]):
        sp = table[:, c]
        rising = np.diff(sp) > 0
        for end in np.nonzero(rising[:-1] & ~rising[1:] & (sp[1:-1] > 5))[0] + 1:
            last = end
            while last < len(sp) - 1 and sp[last + 1] == sp[end]:
                last += 1
            errors.append(true[end, c] - sp[end])
            overshoot.append(true[end : last + 1, c].max() - sp[end])
    return status, np.array(errors), np.array(overshoot)

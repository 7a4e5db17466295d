"""The simulated massager: physics behind the `Massager` interface (pump, valves, cells, sensors,
heater, motors, relay and heartbeat failsafe), with faults as changes to that physics.

The kernel is compiled by numba and cached on disk; `warm_up()` compiles (or loads) it ahead of the
first session so that a session never starts with a compile stall.
"""

from __future__ import annotations

from legflow.device.sim.parameters import SimParameters
from legflow.device.sim.simulator import SimulatedMassager

__all__ = ["SimParameters", "SimulatedMassager", "warm_up"]


def warm_up() -> None:
    """Compile or load the numba kernels by running a tiny simulation on a virtual clock."""
    import numpy as np

    from legflow.clock import VirtualClock
    from legflow.device.massager import Commands
    from legflow.device.profile import load_profile

    clock = VirtualClock()
    sim = SimulatedMassager(load_profile(), clock)
    cmd = Commands.idle(sim.n_legs, sim.n_cells)
    cmd.pump_duty[:] = True
    cmd.vibration_level = np.ones(sim.n_legs, np.int64)
    sim.apply(cmd)
    clock.advance(0.02)
    sim.read()
    sim.set_limb_volume_change_mL(np.zeros(sim.n_cells))
    sim.safe_state()

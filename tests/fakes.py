"""A scripted massager for supervisor tests: the test sets what the sensors say."""

from __future__ import annotations

import numpy as np

from legflow.clock import VirtualClock
from legflow.device.massager import Commands, Massager, Sensors
from legflow.device.profile import DeviceProfile


class ScriptedMassager(Massager):
    """Sensors are whatever the test writes into `pressure`, `skin`, ...; `applied` keeps every
    command the supervisor let through; `relay_open` is its safe state."""

    def __init__(self, profile: DeviceProfile, clock: VirtualClock):
        self.profile = profile
        self.clock = clock
        self.pressure = np.zeros(self.n_cells)
        self.manifold = np.zeros(self.n_legs)
        self.skin = np.full(self.n_legs, 32.0)
        self.seq = 0
        self.link_up = True
        self.relay_open = False
        self.applied: list[Commands] = []
        self.safe_calls = 0

    def read(self) -> Sensors:
        if self.link_up:
            self.seq += 1
        return Sensors(
            t_s=self.clock.now(), seq=self.seq, pressure_mmHg=self.pressure.copy(),
            manifold_mmHg=self.manifold.copy(), skin_temp_C=self.skin.copy(),
            pump_current_A=np.zeros(self.n_legs), roller_current_A=np.zeros(self.n_legs),
            vibration_current_A=np.zeros(self.n_legs), relay_open=self.relay_open,
        )  # fmt: skip

    def apply(self, commands: Commands) -> None:
        self.applied.append(commands.copy())

    def safe_state(self) -> None:
        self.relay_open = True
        self.safe_calls += 1

    def reset(self) -> None:
        self.relay_open = False

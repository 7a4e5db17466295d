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
        self.safe_faults: list[tuple[bool, int | None]] = []  # (fault, cell) of each safe_state
        #: A real sensor's noise: readings alternate by this much, so a live sensor never repeats
        #: one value for long (0: a frozen element).
        self.dither_mmHg = 0.05
        self.pump_ok = True  # a working pump draws current while it is commanded to run

    def read(self) -> Sensors:
        if self.link_up:
            self.seq += 1
        duty = self.applied[-1].pump_duty if self.applied else np.zeros(self.n_legs)
        running = (duty > 0) & self.pump_ok & (not self.relay_open)
        dither = self.dither_mmHg * (1 if self.seq % 2 else -1)
        return Sensors(
            t_s=self.clock.now(), seq=self.seq, pressure_mmHg=self.pressure + dither,
            manifold_mmHg=self.manifold.copy(), skin_temp_C=self.skin.copy(),
            pump_current_A=np.where(running, 0.5, 0.0), roller_current_A=np.zeros(self.n_legs),
            vibration_current_A=np.zeros(self.n_legs), relay_open=self.relay_open,
        )  # fmt: skip

    def apply(self, commands: Commands) -> None:
        self.applied.append(commands.copy())

    def safe_state(self, fault: bool = False, cell: int | None = None) -> None:
        self.relay_open = True
        self.safe_calls += 1
        self.safe_faults.append((fault, cell))

    def reset(self) -> None:
        self.relay_open = False

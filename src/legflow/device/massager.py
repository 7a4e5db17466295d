"""The `Massager` interface: the seam between the engine and any massager (simulated, serial,
test double), like a CAN library's bus.

Arrays in `Commands` and `Sensors` run over the device's legs (``profile.legs``) or its cells
(``profile.cell_names()``: every cell of the first leg, then every cell of the next). The rollers'
zone mask runs over the sole zones in the fixed order of `legflow.anatomy.SOLE_ZONES` (`ROLLER_ZONES`).

Hardware is designed fail-safe: inlet valves are normally closed, exhaust valves normally open,
and a master relay powers the pump, valves, heater and motors. `safe_state()` opens that relay,
so the safe state holds even if a driver is stuck (a shorted heater switch, a welded valve driver).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

from legflow.anatomy import SOLE_ZONES
from legflow.device.profile import DeviceProfile

#: A device that hears no command (each carries the heartbeat) for this long vents and stops.
HEARTBEAT_TIMEOUT_s = 0.5
#: The sole zones of a roller zone mask, in mask order (toes, ball, arch, heel, inner and outer edge).
ROLLER_ZONES: tuple[str, ...] = SOLE_ZONES


@dataclass
class Commands:
    """What the engine asks of the actuators for one tick."""

    pump_duty: np.ndarray  # 0..1 per leg: pulse-width duty of the pump motor (one pump and manifold per leg)
    inlet_open: np.ndarray  # bool per cell: manifold → cell
    exhaust_open: np.ndarray  # bool per cell: cell → air
    heater_power: np.ndarray  # 0..1 per leg (pulse-width duty of the heater pad)
    roller_speed: np.ndarray  # 0..1 per leg (0 = off)
    vibration_level: np.ndarray  # 0..5 per leg
    heartbeat: int = 0
    #: bool per leg and sole zone (`ROLLER_ZONES` order): the zones the rollers work, so the
    #: supervisor can refuse a zone screening blocks. None set while they spin: every zone they reach.
    roller_zones: np.ndarray = field(default_factory=lambda: np.zeros((0, len(ROLLER_ZONES)), bool))
    #: bool per leg: deep kneading (True) or gentle (False); screening may refuse deep.
    roller_deep: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))

    def __post_init__(self) -> None:
        # callers that name no zones or depth get none named (rollers gentle, on their whole reach)
        n_legs = len(self.pump_duty)
        if len(self.roller_zones) == 0:
            self.roller_zones = np.zeros((n_legs, len(ROLLER_ZONES)), bool)
        if len(self.roller_deep) == 0:
            self.roller_deep = np.zeros(n_legs, bool)

    @classmethod
    def idle(cls, n_legs: int, n_cells: int) -> Commands:
        """Everything off, every cell vented: what the safe state looks like as commands."""
        return cls(
            pump_duty=np.zeros(n_legs),
            inlet_open=np.zeros(n_cells, bool),
            exhaust_open=np.ones(n_cells, bool),
            heater_power=np.zeros(n_legs),
            roller_speed=np.zeros(n_legs),
            vibration_level=np.zeros(n_legs, np.int64),
        )

    def is_idle(self) -> bool:
        """Everything off and every cell venting, as `idle` makes it (the heartbeat aside)."""
        return not (
            self.pump_duty.any()
            or self.inlet_open.any()
            or self.heater_power.any()
            or self.roller_speed.any()
            or self.vibration_level.any()
        ) and bool(self.exhaust_open.all())

    def copy(self) -> Commands:
        return Commands(
            self.pump_duty.copy(),
            self.inlet_open.copy(),
            self.exhaust_open.copy(),
            self.heater_power.copy(),
            self.roller_speed.copy(),
            self.vibration_level.copy(),
            self.heartbeat,
            self.roller_zones.copy(),
            self.roller_deep.copy(),
        )


@dataclass
class Sensors:
    """One sample of every sensor, as the device reports it (noise, lag, offset and all)."""

    t_s: float  # device time of the sample
    seq: int  # sample counter: it stops advancing when the link is lost
    pressure_mmHg: np.ndarray  # per cell, gauge pressure
    manifold_mmHg: np.ndarray  # per leg, gauge pressure in the manifold after the pump
    skin_temp_C: np.ndarray  # per leg, at the heater pad against the skin
    pump_current_A: np.ndarray  # per leg
    roller_current_A: np.ndarray  # per leg
    vibration_current_A: np.ndarray  # per leg
    relay_open: bool = False  # the device reports its master relay open (its own safe state)
    #: Why the device opened its relay by itself (its watchdog, pressure switch, over-temperature),
    #: in words; None while it has not, or when the host asked for the safe state.
    device_fault: str | None = None
    #: Per leg, the heater's current (its duty's average); None where the device does not report
    #: it. Current with the heater commanded off is a shorted switch: the runaway is seen at once.
    heater_current_A: np.ndarray | None = None
    extra: dict[str, float] = field(default_factory=dict)


class Massager(ABC):
    """One massager. Use it as a context manager: leaving the block puts it in the safe state."""

    profile: DeviceProfile
    #: Whether the rollers work only the zones a command names; one that cannot choose works every
    #: zone it reaches whenever it spins (the supervisor then judges that whole reach).
    selects_roller_zones: bool = True

    @property
    def n_legs(self) -> int:
        return len(self.profile.legs)

    @property
    def n_cells(self) -> int:
        return len(self.profile.cells) * self.n_legs

    @abstractmethod
    def read(self) -> Sensors:
        """The latest sample of every sensor."""

    @abstractmethod
    def apply(self, commands: Commands) -> None:
        """Send the actuator commands (this is also the heartbeat)."""

    @abstractmethod
    def safe_state(self, fault: bool = False, cell: int | None = None) -> None:
        """Open the master relay: pump off, exhausts open, heater and motors off. ``fault``: the
        host's supervisor found a fault (at ``cell``, an index, where it names one): a device that
        can keeps itself latched until a user's reset, as after a fault of its own."""

    @abstractmethod
    def reset(self) -> None:
        """Close the master relay again: only a user's reset leaves the safe state."""

    def start_program(self) -> None:
        """The program starts now. A simulation counts the faults it injects from here (a prompt
        before the start moves none of them); a real device has nothing to do."""
        return None

    def true_maxima(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(highest true pressure per cell in mmHg, highest true skin temperature per leg in °C)
        since the massager was made: known only to a simulation (None on hardware), so anyone can
        check the safety claims against the physics rather than against the sensors."""
        return None

    def close(self) -> None:
        """Release the connection; the default puts the device in the safe state."""
        self.safe_state()

    def __enter__(self) -> Massager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

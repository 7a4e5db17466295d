"""Per-cell pressure control for on/off valves (bang-bang with hysteresis and look-ahead).

Budget massagers have one pump and solenoid valves, not proportional valves, so the controller
decides each tick, per cell, between filling (inlet open, pump on), venting (exhaust open) and
holding (both closed). It stops filling when the *predicted* pressure (reading + rate × look-ahead,
the look-ahead covering sensor lag and valve switching) reaches the setpoint, which keeps the
overshoot small, and only acts again when the reading leaves a band around the setpoint.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from legflow.device.massager import Commands

#: Tolerance band around the setpoint before a holding cell acts again.
HOLD_BAND_mmHg = 1.5
#: Below this setpoint a cell is vented rather than held.
VENT_BELOW_mmHg = 1.0


@dataclass(frozen=True)
class ControllerSettings:
    lookahead_s: float = 0.05  # sensor lag (~20 ms) + valve switching (~15 ms) + half a tick
    rate_smoothing: float = 0.6  # weight of the previous rate estimate (derivative filter)
    band_mmHg: float = HOLD_BAND_mmHg


@njit(cache=True)
def _decide(setpoint, reading, previous, rate, inlet, exhaust, dt, lookahead, smoothing, band):
    """Update ``inlet``/``exhaust`` in place for one tick."""
    for c in range(setpoint.shape[0]):
        sp, p = setpoint[c], reading[c]
        if dt > 0.0 and np.isfinite(previous[c]):
            rate[c] = smoothing * rate[c] + (1.0 - smoothing) * (p - previous[c]) / dt
        previous[c] = p
        predicted = p + rate[c] * lookahead
        if sp < VENT_BELOW_mmHg:
            inlet[c], exhaust[c] = False, True
        elif inlet[c]:
            if predicted >= sp:
                inlet[c] = False
        elif exhaust[c]:
            if predicted <= sp:
                exhaust[c] = False
        elif p < sp - band:
            inlet[c] = True
        elif p > sp + band:
            exhaust[c] = True


class PressureController:
    """Turns per-cell setpoints and sensed pressures into pump and valve commands."""

    def __init__(
        self, n_cells: int, cell_leg: np.ndarray, n_legs: int, settings: ControllerSettings | None = None
    ):
        self.settings = settings or ControllerSettings()
        self.cell_leg = cell_leg
        self.n_legs = n_legs
        self.previous = np.full(n_cells, np.nan)
        self.rate = np.zeros(n_cells)
        self.inlet = np.zeros(n_cells, bool)
        self.exhaust = np.ones(n_cells, bool)

    def update(self, setpoint_mmHg: np.ndarray, reading_mmHg: np.ndarray, dt_s: float, out: Commands) -> None:
        """Write the valve and pump commands for this tick into ``out``."""
        s = self.settings
        _decide(setpoint_mmHg, reading_mmHg, self.previous, self.rate, self.inlet, self.exhaust,
                dt_s, s.lookahead_s, s.rate_smoothing, s.band_mmHg)  # fmt: skip
        out.inlet_open[:] = self.inlet
        out.exhaust_open[:] = self.exhaust
        out.pump_on[:] = np.bincount(self.cell_leg, weights=self.inlet, minlength=self.n_legs) > 0

    def vent_all(self) -> None:
        """Forget the filling state, so the next update starts from vented cells (after a pause)."""
        self.inlet[:] = False
        self.exhaust[:] = True


@dataclass
class HeaterController:
    """On/off heater control with a small hysteresis (pads are slow; PWM full or nothing)."""

    hysteresis_C: float = 0.3

    def power(self, target_C: float | None, skin_C: np.ndarray, current: np.ndarray) -> np.ndarray:
        if target_C is None:
            return np.zeros_like(skin_C)
        on = np.where(skin_C < target_C - self.hysteresis_C, 1.0, current)
        return np.where(skin_C >= target_C, 0.0, on)

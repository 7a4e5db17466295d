"""Refill read from a sealed cell's pressure: air plethysmography with the massager's own cells.

After a squeeze, hospital pumps with vascular refill detection leave one chamber at a low pressure
with both valves closed. As the veins under it refill, the limb swells against the trapped air and
the chamber's pressure creeps up; when the creep levels off the limb has refilled (Kendall SCD
Express: "vascular refill detection"; air plethysmography in Christopoulos et al., J Vasc Surg
1987;5:148-159). On hardware this is the only refill signal there is; in simulation it reads the
same physics (the leg twin swelling against the simulated cell's gas), so the two can be compared.

The signal is small (a few mmHg over many seconds) and a leg that moves makes steps of several mmHg
in a fraction of a second. So: each 0.25 s block of ticks is reduced to its median (single-sample
spikes and sensor noise go); a step between blocks far faster than any refill is an artefact, its
size is subtracted from what follows (a leg that settled in a new position does not count as refill)
and judging pauses for a second; an exponential approach to a plateau is fitted to the blocks since
the seal, and the leg counts as refilled once τ·ln 10 has passed (90 % of the plateau, the twin's
refill rule). A rise is believed only above four times the noise of the
block medians: a garment too floppy to show the refill (or, in simulation, cells with no limb
swelling in them) never shortens a rest; the programmed rest is kept instead. With the twin inside
the simulated cells a calf cell sealed at 10 mmHg rises about 1.3 mmHg as the calf refills.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

#: Pressure the measuring cell is left at, sealed (hospital pumps use about 10 mmHg).
MEASURE_mmHg = 10.0
#: The seal closes once the cell reads within this of the measuring pressure.
SEAL_WITHIN_mmHg = 3.0
#: Ticks are reduced to one median per block.
BLOCK_s = 0.25
#: After the seal closes, the gas and the tissue under it settle before the signal means refill.
SETTLE_s = 0.75
#: A change between two blocks above this is movement, not refill (refill rises < 2 mmHg/s).
ARTEFACT_STEP_mmHg = 1.5
#: Judging pauses this long after an artefact.
ARTEFACT_HOLD_s = 1.0
#: Time constants the refill fit considers (a refill slower than 2 min is not one).
TAU_GRID_s = np.geomspace(0.5, 120.0, 48)
#: How long past the 90 % point the fitted plateau must have been watched: the larger of these.
PLATEAU_SEEN_MIN_s = 1.5
PLATEAU_SEEN_TAU = 0.2
#: The fitted rise must stand this far above the noise floor.
RISE_OVER_FLOOR = 1.5
#: Blocks needed before a fit is trusted, and consecutive fits that must agree (0.5 s).
MIN_BLOCKS = 12
CONFIRM_BLOCKS = 2
#: A rise smaller than this, or than NOISE_FACTOR × the measured noise, is not refill.
NOISE_mmHg = 0.4
NOISE_FACTOR = 4.0
#: Refilled at this share of the extrapolated plateau (the twin's refill to 90 %).
REFILLED_SHARE = 0.9
LN_10 = math.log(1.0 / (1.0 - REFILLED_SHARE))  # an exponential reaches 90 % at τ·ln 10


@dataclass
class RefillDetector:
    """Judges the refill of one leg from the ticks of its sealed cell's pressure."""

    tick_s: float
    blocks: list[float] = field(default_factory=list)
    offset_mmHg: float = 0.0
    artefacts: int = 0
    _ticks: list[float] = field(default_factory=list)
    _hold_blocks: int = 0
    _settle_blocks: int = 0
    _judged_at: int = -1
    _verdicts: int = 0

    def __post_init__(self) -> None:
        self.per_block = max(1, round(BLOCK_s / self.tick_s))
        self.reset()

    def reset(self) -> None:
        """A new measurement: the seal has just closed."""
        self.blocks.clear()
        self._ticks.clear()
        self.offset_mmHg = 0.0
        self._hold_blocks = 0
        self._settle_blocks = round(SETTLE_s / BLOCK_s)
        self._judged_at, self._verdicts = -1, 0

    def add(self, pressure_mmHg: float) -> None:
        self._ticks.append(pressure_mmHg)
        if len(self._ticks) < self.per_block:
            return
        value = float(np.median(self._ticks))
        self._ticks.clear()
        if self._settle_blocks > 0:
            self._settle_blocks -= 1
            return
        if self.blocks:
            step = value - self.offset_mmHg - self.blocks[-1]
            if abs(step) > ARTEFACT_STEP_mmHg:
                self.offset_mmHg += step
                self.artefacts += 1
                self._hold_blocks = round(ARTEFACT_HOLD_s / BLOCK_s)
        self.blocks.append(value - self.offset_mmHg)
        if self._hold_blocks > 0:
            self._hold_blocks -= 1

    @property
    def rise_mmHg(self) -> float:
        return self.blocks[-1] - self.blocks[0] if self.blocks else 0.0

    @property
    def noise_floor_mmHg(self) -> float:
        """The smallest rise believed: NOISE_FACTOR × the blocks' noise (from the spread of the
        second differences, which a smooth refill leaves near zero), at least NOISE_mmHg."""
        if len(self.blocks) < 4:
            return NOISE_mmHg
        second = np.diff(self.blocks, 2)
        sigma = 1.4826 * float(np.median(np.abs(second - np.median(second)))) / np.sqrt(6.0)
        return float(max(NOISE_mmHg, NOISE_FACTOR * sigma))

    @property
    def measurable(self) -> bool:
        """Whether the rise so far stands out of the noise."""
        return self.rise_mmHg >= self.noise_floor_mmHg

    def fit(self) -> tuple[float, float]:
        """The exponential approach p = P∞ − A·e^(−t/τ) that fits the blocks best: (τ [s], A [mmHg]).

        For each τ of a grid the model is linear in P∞ and A, so least squares is closed-form; the τ
        with the smallest residual wins (a grid of 48 values is far finer than the noise allows)."""
        y = np.asarray(self.blocks)
        t = np.arange(y.size) * BLOCK_s
        e = np.exp(-t[None, :] / TAU_GRID_s[:, None])  # [n_tau, n]
        e_mean, y_mean = e.mean(axis=1, keepdims=True), y.mean()
        de = e - e_mean
        slope = (de @ (y - y_mean)) / np.maximum((de * de).sum(axis=1), 1e-12)
        residual = ((y - y_mean)[None, :] - slope[:, None] * de) ** 2
        best = int(np.argmin(residual.sum(axis=1)))
        return float(TAU_GRID_s[best]), float(-slope[best])

    def refilled(self) -> bool:
        """Whether the fitted approach has reached 90 % of its plateau (τ·ln 10 since the seal),
        with a rise out of the noise and a curve that has bent (τ inside the grid), in
        CONFIRM_BLOCKS fits in a row (one noisy block never ends a rest)."""
        n = len(self.blocks)
        if n != self._judged_at:
            self._judged_at = n
            self._verdicts = self._verdicts + 1 if self._fit_says_refilled() else 0
        return self._verdicts >= CONFIRM_BLOCKS

    def _fit_says_refilled(self) -> bool:
        if self._hold_blocks > 0 or len(self.blocks) < MIN_BLOCKS or not self.measurable:
            return False
        tau_s, rise_mmHg = self.fit()
        elapsed_s = SETTLE_s + len(self.blocks) * BLOCK_s  # since the seal closed
        bent = tau_s < TAU_GRID_s[-1]
        # the plateau must have been seen for a while: a bend made of noise early in a slow rise
        # gives a small τ that later blocks correct
        seen_s = max(PLATEAU_SEEN_MIN_s, PLATEAU_SEEN_TAU * tau_s)
        strong = rise_mmHg >= RISE_OVER_FLOOR * self.noise_floor_mmHg
        return bent and strong and elapsed_s >= tau_s * LN_10 + seen_s


def measuring_cells(cell_zones: list[str], cell_legs: list[int], zones: list[str], n_legs: int) -> list[int]:
    """Per leg, the cell whose pressure measures refill: its calf cell (the calf muscle pump's veins
    hold most of the blood a squeeze moves), else the most proximal squeezed cell. -1 where none."""
    order = ["calf", *reversed(zones)]
    chosen = []
    for leg in range(n_legs):
        cells = {z: i for i, (z, lg) in enumerate(zip(cell_zones, cell_legs, strict=True)) if lg == leg}
        chosen.append(next((cells[z] for z in order if z in cells and z in zones), -1))
    return chosen

"""From cell pressures to tissue pressures on the twin's segments, as a piecewise-constant schedule.

p_ext,seg = τ · Σ_cells coverage[cell][seg] · p_cell,   τ = pressure transmission ratio (≈ 0.8)

``coverage[cell][seg]`` is the fraction of the segment the cell covers (a cell covering the whole
calf: 1.0 on the calf). A device's cells cover what its profile says (`DeviceProfile.zone_covers`);
the validation protocols press whole segments (`WHOLE_SEGMENT_COVERAGE`). τ is the subject's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from legflow.twin.model import N_SEG

Coverage = Mapping[str, tuple[float, ...]]

#: One cell per segment of the sources (foot, calf, thigh), each covering its whole segment: the
#: calf cell both of the twin's calf halves (the validation protocols use these).
WHOLE_SEGMENT_COVERAGE: dict[str, tuple[float, ...]] = {
    "foot": (1.0, 0.0, 0.0, 0.0),
    "calf": (0.0, 1.0, 1.0, 0.0),
    "thigh": (0.0, 0.0, 0.0, 1.0),
}


@dataclass(frozen=True)
class Phase:
    """Cell pressures [mmHg] held for ``duration_s``; cells not named are at 0."""

    duration_s: float
    cells_mmHg: Mapping[str, float] = field(default_factory=dict)


def segment_pressures(
    cells_mmHg: Mapping[str, float], transmission_ratio: float, coverage: Coverage
) -> np.ndarray:
    """Tissue pressure on each of the twin's segments [mmHg] from cell pressures."""
    out = np.zeros(N_SEG)
    for cell, pressure in cells_mmHg.items():
        if cell not in coverage:
            raise ValueError(f"cell {cell!r} has no coverage; known cells: {sorted(coverage)}")
        if pressure < 0:
            raise ValueError(f"cell {cell!r}: pressure {pressure} mmHg < 0")
        out += transmission_ratio * pressure * np.asarray(coverage[cell], dtype=np.float64)
    return out


def schedule(
    phases: Sequence[Phase],
    dt_s: float,
    transmission_ratio: float,
    coverage: Coverage,
    repeat: int = 1,
) -> np.ndarray:
    """Tissue pressures [n_steps, N_SEG] for the phases (repeated ``repeat`` times) on a grid of ``dt_s``.

    Phase boundaries are rounded to the grid; a phase shorter than ``dt_s / 2`` disappears.
    """
    rows: list[np.ndarray] = []
    t_end = 0.0
    for _ in range(repeat):
        for phase in phases:
            start = round(t_end / dt_s)
            t_end += phase.duration_s
            n = round(t_end / dt_s) - start
            rows.append(np.tile(segment_pressures(phase.cells_mmHg, transmission_ratio, coverage), (n, 1)))
    return np.concatenate(rows) if rows else np.zeros((0, N_SEG))

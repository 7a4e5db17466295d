"""Intensity in the user's hands during a session, as commercial boots offer it (Normatec: levels,
and ZoneBoost, +10 mmHg on one zone): a level from -2 to +2, each a tenth of the program's
pressures; a boost on one zone; a zone paused. Asked from outside the loop (keys, the web page),
recorded as events.

A change that squeezes less (a lower level, a boost taken off, a zone paused) applies at once; one
that squeezes more waits for each cell's next cycle (its programmed setpoint back at rest), so no
squeeze jumps up mid-way. No setpoint ever passes the cell's limit (the supervisor's, which also
holds every command to it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LEVELS = (-2, 2)
LEVEL_SHARE = 0.10
BOOST_mmHg = 10.0
#: A programmed setpoint at or below this is a cell at rest, between two squeezes.
AT_REST_mmHg = 0.5


@dataclass(frozen=True)
class Intensity:
    """What the user asked: a level, a boosted zone, the zones paused."""

    level: int = 0
    boost: str | None = None
    paused: frozenset[str] = frozenset()

    @property
    def share(self) -> float:
        """The level as a share of the program's pressures (1.0 at level 0)."""
        return 1.0 + LEVEL_SHARE * self.level

    def describe(self) -> str:
        parts = [f"level {self.level:+d} ({self.share:.0%} of the program's pressures)"]
        if self.boost:
            parts.append(f"{self.boost} boosted +{BOOST_mmHg:g} mmHg")
        if self.paused:
            parts.append(f"paused: {', '.join(sorted(self.paused))}")
        return "; ".join(parts)


class IntensityInForce:
    """Each cell's share, boost and pause in force, moved towards what the user asked as the
    module says; `apply` turns the program's setpoints into the ones the controller follows."""

    def __init__(self, cell_zones: list[str], limit_mmHg: np.ndarray):
        self.zones = np.array(cell_zones)
        self.limit_mmHg = np.asarray(limit_mmHg, float)
        n = len(cell_zones)
        self.share = np.ones(n)
        self.boost = np.zeros(n, bool)
        self.off = np.zeros(n, bool)

    def apply(self, programmed_mmHg: np.ndarray, wanted: Intensity) -> np.ndarray:
        rest = programmed_mmHg <= AT_REST_mmHg
        share = wanted.share
        boost = self.zones == wanted.boost
        off = np.isin(self.zones, list(wanted.paused))
        self.share = np.where(rest | (share < self.share), share, self.share)
        self.boost = np.where(rest | ~boost, boost, self.boost)
        self.off = np.where(rest | off, off, self.off)
        out = programmed_mmHg * self.share + np.where(self.boost & ~rest, BOOST_mmHg, 0.0)
        out[self.off] = 0.0
        capped: np.ndarray = np.minimum(out, self.limit_mmHg)
        return capped

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

from legflow.programs.model import Program

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


#: Nothing asked: the program's pressures as they are.
AS_PROGRAMMED = Intensity()


def zone_peaks_mmHg(program: Program) -> dict[str, float]:
    """Each compression zone's highest programmed pressure."""
    peaks: dict[str, float] = {}
    for phase in program.phases:
        if phase.squeezes and phase.compression is not None:
            for zone, p in phase.compression.zone_pressures().items():
                peaks[zone] = max(peaks.get(zone, 0.0), p)
    return peaks


def scaled(program: Program, shares: dict[str, float]) -> Program:
    """The program with each zone's pressures scaled by its share (to compare with its evidence)."""
    phases = []
    for phase in program.phases:
        c = phase.compression
        if c is None or not phase.squeezes:
            phases.append(phase)
            continue
        pressures = [round(p * shares.get(z, 1.0), 1) for z, p in c.zone_pressures().items()]
        phases.append(
            phase.model_copy(update={"compression": c.model_copy(update={"pressure_mmHg": pressures})})
        )
    return program.model_copy(update={"phases": phases})


#: What learned comfort may scale a zone to, at most (either way) of the program's pressures.
COMFORT_BOUNDS = (0.6, 1.4)


def shares_asked(
    program_peaks_mmHg: dict[str, float], comfort: dict[str, float], asked: Intensity
) -> dict[str, float]:
    """Per zone the program squeezes, the share of its pressure the user asks: the comfort
    scaling they started with, times their level, plus a boost as a share of the zone's peak; 0
    for a zone paused."""
    shares = {}
    for zone, peak in program_peaks_mmHg.items():
        if peak > 0:
            boost = BOOST_mmHg / peak if asked.boost == zone else 0.0
            shares[zone] = 0.0 if zone in asked.paused else comfort.get(zone, 1.0) * asked.share + boost
    return shares


def shares_in_force(
    program_peaks_mmHg: dict[str, float],
    comfort: dict[str, float],
    asked: Intensity,
    bounds_mmHg: dict[str, tuple[float, float]],
) -> dict[str, float]:
    """Per zone, the share of its peak the session runs at for what the user asked, as
    `IntensityInForce.apply` sets the setpoints: comfort times level held inside a plan's bounds,
    then a boost, never past the bounds' top; 0 for a zone paused."""
    shares = {}
    for zone, peak in program_peaks_mmHg.items():
        if peak <= 0:
            continue
        span = bounds_mmHg.get(zone)
        share = comfort.get(zone, 1.0) * asked.share
        if span is not None:
            share = min(max(share, span[0] / peak), span[1] / peak)
        if asked.boost == zone:
            share += BOOST_mmHg / peak
        if span is not None:
            share = min(share, span[1] / peak)
        shares[zone] = 0.0 if zone in asked.paused else share
    return shares


def comfort_shares(
    program_peaks_mmHg: dict[str, float], comfort: dict[str, float], asked: Intensity
) -> dict[str, float]:
    """What a session ended at teaches of the user's comfort (`shares_asked`, within
    COMFORT_BOUNDS): a paused zone tells nothing of a pressure and is left out."""
    low, high = COMFORT_BOUNDS
    return {
        zone: round(min(high, max(low, share)), 3)
        for zone, share in shares_asked(program_peaks_mmHg, comfort, asked).items()
        if zone not in asked.paused
    }


class IntensityInForce:
    """Each cell's share, boost and pause in force, moved towards what the user asked as the
    module says; `apply` turns the program's setpoints into the ones the controller follows.
    ``comfort``: per zone, the scaling the user accepted at the start (their learned comfort).
    ``bounds_mmHg``: per zone, a clinician's pressure range (`legflow.records.plan.Bounds`), with
    ``peaks_mmHg`` the program's own peaks: comfort and level move a zone's peak only inside it,
    and no setpoint passes its top."""

    def __init__(
        self,
        cell_zones: list[str],
        limit_mmHg: np.ndarray,
        comfort: dict[str, float] | None = None,
        bounds_mmHg: dict[str, tuple[float, float]] | None = None,
        peaks_mmHg: dict[str, float] | None = None,
    ):
        self.zones = np.array(cell_zones)
        self.limit_mmHg = np.array(limit_mmHg, float)  # a copy: the supervisor's own stay as they are
        self.comfort = np.array([(comfort or {}).get(z, 1.0) for z in cell_zones])
        self.bounds_mmHg = dict(bounds_mmHg or {})
        self.peaks_mmHg = dict(peaks_mmHg or {})
        n = len(cell_zones)
        self.share_floor, self.share_ceiling = np.zeros(n), np.full(n, np.inf)
        for i, zone in enumerate(cell_zones):
            peak, span = self.peaks_mmHg.get(zone, 0.0), self.bounds_mmHg.get(zone)
            if span is not None:
                self.limit_mmHg[i] = min(self.limit_mmHg[i], span[1])
                if peak > 0:
                    self.share_floor[i], self.share_ceiling[i] = span[0] / peak, span[1] / peak
        self.share = np.ones(n)
        self.boost = np.zeros(n, bool)
        self.off = np.zeros(n, bool)
        self._masks_for: tuple[str | None, frozenset[str]] | None = None  # none built yet
        #: nothing asked is in force: each setpoint is the program's × the zone's comfort
        self._as_programmed = True
        self._comfort_in_force = np.clip(self.comfort, self.share_floor, self.share_ceiling)
        self._boost_off: tuple[np.ndarray, np.ndarray]  # the masks `_masks` built

    def _masks(self, wanted: Intensity) -> tuple[np.ndarray, np.ndarray]:
        """The cells ``wanted`` boosts and pauses (kept: a session asks every tick, rarely anew)."""
        key = (wanted.boost, wanted.paused)
        if self._masks_for != key:
            self._masks_for = key
            self._boost_off = (self.zones == wanted.boost, np.isin(self.zones, list(wanted.paused)))
        return self._boost_off

    def apply(self, programmed_mmHg: np.ndarray, wanted: Intensity) -> np.ndarray:
        if self._as_programmed and wanted == AS_PROGRAMMED:  # most ticks: nothing asked, none in force
            plain: np.ndarray = np.minimum(programmed_mmHg * self._comfort_in_force, self.limit_mmHg)
            return plain
        rest = programmed_mmHg <= AT_REST_mmHg
        share = wanted.share
        boost, off = self._masks(wanted)
        self.share = np.where(rest | (share < self.share), share, self.share)
        self.boost = np.where(rest | ~boost, boost, self.boost)
        self.off = np.where(rest | off, off, self.off)
        share_in_force = np.clip(self.comfort * self.share, self.share_floor, self.share_ceiling)
        out = programmed_mmHg * share_in_force + np.where(self.boost & ~rest, BOOST_mmHg, 0.0)
        out[self.off] = 0.0
        capped: np.ndarray = np.minimum(out, self.limit_mmHg)
        self._as_programmed = bool((self.share == 1.0).all() and not self.boost.any() and not self.off.any())
        return capped

"""The timeline: a program as a function of time → per-cell setpoints and actuator targets.

Compression patterns, for zones z_0..z_n-1 (distal first), inflate I, delay D, hold H, release R,
rest S; zone i starts inflating at a_i = i·(I + D) and ramps linearly to its pressure in I:
- sequential: every zone stays full until the whole limb has been held H, then all release in R;
- wave: each zone holds H after its own inflation, then releases in R (a travelling wave);
- pulse: all zones together: inflate I, hold H, release R;
- hold: all zones inflate in I and stay full until R before the phase ends;
then S of rest, deflated, while the veins refill. ``alternate`` legs take turns by cycle.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from legflow.programs.model import Compression, GuideStep, Phase, Program, squeezed_legs


@dataclass(frozen=True)
class Targets:
    """What every actuator should do at one instant."""

    phase_index: int
    phase_name: str
    phase_left_s: float
    #: Pressure setpoint per ``LEG.ZONE`` (``left.calf``); zones not squeezed are absent.
    pressures_mmHg: dict[str, float]
    rollers: tuple[tuple[str, ...], str, str] | None  # zones, speed, depth
    vibration_level: int
    heat_C: float | None
    guide: GuideStep | None


def _ramp(t, start, length):
    """0 before start, 1 after start + length, linear between (numbers or numpy arrays)."""
    x = (t - start) / length
    if isinstance(x, float):  # one instant, as a session asks every tick: no array machinery
        return min(1.0, max(0.0, x))
    return np.clip(x, 0.0, 1.0)


def cycle_s(c: Compression) -> float:
    """Length of one compression cycle, rest included."""
    n = len(c.zones)
    if c.pattern in ("pulse",):
        return c.inflate_s + c.hold_s + c.release_s + c.rest_s
    last_start = (n - 1) * (c.inflate_s + c.delay_s)
    return last_start + c.inflate_s + c.hold_s + c.release_s + c.rest_s


def zone_fraction(c: Compression, index: int, t_cycle):
    """How full zone ``index`` should be (0..1) at ``t_cycle`` seconds into a cycle."""
    inflate, release = c.inflate_s, c.release_s
    if c.pattern == "pulse":
        start, release_at = 0.0, inflate + c.hold_s
    elif c.pattern == "sequential":
        start = index * (inflate + c.delay_s)
        release_at = (len(c.zones) - 1) * (inflate + c.delay_s) + inflate + c.hold_s
    else:  # wave
        start = index * (inflate + c.delay_s)
        release_at = start + inflate + c.hold_s
    return _ramp(t_cycle, start, inflate) * (1.0 - _ramp(t_cycle, release_at, release))


def phase_zone_pressures(phase: Phase, t):
    """Zone setpoints ``t`` seconds into a phase (a number or an array of times), and the index
    of the cycle that runs then."""
    c = phase.compression
    if c is None or not phase.squeezes:
        return {}, np.zeros_like(t, dtype=np.int64)
    targets = c.zone_pressures()
    if c.pattern == "hold":
        fraction = _ramp(t, 0.0, c.inflate_s) * (1.0 - _ramp(t, phase.duration_s - c.release_s, c.release_s))
        return {z: p * fraction for z, p in targets.items()}, np.zeros_like(t, dtype=np.int64)
    cycle, t_cycle = np.divmod(t, cycle_s(c))
    zones = {z: p * zone_fraction(c, i, t_cycle) for i, (z, p) in enumerate(targets.items())}
    return zones, cycle.astype(np.int64)


class Timeline:
    """A program laid out in time; `at(t)` is pure, so real and virtual clocks share it."""

    def __init__(self, program: Program):
        self.program = program
        self.starts_s: list[float] = []
        total = 0.0
        for phase in program.phases:
            self.starts_s.append(total)
            total += phase.duration_s
        self.duration_s = total

    def phase_at(self, t: float) -> int:
        return max(0, bisect.bisect_right(self.starts_s, t) - 1)

    def legs_at(self, cycle: int) -> tuple[str, ...]:
        return squeezed_legs(self.program.program.legs, cycle)

    def at(self, t: float) -> Targets:
        index = self.phase_at(min(t, self.duration_s))
        phase = self.program.phases[index]
        t_in = min(max(0.0, t - self.starts_s[index]), phase.duration_s)
        zones, cycle = phase_zone_pressures(phase, t_in)
        pressures = {f"{leg}.{z}": float(p) for leg in self.legs_at(int(cycle)) for z, p in zones.items()}
        guide = None
        for step in phase.guide:
            if step.at_s <= t_in and (guide is None or step.at_s >= guide.at_s):
                guide = step
        r = phase.rollers
        return Targets(
            phase_index=index,
            phase_name=phase.name,
            phase_left_s=phase.duration_s - t_in,
            pressures_mmHg=pressures,
            rollers=(tuple(r.zones), r.speed, r.depth) if r else None,
            vibration_level=phase.vibration.level if phase.vibration else 0,
            heat_C=phase.heat.target_C if phase.heat else None,
            guide=guide,
        )

    def setpoint_table(self, cell_legs: Sequence[str], cell_zones: Sequence[str], dt_s: float) -> np.ndarray:
        """Pressure setpoints of every cell at every tick: ``[tick, cell]`` for ticks ``k·dt_s``.

        Cells that share a zone (two calf cells of a sleeve) follow that zone together.
        """
        times = np.arange(int(np.ceil(self.duration_s / dt_s)) + 1) * dt_s
        table = np.zeros((times.size, len(cell_zones)))
        phase_of_tick = np.searchsorted(self.starts_s, times, side="right") - 1
        for index, phase in enumerate(self.program.phases):
            ticks = np.nonzero(phase_of_tick == index)[0]
            t_in = np.minimum(times[ticks] - self.starts_s[index], phase.duration_s)
            zones, cycle = phase_zone_pressures(phase, t_in)
            mode = self.program.program.legs
            for k, (leg, zone) in enumerate(zip(cell_legs, cell_zones, strict=True)):
                if zone not in zones:
                    continue
                # every legs mode repeats every two cycles
                active = np.where(
                    cycle % 2 == 0, leg in squeezed_legs(mode, 0), leg in squeezed_legs(mode, 1)
                )
                table[ticks, k] = zones[zone] * active
        return table

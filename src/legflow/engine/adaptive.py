"""Adaptive rest (`[adaptive] refill = true`): each rest lasts until the leg has refilled.

Hospital compression pumps with vascular refill detection (e.g. the Kendall SCD Express) measure
how long the limb takes to refill after each squeeze and rest exactly that long: a leg that refills
fast is squeezed more often, one that refills slowly (venous insufficiency, oedema) gets the time it
needs. Here the refill is read from the leg twin's venous volume with the twin's own rule
(DESIGN.md: refill to 90 % of the baseline volume): refilled once the volume is back within 10 % of
what the squeeze moved below the leg's rested volume. The rest is kept within [``MIN_REST_s``,
``MAX_REST_FACTOR`` × the programmed rest].
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from legflow.engine.refill import MEASURE_mmHg, RefillDetector, SEAL_WITHIN_mmHg
from legflow.programs.model import Phase, squeezed_legs
from legflow.programs.timeline import cycle_s, phase_zone_pressures

#: Shortest rest: the veins need a moment after the release before refill can be judged.
MIN_REST_s = 2.0
#: Longest rest, as a multiple of the programmed one: a leg that never seems to refill
#: (a sensor gone quiet, a leg lifted out) must not stop the program.
MAX_REST_FACTOR = 3.0
#: Refilled once the volume has recovered this share of what the squeeze moved (refill to 90 %).
REFILLED_SHARE = 0.9


@dataclass
class AdaptiveCycle:
    """The cycle clock of one compression phase whose rests follow the leg's refill."""

    phase: Phase
    cell_zones: list[str]
    cell_legs: list[int]
    leg_names: tuple[str, ...]
    #: Each leg's venous volume at rest, before any squeeze (the baseline refill returns to).
    baseline_mL: np.ndarray
    #: Per leg, the cell whose sealed pressure measures refill (``refill.measuring_cells``); None
    #: judges refill from the twin's venous volume instead.
    sensor_cells: list[int] | None = None
    tick_s: float = 0.02
    t_cycle_s: float = 0.0
    cycle: int = 0
    rests_s: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        c = self.phase.compression
        assert c is not None
        self.cycle_length_s = cycle_s(c)
        self.programmed_rest_s = c.rest_s
        self.rest_from_s = self.cycle_length_s - c.rest_s
        self.release_from_s = self.rest_from_s - c.release_s
        self.max_rest_s = max(MIN_REST_s, MAX_REST_FACTOR * c.rest_s)
        self._min_mL = self.baseline_mL.copy()
        n_cells = len(self.cell_zones)
        self.sealed = np.zeros(n_cells, bool)  # cells the controller must keep closed
        self.settling = np.zeros(n_cells, bool)  # measuring cells brought to the measuring pressure
        self.detectors = [RefillDetector(self.tick_s) for _ in self.leg_names]
        self.unmeasured = 0  # rests that fell back to the programmed rest (no signal out of the noise)

    def active_legs(self, mode: str) -> tuple[int, ...]:
        """Indices (in ``leg_names``) of the legs this cycle squeezes."""
        return tuple(
            self.leg_names.index(leg) for leg in squeezed_legs(mode, self.cycle) if leg in self.leg_names
        )

    def setpoints(self, mode: str) -> np.ndarray:
        """Every cell's setpoint at the current point of the cycle; from the release on, each
        measuring cell not yet sealed is marked ``settling``: the controller vents it down to the
        measuring pressure (a held cell it would leave several mmHg over), so it is sealed there."""
        zones, _ = phase_zone_pressures(self.phase, min(self.t_cycle_s, self.rest_from_s))
        legs = self.active_legs(mode)
        setpoints = np.array(
            [
                float(zones[z]) if z in zones and leg in legs else 0.0
                for z, leg in zip(self.cell_zones, self.cell_legs, strict=True)
            ]
        )
        self.settling[:] = False
        if self.sensor_cells is not None and self.t_cycle_s >= self.release_from_s:
            for leg in legs:  # the measuring cell stops venting at the measuring pressure
                cell = self.sensor_cells[leg]
                if cell >= 0:
                    setpoints[cell] = max(setpoints[cell], MEASURE_mmHg)
                    self.settling[cell] = not self.sealed[cell]
        return setpoints

    def advance(
        self, dt_s: float, venous_mL: np.ndarray | None, mode: str, pressure_mmHg: np.ndarray | None = None
    ) -> None:
        """Move the cycle clock on by ``dt_s``, given each leg's venous volume now (twin) or the
        cells' sensed pressures (sensor)."""
        self.t_cycle_s += dt_s
        resting_s = self.t_cycle_s - self.rest_from_s
        legs = list(self.active_legs(mode))
        if self.sensor_cells is None:
            assert venous_mL is not None
            np.minimum(self._min_mL, venous_mL, out=self._min_mL)
            refilled = resting_s >= MIN_REST_s and self._twin_refilled(venous_mL, legs)
        else:
            assert pressure_mmHg is not None
            refilled = resting_s >= MIN_REST_s and self._sensor_refilled(pressure_mmHg, legs)
            if not refilled and resting_s >= self.programmed_rest_s and not self._measurable(legs):
                refilled = True  # no refill signal stands out of the noise: rest as programmed
                self.unmeasured += 1
        if refilled or resting_s >= self.max_rest_s:
            self.rests_s.append(resting_s)
            self.cycle += 1
            self.t_cycle_s = 0.0
            self.sealed[:] = False
            if venous_mL is not None:
                self._min_mL = venous_mL.copy()

    @property
    def artefacts(self) -> int:
        """Movement artefacts the sensor judge rejected so far."""
        return sum(d.artefacts for d in self.detectors)

    def _twin_refilled(self, venous_mL: np.ndarray, legs: list[int]) -> bool:
        base = self.baseline_mL[legs]
        moved = base - self._min_mL[legs]
        return bool(np.all(venous_mL[legs] >= base - (1 - REFILLED_SHARE) * moved))

    def _measurable(self, legs: list[int]) -> bool:
        assert self.sensor_cells is not None
        return any(self.detectors[leg].measurable for leg in legs if self.sensor_cells[leg] >= 0)

    def _sensor_refilled(self, pressure_mmHg: np.ndarray, legs: list[int]) -> bool:
        """Seal each measuring cell once it sits at the measuring pressure, then judge its creep."""
        assert self.sensor_cells is not None
        done = True
        for leg in legs:
            cell = self.sensor_cells[leg]
            if cell < 0:
                continue
            detector = self.detectors[leg]
            if not self.sealed[cell]:
                if abs(pressure_mmHg[cell] - MEASURE_mmHg) <= SEAL_WITHIN_mmHg:
                    self.sealed[cell] = True
                    detector.reset()
                done = False
                continue
            detector.add(float(pressure_mmHg[cell]))
            done = done and detector.refilled()
        return done

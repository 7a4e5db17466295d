"""The fit check: before a session, each cell is filled to a low test pressure, as the fit
calibration of commercial boots (RecoveryAir PreciseFit) and the garment alarms of hospital pumps
(Kendall SCD 700) do, and judged by the air it took, how fast it stiffened and whether it held.

- **loose**: it took far more air than a well-fitted cell (the bladder had slack to take up before
  it pressed the leg);
- **tight**: far less (the strap already presses the leg, deflated);
- **leaking**: once sealed, it lost most of its pressure within seconds (a hose off its connector, a
  split seam); a sound cell loses a little as the leg yields under it;
- **ok** otherwise.

"Far" is against this user's own baseline for that cell on that device (the median of their
earlier fits that were ok, `legflow.store.History.fit_baseline`) once there is one, else against the
air a well-fitted cell of the device takes (`plan.pump.cell_fill_mL`, the profile's volumes and the
gas law). A fit that is ok but moved far from the baseline says so: a leg that swelled, a bladder
wearing out. The air is what the pump's curve (the profile's) gave at the sensed manifold pressure.

It runs through the supervisor like a session: every limit holds, and a fault it finds ends the
check in the safe state.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

from legflow.clock import Clock
from legflow.device.massager import Commands
from legflow.plan.pump import cell_fill_mL
from legflow.safety.supervisor import Supervisor

Verdict = Literal["ok", "loose", "tight", "leaking"]

TEST_PRESSURE_mmHg = 20.0
#: A low duty fills a small cell in tenths of a second, not a tick or two: the air counts finely.
FILL_DUTY = 0.5
FILL_TIMEOUT_s = 8.0  # a bladder off the leg, or a hose off, may never reach the test pressure
VENT_s = 1.0
SETTLE_s = 0.3  # after the inlet closes: the valve's stroke, the limb's first give
HOLD_s = 3.0
TICK_s = 0.02
#: Judgement, as shares of the reference air (baseline, else nominal). Measured on 2026-12-05 over
#: every profile, simulator seeds 0-9 and the twin's adult, oedema and large-leg subjects (2,940
#: sound cells, 510 each strapped loose and tight): a sound garment took 1.02-1.20 of the nominal
#: air, a loose one 1.79-1.95, a tight one 0.42-0.55.
LOOSE_ABOVE = 1.4
TIGHT_BELOW = 0.75
#: Of its highest reading once sealed, what a cell must keep after HOLD_s: a sound one kept at least
#: 0.51 (the leg yields under it: a small cell over a large leg, a tight strap), one with a 1.2 mm
#: hole at most 0.43 (120 cases, the same sweep).
KEPT_ABOVE = 0.47
#: An ok fit this far (share) from the user's baseline is reported as a change.
DRIFT_SHARE = 0.2

#: What to do about each verdict, by zone.
LOOSE_ADVICE = {
    "foot": "pull the foot section snug",
    "ankle": "tighten the ankle strap",
    "calf": "tighten the calf strap",
    "knee": "tighten the strap below the knee",
    "thigh": "close the thigh zip all the way and tighten its strap",
}


@dataclass(frozen=True)
class CellFit:
    """One cell's fit: the air it took to the test pressure, the reference it is judged against
    (``baseline`` or ``nominal``), how stiff it was near the end of the fill and how fast it lost
    pressure once sealed."""

    cell: str
    zone: str
    verdict: Verdict
    advice: str
    fill_mL: float
    reference_mL: float
    reference: Literal["baseline", "nominal"]
    stiffness_mmHg_per_mL: float
    kept: float  # share of its highest reading once sealed that it still held after HOLD_s
    reached: bool  # whether it reached the test pressure within FILL_TIMEOUT_s
    drift: str | None = None  # an ok fit far from the user's baseline

    def as_json(self) -> dict[str, object]:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class FitResult:
    cells: tuple[CellFit, ...]
    #: Why the check ended early (the supervisor latched its safe state), else None.
    stopped: str | None = None
    #: Cells not filled, and why: the user's limits keep them under the test pressure (a zone
    #: screening blocks).
    skipped: tuple[tuple[str, str], ...] = ()

    @property
    def ok(self) -> bool:
        return self.stopped is None and all(c.verdict == "ok" for c in self.cells)

    def as_json(self) -> dict[str, object]:
        """The contract's shape: ``{"cells": {"left.calf": {"verdict", "advice", ...}}}``."""
        cells = {c.cell: c.as_json() for c in self.cells}
        return {"ok": self.ok, "stopped": self.stopped, "cells": cells, "skipped": dict(self.skipped)}


def judge(
    cell: str,
    zone: str,
    fill_mL: float,
    kept: float,
    reached: bool,
    stiffness: float,
    nominal_mL: float,
    baseline_mL: float | None,
) -> CellFit:
    """A cell's verdict and advice from what its fill measured (the rule of the module)."""
    reference_mL = baseline_mL if baseline_mL is not None else nominal_mL
    share = fill_mL / reference_mL
    leg = cell.split(".")[0]
    verdict: Verdict
    if kept < KEPT_ABOVE or (not reached and share < LOOSE_ABOVE):
        verdict, advice = "leaking", f"check the {leg} {zone} hose and its connector"
    elif share > LOOSE_ABOVE or not reached:
        verdict, advice = "loose", LOOSE_ADVICE[zone]
    elif share < TIGHT_BELOW:
        verdict, advice = "tight", f"loosen the {zone} strap a notch"
    else:
        verdict, advice = "ok", "fits"
    drift = None
    if verdict == "ok" and baseline_mL is not None and abs(fill_mL / baseline_mL - 1.0) > DRIFT_SHARE:
        more = "more" if fill_mL > baseline_mL else "less"
        drift = (
            f"takes {abs(fill_mL / baseline_mL - 1.0):.0%} {more} air than your usual fit "
            f"({fill_mL:.0f} mL against {baseline_mL:.0f} mL): "
            + (
                "a leg that is thinner, or a looser garment?"
                if more == "more"
                else "swelling, or a garment that shrank?"
            )
        )
    reference: Literal["baseline", "nominal"] = "baseline" if baseline_mL is not None else "nominal"
    return CellFit(
        cell=cell,
        zone=zone,
        verdict=verdict,
        advice=advice,
        fill_mL=fill_mL,
        reference_mL=reference_mL,
        reference=reference,
        stiffness_mmHg_per_mL=stiffness,
        kept=kept,
        reached=reached,
        drift=drift,
    )


def fit_check(supervisor: Supervisor, clock: Clock, baseline_mL: dict[str, float] | None = None) -> FitResult:
    """Fill each cell in turn (one per leg at a time, every leg at once: each has its pump), hold
    it sealed, vent it; judge each (`judge`). ``baseline_mL``: the user's usual fill per cell."""
    profile = supervisor.profile
    names = profile.cell_names()
    per_leg = len(profile.cells)
    n_legs, n_cells = supervisor.n_legs, supervisor.n_cells
    baseline_mL = baseline_mL or {}
    free_mL_per_s = (profile.pump_free_flow_L_per_min or 0.0) * 1000.0 / 60.0
    if free_mL_per_s <= 0.0:
        return FitResult((), f"device '{profile.name}' gives no pump curve: the fit check needs one")
    results: list[CellFit] = []
    heartbeat = 0
    next_tick = clock.now()

    def tick(commands: Commands):  # type: ignore[no-untyped-def]
        nonlocal heartbeat, next_tick
        next_tick += TICK_s
        clock.sleep_until(next_tick)
        sensors = supervisor.read()
        heartbeat += 1
        commands.heartbeat = heartbeat
        supervisor.apply(commands)
        return sensors

    vent = Commands.idle(n_legs, n_cells)
    for _ in range(round(VENT_s / TICK_s)):
        tick(vent)
    skipped = tuple(
        (names[c], f"its limit of {supervisor.cell_limit_mmHg[c]:g} mmHg is under the test pressure")
        for c in range(n_cells)
        if supervisor.cell_limit_mmHg[c] < TEST_PRESSURE_mmHg + 5.0
    )
    left_out = {name for name, _ in skipped}
    for j, spec in enumerate(profile.cells):
        # this cell on each leg (each leg has its pump), as (its leg, its index)
        filled = [
            (leg, leg * per_leg + j) for leg in range(n_legs) if names[leg * per_leg + j] not in left_out
        ]
        if not filled:
            continue
        legs = [leg for leg, _ in filled]
        cells = [c for _, c in filled]
        fill = Commands.idle(n_legs, n_cells)
        fill.exhaust_open[cells] = False
        fill.inlet_open[cells] = True
        fill.pump_duty[legs] = FILL_DUTY
        n = len(filled)
        air = np.zeros(n)
        half = np.full(n, np.nan)  # air when each passed half the test pressure
        reached = np.zeros(n, bool)
        end_p = np.zeros(n)
        waited = 0.0
        while not reached.all() and waited < FILL_TIMEOUT_s and not supervisor.latched:
            sensors = tick(fill)
            waited += TICK_s
            for k, (leg, c) in enumerate(filled):
                if reached[k]:
                    continue
                p = sensors.pressure_mmHg[c]
                flow = profile.pump_flow_L_per_min(float(sensors.manifold_mmHg[leg]), FILL_DUTY) or 0.0
                air[k] += flow * 1000.0 / 60.0 * TICK_s
                if np.isnan(half[k]) and p >= TEST_PRESSURE_mmHg / 2:
                    half[k] = air[k]
                if p >= TEST_PRESSURE_mmHg:
                    reached[k] = True
                    end_p[k] = p
                    fill.inlet_open[c] = False  # sealed at the test pressure
                    fill.pump_duty[leg] = 0.0
        seal = Commands.idle(n_legs, n_cells)
        seal.exhaust_open[cells] = False
        peak = np.zeros(n)
        held = np.zeros(n)
        for _ in range(round((SETTLE_s + HOLD_s) / TICK_s)):
            held = tick(seal).pressure_mmHg[cells]
            peak = np.maximum(peak, held)
        for _ in range(round(VENT_s / TICK_s)):
            tick(vent)
        if supervisor.latched:
            trip = supervisor.trip
            why = (
                f"the safe state latched: {trip.detector} at {trip.where}: {trip.message}"
                if trip
                else "stopped"
            )
            return FitResult(tuple(results), why, skipped)
        for k, c in enumerate(cells):
            rise_mL = air[k] - half[k]
            stiffness = (end_p[k] - TEST_PRESSURE_mmHg / 2) / max(rise_mL, 1e-6) if reached[k] else 0.0
            kept = held[k] / max(peak[k], 1e-6)
            nominal_mL = cell_fill_mL(spec.volume_mL, TEST_PRESSURE_mmHg)
            results.append(
                judge(
                    names[c],
                    spec.zone,
                    float(air[k]),
                    float(kept),
                    bool(reached[k]),
                    float(stiffness),
                    nominal_mL,
                    baseline_mL.get(names[c]),
                )
            )
    order = {name: i for i, name in enumerate(names)}
    return FitResult(tuple(sorted(results, key=lambda r: order[r.cell])), None, skipped)

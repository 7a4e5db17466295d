"""Haemodynamic and tissue-fluid metrics of a simulated trace (DESIGN.md, leg twin).

Definitions (per leg; a trace starts at rest, so its first record is the baseline):

- ejected per cycle [mL]: leg venous volume at the cycle's start minus its minimum in the cycle.
- peak outflow [mL/s]: maximum venous outflow to the abdomen in the cycle; ratio = peak / resting outflow.
- refill time [s]: from the release (the last moment in the cycle when every segment pressure falls
  to standby, at most ``STANDBY_TISSUE_mmHg``) until the leg venous volume has recovered 90 % of the
  volume lost (V ≥ V_start − 0.1·(V_start − V_min)); linear interpolation between records; NaN if
  not reached in the cycle.
- interstitial fluid cleared [mL]: fall of the summed interstitial fluid excess over the trace.
- lymph flow [mL/h]: mean over the trace, from the cumulative lymph state (exact integral).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from legflow.anatomy import LEGS
from legflow.twin import model as m
from legflow.twin.solver import Trace

#: Tissue pressure at or below this is no squeeze: a vented cell's residue (a fraction of a mmHg),
#: or a cell left sealed at 10 mmHg to measure refill (8 mmHg through skin and fat, below the
#: venous pressure it would have to beat). Cycles are found from pressures above it.
STANDBY_TISSUE_mmHg = 8.5


def squeezing(external_mmHg: np.ndarray) -> np.ndarray:
    """Whether any segment is squeezed, per record (and leg): [..., 3] → [...]."""
    return np.any(external_mmHg > STANDBY_TISSUE_mmHg, axis=-1)


@dataclass(frozen=True)
class CycleMetrics:
    """Arrays of shape [n_cycles, n_legs]."""

    ejected_mL: np.ndarray
    peak_outflow_mL_per_s: np.ndarray
    peak_outflow_ratio: np.ndarray
    refill_time_s: np.ndarray


@dataclass(frozen=True)
class SessionMetrics:
    """Arrays of shape [n_legs]."""

    fluid_cleared_mL: np.ndarray
    lymph_mL_per_h: np.ndarray
    mean_outflow_mL_per_min: np.ndarray


def cycle_metrics(trace: Trace, period_s: float) -> CycleMetrics:
    """Metrics for each full cycle of ``period_s`` from t = 0."""
    t = trace.t_s
    dt = t[1] - t[0]
    per = round(period_s / dt)
    n_cycles = (len(t) - 1) // per
    volume = trace.venous_volume_mL
    outflow = trace.outflow_mL_per_s
    baseline = outflow[0]
    active = squeezing(trace.external_mmHg)  # [n_rec, n_legs]
    n_legs = volume.shape[1]
    shape = (n_cycles, n_legs)
    ejected, peak, refill = np.empty(shape), np.empty(shape), np.full(shape, np.nan)
    for c in range(n_cycles):
        a, b = c * per, (c + 1) * per + 1
        v = volume[a:b]
        v_min = v.min(axis=0)
        ejected[c] = v[0] - v_min
        peak[c] = outflow[a:b].max(axis=0)
        for leg in range(n_legs):
            act = active[a:b, leg]
            releases = np.flatnonzero(act[:-1] & ~act[1:]) + 1
            if len(releases) == 0:
                continue
            r = releases[-1]
            target = v[0, leg] - 0.1 * (v[0, leg] - v_min[leg])
            after = np.flatnonzero(v[r:, leg] >= target)
            if len(after) == 0:
                continue
            k = r + after[0]
            if k == r:
                refill[c, leg] = 0.0
                continue
            frac = (target - v[k - 1, leg]) / (v[k, leg] - v[k - 1, leg])
            refill[c, leg] = (k - 1 - r + frac) * dt
    return CycleMetrics(ejected, peak, peak / baseline, refill)


def session_metrics(trace: Trace) -> SessionMetrics:
    """Whole-trace metrics."""
    duration = trace.t_s[-1] - trace.t_s[0]
    fluid = trace.fluid_excess_mL.sum(axis=-1)
    lymph = trace.states[-1, :, m.CUM_LYMPH] - trace.states[0, :, m.CUM_LYMPH]
    outflow = trace.states[-1, :, m.CUM_OUTFLOW] - trace.states[0, :, m.CUM_OUTFLOW]
    return SessionMetrics(
        fluid_cleared_mL=fluid[0] - fluid[-1],
        lymph_mL_per_h=lymph / duration * 3600.0,
        mean_outflow_mL_per_min=outflow / duration * 60.0,
    )


def compression_cycles(trace: Trace, leg: int) -> list[tuple[int, int, int]]:
    """(start, release, end) record indices of each compression cycle of one leg, found from the
    applied pressure: a cycle starts when pressure is applied after none, is released when the
    pressure falls back to none, and ends where the next one starts (or the trace ends)."""
    active = squeezing(trace.external_mmHg[:, leg])
    starts: list[int] = (np.flatnonzero(~active[:-1] & active[1:]) + 1).tolist()
    if active[0]:
        starts.insert(0, 0)
    cycles = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(active) - 1
        off = np.flatnonzero(~active[start : end + 1])
        if len(off):
            cycles.append((start, start + int(off[0]), end))
    return cycles


def program_metrics(trace: Trace, legs: Sequence[int] | None = None) -> dict[str, Any]:
    """The session summary's ``twin`` block, averaged over every compression cycle of every leg (or
    of ``legs``): blood ejected per cycle, peak outflow over the resting outflow, refill time to 90 %
    of the pre-cycle volume after release, and interstitial fluid cleared and lymph flow over the
    session."""
    volume, outflow = trace.venous_volume_mL, trace.outflow_mL_per_s
    dt = trace.t_s[1] - trace.t_s[0]
    legs = range(volume.shape[1]) if legs is None else legs
    ejected, ratio, refill = [], [], []
    for leg in legs:
        baseline = outflow[0, leg]
        for start, release, end in compression_cycles(trace, leg):
            v = volume[start : end + 1, leg]
            v_min = v.min()
            ejected.append(v[0] - v_min)
            ratio.append(outflow[start : end + 1, leg].max() / baseline)
            target = v[0] - 0.1 * (v[0] - v_min)
            after = np.flatnonzero(volume[release : end + 1, leg] >= target)
            if len(after):
                refill.append(after[0] * dt)
    session = session_metrics(trace)
    mean = lambda xs: round(float(np.mean(xs)), 2) if xs else None  # noqa: E731
    return {
        "ejected_mL_per_cycle": mean(ejected),
        "peak_flow_augmentation": mean(ratio),
        "refill_s": mean(refill),
        "fluid_cleared_mL": round(float(session.fluid_cleared_mL[list(legs)].mean()), 2),
        "lymph_mL_per_h": round(float(session.lymph_mL_per_h[list(legs)].mean()), 2),
        "cycles": len(ejected),
    }


def leg_metrics(trace: Trace, subject_names: Sequence[str]) -> dict[str, dict[str, Any]] | None:
    """Each leg's own `program_metrics`, by leg (``left``, ``right``) with its parameter set's name,
    where the legs are different parameter sets (one oedematous leg beside a healthy one); None
    where they are alike (the block's means say it all)."""
    if len(set(subject_names)) < 2:
        return None
    return {
        LEGS[leg]: {"subject": name, **program_metrics(trace, [leg])}
        for leg, name in enumerate(subject_names)
    }

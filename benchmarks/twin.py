"""Leg-twin benchmarks: the compiled kernel against SciPy, the linear network tier against
svZeroDSolver, and what a virtual cohort costs. Prints Markdown tables (machine, versions, load).

    python -m benchmarks.twin            # full: 10 runs, one leg-hour, cohort up to 10,000 legs × 30 min
    python -m benchmarks.twin --quick    # 3 runs, 10-min horizons, cohort up to 500 legs × 5 min

Every comparison runs both sides in this process, interleaved (so a machine busy with something
else slows both alike), after a warm-up that compiles the numba kernels; the median of the runs is
reported with min–max. Accuracy is matched and printed: for the twin, each solver's deviation from a
tight Radau reference; for the linear tier, the two solvers' difference (legflow's is exact).
Wall time is read with ``time.perf_counter`` (only clock.py may read the clock in src/).
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

import numba
import numpy as np
from numba import njit
from scipy.integrate import solve_ivp

from legflow.device.profile import load_profile
from legflow.twin import Subject, available_subjects, load_subject
from legflow.twin import model as m
from legflow.twin.live import SESSION_RTOL
from legflow.twin.network import (
    LinearTrace,
    linear_legs,
    run_svzerod,
    simulate_linear,
    svzerod_config,
)
from legflow.twin.protocol import Phase, schedule
from legflow.twin.solver import advance, broadcast_external, rhs
from legflow.twin.subject import COMPARTMENT_NAMES

#: Goals set by the issue that asked for these benchmarks.
SCIPY_GOAL_X = 100.0
SVZEROD_ONE_GOAL_X = 2.0
SVZEROD_COHORT_GOAL_X = 20.0
COHORT_GOAL_s = 60.0
SEED = 0

#: One 60-s cycle of sequential intermittent compression at 40 mmHg, foot → calf → thigh (assumed,
#: after sequential IPC devices: ≈ 11-12 s inflation in ≈ 60-s cycles, cells inflated distal first).
CELLS_mmHg = 40.0
CYCLE = [
    Phase(2.0, {"foot": CELLS_mmHg}),
    Phase(2.0, {"foot": CELLS_mmHg, "ankle": CELLS_mmHg, "calf": CELLS_mmHg}),
    Phase(8.0, {z: CELLS_mmHg for z in ("foot", "ankle", "calf", "knee", "thigh")}),
    Phase(48.0),
]
#: How the cells press the leg: the reference device's cells (its profile's coverage) on the adult.
COVERS = load_profile().zone_covers()
COVERAGE = {zone: tuple(c.get(s, 0.0) for s in COMPARTMENT_NAMES) for zone, c in COVERS.items()}
RATIO = load_subject("adult").circulation.pressure_transmission_ratio


def cycle_schedule(dt_s: float, repeat: int = 1) -> np.ndarray:
    """Tissue pressures of CYCLE, repeated, on a grid of ``dt_s``."""
    return schedule(CYCLE, dt_s, RATIO, COVERAGE, repeat=repeat)


#: Schedule grid [s]: every phase boundary of CYCLE is a whole second, so a 1-s grid is exact.
GRID_s = 1.0
#: Record once per cycle in the cohort runs (memory: records × legs × 8 states).
COHORT_RECORD_EVERY = 60
#: Linear tier grid [s]: 80 samples per breath.
LINEAR_DT_s = 0.05
#: Quiet breathing (assumed): abdominal venous pressure rises by up to 4 mmHg with each
#: inspiration, 15 breaths/min; the phasic femoral venous flow of duplex scans follows it.
BREATH_PERIOD_s = 4.0
BREATH_SWING_mmHg = 4.0


@dataclass
class Timing:
    label: str
    seconds: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def cell(self) -> str:
        lo, hi = min(self.seconds), max(self.seconds)
        return f"{_s(self.median)} ({_s(lo)}–{_s(hi)}, {len(self.seconds)} runs)"


def _s(seconds: float) -> str:
    if seconds < 1e-2:
        return f"{1e3 * seconds:.2f} ms"
    if seconds < 1.0:
        return f"{1e3 * seconds:.0f} ms"
    return f"{seconds:.2f} s"


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def interleaved(cases: dict[str, Callable[[], Any]], runs: int) -> tuple[dict[str, Timing], dict[str, Any]]:
    """Run every case ``runs`` times, round-robin; keep the last result of each."""
    timings = {k: Timing(k, []) for k in cases}
    results: dict[str, Any] = {}
    for _ in range(runs):
        for key, fn in cases.items():
            seconds, results[key] = _timed(fn)
            timings[key].seconds.append(seconds)
    return timings, results


def _header(title: str) -> None:
    print(f"\n## {title}\n")
    print(f"(load average 1/5/15 min at the start: {', '.join(f'{x:.2f}' for x in os.getloadavg())})\n")


def _flush() -> None:
    sys.stdout.flush()


# -- 1. one leg-hour: legflow's RODAS4 kernel against SciPy ----------------------------------------
def change_points(external: np.ndarray) -> np.ndarray:
    """Grid indices where the pressures change, with 0 and the end: SciPy restarts at each."""
    inner = np.flatnonzero(np.any(np.diff(external, axis=0) != 0.0, axis=1)) + 1
    return np.concatenate([[0], inner, [len(external)]])


def legflow_leg(prm: np.void, y0: np.ndarray, external: np.ndarray, dt: float, tol: float, at: np.ndarray):
    """One leg (its ``model.LEG_PARAMS`` record) through ``solver.advance``; the states at the grid
    indices ``at``."""
    states = advance(np.array([prm]), y0[None], external[:, None, :], dt, 1, tol, tol)
    return states[at, 0]


def scipy_leg(prm, y0, external, dt, method, tol, at, fun=rhs) -> np.ndarray:
    """One leg through ``solve_ivp``, restarted at every pressure change (as tests/test_twin.py);
    the states at the change points ``at``."""
    y, states = y0.copy(), [y0.copy()]
    for a, b in itertools.pairwise(at):
        sol = solve_ivp(fun, (a * dt, b * dt), y, method=method, rtol=tol, atol=tol, args=(prm, external[a]))
        if not sol.success:
            raise RuntimeError(f"{method}: {sol.message}")
        y = sol.y[:, -1]
        states.append(y)
    return np.array(states)


@njit(cache=True, _nrt=False)  # type: ignore[call-overload]
def _leg_rhs_of_first(
    y: np.ndarray, ext: np.ndarray, params: np.ndarray, dydt: np.ndarray, obs: np.ndarray
) -> None:
    m.leg_rhs(y, ext, params[0], dydt, obs)


def compiled_rhs() -> Callable[[float, np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    """The compiled ``model.leg_rhs`` behind SciPy's calling convention (for comparison only). It takes
    the leg's record in a one-element array (``np.array([prm])``): numba unboxes a record passed on
    its own about ten times slower (≈ 5 µs a call) than an array of them."""
    dydt, obs = np.empty(m.N_STATES), np.empty(m.N_OBS)

    def fun(t: float, y: np.ndarray, params: np.ndarray, ext: np.ndarray) -> np.ndarray:
        _leg_rhs_of_first(y, ext, params, dydt, obs)
        return dydt.copy()

    return fun


def deviation(states: np.ndarray, ref: np.ndarray) -> float:
    """Largest deviation of the venous volumes and fluid excesses at the checkpoints, relative to
    the reference value (to 1 mL where it is smaller: fluid excess crosses 0)."""
    dyn = slice(0, m.N_DYNAMIC)
    return float(np.max(np.abs(states[:, dyn] - ref[:, dyn]) / np.maximum(np.abs(ref[:, dyn]), 1.0)))


def leg_metrics(states: np.ndarray, horizon_s: float) -> dict[str, float]:
    """End-of-session metrics from the first and last state (cumulative states make them exact)."""
    first, last = states[0], states[-1]
    fluid = slice(m.FLUID, m.FLUID + m.N_SEG)
    return {
        "mean outflow mL/min": 60.0 * (last[m.CUM_OUTFLOW] - first[m.CUM_OUTFLOW]) / horizon_s,
        "lymph mL/h": 3600.0 * (last[m.CUM_LYMPH] - first[m.CUM_LYMPH]) / horizon_s,
        "fluid cleared mL": float(first[fluid].sum() - last[fluid].sum()),
        "leg venous volume at end mL": float(last[m.VEIN : m.VEIN + m.N_SEG].sum()),
    }


#: legflow tolerances tried for the accuracy-matched pairing (loosest first).
MATCH_TOLS = (1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 3e-6, 1e-6)


def work_precision(prm, y0, external, at, ref, timings, errors, runs: int) -> None:
    """A second view of matched accuracy: each SciPy run against legflow at the loosest tolerance of
    ``MATCH_TOLS`` whose error is still at most that run's (RODAS4 is more accurate per tolerance)."""
    cases = {
        f"{tol:g}": (lambda tol=tol: legflow_leg(prm, y0, external, GRID_s, tol, at)) for tol in MATCH_TOLS
    }
    extra, states = interleaved(cases, runs)
    err = {key: deviation(s, ref) for key, s in states.items()}
    print(
        "\nAccuracy-matched pairing (informative; the goal column above pairs equal tolerances): legflow at "
        "the loosest rtol = atol whose error is at most the SciPy run's.\n"
    )
    print("| SciPy run | its error | legflow rtol | legflow error | legflow time | speed-up |")
    print("|---|---|---|---|---|---|")
    for key, timing in timings.items():
        name, tol = key.split("|")
        if name not in ("BDF", "LSODA"):
            continue
        match = next((k for k in cases if err[k] <= errors[key]), None)
        if match is None:
            print(f"| {name} {tol} | {errors[key]:.1e} | none of {MATCH_TOLS} | – | – | – |")
            continue
        ratio = timing.median / extra[match].median
        print(
            f"| {name} {tol} | {errors[key]:.1e} | {match} | {err[match]:.1e} | {_s(extra[match].median)} | "
            f"{ratio:,.1f}× |"
        )


def bench_leg_hour(minutes: int, runs: int) -> None:
    _header(f"1. One leg, {minutes} min of sequential compression: legflow `solver.advance` vs SciPy")
    subject = load_subject("adult")
    prm, y0 = m.pack(subject)
    external = cycle_schedule(GRID_s, minutes)
    fine = cycle_schedule(0.05, minutes)
    at = change_points(external)
    at_fine = change_points(fine)
    assert np.allclose(at * GRID_s, at_fine * 0.05)  # same checkpoints in time
    horizon = minutes * 60.0

    # warm-up: compile (or load) the kernel, touch SciPy
    legflow_leg(prm, y0, external[:5], GRID_s, 1e-6, np.arange(5))
    scipy_leg(prm, y0, external, GRID_s, "LSODA", 1e-4, at[:3])
    seconds, ref = _timed(lambda: scipy_leg(prm, y0, external, GRID_s, "Radau", 1e-10, at))

    fast_rhs = compiled_rhs()
    scipy_leg(np.array([prm]), y0, external, GRID_s, "LSODA", 1e-4, at[:3], fast_rhs)  # compile
    cases: dict[str, Callable[[], Any]] = {}
    for tol in (1e-6, 1e-4):
        cases[f"legflow|{tol:g}"] = lambda tol=tol: legflow_leg(prm, y0, external, GRID_s, tol, at)
        cases[f"BDF|{tol:g}"] = lambda tol=tol: scipy_leg(prm, y0, external, GRID_s, "BDF", tol, at)
        cases[f"LSODA|{tol:g}"] = lambda tol=tol: scipy_leg(prm, y0, external, GRID_s, "LSODA", tol, at)
    cases["legflow 0.05 s grid|1e-06"] = lambda: legflow_leg(prm, y0, fine, 0.05, 1e-6, at_fine)
    cases["LSODA, compiled leg_rhs|1e-06"] = lambda: scipy_leg(
        np.array([prm]), y0, external, GRID_s, "LSODA", 1e-6, at, fast_rhs
    )
    timings, results = interleaved(cases, runs)

    print(
        f"Subject 'adult', supine; {minutes} cycles of 60 s: foot cell 40 mmHg at 0 s, ankle + calf at 2 s, "
        f"knee + thigh at 4 s, all released at 12 s (tissue pressure 32 mmHg, `protocol.schedule`); "
        f"{len(at) - 1} constant-pressure intervals. legflow: `advance` on a {GRID_s:g}-s grid (exact for "
        f"this schedule), one leg; SciPy: `solve_ivp` on `solver.rhs` (plain NumPy), restarted at each "
        f"of the {len(at) - 2} pressure changes, full horizon (no scaling). rtol = atol for both."
    )
    print(
        f"Reference: SciPy Radau, rtol = atol = 1e-10, same restarts ({_s(seconds)}). "
        f"Error = largest deviation from it of the {m.N_DYNAMIC} venous-volume and fluid-excess states "
        f"at the {len(at)} checkpoints (every pressure change), relative to the value (≥ 1 mL). "
        "Numba compile time excluded (warm-up run first).\n"
    )
    print(
        "| solver | rtol = atol | wall time, median (min–max) | error vs reference | "
        "speed-up of legflow (scipy / legflow, same tolerance) | goal ≥ 100× met |"
    )
    print("|---|---|---|---|---|---|")
    for key, timing in timings.items():
        name, tol = key.split("|")
        err = deviation(results[key], ref)
        legflow = timings.get(f"legflow|{tol}")
        if name in ("BDF", "LSODA") and legflow:
            ratio = timing.median / legflow.median
            speed, met = f"**{ratio:,.1f}×**", _met(ratio >= SCIPY_GOAL_X)
        elif name.startswith("LSODA, compiled"):
            ratio = timing.median / timings[f"legflow|{tol}"].median
            who = "legflow" if ratio >= 1.0 else "LSODA on the compiled rhs"
            speed = f"{ratio:,.2f}× ({who} is {max(ratio, 1 / ratio):,.1f}× faster)"
            met = "–"
        else:
            speed, met = "–", "–"
        print(f"| {name} | {tol} | {timing.cell()} | {err:.1e} | {speed} | {met} |")

    errors = {key: deviation(states, ref) for key, states in results.items()}
    worse = [
        (name, tol, errors[f"{name}|{tol}"] / errors[f"legflow|{tol}"])
        for tol in ("1e-06", "0.0001")
        for name in ("BDF", "LSODA")
        if errors[f"legflow|{tol}"] > errors[f"{name}|{tol}"]
    ]
    note = "; ".join(f"{name} at rtol {tol}, whose error is {x:.2f}× legflow's" for name, tol, x in worse)
    print(
        "\nMatched accuracy: each ratio pairs runs at the same rtol = atol, and legflow's error is at most "
        + (f"SciPy's except for {note}." if worse else "SciPy's in every pair.")
    )
    work_precision(prm, y0, external, at, ref, timings, errors, runs)
    print(
        "\nThe same run seen through its metrics (rtol = atol = 1e-6), and each one's relative "
        "difference from legflow:\n"
    )
    metrics = {k: leg_metrics(results[f"{k}|1e-06"], horizon) for k in ("legflow", "BDF", "LSODA")}
    metrics["Radau reference (1e-10)"] = leg_metrics(ref, horizon)
    names = list(metrics["legflow"])
    print("| solver | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for solver, values in metrics.items():
        cells = []
        for name in names:
            base = metrics["legflow"][name]
            rel = "" if solver == "legflow" else f" ({(values[name] - base) / abs(base):+.1e})"
            cells.append(f"{values[name]:.4f}{rel}")
        print(f"| {solver} | " + " | ".join(cells) + " |")
    _flush()


# -- 2. the linear network tier against svZeroDSolver ----------------------------------------------
def breathing_mmHg(n_steps: int, dt: float) -> np.ndarray:
    """Abdominal-pressure change [mmHg] on the grid: 0 … BREATH_SWING_mmHg, one breath per period."""
    t = np.arange(n_steps + 1) * dt
    return 0.5 * BREATH_SWING_mmHg * (1.0 - np.cos(2.0 * np.pi * t / BREATH_PERIOD_s))


def with_flows(trace: LinearTrace) -> LinearTrace:
    """Compute the valve flows too, since svZeroDSolver's answer includes them."""
    trace.valve_flow_mL_per_s  # noqa: B018 - computed for the timing
    return trace


def linear_difference(ours_p: np.ndarray, ours_q: np.ndarray, ref_p: np.ndarray, ref_q: np.ndarray):
    """Largest |difference| in pressure and valve flow, relative to each signal's largest value."""
    dp = np.max(np.abs(ours_p - ref_p) / np.abs(ref_p).max(axis=0))
    dq = np.max(np.abs(ours_q - ref_q) / np.abs(ref_q).max(axis=0))
    return float(dp), float(dq)


def bench_linear(one_minutes: int, cohort_legs: Sequence[Subject], cohort_seconds: float, runs: int) -> None:
    _header("2. Linear network tier: legflow (`twin.network`, numba) vs svZeroDSolver (`svzerod`)")
    dt = LINEAR_DT_s
    # one subject
    legs = linear_legs(load_subject("adult"))
    n_one = round(one_minutes * 60.0 / dt)
    breath = breathing_mmHg(n_one, dt)
    simulate_linear(legs, dt, 10, abdominal_change_mmHg=breath[:11])  # compile
    build_s, config = _timed(lambda: svzerod_config(legs, dt, n_one, abdominal_change_mmHg=breath))
    run_svzerod(svzerod_config(legs, dt, 10, abdominal_change_mmHg=breath[:11]))
    one, one_res = interleaved(
        {
            "legflow": lambda: with_flows(simulate_linear(legs, dt, n_one, abdominal_change_mmHg=breath)),
            "svzerod": lambda: run_svzerod(config),
        },
        runs,
    )
    ours, ref = one_res["legflow"], one_res["svzerod"]
    dp1, dq1 = linear_difference(
        ours.venous_pressure_mmHg[:, 0],
        ours.valve_flow_mL_per_s[:, 0],
        ref.venous_pressure_mmHg,
        ref.valve_flow_mL_per_s,
    )

    # cohort
    cohort = linear_legs(cohort_legs)
    n_c = round(cohort_seconds / dt)
    breath_c = breathing_mmHg(n_c, dt)
    build_c, configs = _timed(
        lambda: [
            svzerod_config(cohort, dt, n_c, abdominal_change_mmHg=breath_c, leg=i)
            for i in range(cohort.n_legs)
        ]
    )
    many, many_res = interleaved(
        {
            "legflow": lambda: with_flows(simulate_linear(cohort, dt, n_c, abdominal_change_mmHg=breath_c)),
            "svzerod": lambda: [run_svzerod(c) for c in configs],
        },
        runs,
    )
    ours_c, refs = many_res["legflow"], many_res["svzerod"]
    diffs = [
        linear_difference(
            ours_c.venous_pressure_mmHg[:, i],
            ours_c.valve_flow_mL_per_s[:, i],
            r.venous_pressure_mmHg,
            r.valve_flow_mL_per_s,
        )
        for i, r in enumerate(refs)
    ]
    dpc, dqc = max(d[0] for d in diffs), max(d[1] for d in diffs)

    print(
        f"Inputs: each leg's own MAP, and its abdominal venous pressure + quiet breathing (0-"
        f"{BREATH_SWING_mmHg:g} mmHg, {60 / BREATH_PERIOD_s:g}/min), sampled every {dt:g} s and linear "
        "between samples for both solvers (svZeroDSolver's convention; legflow's update is exact for it). "
        "legflow: `simulate_linear` (parameters → propagators → numba kernel, every sample recorded) and the "
        "valve flows; "
        "svZeroDSolver 3.2: `Solver(config)`, `run()`, 6 `get_single_result` calls, generalized-α with "
        "the same step, started from the same steady state. Not timed: deriving the parameters from the "
        f"subjects (`linear_legs`, shared) and building the svZeroDSolver JSON dicts ({_s(build_s)} for "
        f"the one subject, {_s(build_c)} for the cohort). Difference = largest |legflow − svZeroDSolver| "
        "over all samples, relative to the signal's largest value.\n"
    )
    print(
        "| case | legflow | svZeroDSolver | speed-up (svzerod / legflow) | goal | met | "
        "difference: pressures / valve flows |"
    )
    print("|---|---|---|---|---|---|---|")
    r1 = one["svzerod"].median / one["legflow"].median
    print(
        f"| one subject ('adult'), {one_minutes} min = {n_one:,} steps | {one['legflow'].cell()} | "
        f"{one['svzerod'].cell()} | **{r1:,.0f}×** | ≥ {SVZEROD_ONE_GOAL_X:g}× | "
        f"{_met(r1 >= SVZEROD_ONE_GOAL_X)} | {dp1:.1e} / {dq1:.1e} |"
    )
    rc = many["svzerod"].median / many["legflow"].median
    print(
        f"| cohort of {cohort.n_legs:,} sampled subjects × {cohort_seconds:g} s = {n_c:,} steps each: "
        f"legflow one batched call, svZeroDSolver a loop | {many['legflow'].cell()} | "
        f"{many['svzerod'].cell()} | "
        f"**{rc:,.0f}×** | ≥ {SVZEROD_COHORT_GOAL_X:g}× | {_met(rc >= SVZEROD_COHORT_GOAL_X)} | "
        f"{dpc:.1e} / {dqc:.1e} (worst subject) |"
    )
    per_leg = many["legflow"].median / cohort.n_legs
    print(
        f"\nCohort throughput: legflow {1.0 / per_leg:,.0f} subjects/s, svZeroDSolver "
        f"{cohort.n_legs / many['svzerod'].median:,.0f} subjects/s."
    )
    _flush()


# -- 3. a virtual cohort with the full twin --------------------------------------------------------
def sample_cohort(n: int, seed: int) -> list[Subject]:
    """``n`` subjects: a parameter set drawn from ``available_subjects()``, then overrides drawn
    uniformly: MAP 80-105 mmHg (normal adult range), filtration coefficient 0.002-0.005
    mL/min/100 g/mmHg (the range in physiology.md), every venous compliance × 0.7-1.3 (±30 %,
    assumed spread) and every microvascular resistance × 0.8-1.25 (resting flow 2-3 mL/100 mL/min)."""
    rng = np.random.default_rng(seed)
    names = available_subjects()
    bases = {name: load_subject(name) for name in names}
    subjects = []
    for _ in range(n):
        base = bases[str(rng.choice(names))]
        f_compliance, f_resistance = rng.uniform(0.7, 1.3), rng.uniform(0.8, 1.25)
        overrides = {
            "mean_arterial_pressure_mmHg": rng.uniform(80.0, 105.0),
            "filtration_coefficient_mL_per_min_per_100g_per_mmHg": rng.uniform(0.002, 0.005),
        }
        for seg_name, seg in zip(("foot", "calf", "thigh"), base.segments, strict=True):
            overrides[f"{seg_name}__venous_compliance_mL_per_mmHg"] = (
                seg.venous_compliance_mL_per_mmHg * f_compliance
            )
            overrides[f"{seg_name}__microvascular_resistance_mmHg_s_per_mL"] = (
                seg.microvascular_resistance_mmHg_s_per_mL * f_resistance
            )
        subjects.append(load_subject(base.name, **overrides))
    return subjects


def cohort_runs(prm, y0, minutes: int, tol: float, runs: int, budget_s: float) -> Timing:
    """``advance`` over the cohort, repeated until ``runs`` runs or ``budget_s`` spent (≥ 1 run)."""
    n = prm.shape[0]
    external = broadcast_external(cycle_schedule(GRID_s, minutes), n)
    timing = Timing(f"{n}x{minutes}", [])
    while len(timing.seconds) < runs and (not timing.seconds or sum(timing.seconds) < budget_s):
        seconds, _ = _timed(lambda: advance(prm, y0, external, GRID_s, COHORT_RECORD_EVERY, tol, tol))
        timing.seconds.append(seconds)
    return timing


def bench_cohort(
    sizes: Sequence[int],
    minutes: Sequence[int],
    runs: int,
    budget_s: float,
    full_grid: bool,
    loose: bool,
    seed: int,
) -> None:
    _header("3. Virtual cohort, full nonlinear twin (`solver.advance`), sequential compression")
    n_max = max(sizes)
    setup_s, subjects = _timed(lambda: sample_cohort(n_max, seed))
    pack_s, packed = _timed(lambda: [m.pack(s) for s in subjects])
    prm = np.array([p for p, _ in packed])
    y0 = np.array([y for _, y in packed])
    advance(prm[:2], y0[:2], broadcast_external(cycle_schedule(GRID_s)[:3], 2), GRID_s)  # compile
    print(
        f"{n_max:,} subjects sampled (seed {seed}; `load_subject` with drawn overrides, {_s(setup_s)}) "
        f"and packed (`model.pack`, {_s(pack_s)}); not timed below. Schedule as in part 1 on a "
        f"{GRID_s:g}-s grid, the same for every leg; rtol = atol = 1e-6 (`advance`'s default); a record "
        f"every {COHORT_RECORD_EVERY} s. numba threads: {numba.get_num_threads()}. Each cell: the median of "
        f"up to {runs} runs, fewer where they would exceed {budget_s:g} s (at least one).\n"
    )
    print(
        "| legs | simulated min | wall time, median (min–max, runs) | per leg-minute | "
        f"goal ≤ {COHORT_GOAL_s:g} s (10,000 legs × 30 min at the sessions' rtol {SESSION_RTOL:g}) |"
    )
    print("|---:|---:|---|---:|---|")
    per_leg_min: list[float] = []
    for n, mins in itertools.product(sorted(sizes), sorted(minutes)):
        headline = n == 10_000 and mins == 30
        if n == n_max and n > 1_000 and not full_grid and mins != max(minutes):
            guess = f"≈ {_s(statistics.median(per_leg_min) * n * mins)}" if per_leg_min else "?"
            print(
                f"| {n:,} | {mins} | not run (`--full-grid`); predicted {guess} from the cost per "
                "leg-minute of the cells above | – | – |"
            )
            continue
        timing = cohort_runs(prm[:n], y0[:n], mins, 1e-6, runs, budget_s)
        cost = timing.median / (n * mins)
        per_leg_min.append(cost)
        ratio = timing.median / COHORT_GOAL_s
        goal = f"{ratio:.2f}× the goal's time (the goal is at rtol {SESSION_RTOL:g}, below)"
        print(f"| {n:,} | {mins} | {timing.cell()} | {1e3 * cost:.2f} ms | {goal if headline else '–'} |")
        _flush()
    if loose:
        n, mins = n_max, max(minutes)
        timing = cohort_runs(prm[:n], y0[:n], mins, SESSION_RTOL, runs, budget_s)
        ratio = timing.median / COHORT_GOAL_s
        goal = f"{_met(ratio <= 1.0)} ({ratio:.2f}× the goal's time)"
        print(
            f"| {n:,} | {mins} | {timing.cell()} at rtol = atol = {SESSION_RTOL:g}, the tolerance of the "
            "twin in sessions and trials (its error against 1e-6 is in part 1) | "
            f"{1e3 * timing.median / (n * mins):.2f} ms | "
            f"{goal if (n, mins) == (10_000, 30) else '–'} |"
        )
    _flush()


# -- report ----------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Leg-twin benchmarks: twin vs SciPy, linear tier vs svZeroDSolver, cohort."
    )
    parser.add_argument("--quick", action="store_true", help="3 runs, 10-min horizons, a small cohort")
    parser.add_argument("--runs", type=int, help="runs per case (median; default 10, --quick 3)")
    parser.add_argument("--parts", default="123", help="which parts to run, e.g. 12")
    parser.add_argument("--cell-budget-s", type=float, default=120.0, help="time budget per cohort cell")
    parser.add_argument("--full-grid", action="store_true", help="also the 10,000-leg cohort at 5 and 15 min")
    parser.add_argument("--seed", type=int, default=SEED, help="seed of the sampled cohorts")
    args = parser.parse_args(argv)
    runs = args.runs or (3 if args.quick else 10)
    started = time.perf_counter()

    print("# legflow twin benchmarks\n")
    print(
        f"- machine: {platform.platform()}, {os.cpu_count()} CPUs ({platform.processor() or 'processor n/a'})"
    )
    print(
        f"- Python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__} "
        f"({numba.get_num_threads()} threads), scipy {version('scipy')}, svzerod {version('svzerod')}"
    )
    print(f"- {'--quick' if args.quick else 'full'}: {runs} runs per case, interleaved; times are wall time")
    _flush()
    if "1" in args.parts:
        bench_leg_hour(10 if args.quick else 60, runs)
    if "2" in args.parts:
        cohort = sample_cohort(100 if args.quick else 1_000, args.seed)
        bench_linear(10 if args.quick else 60, cohort, 60.0, runs)
    if "3" in args.parts:
        sizes, minutes = ((100, 500), (1, 5)) if args.quick else ((100, 1_000, 10_000), (5, 15, 30))
        bench_cohort(sizes, minutes, runs, args.cell_budget_s, args.full_grid, not args.quick, args.seed)
    print(
        f"\n(benchmark took {time.perf_counter() - started:.0f} s; load average at the end: "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())})"
    )


if __name__ == "__main__":
    main()

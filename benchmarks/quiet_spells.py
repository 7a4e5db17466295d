"""How much of its pressure a leg's manifold keeps in a quiet spell (every inlet of the leg closed,
its pump stopped), tick by tick: the evidence behind `MANIFOLD_KEPT_SHARE` and `MANIFOLD_KEPT_s`.

A sound manifold empties back through the pump's reed valves as soon as the leg goes quiet; one
joined to a held cell by an inlet stuck open keeps the cell's pressure. Per number of quiet ticks
and pressure band, this prints the highest share a sound manifold kept (the fault matrix's sound
sessions on six leg models, and a seeded sample of the false-alarm sweep's sessions) and the lowest
share a manifold joined to a held cell kept (inlet stuck open while holding, from the moment the
fault took effect to the safe state), with the rule now in force beside them.

    python -m benchmarks.quiet_spells                # 60 sweep sessions, 2 processes
    python -m benchmarks.quiet_spells --sample 200 --jobs 2

Only spells from MANIFOLD_HELD_mmHg up count, as in the detector. The share is the manifold's
reading over its highest reading since the leg went quiet (the detector's `quiet_from`).
"""

from __future__ import annotations

import argparse
import itertools
import math
import multiprocessing
import random
import time
from collections.abc import Callable
from datetime import date
from typing import Any

from benchmarks.false_alarms import POSTURES
from benchmarks.false_alarms import cases as sweep_cases
from benchmarks.false_alarms import run_case as run_sweep_case
from benchmarks.provenance import code_version
from legflow.apps.faultmatrix import FaultCase, healthy_cases, run_case
from legflow.device.profile import profile_names
from legflow.device.sim import warm_up
from legflow.programs.library import builtin_names
from legflow.safety.detectors import MANIFOLD_KEPT_SHARE, MANIFOLD_HELD_mmHg, MANIFOLD_KEPT_s
from legflow.safety.supervisor import Supervisor
from legflow.twin.model import Posture
from legflow.twin.subject import available_subjects

#: The leg models of the fault-latency reports.
LEGS: tuple[tuple[str, Posture], ...] = (
    ("adult", "supine"),
    ("adult", "seated"),
    ("adult", "standing"),
    ("large_leg", "supine"),
    ("oedema", "supine"),
    ("venous_insufficiency", "supine"),
)
TICK_s = 0.02
TICKS = range(3, 11)
BANDS_mmHg = (10.0, 20.0, 30.0, 50.0)  # lower edges; the last band is open
#: (ticks, band) -> the share kept
Shares = dict[tuple[int, int], float]
#: (ticks, band) -> the extreme share and the session it came from
Extremes = dict[tuple[int, int], tuple[float, str]]


def _band(pressure_mmHg: float) -> int:
    return max(i for i, edge in enumerate(BANDS_mmHg) if pressure_mmHg >= edge)


def _spells(run: Callable[[], Any]) -> tuple[Any, list[tuple[float, int, float, float]]]:
    """Run a session, recording each leg's quiet spells tick by tick: (session s, quiet ticks,
    share kept, highest reading)."""
    spells: list[tuple[float, int, float, float]] = []
    read = Supervisor.read

    def recording(sup: Supervisor) -> Any:
        sensors = read(sup)
        legs = sup._leg_memory
        for leg in range(len(legs)):
            ticks = round(float(legs[leg]["quiet_s"]) / TICK_s)
            top, now = float(legs[leg]["quiet_from"]), float(sensors.manifold_mmHg[leg])
            if ticks in TICKS and top >= MANIFOLD_HELD_mmHg and now >= MANIFOLD_HELD_mmHg:
                spells.append((sup._clock.now() - sup.start_s, ticks, now / top, top))
        return sensors

    Supervisor.read = recording  # type: ignore[method-assign]
    try:
        return run(), spells
    finally:
        Supervisor.read = read  # type: ignore[method-assign]


def _fold(spells: list[tuple[float, int, float, float]], pick: Callable[[float, float], float]) -> Shares:
    out: Shares = {}
    for _, ticks, share, top in spells:
        key = (ticks, _band(top))
        out[key] = pick(out[key], share) if key in out else share
    return out


def sound(job: tuple[str, Any]) -> tuple[str, Shares]:
    """The highest shares of one sound session (a matrix case or a sweep case)."""
    kind, case = job
    if kind == "matrix":
        outcome, spells = _spells(lambda: run_case(case))
        label, status = case.label, outcome.status
    else:
        outcome, spells = _spells(lambda: run_sweep_case(case))
        label = f"{case.program} on {case.profile}, {case.subject} {case.posture}, seed {case.seed}"
        status = outcome.status
    if status != "completed":
        raise RuntimeError(f"{label}: a sound session ended {status}")
    return label, _fold(spells, max)


def joined(case: FaultCase) -> tuple[str, Shares]:
    """The lowest shares kept from the moment an inlet stuck open took effect to the safe state."""
    outcome, spells = _spells(lambda: run_case(case))
    start = outcome.effect_s if outcome.effect_s is not None else float("inf")
    end = outcome.safe_at_s if outcome.safe_at_s is not None else float("inf")
    return case.label, _fold([s for s in spells if start <= s[0] < end], min)


def _merge(results: list[tuple[str, Shares]], pick: Callable[[float, float], float]) -> Extremes:
    out: Extremes = {}
    for label, shares in results:
        for key, share in shares.items():
            if key not in out or pick(share, out[key][0]) == share:
                out[key] = (share, label)
    return out


def report(
    sound_max: Extremes, joined_min: Extremes, n_sound: int, n_joined: int, command: str, wall_s: float
) -> str:
    bands = [f"{lo:g}-{hi:g}" for lo, hi in itertools.pairwise(BANDS_mmHg)] + [f"≥ {BANDS_mmHg[-1]:g}"]
    rule_ticks = math.ceil(MANIFOLD_KEPT_s / TICK_s - 1e-9)
    lines = [
        "# Quiet spells: the share of its pressure a leg's manifold keeps",
        "",
        f"- command: `{command}`; {date.today()}, code {code_version()}; {wall_s:.0f} s",
        f"- {n_sound} sound sessions (highest share kept), {n_joined} with an inlet stuck open while holding"
        " (lowest share kept after the fault took effect, before the safe state)",
        f"- rule in force: more than {MANIFOLD_KEPT_SHARE:g} kept at {rule_ticks} quiet ticks"
        f" ({rule_ticks * TICK_s:.2f} s) or more: an inlet stuck open",
        "",
        "| quiet ticks | " + " | ".join(f"sound, {b} mmHg" for b in bands) + " | joined, any pressure |",
        "|---:|" + "---:|" * (len(bands) + 1),
    ]
    for ticks in TICKS:
        keys = [(ticks, b) for b in range(len(bands))]
        cells = [f"{sound_max[k][0]:.3f}" if k in sound_max else "–" for k in keys]
        lows = [joined_min[k][0] for k in keys if k in joined_min]
        cells.append(f"{min(lows):.3f}" if lows else "–")
        lines.append(f"| {ticks} ({ticks * TICK_s:.2f} s) | " + " | ".join(cells) + " |")
    lines += ["", "Where the sound extremes at the rule's tick count came from:", ""]
    for b, name in enumerate(bands):
        if (rule_ticks, b) in sound_max:
            share, label = sound_max[(rule_ticks, b)]
            lines.append(f"- {name} mmHg: {share:.3f}, {label}")
    return "\n".join(lines) + "\n"


def _pool_map(fn: Callable[[Any], Any], jobs: list[Any], processes: int) -> list[Any]:
    if processes <= 1:
        warm_up()
        return list(map(fn, jobs))
    with multiprocessing.get_context("spawn").Pool(processes, initializer=warm_up) as pool:
        return pool.map(fn, jobs, chunksize=1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Quiet-spell shares kept by sound and joined manifolds.")
    parser.add_argument("--sample", type=int, default=60, help="false-alarm sweep sessions to sample")
    parser.add_argument("--seed", type=int, default=1, help="the sample's random seed")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    every = (list(builtin_names()), list(profile_names()), list(available_subjects()), list(POSTURES))
    todo, _ = sweep_cases(*every, list(range(10)))
    sample = random.Random(args.seed).sample(todo, min(args.sample, len(todo)))
    matrix = [case for subject, posture in LEGS for case in healthy_cases(subject=subject, posture=posture)]
    stuck = [
        FaultCase(profile, "valve_stuck_open", "holding", subject=subject, posture=posture)
        for subject, posture in LEGS
        for profile in profile_names()
    ]
    sound_jobs = [("matrix", c) for c in matrix] + [("sweep", c) for c in sample]
    sound_max = _merge(_pool_map(sound, sound_jobs, args.jobs), max)
    joined_min = _merge(_pool_map(joined, stuck, args.jobs), min)
    options = f"--sample {args.sample} --seed {args.seed} --jobs {args.jobs}"
    command = f"python -m benchmarks.quiet_spells {options}"
    print(report(sound_max, joined_min, len(sound_jobs), len(stuck), command, time.perf_counter() - started))


if __name__ == "__main__":
    main()

"""The fit check's bands, measured: every device profile, simulator seeds, leg-twin subjects, a
garment worn right, strapped loose or tight on the right leg (every cell of it), or with a 1.2 mm
hole in one right-leg cell (by seed); for each, the air each cell took as a share of the nominal
and the share of its pressure it kept once sealed, and how many cells the check classified right.

    python -m benchmarks.fit_check                 # seeds 0-9, adult, oedema, large_leg
    python -m benchmarks.fit_check --seeds 2       # a sample

The thresholds in `legflow.engine.fit` (LOOSE_ABOVE, TIGHT_BELOW, KEPT_ABOVE) sit between the
spreads it prints; the README's fit section quotes them.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import time
from collections import defaultdict

from benchmarks.provenance import code_version
from legflow.apps.limb import leg_twin
from legflow.clock import VirtualClock
from legflow.device.faults import FaultSpec
from legflow.device.profile import load_profile, profile_names
from legflow.device.sim import SimulatedMassager
from legflow.engine.fit import fit_check
from legflow.safety.limits import DEFAULT_LIMITS
from legflow.safety.supervisor import Supervisor

CONDITIONS = {"sound": "ok", "garment_loose": "loose", "garment_tight": "tight", "leak": "leaking"}


def measure(seeds: int, subjects: list[str]) -> dict[str, list[tuple[float, float, bool]]]:
    """Per condition, (air share of the reference, share kept, classified right) of each cell in it."""
    found: dict[str, list[tuple[float, float, bool]]] = defaultdict(list)
    for name in profile_names():
        device = load_profile(name)
        right = [c for c in device.cell_names() if c.startswith("right.")]
        for subject in subjects:
            for seed in range(seeds):
                for condition in CONDITIONS:
                    faults, bad = [], set()
                    if condition in ("garment_loose", "garment_tight"):
                        faults, bad = [FaultSpec(condition, 0.0, "right")], set(right)
                    elif condition == "leak":
                        cell = right[seed % len(right)]
                        faults, bad = [FaultSpec("leak", 0.0, cell)], {cell}
                    clock = VirtualClock()
                    limb = leg_twin(device, subject)
                    massager = SimulatedMassager(device, clock, faults=faults, seed=seed, limb=limb)
                    for c in fit_check(Supervisor(massager, DEFAULT_LIMITS, clock), clock).cells:
                        kind = condition if c.cell in bad else "sound"
                        found[kind].append(
                            (c.fill_mL / c.reference_mL, c.kept, c.verdict == CONDITIONS[kind])
                        )
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="simulator seeds 0..N-1 (default 10)")
    parser.add_argument("--subjects", default="adult,oedema,large_leg", help="leg-twin subjects")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    found = measure(args.seeds, args.subjects.split(","))
    took = time.perf_counter() - started
    command = f"python -m benchmarks.fit_check --seeds {args.seeds} --subjects {args.subjects}"
    where = f"{platform.system()} {platform.machine()}, {datetime.date.today()}, code at {code_version()}"
    print(f"# Fit check bands\n\n`{command}` on {where}; {took:.0f} s\n")
    print("| garment | cells | air / nominal, min-max | kept, min-max | classified right |")
    print("|---|---|---|---|---|")
    for kind in CONDITIONS:
        rows = found[kind]
        shares, kept = [r[0] for r in rows], [r[1] for r in rows]
        right = sum(r[2] for r in rows)
        print(
            f"| {kind} | {len(rows)} | {min(shares):.2f}-{max(shares):.2f} | "
            f"{min(kept):.2f}-{max(kept):.2f} | {right} / {len(rows)} |"
        )


if __name__ == "__main__":
    main()

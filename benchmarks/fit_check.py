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
from legflow.apps.fitting import WORN, fit_worn
from legflow.device.profile import profile_names


def measure(seeds: int, subjects: list[str]) -> dict[str, list[tuple[float, float, bool]]]:
    """Per condition, (air share of the reference, share kept, classified right) of each cell in it."""
    found: dict[str, list[tuple[float, float, bool]]] = defaultdict(list)
    for name in profile_names():
        for subject in subjects:
            for seed in range(seeds):
                for condition in WORN:
                    result, bad = fit_worn(name, condition, seed, subject)
                    for c in result.cells:
                        kind = condition if c.cell in bad else "sound"
                        right = c.verdict == WORN[kind]
                        found[kind].append((c.fill_mL / c.reference_mL, c.kept, right))
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
    for kind in WORN:
        rows = found[kind]
        shares, kept = [r[0] for r in rows], [r[1] for r in rows]
        right = sum(r[2] for r in rows)
        print(
            f"| {kind} | {len(rows)} | {min(shares):.2f}-{max(shares):.2f} | "
            f"{min(kept):.2f}-{max(kept):.2f} | {right} / {len(rows)} |"
        )


if __name__ == "__main__":
    main()

"""Pressure tracking of the controller on the simulated massager, per program and device profile.

For every inflation ramp of every cell: the error between the *true* cell pressure and the setpoint
at the end of the ramp (goal: within ±3 mmHg), and the overshoot above the setpoint while it is
held (goal: ≤ 5 mmHg).

    python -m benchmarks.controller
"""

from __future__ import annotations

import numpy as np
from tests.tracking_helpers import tracking

from legflow.apps.faultmatrix import exercise_program
from legflow.device.profile import load_profile
from legflow.programs.library import builtin_source

CASES = [
    ("circulation", "reference"), ("recovery", "reference"), ("lymph", "reference"),
    ("stress", "reference"), ("pre-sport", "reference"), ("circulation", "recovery-boots"),
    ("exercise", "home-foot-calf"), ("exercise", "calf-sleeve"),
]  # fmt: skip


def main() -> None:
    header = ["program", "profile", "status", "inflations", "end of ramp within ±3 mmHg",
              "error p5 / p50 / p95 mmHg", "overshoot ≤ 5 mmHg", "overshoot p95 / max mmHg"]  # fmt: skip
    print("| " + " | ".join(header) + " |")
    print("|---|---|---|---:|---:|---|---:|---|")
    for name, profile in CASES:
        program = (
            exercise_program(load_profile(profile)) if name == "exercise" else builtin_source(name).program
        )
        status, err, over = tracking(program, profile)
        p5, p50, p95 = np.percentile(err, [5, 50, 95])
        print(f"| {name} | {profile} | {status} | {len(err)} | {np.mean(np.abs(err) <= 3):.1%} | "
              f"{p5:.1f} / {p50:.1f} / {p95:.1f} | {np.mean(over <= 5):.1%} | "
              f"{np.percentile(over, 95):.1f} / {over.max():.1f} |")  # fmt: skip


if __name__ == "__main__":
    main()

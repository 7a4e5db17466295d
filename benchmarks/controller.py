"""Pressure tracking of the controller on the simulated massager, per program and device profile.

For every inflation ramp of every cell: the error between the *true* cell pressure and the setpoint
at the end of the ramp (goal: within ±3 mmHg), and the overshoot above the setpoint while it is
held (goal: ≤ 5 mmHg).

    python -m benchmarks.controller
"""

from __future__ import annotations

import numpy as np

from legflow.clock import VirtualClock
from legflow.device.profile import load_profile
from legflow.device.sim import SimulatedMassager
from legflow.engine.session import Session
from legflow.engine.testprogram import exercise_program
from legflow.programs.library import builtin_source
from legflow.programs.model import Program
from legflow.safety.limits import DEFAULT_LIMITS
from legflow.safety.supervisor import Supervisor

CASES = [
    ("circulation", "reference"), ("recovery", "reference"), ("lymph", "reference"),
    ("stress", "reference"), ("pre-sport", "reference"), ("circulation", "recovery-boots"),
    ("exercise", "home-foot-calf"), ("exercise", "calf-sleeve"),
]  # fmt: skip


def tracking(program: Program, profile_name: str) -> tuple[str, np.ndarray, np.ndarray]:
    """Run one session; return its status, the end-of-ramp errors and the overshoots."""
    clock = VirtualClock()
    sim = SimulatedMassager(load_profile(profile_name), clock)
    sup = Supervisor(sim, DEFAULT_LIMITS, clock)
    session = Session(program, "tracking", sup, clock)
    truth: list[np.ndarray] = []
    read = sup.read

    def watched():
        sensors = read()
        truth.append(sim.true_pressure_mmHg.copy())
        return sensors

    sup.read = watched
    status = session.run()["status"]
    true = np.array(truth[1:])
    table = session.table[: len(true)]
    errors, overshoot = [], []
    for c in range(true.shape[1]):
        sp = table[:, c]
        rising = np.diff(sp) > 0
        for end in np.nonzero(rising[:-1] & ~rising[1:] & (sp[1:-1] > 5))[0] + 1:
            last = end
            while last < len(sp) - 1 and sp[last + 1] == sp[end]:
                last += 1
            errors.append(true[end, c] - sp[end])
            overshoot.append(true[end : last + 1, c].max() - sp[end])
    return status, np.array(errors), np.array(overshoot)


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

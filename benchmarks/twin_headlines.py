"""The leg twin's headline numbers, to set a model change's effect side by side: what `legflow twin
run` says of the built-in programs (blood ejected per cycle, refill, fluid cleared, lymph), each
validation case's model value, and what `legflow optimise --goal lymph` finds on a small budget.

    python -m benchmarks.twin_headlines            # prints a Markdown report
    python -m benchmarks.twin_headlines --budget 0 # without the optimiser (seconds)

Deterministic (fixed seeds), so two commits' reports differ only where the model does.
"""

from __future__ import annotations

import argparse
import time
from datetime import date

from benchmarks.provenance import code_version
from legflow.cli.twin import run_twin
from legflow.device.profile import load_profile
from legflow.programs.library import builtin_source
from legflow.safety.limits import DEFAULT_LIMITS
from legflow.trials.cohorts import load_cohort
from legflow.trials.optimise import optimise
from legflow.twin.validate import published_text, run_validation

PROGRAMS = ("circulation", "lymph", "recovery", "sitting-break")
SUBJECTS = ("adult", "oedema")
METRICS = (
    ("ejected_mL_per_cycle", "ejected per cycle, mL"),
    ("refill_s", "refill, s"),
    ("fluid_cleared_mL", "fluid cleared, mL"),
    ("lymph_mL_per_h", "lymph, mL/h"),
    ("peak_flow_augmentation", "peak outflow / resting"),
)


def twin_table() -> list[str]:
    lines = [
        "| program | subject | " + " | ".join(label for _, label in METRICS) + " |",
        "|---|---|" + "---:|" * len(METRICS),
    ]
    for name in PROGRAMS:
        program = builtin_source(name).program
        for subject in SUBJECTS:
            twin = run_twin(program, subject, "supine")
            values = [getattr(twin, key) for key, _ in METRICS]
            cells = ["–" if v is None else f"{v:g}" for v in values]
            lines.append(f"| {name} | {subject} | " + " | ".join(cells) + " |")
    return lines


def validation_table() -> list[str]:
    lines = ["| case | published | model | verdict |", "|---|---|---|---|"]
    for row in run_validation():
        verdict = "pass" if row.passed else "MISS"
        lines.append(f"| {row.id} | {published_text(row)} | {row.model_text} | {verdict} |")
    return lines


def optimiser_lines(budget: int) -> list[str]:
    started = time.perf_counter()
    cohort = load_cohort("oedema")
    result = optimise(
        "lymph", cohort, ["foot", "calf", "thigh"], 10.0, budget, load_profile(), DEFAULT_LIMITS, n=8, seed=0
    )
    recipe = result.trial.metric("recipe", result.metric)
    params = ", ".join(f"{k} {v:.3g}" for k, v in sorted(result.best_params.items()))
    return [
        f"`optimise('lymph', oedema cohort n = 8, seed 0, foot/calf/thigh, 10 min, budget {budget})`, "
        f"{time.perf_counter() - started:.0f} s: best {result.metric} {result.best_score:.3g} "
        f"(the goal's recipe program: {float(recipe.mean()):.3g}); best parameters: {params}.",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The leg twin's headline numbers.")
    parser.add_argument("--budget", type=int, default=96, help="optimiser candidates (0: skip it)")
    args = parser.parse_args(argv)
    print("# Leg twin headline numbers\n")
    print(f"`python -m benchmarks.twin_headlines`, {date.today()}, code at {code_version()}.\n")
    print("## `legflow twin run`, supine\n")
    print("\n".join(twin_table()))
    print("\n## `legflow twin validate` (the default adult)\n")
    print("\n".join(validation_table()))
    if args.budget:
        print("\n## The optimiser's lymph program\n")
        print("\n".join(optimiser_lines(args.budget)))


if __name__ == "__main__":
    main()

"""The twin's published cases over a cohort: how much of a population each verdict holds for.

A model that reproduces a measurement only for its one default adult is fragile. This runs every
case of `legflow.twin.validate` on each subject sampled from a cohort's priors
(`legflow.trials.cohorts`), in the case's own posture, and counts the subjects inside the published
tolerance. The published values are means of groups of people, so a sound model need not put every
subject inside; a case that holds for few of them rests on the default's parameters alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from legflow.trials.cohorts import load_cohort
from legflow.twin.validate import load_cases, measure_case, subject_and_posture


@dataclass(frozen=True)
class CohortVerdict:
    """One case over a cohort: how many subjects are within its tolerance, and the spread of the
    model's value where it is one number (5th percentile, median, 95th)."""

    id: str
    cohort: str
    n: int
    within: int
    #: Subjects whose run did not finish (the solver gave up): counted as outside the tolerance.
    failed: int
    spread: tuple[float, float, float] | None

    @property
    def fraction(self) -> float:
        return self.within / self.n

    def text(self) -> str:
        out = f"{self.fraction:.0%} ({self.within}/{self.n})"
        return out + (f", {self.failed} failed" if self.failed else "")

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "cohort": self.cohort,
            "n": self.n,
            "within": self.within,
            "fraction": round(self.fraction, 3),
            "failed": self.failed,
        }
        if self.spread is not None:
            found["model_p5"], found["model_median"], found["model_p95"] = self.spread
        return found


def cohort_validation(cohort: str, n: int, seed: int = 0) -> list[CohortVerdict]:
    """Every case of ``validation.toml`` on ``n`` subjects of ``cohort`` (seeded, as trials sample
    them), in file order. Raises `CohortError` for an unknown cohort or a bad ``n`` or ``seed``."""
    subjects = load_cohort(cohort).sample(n, seed)
    twins = [s.subject() for s in subjects]
    verdicts = []
    for case in load_cases():
        _, posture = subject_and_posture(case)
        within, failed, values = 0, 0, []
        for twin in twins:
            try:
                found = measure_case(case, twin, posture)
            except RuntimeError:  # the solver's step size collapsed
                failed += 1
                continue
            within += bool(found.passed)
            if isinstance(found.value, float | int) and not isinstance(found.value, bool):
                values.append(float(found.value))
        spread = None
        if values and len(values) == len(twins):
            p5, median, p95 = np.percentile(values, [5, 50, 95])
            spread = (round(float(p5), 4), round(float(median), 4), round(float(p95), 4))
        verdicts.append(CohortVerdict(case["id"], cohort, n, within, failed, spread))
    return verdicts

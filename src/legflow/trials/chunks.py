"""The unit of work of a virtual trial: a program as a tissue-pressure `Schedule`, and the metrics of
one chunk of subjects under every schedule (`run_chunk`, a pure function of schedules, subjects and
tolerance), with the `Backend` protocol that runs chunks (:mod:`.backends`: here or on Ray).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from legflow.trials.cohorts import VirtualSubject
from legflow.twin.live import TWIN_STEP_s
from legflow.twin.metrics import program_metrics
from legflow.twin.solver import Trace, simulate

#: Metric key → (what it is, unit). The first five are the session summary's ``twin`` block.
METRICS: dict[str, tuple[str, str]] = {
    "ejected_mL_per_cycle": ("blood ejected per cycle", "mL"),
    "ejected_mL_per_min": ("blood ejected per minute", "mL/min"),
    "peak_flow_augmentation": ("peak outflow / resting outflow", "x"),
    "refill_s": ("refill to 90 % after release", "s"),
    "fluid_cleared_mL": ("interstitial fluid cleared", "mL"),
    "lymph_mL_per_h": ("lymph flow", "mL/h"),
}
METRIC_KEYS = tuple(METRICS)


@dataclass(frozen=True)
class Schedule:
    """One program as tissue pressures. Legs that get identical pressures are simulated once:
    ``external_mmHg`` is [n_steps, 1, 3] for a "both" program, [n_steps, 2, 3] otherwise."""

    label: str
    goal: str
    duration_s: float
    external_mmHg: np.ndarray

    @property
    def legs(self) -> int:
        return self.external_mmHg.shape[1]


def _subject_metrics(trace: Trace, legs: slice, minutes: float) -> list[float]:
    part = Trace(
        t_s=trace.t_s,
        states=trace.states[:, legs],
        external_mmHg=trace.external_mmHg[:, legs],
        observed=trace.observed[:, legs],
        params=trace.params[legs],
        tissue_volume_mL=trace.tissue_volume_mL[legs],
    )
    found = program_metrics(part)
    compressed = int(np.any(part.external_mmHg > 0.0, axis=(0, 2)).sum())
    ejected = found["ejected_mL_per_cycle"]
    per_min = None if ejected is None else round(ejected * found["cycles"] / compressed / minutes, 2)
    found["ejected_mL_per_min"] = per_min
    return [np.nan if found[k] is None else float(found[k]) for k in METRIC_KEYS]


def run_chunk(schedules: Sequence[Schedule], subjects: Sequence[VirtualSubject], rtol: float) -> np.ndarray:
    """Metrics [n_programs, n_subjects, n_metrics] of these subjects under each schedule.

    Subjects are batched by posture (one posture per solver call); both legs of a subject share
    its parameters."""
    out = np.full((len(schedules), len(subjects), len(METRIC_KEYS)), np.nan)
    twins = [s.subject() for s in subjects]
    by_posture: dict[str, list[int]] = {}
    for i, s in enumerate(subjects):
        by_posture.setdefault(s.posture, []).append(i)
    for p, schedule in enumerate(schedules):
        legs = schedule.legs
        minutes = schedule.duration_s / 60.0
        for posture, members in by_posture.items():
            external = np.tile(schedule.external_mmHg, (1, len(members), 1))
            batch = [twins[i] for i in members for _ in range(legs)]
            trace = simulate(batch, external, TWIN_STEP_s, posture=posture, rtol=rtol)  # type: ignore[arg-type]
            for k, i in enumerate(members):
                out[p, i] = _subject_metrics(trace, slice(k * legs, (k + 1) * legs), minutes)
    return out


Progress = Callable[[int, int], None]


class Backend(Protocol):
    """Runs chunks of a trial (:func:`run_chunk` on each) and returns their metrics in chunk order:
    [n_programs, n_subjects, n_metrics]. ``progress(done_subjects, n_subjects)`` after each chunk."""

    name: str

    def run(
        self,
        schedules: Sequence[Schedule],
        chunks: Sequence[Sequence[VirtualSubject]],
        rtol: float,
        progress: Progress | None = None,
    ) -> np.ndarray: ...

    def close(self) -> None: ...

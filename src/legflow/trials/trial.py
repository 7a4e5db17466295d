"""A virtual trial: programs run over a sampled cohort in the leg twin → per-subject metrics.

Every subject meets every program (a paired design), so differences between programs are read per
subject, and their confidence intervals are narrower than those of the means. The cohort is cut
into chunks of subjects; a chunk is a pure function of (schedules, subjects, rtol) (:mod:`.chunks`),
so any backend (:mod:`.backends`) that runs the same chunks gives the same numbers.

The metrics are those of ``legflow twin run`` (``twin.metrics.program_metrics``) per subject, plus
blood ejected per minute of compressed leg. They are model predictions, not clinical evidence: each
is shown beside the program's evidence grade (:func:`program_evidence`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from legflow.clock import wall_s
from legflow.device.profile import load_profile
from legflow.evidence.dose import program_grading
from legflow.plan.dose_schedule import tissue_pressures
from legflow.programs.model import Program
from legflow.trials.backends import LocalBackend
from legflow.trials.chunks import METRIC_KEYS, Backend, Progress, Schedule
from legflow.trials.cohorts import Cohort, VirtualSubject
from legflow.twin.live import SESSION_RTOL
from legflow.twin.subject import load_subject

#: Solver tolerance of trials: that of the twin in sessions, whose metrics stay within 1 % of those
#: at 1e-6 (tests/test_twin_live.py) at a third of the cost.
TRIAL_RTOL = SESSION_RTOL
DEFAULT_CHUNK_SUBJECTS = 32
#: Memory a chunk's traces may take (states, observables, pressures of every leg at every step).
CHUNK_MEMORY_BYTES = 256 * 2**20
_BYTES_PER_LEG_STEP = 8 * (8 + 17 + 3 + 3)
BOOTSTRAP_RESAMPLES = 2000
NOT_EVIDENCE = "Twin predictions are model outputs, not clinical evidence."


def program_schedule(label: str, program: Program) -> Schedule:
    """The program as a cohort's legs feel it: the reference device's cells (its profile's
    coverage, as `legflow run` squeezes) through the default adult's transmission ratio."""
    ratio = load_subject("adult").circulation.pressure_transmission_ratio
    external = tissue_pressures(program, load_profile().zone_covers(), ratio)
    if np.array_equal(external[:, 0], external[:, 1]):
        external = external[:, :1]
    return Schedule(label, program.program.goal, program.duration_s, np.ascontiguousarray(external))


def program_evidence(program: Program) -> tuple[str, str]:
    """(grade, sentence) of a program, as the library grades it (`legflow.evidence.program_grading`:
    `legflow programs`, `show`, the dashboard): the benefit of its goal that what it does gives, or
    the grade it borrows, saying so. The twin runs only its compression; the grade is the program's."""
    grading = program_grading(program)
    if grading.benefit is None:
        return "-", f"No graded evidence for the goal '{program.program.goal}'."
    text = grading.benefit.describe()
    return grading.grade, f"{text} ({grading.note})" if grading.note else text


def chunk_size(schedules: Sequence[Schedule], requested: int = DEFAULT_CHUNK_SUBJECTS) -> int:
    """Subjects per chunk: as requested, fewer if the longest program's traces would not fit
    ``CHUNK_MEMORY_BYTES``."""
    steps = max(s.external_mmHg.shape[0] * s.legs for s in schedules)
    fits = max(1, CHUNK_MEMORY_BYTES // (steps * _BYTES_PER_LEG_STEP))
    return max(1, min(requested, fits))


def split(subjects: Sequence[VirtualSubject], size: int) -> list[list[VirtualSubject]]:
    return [list(subjects[i : i + size]) for i in range(0, len(subjects), size)]


@dataclass(frozen=True)
class MetricSummary:
    """One metric of one program across the cohort; the difference is paired, against the first
    program of the trial (None for the first)."""

    label: str
    metric: str
    n: int
    mean: float
    ci_low: float
    ci_high: float
    sd: float
    p5: float
    median: float
    p95: float
    diff: float | None = None
    diff_low: float | None = None
    diff_high: float | None = None


@dataclass
class TrialResult:
    cohort: str
    seed: int
    labels: list[str]
    goals: list[str]
    durations_s: list[float]
    subjects: list[VirtualSubject]
    values: np.ndarray  # [n_programs, n_subjects, n_metrics]
    backend: str = "local"
    wall_s: float = 0.0
    rtol: float = TRIAL_RTOL
    legs_solved: tuple[int, ...] = ()  # per program: 1 when both legs get the same pressures
    #: per program: (grade, sentence) of its evidence (`program_evidence`)
    evidence: list[tuple[str, str]] = field(default_factory=list)

    def evidence_of(self, label: str) -> tuple[str, str]:
        """(grade, sentence) of the program ``label``, as the library grades it."""
        return self.evidence[self.labels.index(label)]

    @property
    def n(self) -> int:
        return len(self.subjects)

    @property
    def leg_hours(self) -> float:
        """Leg-hours of twin time the trial simulated (both legs of every subject)."""
        return 2 * self.n * sum(self.durations_s) / 3600.0

    @property
    def solved_leg_hours(self) -> float:
        """Leg-hours the solver integrated (identical legs are solved once)."""
        legs = self.legs_solved or (2,) * len(self.durations_s)
        return self.n * sum(k * d for k, d in zip(legs, self.durations_s, strict=True)) / 3600.0

    def metric(self, label: str, key: str) -> np.ndarray:
        return self.values[self.labels.index(label), :, METRIC_KEYS.index(key)]

    def summary(self, confidence: float = 0.95) -> list[MetricSummary]:
        """Mean with a percentile-bootstrap CI (resampling subjects, seeded by the trial's seed),
        spread (SD, 5th–95th percentile) and the paired difference to the first program."""
        alpha = (1.0 - confidence) / 2.0
        rng = np.random.default_rng([self.seed, 0xB0075])
        idx = rng.integers(0, self.n, size=(BOOTSTRAP_RESAMPLES, self.n))
        rows = []
        for p, label in enumerate(self.labels):
            for m, key in enumerate(METRIC_KEYS):
                v = self.values[p, :, m]
                ok = np.isfinite(v)
                if not ok.any():
                    continue
                low, high = _bootstrap_ci(v, idx, alpha)
                row: dict[str, Any] = dict(
                    label=label,
                    metric=key,
                    n=int(ok.sum()),
                    mean=float(v[ok].mean()),
                    ci_low=low,
                    ci_high=high,
                    sd=float(v[ok].std(ddof=1)) if ok.sum() > 1 else 0.0,
                    p5=float(np.percentile(v[ok], 5)),
                    median=float(np.median(v[ok])),
                    p95=float(np.percentile(v[ok], 95)),
                )
                if p > 0:
                    d = v - self.values[0, :, m]
                    if np.isfinite(d).any():
                        row["diff"] = float(d[np.isfinite(d)].mean())
                        row["diff_low"], row["diff_high"] = _bootstrap_ci(d, idx, alpha)
                rows.append(MetricSummary(**row))
        return rows


def _bootstrap_ci(v: np.ndarray, idx: np.ndarray, alpha: float) -> tuple[float, float]:
    """Percentile CI of the mean of the finite values of ``v`` over the resamples ``idx``."""
    ok = np.isfinite(v)
    sums = np.where(ok, v, 0.0)[idx].sum(axis=1)
    counts = ok[idx].sum(axis=1)
    means = sums[counts > 0] / counts[counts > 0]
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return float(low), float(high)


def run_trial(
    programs: Sequence[tuple[str, Program]],
    cohort: Cohort,
    n: int,
    seed: int = 0,
    backend: Backend | None = None,
    chunk_subjects: int = DEFAULT_CHUNK_SUBJECTS,
    rtol: float = TRIAL_RTOL,
    progress: Progress | None = None,
) -> TrialResult:
    """Run ``programs`` (label, program) over ``n`` subjects of ``cohort`` sampled with ``seed``.

    ``backend``: a :mod:`.backends` backend (default: local); ``progress(done_subjects, n)`` is
    called as chunks finish."""
    subjects = cohort.sample(n, seed)
    return run_on_subjects(programs, subjects, cohort.name, seed, backend, chunk_subjects, rtol, progress)


def run_on_subjects(
    programs: Sequence[tuple[str, Program]],
    subjects: Sequence[VirtualSubject],
    cohort_name: str,
    seed: int,
    backend: Backend | None = None,
    chunk_subjects: int = DEFAULT_CHUNK_SUBJECTS,
    rtol: float = TRIAL_RTOL,
    progress: Progress | None = None,
) -> TrialResult:
    """:func:`run_trial` on subjects already drawn (the optimiser keeps one cohort for every
    candidate, so candidates differ by their program only)."""
    if not programs:
        raise ValueError("a trial needs at least one program")
    runner: Backend = backend if backend is not None else LocalBackend()
    schedules = [program_schedule(label, program) for label, program in programs]
    chunks = split(subjects, chunk_size(schedules, chunk_subjects))
    start = wall_s()
    values = runner.run(schedules, chunks, rtol, progress)
    return TrialResult(
        cohort=cohort_name,
        seed=seed,
        labels=[s.label for s in schedules],
        goals=[s.goal for s in schedules],
        durations_s=[s.duration_s for s in schedules],
        subjects=list(subjects),
        values=values,
        backend=runner.name,
        wall_s=wall_s() - start,
        rtol=rtol,
        legs_solved=tuple(s.legs for s in schedules),
        evidence=[program_evidence(program) for _, program in programs],
    )

"""Run the published cases of ``validation.toml`` against the twin and report pass or miss.

``validation.toml`` is the project's reference (shared/reference/validation.toml) copied unchanged:
each case's id, subject, protocol, measure, published value and tolerance are the reference's, and
a test checks the copy against it. Every case is run by the function registered under its id, which
measures what the case's ``measure`` names, on its subject in its posture; a case without a runner
is a miss ("no runner"), never skipped. No parameter is tuned to any case: misses stay misses.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from legflow.twin import model as m
from legflow.twin.metrics import cycle_metrics
from legflow.twin.model import POSTURES
from legflow.twin.protocol import WHOLE_SEGMENT_COVERAGE, Phase, schedule
from legflow.twin.solver import Trace, simulate
from legflow.twin.subject import Subject, TwinParameterError, load_subject

CASES_FILE = Path(__file__).parent / "validation.toml"


@dataclass(frozen=True)
class Measured:
    """What a runner found: the model's value of the case's measure, the verdict, and the text shown
    for it (the value with its unit and any context, such as parts of the value that are not scored)."""

    value: Any
    passed: bool
    text: str


@dataclass(frozen=True)
class ValidationRow:
    id: str
    source: str
    subject: str
    protocol: str
    measure: str
    #: The published number (or list), or the expected outcome of a qualitative case.
    published: Any
    unit: str | None
    #: {"rel": fraction} or {"abs": amount in the unit}; None for a qualitative case.
    tolerance: dict[str, float] | None
    model: Any
    model_text: str
    passed: bool
    #: A further condition of the case, scored with it ("the rise is monotone and saturating").
    also: str | None = None
    #: For a miss: the case again with each parameter at each end of its physiological range.
    within_ranges: RangeCheck | None = None

    @property
    def verdict(self) -> str:
        return "pass" if self.passed else "MISS"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "subject": self.subject,
            "protocol": self.protocol,
            "measure": self.measure,
            "published": self.published,
            "unit": self.unit,
            "model": self.model,
            "model_text": self.model_text,
            "tolerance": self.tolerance,
            **({"also": self.also} if self.also else {}),
            "pass": self.passed,
            **({"within_ranges": self.within_ranges.as_dict()} if self.within_ranges else {}),
        }


@dataclass(frozen=True)
class RangeProbe:
    """A case run with one parameter moved to one end of its physiological range."""

    path: str
    end: str  # "low" or "high"
    value: float
    passed: bool
    #: How far the model's value lies from the published one, in tolerances (≤ 1: within); None
    #: for a qualitative case.
    distance: float | None
    text: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RangeCheck:
    """Whether a missed case could pass with its parameters anywhere in their physiological ranges,
    tried one at a time at each end (`range_check`). A miss that no range end turns into a pass
    needs a value outside a cited range, or a model change; one that some end passes is reported
    with that parameter, which is not moved to pass it."""

    probes: int
    failed: int  # probes whose run did not finish (the solver gave up)
    passing: tuple[RangeProbe, ...]
    closest: RangeProbe | None
    #: Parameters whose range ends both gave the default's value to the digits shown: some matter
    #: little to this case, and some the model reads only through values derived from them when the
    #: file was written (the resting blood flow through the microvascular resistances, whose ranges
    #: follow from its own).
    unchanged: tuple[str, ...] = ()

    def text(self) -> str:
        done = f"{self.probes} runs, one parameter at a time at each end of its range"
        if self.unchanged:
            done += (
                f"; {len(self.unchanged)} parameters moved it less than the digits shown (--json names them)"
            )
        if self.failed:
            done += f"; {self.failed} did not finish"
        if self.passing:
            names = ", ".join(f"{p.path} at its {p.end} end ({p.value:.4g}): {p.text}" for p in self.passing)
            return f"passes within the ranges with {names} ({done})"
        closest = self.closest
        if closest is None:
            return f"no single parameter within its range passes ({done})"
        return (
            f"no single parameter within its range passes ({done}); closest: {closest.path} at its "
            f"{closest.end} end ({closest.value:.4g}): {closest.text}, {closest.distance:.1f} tolerances off"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "probes": self.probes,
            "failed": self.failed,
            "passing": [p.as_dict() for p in self.passing],
            "closest": self.closest.as_dict() if self.closest else None,
            "unchanged": list(self.unchanged),
            "text": self.text(),
        }


Runner = Callable[[dict[str, Any], Subject, str], Measured]
_RUNNERS: dict[str, Runner] = {}


def _runner(fn: Runner) -> Runner:
    _RUNNERS[fn.__name__] = fn
    return fn


def load_cases() -> list[dict[str, Any]]:
    return tomllib.loads(CASES_FILE.read_text(encoding="utf-8"))["case"]


def published(case: dict[str, Any]) -> tuple[Any, str | None]:
    """The case's published value and its unit, read from its ``value_<unit>`` key (``value_pct_per_s``
    is in %/s), or its ``expect`` with no unit."""
    if "expect" in case:
        return case["expect"], None
    (key,) = [k for k in case if k.startswith("value_")]
    unit = key.removeprefix("value_").replace("_per_", "/").replace("pct", "%").replace("_", " ")
    return case[key], unit


def tolerance(case: dict[str, Any]) -> dict[str, float] | None:
    if "tolerance_rel" in case:
        return {"rel": case["tolerance_rel"]}
    if "tolerance_abs" in case:
        return {"abs": case["tolerance_abs"]}
    return None


def subject_and_posture(case: dict[str, Any]) -> tuple[str, str]:
    """``subject = "adult supine"``: the parameter set and the posture."""
    name, posture = case["subject"].split()
    if posture not in POSTURES:
        raise ValueError(f"{case['id']}: unknown posture '{posture}' (one of: {', '.join(POSTURES)})")
    return name, posture


def measure_case(case: dict[str, Any], subject: Subject, posture: str) -> Measured:
    """Run one case on ``subject`` in ``posture`` (the case's own, or another's: a cohort's subjects);
    a case without a runner is a miss."""
    runner = _RUNNERS.get(case["id"])
    return Measured(None, False, "no runner") if runner is None else runner(case, subject, posture)


def distance(case: dict[str, Any], model: Any) -> float | None:
    """How far a model value lies from the case's published one, in tolerances (the largest over a
    list); None for a qualitative case or a value that is not a number."""
    value, _ = published(case)
    numbers = model if isinstance(model, list) else [model]
    targets = value if isinstance(value, list) else [value]
    if "expect" in case or not all(isinstance(x, int | float) for x in numbers):
        return None
    if "tolerance_rel" in case:
        return max(
            abs(x - v) / (case["tolerance_rel"] * abs(v)) for x, v in zip(numbers, targets, strict=True)
        )
    return max(abs(x - v) / case["tolerance_abs"] for x, v in zip(numbers, targets, strict=True))


def range_check(case: dict[str, Any], subject: Subject, posture: str) -> RangeCheck:
    """Run ``case`` again with each parameter of ``subject`` that has a physiological range at the
    low and at the high end of it, one at a time (the others at their values)."""
    default = measure_case(case, subject, posture).value
    probes: list[RangeProbe] = []
    failed = 0
    moved_nothing: dict[str, bool] = {}
    for path, (low, high, _) in subject.ranges:
        for end, at in (("low", low), ("high", high)):
            if at == subject.value(path):
                continue
            moved = load_subject(subject.name, **{path.replace(".", "__"): at})
            try:
                found = measure_case(case, moved, posture)
            except (RuntimeError, TwinParameterError):  # the solver gave up; a value its model refuses
                failed += 1
                continue
            probes.append(
                RangeProbe(path, end, at, bool(found.passed), distance(case, found.value), found.text)
            )
            moved_nothing[path] = moved_nothing.get(path, True) and found.value == default
    passing = tuple(p for p in probes if p.passed)
    scored = [p for p in probes if p.distance is not None]
    closest = min(scored, key=lambda p: p.distance or 0.0) if scored else None
    unchanged = tuple(path for path, same in moved_nothing.items() if same)
    return RangeCheck(len(probes) + failed, failed, passing, closest, unchanged)


def run_validation(ranges: bool = True) -> list[ValidationRow]:
    """One row per case of ``validation.toml``, in file order; ``ranges``: each miss also runs
    `range_check`."""
    rows = []
    for case in load_cases():
        name, posture = subject_and_posture(case)
        subject = load_subject(name)
        found = measure_case(case, subject, posture)
        value, unit = published(case)
        rows.append(
            ValidationRow(
                id=case["id"],
                source=case["source"],
                subject=case["subject"],
                protocol=case["protocol"],
                measure=case["measure"],
                published=value,
                unit=unit,
                tolerance=tolerance(case),
                model=found.value,
                model_text=found.text,
                passed=bool(found.passed),
                also=case.get("also"),
                within_ranges=range_check(case, subject, posture) if ranges and not found.passed else None,
            )
        )
    return rows


def format_table(rows: list[ValidationRow], cohort: dict[str, str] | None = None) -> str:
    """The rows as a text table, then what each case measures; ``cohort``: per case id, the share of
    a cohort within the tolerance (a column of its own)."""
    head: tuple[str, ...] = ("id", "published", "model", "tolerance", "verdict")
    body: list[tuple[str, ...]] = [
        (r.id, published_text(r), r.model_text, _tolerance_text(r), r.verdict) for r in rows
    ]
    if cohort:
        head = (*head, "cohort within")
        body = [(*line, cohort.get(r.id, "")) for line, r in zip(body, rows, strict=True)]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=True)]
    table = [" | ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=True)) for line in [head, *body]]
    checks = [f"  {r.id}: {r.within_ranges.text()}" for r in rows if r.within_ranges]
    ranges = ["", "misses within the parameters' physiological ranges (legflow twin params):", *checks]
    return "\n".join(
        [*table, "", "measures:", *(f"  {r.id}: {r.measure}" for r in rows), *(ranges if checks else [])]
    )


def published_text(row: ValidationRow) -> str:
    if row.unit is None:
        return str(row.published)
    values = row.published if isinstance(row.published, list) else [row.published]
    return " / ".join(f"{v:g}" for v in values) + f" {row.unit}"


def _tolerance_text(row: ValidationRow) -> str:
    if row.tolerance is None:
        return "qualitative"
    if "rel" in row.tolerance:
        return f"±{row.tolerance['rel']:.0%}"
    return f"±{row.tolerance['abs']:g} {row.unit}"


def _within(model: float, case: dict[str, Any], value: float) -> bool:
    if "tolerance_rel" in case:
        return abs(model - value) <= case["tolerance_rel"] * abs(value)
    return abs(model - value) <= case["tolerance_abs"]


def _ratio(subject: Subject) -> float:
    return subject.circulation.pressure_transmission_ratio


#: The calf's compartments in the model (its distal and proximal halves): a plethysmograph round the
#: calf sees both.
CALF = slice(1, 3)


def calf_step_trace(subject: Subject, posture: str) -> Trace:
    """The calf step of Phys Med Biol 1977: 5 s at rest, one cell over the whole calf at 10 mmHg (8 mmHg
    on the tissue) for 30 s, released, 30 s at rest; records every 0.02 s."""
    dt = 0.02
    phases = [Phase(5.0), Phase(30.0, {"calf": 10.0}), Phase(30.0)]
    ext = schedule(phases, dt, _ratio(subject), WHOLE_SEGMENT_COVERAGE)
    return simulate(subject, ext, dt, posture=posture)  # type: ignore[arg-type]


CALF_STEP_ON_s, CALF_STEP_OFF_s = 5.0, 35.0


@_runner
def calf_step_emptying(case: dict[str, Any], subject: Subject, posture: str) -> Measured:
    """The time constant of the fall in calf venous volume during the hold: the time to 63.2 % of the
    fall over the 30 s (linear between records). Not independent: the calf's venous resistance and
    compliance come from the same paper (τ = R·C = 4.2 s)."""
    trace = calf_step_trace(subject, posture)
    t, calf = trace.t_s, trace.states[:, 0, m.VEIN + 1 : m.VEIN + 3].sum(axis=-1)
    dt = t[1] - t[0]
    on, off = round(CALF_STEP_ON_s / dt), round(CALF_STEP_OFF_s / dt)
    fall = calf[on] - calf[off]
    target = calf[on] - (1.0 - np.exp(-1.0)) * fall
    k = on + int(np.flatnonzero(calf[on:off] <= target)[0])
    tau = t[k - 1] + (calf[k - 1] - target) / (calf[k - 1] - calf[k]) * (t[k] - t[k - 1]) - t[on]
    return Measured(
        round(float(tau), 3), _within(tau, case, case["value_s"]), f"{tau:.2f} s (fall {fall:.1f} mL)"
    )


@_runner
def calf_step_refill(case: dict[str, Any], subject: Subject, posture: str) -> Measured:
    """The initial refill rate of the calf after the release: the slope of the calf's volume (veins and
    interstitial fluid, what a plethysmograph sees) over the first second, in % of the calf's tissue
    volume per second. Shown beside it, not scored: the part of that slope that is blood draining
    from the foot's veins into the released calf."""
    trace = calf_step_trace(subject, posture)
    t, calf = trace.t_s, trace.segment_volume_mL[:, 0, CALF].sum(axis=-1)
    dt = t[1] - t[0]
    off = round(CALF_STEP_OFF_s / dt)
    one_s = off + round(1.0 / dt)
    per_s = 100.0 / subject.calf.tissue_volume_mL
    rate = (calf[one_s] - calf[off]) / (t[one_s] - t[off]) * per_s
    window = slice(off, one_s + 1)
    from_foot = np.trapezoid(trace.segment_outflow_mL_per_s[window, 0, 0], t[window]) / (t[one_s] - t[off])
    text = f"{rate:.3f} %/s (of which {from_foot * per_s:.3f} %/s from the foot's veins)"
    return Measured(round(float(rate), 4), _within(rate, case, case["value_pct_per_s"]), text)


@_runner
def resting_femoral_flow(case: dict[str, Any], subject: Subject, posture: str) -> Measured:
    """The leg's mean venous outflow to the abdomen over 60 s with no compression."""
    trace = simulate(subject, np.zeros((60, m.N_SEG)), 1.0, posture=posture)  # type: ignore[arg-type]
    flow = (trace.states[-1, 0, m.CUM_OUTFLOW] - trace.states[0, 0, m.CUM_OUTFLOW]) / 60.0 * 60.0
    return Measured(
        round(float(flow), 1), _within(flow, case, case["value_mL_per_min"]), f"{flow:.0f} mL/min"
    )


@_runner
def foot_pump_pressure_response(case: dict[str, Any], subject: Subject, posture: str) -> Measured:
    """The rise of the leg's peak venous outflow (to the abdomen) above its resting value, with the foot
    cell stepped to 50, 125 and 200 mmHg (three legs from rest in one batch: 1 s rest, 3 s hold, 20 s
    rest). Passes when each rise is within the tolerance and the rise is monotone and saturating
    (the second step adds less per mmHg than the first). Shown beside it, not scored: the same rise
    in the flow from the calf into the thigh, the popliteal vein, where the published numbers were
    measured (with the superficial femoral vein: duplex, 20 legs, A-V Impulse foot pump; Br J Surg
    1993;80(2):198-200, doi:10.1002/bjs.1800800221)."""
    dt = 0.01
    pressures = (50.0, 125.0, 200.0)
    phases = lambda p: [Phase(1.0), Phase(3.0, {"foot": p}), Phase(20.0)]  # noqa: E731
    ext = np.stack(
        [schedule(phases(p), dt, _ratio(subject), WHOLE_SEGMENT_COVERAGE) for p in pressures], axis=1
    )
    trace = simulate(subject, ext, dt, posture=posture)  # type: ignore[arg-type]
    outflow = trace.outflow_mL_per_s
    rise = outflow.max(axis=0) - outflow[0]
    popliteal = trace.segment_outflow_mL_per_s[:, :, CALF.stop - 1]  # the proximal calf into the thigh
    popliteal_rise = popliteal.max(axis=0) - popliteal[0]
    each = [_within(r, case, v) for r, v in zip(rise, case["value_mL_per_s"], strict=True)]
    saturating = bool(rise[0] < rise[1] < rise[2] and (rise[1] - rise[0]) / 75.0 < rise[0] / 50.0)
    text = (
        " / ".join(f"{r:.1f}" for r in rise)
        + f" mL/s ({'' if saturating else 'NOT '}monotone and saturating; at the popliteal vein "
        + " / ".join(f"{r:.1f}" for r in popliteal_rise)
        + ")"
    )
    return Measured([round(float(r), 2) for r in rise], all(each) and saturating, text)


@_runner
def graded_beats_uniform(case: dict[str, Any], subject: Subject, posture: str) -> Measured:
    """Blood ejected per cycle from the whole leg's veins, the second of two 60 s cycles, with four
    cells each over a quarter of the calf: uniform 45/45/45/45 mmHg for 6 s against graded
    60/50/40/30 mmHg distal to proximal started 0.5 s apart, all released at 6 s (the hold and cycle
    lengths are chosen here). Shown beside it, not scored: the same from the calf's veins alone."""
    dt = 0.05
    # the two distal quarters over the calf's distal half, the two proximal ones over its proximal half
    quarter = {f"calf_{k}": (0.0, 0.5, 0.0, 0.0) if k < 2 else (0.0, 0.0, 0.5, 0.0) for k in range(4)}
    uniform = [Phase(6.0, {c: 45.0 for c in quarter}), Phase(54.0)]
    graded = [Phase(0.5, {"calf_0": 60.0})]
    graded += [Phase(0.5, {f"calf_{j}": 60.0 - 10.0 * j for j in range(k + 1)}) for k in range(1, 3)]
    graded += [Phase(4.5, {f"calf_{j}": 60.0 - 10.0 * j for j in range(4)}), Phase(54.0)]
    ext = np.stack([schedule(p, dt, _ratio(subject), quarter, repeat=2) for p in (uniform, graded)], axis=1)
    trace = simulate(subject, ext, dt, posture=posture)  # type: ignore[arg-type]
    leg = cycle_metrics(trace, 60.0).ejected_mL[1]  # [uniform, graded]
    per = round(60.0 / dt)
    calf = trace.states[per : 2 * per + 1, :, m.VEIN + 1 : m.VEIN + 3].sum(axis=-1)
    calf_ejected = calf[0] - calf.min(axis=0)
    text = (
        f"graded {leg[1]:.1f} mL vs uniform {leg[0]:.1f} mL "
        f"(calf veins alone: {calf_ejected[1]:.1f} vs {calf_ejected[0]:.1f} mL)"
    )
    value = {"graded_mL": round(float(leg[1]), 2), "uniform_mL": round(float(leg[0]), 2)}
    return Measured(value, bool(leg[1] > leg[0]), text)


@_runner
def calf_filtration(case: dict[str, Any], subject: Subject, posture: str) -> Measured:
    """One cell over the whole thigh at 40 mmHg for 8 min: the least-squares slope of the calf's volume
    (veins and interstitial fluid) from 3 to 8 min, per 100 g of calf tissue, over the mean rise of
    calf venous pressure. Not independent: the filtration coefficient is this same number (0.0026),
    scaled by 0.8 for capillary pressure."""
    dt = 1.0
    ext = schedule([Phase(480.0, {"thigh": 40.0})], dt, _ratio(subject), WHOLE_SEGMENT_COVERAGE)
    trace = simulate(subject, ext, dt, posture=posture)  # type: ignore[arg-type]
    window = slice(180, 481)
    t_min = trace.t_s[window] / 60.0
    slope = np.polyfit(t_min, trace.segment_volume_mL[window, 0, CALF].sum(axis=-1), 1)[0]
    # the calf's venous pressure: its halves' weighted by their volumes
    share = (
        np.array([half.tissue_volume_mL for half in subject.calf.halves()]) / subject.calf.tissue_volume_mL
    )
    pressure = trace.venous_pressure_mmHg[:, 0, CALF] @ share
    dpv = pressure[window].mean() - pressure[0]
    mass_100g = subject.calf.tissue_volume_mL * subject.tissue.tissue_density_g_per_mL / 100.0
    value = slope / mass_100g / dpv
    passed = _within(value, case, case["value_mL_per_min_per_100g_per_mmHg"])
    return Measured(round(float(value), 6), passed, f"{value:.4f} mL/min/100 g/mmHg (ΔPv {dpv:.1f} mmHg)")

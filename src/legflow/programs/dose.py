"""A program's dose, set beside the dose its evidence used."""

from __future__ import annotations

from dataclasses import dataclass

from legflow.evidence import Benefit, benefits, for_goal
from legflow.programs.model import Program


@dataclass(frozen=True)
class DoseComparison:
    benefit: Benefit
    verdict: str  # what the program does against the evidence's dose, in words
    matches: bool | None  # None when the evidence gives no number to compare with


def program_benefits(program: Program) -> list[Benefit]:
    """The evidence entries behind a program: those it names, else every entry of its goal."""
    table = benefits()
    if program.program.evidence:
        return [table[i] for i in program.program.evidence if i in table]
    return for_goal(program.program.goal)


def max_pressure_mmHg(program: Program) -> float:
    return max(
        (
            max(p.compression.zone_pressures().values())
            for p in program.phases
            if p.squeezes and p.compression
        ),
        default=0.0,
    )


def _within(value: float, bounds: tuple[float, float], unit: str, what: str) -> tuple[str, bool]:
    low, high = bounds
    span = f"{low:g}–{high:g} {unit}" if low != high else f"{low:g} {unit}"
    if value < low:
        return f"{what} {value:g} {unit} is below the {span} studied", False
    if value > high:
        return f"{what} {value:g} {unit} is above the {span} studied", False
    return f"{what} {value:g} {unit} is within the {span} studied", True


def compare(program: Program) -> list[DoseComparison]:
    minutes = program.duration_s / 60
    pressure = max_pressure_mmHg(program)
    found: list[DoseComparison] = []
    for b in program_benefits(program):
        parts: list[tuple[str, bool]] = []
        if b.dose_minutes:
            parts.append(_within(round(minutes, 1), b.dose_minutes, "min", "time"))
        if b.dose_pressure_mmHg and pressure > 0:
            parts.append(_within(pressure, b.dose_pressure_mmHg, "mmHg", "peak pressure"))
        if not parts:
            found.append(DoseComparison(b, "the evidence gives no dose to compare with", None))
        else:
            found.append(DoseComparison(b, "; ".join(p for p, _ in parts), all(ok for _, ok in parts)))
    return found

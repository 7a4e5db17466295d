"""A program's grade and its dose, set beside the dose its evidence used.

Each benefit is compared with the part of the program that gives it: the squeeze with the
pneumatic evidence, the walk of a sitting break with the walking evidence. A benefit that no part
of the program gives is not compared (a pneumatic program is never ticked against the dose of
hands-on massage).
"""

from __future__ import annotations

from dataclasses import dataclass

from legflow.evidence.table import GIVEN_BY, Benefit, Grading, benefits, for_goal, program_grade
from legflow.programs.model import Phase, Program

#: The part of a program that gives each method of the evidence, as the comparison names it.
PART_WORDS: dict[str, str] = {
    "pneumatic": "squeeze",
    "vibration": "vibration",
    "rollers": "roller",
    "manual": "hands-on massage",
    "stretching": "stretching",
    "movement": "walking",
}


@dataclass(frozen=True)
class DoseComparison:
    benefit: Benefit
    verdict: str  # what the program does against the evidence's dose, in words
    matches: bool | None  # None when there is nothing to compare


def program_benefits(program: Program) -> list[Benefit]:
    """The evidence entries behind a program: those it names, else every entry of its goal."""
    table = benefits()
    if program.program.evidence:
        return [table[i] for i in program.program.evidence if i in table]
    return for_goal(program.program.goal)


def phase_does(phase: Phase) -> set[str]:
    """What a phase does (`legflow.evidence.DOES_WORDS`): what its device runs or, in a phase that
    runs none, hands-on steps on the leg or, when every step is about the whole body, moving."""
    does = set()
    if phase.squeezes:
        does.add("pneumatic")
    if phase.vibration and phase.vibration.level:
        does.add("vibration")
    if phase.rollers:
        does.add("rollers")
    if phase.heat:
        does.add("heat")
    if not (phase.compression or phase.rollers or phase.vibration or phase.heat) and phase.guide:
        does.add("moving" if all(step.area == "whole_body" for step in phase.guide) else "hands")
    return does


def program_grading(program: Program) -> Grading:
    """The program's grade, from the benefit of its goal that what it does gives."""
    does = set().union(*(phase_does(p) for p in program.phases))
    return program_grade(program.program.goal, does, program_benefits(program))


def max_pressure_mmHg(program: Program) -> float:
    return _peak(program.phases)


def _peak(phases: list[Phase]) -> float:
    return max(
        (max(p.compression.zone_pressures().values()) for p in phases if p.squeezes and p.compression),
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
    """Each benefit's dose beside the part of the program that gives it."""
    found: list[DoseComparison] = []
    for b in program_benefits(program):
        part = [p for p in program.phases if GIVEN_BY[b.method] & phase_does(p)]
        words = PART_WORDS[b.method]
        if not part:
            found.append(DoseComparison(b, f"this program has no {words}: its dose is not compared", None))
            continue
        parts: list[tuple[str, bool]] = []
        if b.dose_minutes:
            minutes = round(sum(p.duration_min for p in part), 1)
            parts.append(_within(minutes, b.dose_minutes, "min", f"{words} time"))
        if b.dose_pressure_mmHg and _peak(part) > 0:
            parts.append(_within(_peak(part), b.dose_pressure_mmHg, "mmHg", "peak pressure"))
        if not parts:
            found.append(DoseComparison(b, "the evidence gives no dose to compare with", None))
        else:
            found.append(DoseComparison(b, "; ".join(p for p, _ in parts), all(ok for _, ok in parts)))
    return found

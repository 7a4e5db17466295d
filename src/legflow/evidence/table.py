"""Evidence: what each benefit of leg massage is supported by, with grades, doses and sources.

The table is a data file (`benefits.toml`) kept beside this module. Every place that shows a
benefit goes through `describe`, so a grade D benefit is always worded "traditionally used for"
and never as an effect; every place that shows a program's grade goes through `program_grade`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Grade = Literal["A", "B", "C", "D"]
Method = Literal["manual", "pneumatic", "vibration", "rollers", "stretching", "movement"]
GRADE_MEANING: dict[str, str] = {
    "A": "several good trials or meta-analyses agree",
    "B": "meta-analysis with small or mixed effects, or solid physiology",
    "C": "small trials or indirect evidence",
    "D": "tradition, anecdote or surrogate markers only",
}


class Benefit(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    goal: str
    method: Method
    topic: str
    finding: str
    effect_size: str = ""
    grade: Grade
    dose: str
    dose_minutes: tuple[float, float] | None = None
    dose_pressure_mmHg: tuple[float, float] | None = None
    sources: tuple[str, ...] = Field(min_length=1)
    verified: bool
    #: Where and why this entry departs from the reference table (shared/reference/evidence.md).
    departs: str = ""

    @property
    def is_effect(self) -> bool:
        """Grades A-C may be shown as an effect; grade D only as tradition."""
        return self.grade != "D"

    def describe(self) -> str:
        """The benefit in one line, with its grade, worded as the evidence allows."""
        if not self.is_effect:
            return f"Traditionally used for {self.topic} (grade D: not shown to have this effect)"
        effect = f" [{self.effect_size}]" if self.effect_size else ""
        return f"{self.finding}{effect} (grade {self.grade})"


@cache
def benefits() -> dict[str, Benefit]:
    """Every benefit of the evidence table, by id."""
    text = (resources.files("legflow.evidence") / "benefits.toml").read_text(encoding="utf-8")
    rows = tomllib.loads(text)["benefit"]
    return {row["id"]: Benefit.model_validate(row) for row in rows}


def for_goal(goal: str) -> list[Benefit]:
    return [b for b in benefits().values() if b.goal == goal]


#: The evidence's methods, in words.
METHOD_WORDS: dict[str, str] = {
    "pneumatic": "pneumatic compression",
    "vibration": "vibration",
    "rollers": "foot rollers",
    "manual": "hands-on massage by a therapist",
    "stretching": "stretching",
    "movement": "walking and moving",
}
#: What a program does, in words: what its device runs, and its phases that run none (guide steps
#: on the leg: strokes, kneading, stretches; or guide steps of moving about: walking, warming up).
DOES_WORDS: dict[str, str] = {
    "pneumatic": "pneumatic compression",
    "vibration": "vibration",
    "rollers": "foot rollers",
    "heat": "heat",
    "hands": "hands-on steps",
    "moving": "walking and moving",
}
#: For each method of the evidence, what a program does that gives it.
GIVEN_BY: dict[str, frozenset[str]] = {
    "pneumatic": frozenset({"pneumatic"}),
    "vibration": frozenset({"vibration"}),
    "rollers": frozenset({"rollers"}),
    "manual": frozenset({"hands"}),
    "stretching": frozenset({"hands"}),
    "movement": frozenset({"hands", "moving"}),
}
#: Beside a grade from hands-on massage that a program's own hands-on steps earn.
SELF_MASSAGE = "from massage given by a therapist; self-massage was not tested"


@dataclass(frozen=True)
class Grading:
    """A program's grade, the benefit it comes from, and what the grade does not cover."""

    grade: str  # A-D, or "-" when the program's goal has no evidence
    benefit: Benefit | None
    note: str = ""  # said beside the grade whenever it is not earned by what the program does

    def text(self) -> str:
        return f"grade {self.grade}" + (f" ({self.note})" if self.note else "")


def program_grade(goal: str, does: Collection[str], candidates: Iterable[Benefit]) -> Grading:
    """The grade of a program for ``goal`` that ``does`` what `DOES_WORDS` names, judged from the
    evidence it names (``candidates``): the strongest benefit of the goal that what the program
    does gives. Hands-on massage carries a note that its trials were of therapists, not of people
    massaging themselves. With no such benefit, the program borrows the strongest benefit of its
    goal, and the note says so. Every place that shows a program's grade calls this."""
    of_goal = sorted((b for b in candidates if b.goal == goal), key=lambda b: b.grade)
    if not of_goal:
        return Grading("-", None, f"no evidence for the goal '{goal}'")
    given = [b for b in of_goal if GIVEN_BY[b.method] & set(does)]
    if given:
        best = given[0]
        return Grading(best.grade, best, SELF_MASSAGE if best.method == "manual" else "")
    best = of_goal[0]
    note = f"borrowed from {METHOD_WORDS[best.method]}"
    words = [DOES_WORDS[d] for d in DOES_WORDS if d in does and d != "moving"]  # the kinds of massage
    if words:
        listed = ", ".join(words[:-1]) + " or " + words[-1] if len(words) > 1 else words[0]
        note += f"; not tested with {listed}"
    return Grading(best.grade, best, note)

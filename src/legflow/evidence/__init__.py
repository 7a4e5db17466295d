"""Evidence: what each benefit of leg massage is supported by, with grades, doses and sources.

The table is a data file (`benefits.toml`) kept beside this module. Every place that shows a
benefit goes through `describe`, so a grade D benefit is always worded "traditionally used for"
and never as an effect.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Grade = Literal["A", "B", "C", "D"]
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
    method: Literal["manual", "pneumatic", "vibration", "rollers", "stretching", "movement"]
    topic: str
    finding: str
    effect_size: str = ""
    grade: Grade
    dose: str
    dose_minutes: tuple[float, float] | None = None
    dose_pressure_mmHg: tuple[float, float] | None = None
    sources: tuple[str, ...] = Field(min_length=1)
    verified: bool

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


def best_grade(items: list[Benefit]) -> str:
    """The strongest grade among ``items``; "-" when there is none."""
    return min((b.grade for b in items), default="-")

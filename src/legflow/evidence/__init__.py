"""Evidence: what each benefit of leg massage is supported by, with grades, doses and sources.

The table and its grading live in :mod:`.table` (with the data file ``benefits.toml``); a program's
dose set beside the dose of its evidence in :mod:`.dose`."""

from legflow.evidence.table import (
    DOES_WORDS,
    GIVEN_BY,
    GRADE_MEANING,
    METHOD_WORDS,
    SELF_MASSAGE,
    Benefit,
    Grade,
    Grading,
    Method,
    benefits,
    for_goal,
    program_grade,
)

__all__ = [
    "DOES_WORDS",
    "GIVEN_BY",
    "GRADE_MEANING",
    "METHOD_WORDS",
    "SELF_MASSAGE",
    "Benefit",
    "Grade",
    "Grading",
    "Method",
    "benefits",
    "for_goal",
    "program_grade",
]

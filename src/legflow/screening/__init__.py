"""Screening: health questions (:mod:`.questions`) → block / limit / warn decisions that tighten the
limits, and the answers kept with the user's profile (:mod:`.answers`)."""

from legflow.paths import data_dir
from legflow.screening.answers import (
    DEFAULT_USER,
    Answers,
    Decision,
    check_user_name,
    decide,
    load_answers_file,
    parse_answers,
    save_answers,
    stored_answers,
    user_limits,
)
from legflow.screening.questions import QUESTIONS

__all__ = [
    "DEFAULT_USER",
    "QUESTIONS",
    "Answers",
    "Decision",
    "check_user_name",
    "data_dir",
    "decide",
    "load_answers_file",
    "parse_answers",
    "save_answers",
    "stored_answers",
    "user_limits",
]

"""The grade of a program: one function (`legflow.evidence.program_grade`) picks the benefit that
matches the program's goal and what it does, and every place that shows a program's grade (the
CLI, the web API and page, trial reports) shows that one. Grades here are pinned per program."""

from __future__ import annotations

import pytest

from cli_helpers import run_cli
from evidence_helpers import PINNED, THERAPIST
from legflow.evidence import benefits
from legflow.evidence.dose import compare, program_grading
from legflow.programs.library import builtin_names, builtin_source
from legflow.trials.trial import program_evidence


def test_every_builtin_program_has_a_pinned_grade():
    assert set(PINNED) == set(builtin_names())


@pytest.mark.parametrize("name", sorted(PINNED))
def test_a_program_is_graded_by_the_benefit_of_its_goal_and_method(name):
    grading = program_grading(builtin_source(name).program)
    assert (grading.grade, grading.note) == PINNED[name]


@pytest.mark.parametrize("name", sorted(PINNED))
def test_show_prints_the_programs_grade_with_its_note(name, capsys, monkeypatch):
    flat = " ".join(run_cli(capsys, monkeypatch, "show", name).out.split())
    grade, note = PINNED[name]
    assert f"evidence grade {grade}" + (f" ({note})" if note else "") in flat


def test_the_programs_table_shows_the_same_grades(capsys, monkeypatch):
    out = run_cli(capsys, monkeypatch, "programs").out
    for name, (grade, _) in PINNED.items():
        [row] = [line for line in out.splitlines() if line.strip("│ ").startswith(f"{name} ")]
        assert f"grade {grade}" in row, row


@pytest.mark.parametrize("name", sorted(n for n, (grade, note) in PINNED.items() if note and grade != "D"))
def test_a_summary_says_where_the_grade_it_gives_comes_from(name):
    grade, note = PINNED[name]
    summary = " ".join(builtin_source(name).program.program.summary.split())
    [sentence] = [s for s in summary.split(". ") if f"(grade {grade}" in s]
    assert ("therapist" if note == THERAPIST else "tested") in sentence, sentence


@pytest.mark.parametrize("name", sorted(PINNED))
def test_a_trial_grades_every_program_as_the_library_does(name):
    """Hands-on and guided programs too: shin-splints' and sore-spot's own evidence is grade D,
    where the pneumatic evidence of their goal (pain) is C."""
    assert program_evidence(builtin_source(name).program)[0] == PINNED[name][0]


# -- the dose beside the dose: the part of the program that matches the evidence ------------------
def _comparison(name: str, benefit_id: str):
    [item] = [c for c in compare(builtin_source(name).program) if c.benefit.id == benefit_id]
    return item


def test_the_walk_of_the_sitting_break_is_compared_with_the_walk_studied():
    walk = _comparison("sitting-break", "sitting.movement")
    assert walk.matches is True and "walking time 5 min is within the 5 min studied" in walk.verdict


@pytest.mark.parametrize(
    ("name", "benefit_id"),
    [("recovery", "recovery.manual"), ("stress", "stress.manual"), ("immune", "stress.manual")],
)
def test_a_hands_on_dose_is_never_ticked_beside_a_program_without_hands_on_massage(name, benefit_id):
    item = _comparison(name, benefit_id)
    assert item.matches is None and "no hands-on massage" in item.verdict, item.verdict


def test_the_squeeze_of_a_program_is_compared_by_its_own_minutes_and_pressure():
    squeeze = _comparison("recovery", "recovery.pneumatic")
    assert squeeze.matches is True
    assert "squeeze time 25 min is within" in squeeze.verdict and "peak pressure 80 mmHg" in squeeze.verdict
    stretches = _comparison("night-cramps", "pain.stretching")
    assert stretches.matches is False
    assert "stretching time 6 min is above the 3 min studied" in stretches.verdict


# -- a claim with no trial is graded as such -------------------------------------------------------
def test_the_stretching_session_claim_has_its_own_honest_grade():
    table = benefits()
    same_as_stretching = table["mobility.stretching_session"]
    assert same_as_stretching.grade == "D" and "stretching session" in same_as_stretching.topic
    assert same_as_stretching.describe().startswith("Traditionally used for")
    assert table["mobility.pneumatic"].grade == "C"

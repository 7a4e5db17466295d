"""The built-in library: every program passes check, states its dose and evidence, and never
presents a grade D benefit as an effect."""

from __future__ import annotations

import re

import pytest

from cli_helpers import run_cli
from legflow.cli.render import benefit_text
from legflow.device import load_profile
from legflow.evidence import benefits
from legflow.evidence.dose import program_benefits
from legflow.plan import check_source
from legflow.programs.library import builtin_names, builtin_source
from legflow.safety import DEFAULT_LIMITS

NAMES = builtin_names()
#: Words that present an effect; a grade D benefit must never be framed with them.
EFFECT_WORDS = re.compile(r"\b(improv|boost|reduc|reliev|heal|cure|strengthen|prevent|enhanc|treat)\w*", re.I)
GOALS_NEEDED = {"circulation", "recovery", "lymph", "pain", "pre_sport", "stress", "immune", "reflexology"}


def test_the_library_covers_every_goal():
    goals = {builtin_source(n).program.program.goal for n in NAMES}
    assert goals >= GOALS_NEEDED
    assert any("sitting" in n for n in NAMES) and sum("self-massage" in n for n in NAMES) >= 3
    assert sum(n.startswith("reflexology") for n in NAMES) >= 4


@pytest.mark.parametrize("name", NAMES)
def test_builtin_passes_the_device_check(name):
    check_source(builtin_source(name), load_profile("reference"), DEFAULT_LIMITS)


@pytest.mark.parametrize("name", NAMES)
def test_builtin_states_its_dose_and_known_evidence(name):
    program = builtin_source(name).program
    assert program.program.dose and program.program.summary
    assert program.program.evidence, "name the evidence behind the program"
    assert set(program.program.evidence) <= set(benefits())
    assert all(b.sources for b in program_benefits(program))


@pytest.mark.parametrize("name", NAMES)
def test_grade_d_only_programs_claim_no_effect(name):
    program = builtin_source(name).program
    if any(b.grade != "D" for b in program_benefits(program)):
        return
    texts = [program.program.summary, program.program.dose] + [
        t for p in program.phases for t in [p.name, *(s.text for s in p.guide)]
    ]
    for text in texts:
        assert not EFFECT_WORDS.search(text), text


def test_self_massage_programs_need_no_device():
    for name in NAMES:
        if "self-massage" in name:
            program = builtin_source(name).program
            assert not program.needs_device and sum(len(p.guide) for p in program.phases) >= 4


@pytest.mark.parametrize("benefit", list(benefits().values()), ids=list(benefits()))
def test_every_benefit_is_worded_as_its_grade_allows(benefit):
    line = benefit_text(benefit).plain
    assert f"[{benefit.grade}]" in line
    if benefit.grade == "D":
        assert "Traditionally used for" in line and benefit.finding not in line
        assert not EFFECT_WORDS.search(line.replace(benefit.topic, ""))
    else:
        assert benefit.finding in line


@pytest.mark.parametrize("name", NAMES)
def test_show_puts_a_grade_beside_every_benefit(name, capsys, monkeypatch):
    out = run_cli(capsys, monkeypatch, "show", name).out
    program = builtin_source(name).program
    flat = " ".join(out.split())
    grades = [b.grade for b in program_benefits(program)]
    assert flat.lower().count("traditionally used") >= grades.count("D")
    for b in program_benefits(program):
        assert f"[{b.grade}]" in flat
        if b.grade == "D":
            assert " ".join(b.finding.split()[:6]) not in flat


def test_shin_splints_squeezes_no_cell_over_the_shin():
    """Its text says nothing presses on the sore shin: no cell that covers the lower leg inflates."""
    over_the_shin = {
        zone
        for zone, covers in load_profile().zone_covers().items()
        if covers.get("calf_distal", 0) > 0 or covers.get("calf_proximal", 0) > 0
    }
    program = builtin_source("shin-splints").program
    assert over_the_shin == {"ankle", "calf", "knee"}
    assert not set(program.compression_zones()) & over_the_shin

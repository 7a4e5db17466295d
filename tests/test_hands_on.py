"""Hands-on steps meet screening by their guide areas: a step on a zone screening blocks refuses
the program, with the reason, in `legflow check` and `legflow run`; limits on pressure put a note
before every hands-on step shown. Also the program check's heat auto-off by elapsed time."""

from __future__ import annotations

from pathlib import Path

import pytest

import legflow.programs.library
from cli_helpers import run_cli
from legflow.clock import VirtualClock
from legflow.device.profile import load_profile
from legflow.device.sim import SimulatedMassager
from legflow.engine.session import Session
from legflow.errors import ProgramError
from legflow.plan import check_source, device_findings
from legflow.programs.library import builtin_source
from legflow.programs.loader import validate_text
from legflow.programs.model import Program
from legflow.safety.limits import DEFAULT_LIMITS, Limits
from legflow.safety.supervisor import Supervisor
from legflow.screening import Answers, decide, load_answers_file
from legflow.store import History

HERE = Path(__file__).parent
ANSWERS = HERE / "answers"
LIBRARY = Path(legflow.programs.library.__file__).parent / "library"
REFERENCE = load_profile("reference")


def screened(**changes) -> Limits:
    answers = load_answers_file(ANSWERS / "none.toml").model_dump()
    return decide(Answers(**{**answers, **changes}))[0]


@pytest.fixture
def cli(capsys, monkeypatch):
    return lambda *args: run_cli(capsys, monkeypatch, *args)


HANDS_ON = """\
[program]
name = "Short hands-on"
goal = "recovery"

[[phase]]
name = "by hand"
duration_min = 0.1
  [[phase.guide]]
  at_s = 0
  area = "calf.back"
  text = "Knead the calf firmly."
  [[phase.guide]]
  at_s = 2
  area = "{area}"
  text = "Circle the ankle bones with your thumbs."

[[phase]]
name = "device"
duration_min = 0.1
  [phase.compression]
  pattern = "hold"
  zones = ["thigh"]
  pressure_mmHg = 30
  [[phase.guide]]
  at_s = 0
  area = "thigh"
  text = "The thigh cuff holds now."
"""


def hands_on(area: str = "ankle"):
    return validate_text(HANDS_ON.replace("{area}", area), "hands-on.toml")


# --- refusals ---------------------------------------------------------------------------------------
def test_a_calf_wound_refuses_the_calf_self_massage_naming_each_step_and_why():
    source = builtin_source("self-massage-calves")
    on_calf = [s for p in source.program.phases for s in p.guide if s.area in ("calf", "calf.back", "shin")]
    with pytest.raises(ProgramError) as refused:
        check_source(source, REFERENCE, decide(load_answers_file(ANSWERS / "calf-wound.toml"))[0])
    problems = refused.value.problems
    assert len(problems) == len(on_calf) > 10
    first = next(p for p in problems if p.field == "phase[1].guide[2].area")
    assert "calf.back lies on the calf zone" in first.message and "skin problem zones" in first.message
    assert all(p.field.endswith(".area") and "no hands-on step there" in p.message for p in problems)


def test_a_calf_wound_leaves_a_thigh_self_massage_alone():
    check_source(builtin_source("self-massage-thighs"), REFERENCE, screened(skin_problem_zones=["calf"]))


def test_a_blocked_zone_names_its_own_reason_beside_other_answers():
    limits = screened(injury_zones=["calf"], pregnancy=True)  # pregnancy blocks the heel after
    with pytest.raises(ProgramError) as refused:
        check_source(builtin_source("self-massage-calves"), REFERENCE, limits)
    assert all("injury zones" in p.message and "pregnancy" not in p.message for p in refused.value.problems)


@pytest.mark.slow
def test_check_and_run_refuse_the_hands_on_program_with_one_line_per_step(cli):
    answers = str(ANSWERS / "calf-wound.toml")
    checked = cli("check", "--answers", answers, str(LIBRARY / "self-massage-calves.toml"))
    lines = checked.out.strip().splitlines()
    assert checked.code == 2 and len(lines) > 10
    assert all(":" in line and "blocked: no hands-on step there" in line for line in lines)
    ran = cli("run", "self-massage-calves", "--fast", "--answers", answers)
    assert ran.code == 2 and "calf.back lies on the calf zone" in ran.err
    assert cli("run", "self-massage-thighs", "--fast", "--json", "--answers", answers).code == 0


def test_pregnancy_refuses_hands_on_pressure_on_the_ankle_but_not_the_ankle_cuff():
    with pytest.raises(ProgramError) as refused:
        check_source(hands_on("ankle"), REFERENCE, screened(pregnancy=True))
    (problem,) = refused.value.problems
    assert problem.field == "phase[1].guide[2].area" and "no hand pressure on ankle" in problem.message
    check_source(hands_on("shin"), REFERENCE, screened(pregnancy=True))
    check_source(builtin_source("circulation"), REFERENCE, DEFAULT_LIMITS)  # narration is not hands-on


# --- notes on the guide text ------------------------------------------------------------------------
def _guide_events(program: Program, limits: Limits, tmp_path: Path) -> tuple[list[str], list[str]]:
    """(guide events stored, guide lines the live display showed) of a session."""
    clock = VirtualClock()
    sim = SimulatedMassager(REFERENCE, clock)
    history = History(tmp_path / "h.sqlite")
    session = Session(program, "test", Supervisor(sim, limits, clock), clock, history=history)
    shown: list[str] = []
    summary = session.run(on_update=lambda s: s.guide and shown.append(s.guide), update_every_s=0.5)
    events = [e["detail"] for e in history.events(summary["id"]) if e["kind"] == "guide"]
    return events, shown


def test_anticoagulants_put_a_gentle_pressure_note_before_every_hands_on_step(tmp_path):
    program = hands_on("shin").program
    limits = decide(load_answers_file(ANSWERS / "anticoagulants.toml"))[0]
    events, shown = _guide_events(program, limits, tmp_path)
    note = "Gentle pressure only: no firm kneading or deep pressure (screening: anticoagulants)."
    assert events[:2] == [f"[calf.back] {note} Knead the calf firmly.",
                          f"[shin] {note} Circle the ankle bones with your thumbs."]  # fmt: skip
    assert events[2] == "[thigh] The thigh cuff holds now."  # beside the device: narration
    assert any(line.startswith(f"[calf.back] {note}") for line in shown)
    plain, _ = _guide_events(program, DEFAULT_LIMITS, tmp_path / "plain")
    assert plain[0] == "[calf.back] Knead the calf firmly."


def test_pregnancy_notes_no_pressure_on_the_ankles_or_heel(tmp_path):
    events, _ = _guide_events(hands_on("shin").program, screened(pregnancy=True), tmp_path)
    assert events[0].startswith("[calf.back] No pressure on the ankle or heel (screening: pregnancy).")


# --- heat auto-off by elapsed time ------------------------------------------------------------------
def _heated(*phases: tuple[float, bool]) -> Program:
    return Program.model_validate({
        "program": {"name": "heat", "goal": "stress"},
        "phase": [{"name": f"p{i}", "duration_min": minutes, "rollers": {"zones": ["sole.arch"]},
                   **({"heat": {"target_C": 38.0}} if heat else {})}
                  for i, (minutes, heat) in enumerate(phases)],
    })  # fmt: skip


def test_heat_auto_off_counts_from_the_first_heated_phase_to_the_end_of_the_last():
    split = _heated((10, True), (25, False), (10, True))  # 20 min of heat, 45 min from its start
    found = [m for _, m in device_findings(split, REFERENCE, DEFAULT_LIMITS)]
    assert found == [
        "heat spans 45 min from its first switch-on, over the auto-off limit of 30 min "
        "(default limit, docs/safety.md)"
    ]
    assert (
        device_findings(_heated((10, True), (15, False), (5, True), (20, False)), REFERENCE, DEFAULT_LIMITS)
        == []
    )

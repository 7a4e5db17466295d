"""Screening: one test per row of the safety table (../shared/reference/safety.md)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import legflow.web.api as web_api
from cli_helpers import run_cli
from legflow.errors import ProfileError, ScreeningError
from legflow.safety.limits import DEFAULT_LIMITS, DEFAULT_SOURCE, Limits
from legflow.screening import (
    QUESTIONS,
    Answers,
    check_user_name,
    decide,
    load_answers_file,
    parse_answers,
    save_answers,
    stored_answers,
    user_limits,
)

HEALTHY = {
    "dvt_signs": False, "heart_failure": False, "severe_arterial_disease": False, "skin_problem_zones": [],
    "injury_zones": [], "arterial_disease": False, "anticoagulants": False, "diabetes": False,
    "neuropathy": False, "pregnancy": False, "varicose_veins": False, "age": 40, "active_cancer": False,
    "leg_implant_or_vein_surgery": False,
}  # fmt: skip


def screened(**changes) -> tuple[Limits, list[str]]:
    limits, decisions = decide(Answers(**{**HEALTHY, **changes}))
    return limits, [d.action for d in decisions]


def test_healthy_adult_keeps_the_defaults():
    limits, actions = screened()
    assert limits == DEFAULT_LIMITS and actions == []


def test_suspected_dvt_blocks_and_says_seek_care():
    limits, actions = screened(dvt_signs=True)
    assert actions == ["block"]
    assert limits.blocks and "Seek medical care now" in limits.blocks[0]


def test_acute_heart_failure_blocks():
    limits, actions = screened(heart_failure=True)
    assert actions == ["block"] and limits.blocks


def test_severe_arterial_disease_blocks():
    limits, actions = screened(severe_arterial_disease=True)
    assert actions == ["block"] and limits.blocks


def test_skin_infection_blocks_the_zone():
    limits, actions = screened(skin_problem_zones=["calf"])
    assert actions == ["block_zone"] and limits.blocked_zones == {"calf"} and not limits.blocks


def test_a_calf_wound_refuses_a_program_on_the_cells_over_the_calfs_ends(tmp_path, capsys, monkeypatch):
    """A knee-only squeeze on the reference device presses the top of the calf: refused for a calf
    wound, with the part it presses; on the thigh alone it runs."""
    answers = Path(__file__).parent / "answers" / "calf-wound.toml"
    for zone, code in (("knee", 2), ("thigh", 0)):
        program = tmp_path / f"{zone}.toml"
        program.write_text(
            f'[program]\nname = "{zone}"\ngoal = "circulation"\n\n[[phase]]\nname = "hold"\n'
            f'duration_min = 2\n[phase.compression]\npattern = "hold"\nzones = ["{zone}"]\n'
            "pressure_mmHg = 40\n",
            encoding="utf-8",
        )
        result = run_cli(capsys, monkeypatch, "check", "--answers", str(answers), str(program))
        assert result.code == code, result.out + result.err
        if zone == "knee":
            assert "the knee cells press part of the calf, which is blocked" in result.out + result.err


def test_a_blocked_knee_is_refused_where_the_device_would_hand_it_to_another_cell(
    tmp_path, capsys, monkeypatch
):
    """The home foot-and-calf device has no knee cell and would squeeze the knee with its calf cell:
    a program asking for a blocked knee is refused there as on the reference."""
    answers = tmp_path / "knee.toml"
    none = (Path(__file__).parent / "answers" / "none.toml").read_text(encoding="utf-8")
    answers.write_text(none.replace("injury_zones = []", 'injury_zones = ["knee"]'), encoding="utf-8")
    program = tmp_path / "knee-hold.toml"
    program.write_text(
        '[program]\nname = "knee"\ngoal = "circulation"\n\n[[phase]]\nname = "hold"\nduration_min = 2\n'
        '[phase.compression]\npattern = "hold"\nzones = ["knee"]\npressure_mmHg = 40\n',
        encoding="utf-8",
    )
    for profile in ("home-foot-calf", "reference"):
        result = run_cli(
            capsys, monkeypatch, "check", "--profile", profile, "--answers", str(answers), str(program)
        )
        assert result.code == 2 and "the knee zone is blocked" in result.out + result.err, profile


def test_the_same_screening_applied_twice_warns_once(tmp_path):
    """Answers given on the command line over the same stored ones (pregnancy warns)."""
    none = (Path(__file__).parent / "answers" / "none.toml").read_text(encoding="utf-8")
    answers = tmp_path / "pregnant.toml"
    answers.write_text(none.replace("pregnancy = false", "pregnancy = true"), encoding="utf-8")
    given = load_answers_file(answers)
    once = decide(given)[0]
    assert once.warnings and decide(given, base=once)[0].warnings == once.warnings


def test_recent_fracture_blocks_the_zone():
    limits, actions = screened(injury_zones=["foot", "ankle"])
    assert actions == ["block_zone"] and limits.blocked_zones == {"foot", "ankle"}


def test_arterial_disease_abi_0_6_to_0_9_limits_to_40_and_warns():
    limits, actions = screened(arterial_disease=True)
    assert actions == ["limit"]
    assert limits.leg_pressure_mmHg == 40 and limits.foot_pressure_mmHg == 40 and limits.warnings


def test_anticoagulants_refuse_vibration_and_deep_rollers_and_limit_to_40():
    limits, actions = screened(anticoagulants=True)
    assert actions == ["limit"]
    assert not limits.vibration_allowed and not limits.deep_rollers_allowed
    assert limits.leg_pressure_mmHg == 40 and limits.foot_pressure_mmHg == 40


def test_diabetes_limits_heat_to_40_and_the_foot_to_40():
    limits, _ = screened(diabetes=True)
    assert limits.heat_C == 40 and limits.foot_pressure_mmHg == 40


def test_neuropathy_turns_heat_off_and_limits_the_foot():
    limits, _ = screened(neuropathy=True)
    assert limits.heat_C is None and limits.foot_pressure_mmHg == 40


def test_pregnancy_warns_limits_to_40_and_blocks_heel_reflexology():
    limits, actions = screened(pregnancy=True)
    assert actions == ["warn"] and limits.warnings
    assert limits.leg_pressure_mmHg == 40 and "sole.heel" in limits.blocked_zones


def test_varicose_veins_refuse_deep_rollers_and_deep_pressure():
    limits, _ = screened(varicose_veins=True)
    assert not limits.deep_rollers_allowed and limits.leg_pressure_mmHg == 40


@pytest.mark.parametrize("age, limited", [(17, True), (18, False), (70, False)])
def test_under_18_no_heat_and_40_mmHg(age, limited):
    limits, _ = screened(age=age)
    assert (limits.heat_C is None) is limited
    assert (limits.leg_pressure_mmHg == 40) is limited


def test_active_cancer_warns_only():
    limits, actions = screened(active_cancer=True)
    assert actions == ["warn"] and limits.warnings
    assert dataclasses.replace(limits, warnings=(), reasons={}) == DEFAULT_LIMITS


def test_implant_or_vein_surgery_warns_only():
    limits, actions = screened(leg_implant_or_vein_surgery=True)
    assert actions == ["warn"] and limits.warnings and limits.leg_pressure_mmHg == 100


def _any_answer(kind: str) -> st.SearchStrategy:
    if kind == "age":
        return st.integers(0, 120)
    if kind == "zones":
        return st.lists(st.sampled_from(["foot", "ankle", "calf", "knee", "thigh"]), unique=True)
    return st.booleans()


@given(st.fixed_dictionaries({q.id: _any_answer(q.kind) for q in QUESTIONS}))
def test_no_answer_ever_loosens_a_default(answers):
    limits, _ = decide(Answers(**answers))
    d = DEFAULT_LIMITS
    assert limits.leg_pressure_mmHg <= d.leg_pressure_mmHg
    assert limits.foot_pressure_mmHg <= d.foot_pressure_mmHg
    assert limits.session_min <= d.session_min
    assert limits.heat_C is None or limits.heat_C <= d.heat_C
    assert limits.vibration_allowed <= d.vibration_allowed
    assert limits.deep_rollers_allowed <= d.deep_rollers_allowed


def test_tighten_ignores_a_loosening_request():
    loose = DEFAULT_LIMITS.tighten("test", leg_pressure_mmHg=500, vibration_allowed=True, heat_C=60)
    assert loose == DEFAULT_LIMITS


def test_answers_are_stored_and_read_back_per_profile():
    answers = Answers(**{**HEALTHY, "anticoagulants": True})
    path = save_answers(answers, "alice")
    assert path.exists() and stored_answers("alice") == answers
    assert user_limits("alice").leg_pressure_mmHg == 40
    assert user_limits().leg_pressure_mmHg == 100  # the default user was never screened


def test_unknown_profile_and_bad_names_are_clear_errors():
    with pytest.raises(ProfileError, match="no screening profile named 'bob'"):
        stored_answers("bob")
    with pytest.raises(ProfileError, match="letters, digits"):
        stored_answers("../etc")


@pytest.mark.parametrize("name", ["José", "_x", "-ann", "a" * 49, "ann smith", "../etc"])
def test_a_user_name_follows_one_rule_for_the_cli_and_the_dashboard(capsys, monkeypatch, tmp_path, name):
    """The dashboard opens only the records of users whose names fit its URLs; the CLI stored
    names (non-ASCII, a leading '_', any length) that it could not open."""
    answers = tmp_path / "answers.toml"
    answers.write_text("\n".join(f"{k} = {json.dumps(v)}" for k, v in HEALTHY.items()))
    refused = run_cli(capsys, monkeypatch, "screen", "--answers", str(answers), "--user", name)
    assert refused.code != 0 and "a user name is 1-48" in refused.err
    with pytest.raises(ProfileError, match="a user name is 1-48"):
        check_user_name(name)
    with pytest.raises(ValueError, match="a user name is 1-48"):
        web_api._user_name(name)
    assert check_user_name("ann_2-b") == web_api._user_name("ann_2-b") == "ann_2-b"


def test_malformed_answers_name_the_field(tmp_path):
    with pytest.raises(ScreeningError, match="age"):
        parse_answers({**HEALTHY, "age": "forty"}, "answers.toml")
    with pytest.raises(ScreeningError, match="heart_failure: answer missing"):
        parse_answers({"dvt_signs": False}, "answers.toml")
    typo = {k: v for k, v in HEALTHY.items() if k != "anticoagulants"} | {"anticoagulant": True}
    with pytest.raises(
        ScreeningError, match=r"anticoagulant: not a question \(did you mean anticoagulants\?\)"
    ):
        parse_answers(typo, "answers.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("dvt_signs = ")
    with pytest.raises(ScreeningError, match="not a valid TOML"):
        load_answers_file(bad)


def test_a_damaged_stored_screening_is_a_clear_error_that_names_no_folder():
    """A hand-edited or half-written record: a `ScreeningError` (the CLI's one line, the dashboard's
    4xx), named by its place in legflow's folder, with what to do."""
    path = save_answers(Answers(**HEALTHY), "carol")
    for damage, says in (("age = [", "damaged"), ("age = 40", "answer missing")):
        path.write_text(damage)
        with pytest.raises(ScreeningError, match=r"^users/carol\.toml: ") as caught:
            user_limits("carol")
        assert says in str(caught.value) and str(path.parent) not in str(caught.value)
    assert str(caught.value).count("\n") == 0
    path.write_text("age = [")
    with pytest.raises(ScreeningError, match="answer it again: legflow screen --user carol"):
        stored_answers("carol")


def test_each_limit_says_why_it_has_its_value():
    """A refusal cites the reason of the limit it meets: the answer that tightened it, or the default."""
    limits = DEFAULT_LIMITS.tighten("anticoagulants", leg_pressure_mmHg=40).tighten(
        "wound on the foot", blocked_zones={"foot"}
    )
    assert limits.pressure_limit_mmHg("calf") == (40, "anticoagulants")
    assert limits.pressure_limit_mmHg("foot") == (130, DEFAULT_SOURCE)
    assert limits.zone_reason("foot") == "wound on the foot"
    # a sole zone under the blocked foot has no reason of its own: it takes the blocking's
    assert limits.zone_reason("sole.arch") == "wound on the foot"
    assert DEFAULT_LIMITS.zone_reason("calf") == DEFAULT_SOURCE

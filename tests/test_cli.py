"""The CLI contract: programs, show, check, compose, screen."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_helpers import run_cli
from legflow.programs.library import builtin_names
from legflow.programs.loader import load_program

HERE = Path(__file__).parent


@pytest.fixture
def cli(capsys, monkeypatch):
    return lambda *args: run_cli(capsys, monkeypatch, *args)


def test_programs_lists_every_builtin_with_goal_and_grade(cli):
    result = cli("programs")
    assert result.code == 0
    for name in builtin_names():
        assert name in result.out
    assert "grade" in result.out.lower()


def test_show_draws_phases_timeline_and_evidence(cli):
    result = cli("show", "recovery")
    assert result.code == 0
    assert "phase 1" in result.out and "mmHg" in result.out
    assert any(bar in result.out for bar in "▃▅▇█")
    assert "Evidence" in result.out and "grade" in result.out
    assert "studied" in result.out  # the program's dose is set beside the evidence's


def test_show_accepts_a_file_and_refuses_unknown_names(cli, tmp_path):
    assert cli("show", str(HERE / "broken" / "device-calf-150.toml")).code == 0
    result = cli("show", "no-such-program")
    assert result.code == 1 and "no-such-program" in result.err


def test_check_ok_files_exit_0(cli):
    assert cli("check", str(HERE / "answers" / ".." / "broken" / "device-calf-150.toml")).code == 2
    builtin = (
        Path(__import__("legflow.programs", fromlist=["x"]).__file__).parent / "library" / "recovery.toml"
    )
    result = cli("check", str(builtin))
    assert result.code == 0 and result.out == ""


def test_check_prints_one_line_per_problem_and_exits_2(cli):
    files = [HERE / "broken" / "zones-out-of-order.toml", HERE / "broken" / "device-heat-45.toml"]
    result = cli("check", *map(str, files))
    assert result.code == 2
    lines = result.out.strip().splitlines()
    assert lines == [
        f"{files[0]}:10: phase[1].compression.zones: sequential zones must run distal to proximal: "
        "[foot, calf, thigh]",
        f"{files[1]}:9: phase[1].heat.target_C: heat 45 °C is over the limit of 42 °C "
        "(default limit, docs/safety.md)",
    ]


def test_check_applies_another_profile_and_screening_answers(cli):
    file = str(HERE / "broken" / "profile-lymph-no-thigh-cell.toml")
    assert cli("check", file).code == 0
    result = cli("check", "--profile", "home-foot-calf", file)
    assert result.code == 2 and "a lymph program needs the thigh" in result.out
    assert cli("check", "--profile", "no-such-device", file).code == 1
    vib = str(HERE / "broken" / "screening-anticoagulants-vibration.toml")
    assert cli("check", vib).code == 0
    assert cli("check", "--answers", str(HERE / "answers" / "anticoagulants.toml"), vib).code == 2


def test_compose_writes_a_valid_program_inside_the_limits(cli, tmp_path):
    out = tmp_path / "mine.toml"
    args = ["--goal", "recovery", "--zones", "calf,thigh", "--intensity", "3", "--minutes", "20"]
    result = cli("compose", *args, "-o", str(out))
    assert result.code == 0
    program = load_program(out)
    c = program.phases[0].compression
    assert c.zones == ["calf", "thigh"] and program.duration_s == 1200
    assert 60 <= max(c.pressure_mmHg) <= 80  # the recovery dose of the evidence
    assert c.pressure_mmHg[0] > c.pressure_mmHg[1]  # graded, distal highest
    assert cli("check", str(out)).code == 0


@pytest.mark.parametrize("intensity", [1, 2, 3, 4, 5])
@pytest.mark.parametrize(
    "goal", ["circulation", "recovery", "lymph", "pain", "pre_sport", "stress", "immune"]
)
def test_compose_every_goal_and_intensity_passes_check(cli, tmp_path, goal, intensity):
    out = tmp_path / "p.toml"
    zones = "foot,ankle,calf,knee,thigh,sole.arch"
    assert (
        cli("compose", "--goal", goal, "--zones", zones, "--intensity", str(intensity), "-o", str(out)).code
        == 0
    )
    assert cli("check", str(out)).code == 0


def test_compose_respects_the_users_screening(cli, tmp_path):
    assert cli("screen", "--answers", str(HERE / "answers" / "anticoagulants.toml")).code == 0
    result = cli("compose", "--goal", "recovery", "--zones", "calf", "--intensity", "5")
    assert result.code == 0 and "pressure_mmHg = [40.0]" in result.out


def test_answers_on_the_command_line_never_loosen_a_stored_screening(cli):
    """Bob's stored screening says anticoagulants: answers of "nothing" given to `check` add
    nothing, and his limit of 40 mmHg still refuses a firm squeeze."""
    answers = HERE / "answers"
    assert cli("screen", "--answers", str(answers / "anticoagulants.toml"), "--user", "bob").code == 0
    firm = "recovery"  # squeezes over 40 mmHg
    assert cli("check", "--user", "bob", firm).code == 2
    result = cli("check", "--user", "bob", "--answers", str(answers / "none.toml"), firm)
    assert result.code == 2 and "anticoagulants" in result.out + result.err


def test_answers_on_the_command_line_serve_a_user_never_screened(cli):
    result = cli("check", "--user", "newbie", "--answers", str(HERE / "answers" / "none.toml"), "recovery")
    assert result.code == 0, result.err
    assert cli("check", "--user", "newbie", "recovery").code == 1  # without them: screen first


def test_compose_refuses_bad_choices_with_one_line(cli):
    for args in (["--goal", "fly"], ["--zones", "elbow"], ["--intensity", "9"]):
        base = {"--goal": "recovery", "--zones": "calf", "--intensity": "3"}
        base[args[0]] = args[1]
        result = cli("compose", *[x for kv in base.items() for x in kv])
        assert result.code == 1 and result.err.startswith("error: ")


def test_screen_stores_decisions_and_blocks_runs(cli, isolated_home):
    result = cli("screen", "--answers", str(HERE / "answers" / "dvt.toml"))
    assert result.code == 0
    assert "Seek medical care now" in result.out and "No session can start" in result.out
    assert (isolated_home / "users" / "default.toml").exists()
    blocked = cli("check", str(HERE / "broken" / "profile-lymph-no-thigh-cell.toml"))
    assert blocked.code == 2 and "screening blocks sessions" in blocked.out


def test_screen_without_a_terminal_or_answers_is_a_clear_error(cli):
    result = cli("screen")
    assert result.code == 1 and "--answers" in result.err


def test_screen_with_bad_answers_file_is_a_clear_error(cli, tmp_path):
    bad = tmp_path / "a.toml"
    bad.write_text("age = 'x'\n")
    result = cli("screen", "--answers", str(bad))
    assert result.code == 3 and str(bad) in result.err

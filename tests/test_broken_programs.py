"""Golden broken programs: each file in broken/ states the FILE:LINE and field it must be refused at,
on the path of `legflow check` and `legflow run` (adapted to the device first, then checked).

Header comments: ``# expect: LINE FIELD`` (required), ``# profile: NAME``, ``# answers: FILE``
(screening answers in answers/ that tighten the limits).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cli_helpers import run_cli
from legflow.device import load_profile
from legflow.errors import ProgramError
from legflow.plan import for_device
from legflow.programs.loader import load_source, validate_text
from legflow.safety import DEFAULT_LIMITS
from legflow.screening import decide, load_answers_file

HERE = Path(__file__).parent
BROKEN = sorted((HERE / "broken").glob("*.toml"))


def _header(path: Path) -> dict[str, str]:
    return dict(re.findall(r"^# (\w+): (.+)$", path.read_text(), flags=re.M))


def test_the_table_is_large_enough():
    assert len(BROKEN) >= 25


@pytest.mark.parametrize("path", BROKEN, ids=[p.stem for p in BROKEN])
def test_broken_file_is_refused_at_its_line_and_field(path: Path):
    header = _header(path)
    line, field = header["expect"].split(" ", 1)
    limits = DEFAULT_LIMITS
    if "answers" in header:
        limits = decide(load_answers_file(HERE / "answers" / header["answers"]))[0]
    with pytest.raises(ProgramError) as caught:
        for_device(load_source(path), load_profile(header.get("profile", "reference")), limits)
    found = [(p.file, p.line, p.field) for p in caught.value.problems]
    assert (str(path), int(line), field) in found, caught.value
    for problem in caught.value.problems:
        assert str(problem).startswith(f"{path}:{problem.line}: {problem.field}: ")
        assert problem.message


def test_all_problems_of_a_file_come_in_one_run(tmp_path):
    bad = tmp_path / "many.toml"
    bad.write_text(
        '[program]\nname = "x"\ngoal = "recover"\n'
        '[[phase]]\nname = "a"\nduration_min = 3\n'
        '  [phase.compression]\n  zones = ["calf"]\n  pressure_mmHg = 40\n  inflat_s = 2\n'
        '[[phase]]\nname = "b"\nduration_min = 3\n'
        '  [phase.compression]\n  zones = ["calf", "foot"]\n  pressure_mmHg = 40\n'
    )
    with pytest.raises(ProgramError) as caught:
        load_source(bad)
    assert [(p.line, p.field) for p in caught.value.problems] == [
        (3, "program.goal"),
        (10, "phase[1].compression.inflat_s"),
        (15, "phase[2].compression.zones"),
    ]
    assert "did you mean 'recovery'" in str(caught.value)
    assert "did you mean 'inflate_s'" in str(caught.value)


def test_cross_field_problems_do_not_hide_the_device_check(capsys, monkeypatch, tmp_path):
    """Zones out of order are one problem among others: the device's refusals come in the same run."""
    bad = tmp_path / "order-and-device.toml"
    bad.write_text(
        '[program]\nname = "x"\ngoal = "recovery"\n[[phase]]\nname = "a"\nduration_min = 3\n'
        '  [phase.compression]\n  pattern = "sequential"\n  zones = ["thigh", "calf"]\n'
        "  pressure_mmHg = 150\n  [phase.heat]\n  target_C = 45\n"
    )
    result = run_cli(capsys, monkeypatch, "check", str(bad))
    assert result.code == 2
    assert [line.split(": ", 2)[:2] for line in result.out.strip().splitlines()] == [
        [f"{bad}:9", "phase[1].compression.zones"],
        [f"{bad}:10", "phase[1].compression.pressure_mmHg"],
        [f"{bad}:10", "phase[1].compression.pressure_mmHg"],
        [f"{bad}:12", "phase[1].heat.target_C"],
    ]
    assert "distal to proximal" in result.out and "thigh pressure 150 mmHg" in result.out
    assert "calf pressure 150 mmHg" in result.out and "heat 45 °C" in result.out


def test_device_refusal_names_the_limit_and_why():
    path = HERE / "broken" / "device-calf-150.toml"
    with pytest.raises(ProgramError) as caught:
        for_device(load_source(path), load_profile("reference"), DEFAULT_LIMITS)
    message = caught.value.problems[0].message
    assert "150 mmHg" in message and "limit of 100 mmHg" in message and "docs/safety.md" in message


def test_screening_limit_names_the_screening_reason():
    path = HERE / "broken" / "screening-anticoagulants-pressure.toml"
    limits = decide(load_answers_file(HERE / "answers" / "anticoagulants.toml"))[0]
    with pytest.raises(ProgramError) as caught:
        for_device(load_source(path), load_profile("reference"), limits)
    assert "limit of 40 mmHg" in str(caught.value) and "anticoagulants" in str(caught.value)


def test_a_value_the_toml_parser_cannot_convert_is_a_problem(monkeypatch):
    """Beside the digit limit, which names the number's line, any other conversion error of the
    parser is still one problem, not an internal error."""

    def refuse(text: str) -> dict:
        raise ValueError("bad value")

    monkeypatch.setattr("legflow.programs.loader.tomllib.loads", refuse)
    with pytest.raises(ProgramError) as caught:
        validate_text("x = 1\n", "odd.toml")
    assert [str(p) for p in caught.value.problems] == ["odd.toml:1: toml: cannot be read: bad value"]


def test_unreadable_file_is_a_problem_not_a_traceback(tmp_path):
    with pytest.raises(ProgramError) as caught:
        load_source(tmp_path / "missing.toml")
    assert caught.value.problems[0].field == "file"
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ProgramError):
        load_source(binary)

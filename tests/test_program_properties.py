"""Property tests: valid programs survive dump → load unchanged; no input produces a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest
import tomlkit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from legflow.errors import ProgramError
from legflow.programs.loader import dump_program, parse_program
from legflow.programs.model import Program
from strategies import program_dicts, programs


@pytest.mark.slow
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_dump_then_load_gives_the_same_program(program):
    assert parse_program(dump_program(program)) == program


@settings(max_examples=300)
@given(st.binary(max_size=400))
def test_random_bytes_raise_only_program_errors(data):
    try:
        program = parse_program(data.decode("utf-8", errors="replace"))
    except ProgramError as exc:
        assert exc.problems and all(p.line >= 1 for p in exc.problems)
    else:
        assert isinstance(program, Program)  # accepted input gives a program, not a partial result


PROGRAM_KEYS = [
    "program", "phase", "name", "goal", "legs", "duration_min", "compression", "zones", "pressure_mmHg",
    "pattern", "inflate_s", "hold_s", "rollers", "heat", "target_C", "guide", "at_s", "area", "text",
    "vibration", "level", "adaptive", "refill", "x",
]  # fmt: skip
toml_leaves = (
    st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["calf", "foot", "sequential", "sole.arch", "recovery", "both"])
)
toml_values = st.recursive(
    toml_leaves,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(PROGRAM_KEYS), inner, max_size=5)
    ),
    max_leaves=20,
)


@pytest.mark.slow
@settings(max_examples=300)
@given(st.dictionaries(st.sampled_from(["program", "phase", "adaptive", "other"]), toml_values, max_size=3))
def test_random_toml_raises_only_program_errors(data):
    text = tomlkit.dumps(data)
    try:
        program = parse_program(text)
    except ProgramError as exc:
        assert exc.problems and all(p.line >= 1 for p in exc.problems)
    else:
        assert isinstance(program, Program)  # accepted input gives a program, not a partial result


@pytest.mark.slow
@settings(max_examples=150)
@given(program_dicts())
def test_wrong_types_are_reported_at_their_fields(data):
    data["phase"][0]["duration_min"] = "long"
    data["program"]["goal"] = 7
    with pytest.raises(ProgramError) as raised:
        parse_program(tomlkit.dumps(data))
    fields = {p.field for p in raised.value.problems}
    assert {"phase[1].duration_min", "program.goal"} <= fields
    assert all(p.line >= 1 for p in raised.value.problems)


@pytest.mark.slow
def test_cli_check_on_garbage_prints_no_traceback(tmp_path):
    garbage = tmp_path / "garbage.toml"
    garbage.write_bytes(bytes(range(256)) * 4)
    done = subprocess.run(
        [sys.executable, "-m", "legflow", "check", str(garbage)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stdout + done.stderr
    assert done.stdout.startswith(f"{garbage}:1: ")

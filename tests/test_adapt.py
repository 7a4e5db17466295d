"""Programs that adapt to the device (`legflow.plan.adapt`): every built-in program on every device
profile runs as written, runs adapted with its list of changes, or is refused with a reason; the
adapted program is what the session runs and what history keeps."""

from __future__ import annotations

import json

import pytest

from cli_helpers import run_cli
from legflow.anatomy import ZONE_SEGMENTS
from legflow.device.profile import load_profile, profile_names
from legflow.errors import ProgramError
from legflow.plan import device_verdict, for_device
from legflow.plan.adapt import adapt
from legflow.programs.library import builtin_names, builtin_source
from legflow.programs.loader import validate_text
from legflow.safety.limits import DEFAULT_LIMITS
from legflow.store.history import default_history

#: What `legflow run PROGRAM --profile P` does, for the cases the issue names and a few more.
EXPECTED = {
    ("recovery", "recovery-boots"): "adapted",  # was refused over vibration the boots do not have
    ("recovery", "calf-sleeve"): "adapted",  # the calf part of recovery
    ("circulation", "home-foot-calf"): "adapted",
    ("lymph", "calf-sleeve"): "refused",  # lymph without the thigh
    ("lymph", "home-foot-calf"): "refused",
    ("lymph", "recovery-boots"): "runs",
    ("reflexology-digestion", "recovery-boots"): "refused",  # no rollers
    ("reflexology-back", "home-foot-calf"): "refused",  # its rollers do not reach the inner edge
    ("reflexology-sleep", "home-foot-calf"): "adapted",
    ("shin-splints", "calf-sleeve"): "refused",  # it squeezes around the shin: foot and thigh
}


def program(zones: list[str], goal: str = "custom", extra: str = "") -> str:
    return (
        f'[program]\nname = "t"\ngoal = "{goal}"\n[[phase]]\nname = "a"\nduration_min = 2\n'
        f'  [phase.compression]\n  pattern = "sequential"\n  zones = {json.dumps(zones)}\n'
        f"  pressure_mmHg = {json.dumps([40 + 5 * i for i in range(len(zones))][::-1])}\n{extra}"
    )


@pytest.mark.parametrize("profile", profile_names())
@pytest.mark.parametrize("name", builtin_names())
def test_every_program_runs_adapted_or_is_refused_with_a_reason(name, profile):
    source, device = builtin_source(name), load_profile(profile)
    verdict, detail = device_verdict(source, device, DEFAULT_LIMITS)
    adaptation = adapt(source.program, device)
    if verdict == "refused":
        assert detail  # a reason, always
        return
    checked = for_device(source, device, DEFAULT_LIMITS)
    assert (verdict == "adapted") == bool(checked.changes) == bool(adaptation.changes)
    # what runs asks nothing of the device that it lacks
    run = checked.source.program
    assert set(run.compression_zones()) <= set(device.zones)
    assert all(p.vibration is None or p.vibration.level <= device.vibration_max_level for p in run.phases)
    assert all(p.heat is None for p in run.phases) or device.heater_max_C is not None
    reach = set(device.rollers.zones) if device.rollers else set()
    assert set(run.sole_zones()) <= reach
    if (name, profile) in EXPECTED:
        assert verdict == EXPECTED[(name, profile)], detail


@pytest.mark.parametrize(("name", "profile"), list(EXPECTED))
def test_the_named_cases(name, profile):
    verdict, detail = device_verdict(builtin_source(name), load_profile(profile), DEFAULT_LIMITS)
    assert verdict == EXPECTED[(name, profile)], detail


def test_a_zone_the_device_lacks_is_carried_by_its_cell_over_the_same_part_of_the_leg():
    """The home foot-and-calf device has no knee cell: its calf cell covers the upper calf, so a
    knee squeezed with the calf is left to the calf cell, and a knee squeezed alone is squeezed by
    the calf cell at the knee's pressure. It has nothing over the thigh: a thigh is dropped."""
    device = load_profile("home-foot-calf")
    with_calf = adapt(validate_text(program(["calf", "knee", "thigh"])).program, device)
    c = with_calf.program.phases[0].compression
    assert c.zones == ["calf"] and c.zone_pressures() == {"calf": 50}
    assert with_calf.changes == (
        "knee left to the calf cell, over the upper calf (no knee cell)",
        "thigh dropped: device 'home-foot-calf' has no cell over the thigh",
    )
    alone = adapt(validate_text(program(["knee"])).program, device).program.phases[0].compression
    assert alone.zones == ["calf"] and alone.zone_pressures() == {"calf": 40}


def test_a_program_whose_purpose_does_not_survive_is_refused_at_its_goal():
    text = program(["calf", "thigh"], goal="lymph")
    with pytest.raises(ProgramError) as caught:
        for_device(validate_text(text, "lymph.toml"), load_profile("calf-sleeve"), DEFAULT_LIMITS)
    (problem,) = caught.value.problems
    assert (problem.line, problem.field) == (3, "program.goal")
    assert "a lymph program needs the thigh" in problem.message


def test_nothing_left_is_a_refusal_where_the_program_asked_it():
    with pytest.raises(ProgramError) as caught:
        for_device(validate_text(program(["thigh"]), "t.toml"), load_profile("calf-sleeve"), DEFAULT_LIMITS)
    assert "nothing of its squeeze is left on device 'calf-sleeve'" in str(caught.value)
    heat_only = '[program]\nname = "t"\ngoal = "stress"\n[[phase]]\nname = "a"\nduration_min = 2\n'
    with pytest.raises(ProgramError) as caught:
        heat = heat_only + "  [phase.heat]\n  target_C = 38\n"
        for_device(validate_text(heat, "t.toml"), load_profile("recovery-boots"), DEFAULT_LIMITS)
    (problem,) = caught.value.problems
    assert problem.field == "phase[1].heat.target_C" and "nothing of this program runs" in problem.message


def test_limits_are_not_adapted():
    """A pressure over a cell's rating is the device check's refusal, as before, not lowered."""
    with pytest.raises(ProgramError, match="over the limit of 100 mmHg"):
        text = program(["calf"]).replace("pressure_mmHg = [40]", "pressure_mmHg = 150")
        for_device(validate_text(text, "t.toml"), load_profile("calf-sleeve"), DEFAULT_LIMITS)


def test_each_profile_presses_its_zones_where_the_zones_lie():
    """A cell covers only segments where its zone lies (`anatomy.ZONE_SEGMENTS`): else a zone the
    device lacks would be carried by a cell somewhere else on the leg."""
    for name in profile_names():
        for cell in load_profile(name).cells:
            assert set(cell.covers) <= set(ZONE_SEGMENTS[cell.zone]), (name, cell.name)


@pytest.mark.slow
def test_a_session_runs_the_adapted_program_and_keeps_its_changes(capsys, monkeypatch):
    """`legflow run recovery --profile recovery-boots` was refused over vibration the boots do not
    have; it runs without it, says so before it starts, and the summary and history keep it."""
    result = run_cli(
        capsys, monkeypatch, "run", "recovery", "--profile", "recovery-boots", "--fast", "--json"
    )
    assert result.code == 0, result.err
    summary = json.loads(result.out)
    change = "vibration dropped: device 'recovery-boots' has none (phase 'flush with vibration')"
    assert summary["status"] == "completed" and summary["adapted"] == [change]
    assert "adapted to device 'recovery-boots':" in result.err and change in result.err
    history = default_history(readonly=True)
    try:
        events = history.events(summary["id"])
    finally:
        history.close()
    assert [e["detail"] for e in events if e["kind"] == "adapted"] == [change]


def test_the_readme_table_is_the_commands(capsys, monkeypatch):
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    printed = run_cli(capsys, monkeypatch, "programs", "--devices", "--markdown").out.strip()
    assert printed in readme

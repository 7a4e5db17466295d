"""The timeline: each compression pattern against its definition, legs modes, guide steps."""

from __future__ import annotations

import pytest

from legflow.programs.model import Program, squeezed_legs, used_legs
from legflow.programs.timeline import Timeline, cycle_s


def program(pattern: str, legs: str = "both", **timing) -> Program:
    compression = {
        "pattern": pattern,
        "zones": ["foot", "calf", "thigh"],
        "pressure_mmHg": [60, 50, 40],
        "inflate_s": 2.0,
        "delay_s": 1.0,
        "hold_s": 10.0,
        "release_s": 2.0,
        "rest_s": 20.0,
        **timing,
    }
    return Program.model_validate({
        "program": {"name": "t", "goal": "custom", "legs": legs},
        "phase": [
            {"name": "a", "duration_min": 2, "compression": compression, "vibration": {"level": 2},
             "guide": [{"at_s": 0, "area": "calf", "text": "one"},
                       {"at_s": 30, "area": "calf", "text": "two"}]},
            {"name": "b", "duration_min": 1, "heat": {"target_C": 38}},
        ],
    })  # fmt: skip


def test_sequential_fills_distal_first_holds_the_limb_then_releases_together():
    t = Timeline(program("sequential"))
    assert cycle_s(t.program.phases[0].compression) == 2 * 3 + 2 + 10 + 2 + 20
    assert t.at(1.0).pressures_mmHg["left.foot"] == pytest.approx(30)  # half-way up its ramp
    assert t.at(1.0).pressures_mmHg["left.calf"] == 0
    full = t.at(8.5).pressures_mmHg  # every zone full, whole-limb hold
    assert full == {
        f"{leg}.{z}": p for leg in ("left", "right") for z, p in [("foot", 60), ("calf", 50), ("thigh", 40)]
    }
    assert t.at(3.5).pressures_mmHg["left.foot"] == 60  # the foot stays full while the calf fills
    releasing = t.at(19.0).pressures_mmHg
    assert releasing["left.foot"] == pytest.approx(30) and releasing["left.thigh"] == pytest.approx(20)
    assert set(t.at(30.0).pressures_mmHg.values()) == {0.0}  # rest


def test_wave_releases_each_zone_after_its_own_hold():
    t = Timeline(program("wave"))
    at = t.at(13.0).pressures_mmHg  # foot: up 0-2, hold to 12, release 12-14
    assert at["left.foot"] == pytest.approx(30) and at["left.calf"] == 50


def test_pulse_moves_all_zones_together():
    at = Timeline(program("pulse")).at(1.0).pressures_mmHg
    assert at["left.foot"] == pytest.approx(30) and at["left.thigh"] == pytest.approx(20)


def test_hold_stays_full_until_the_end_of_the_phase():
    t = Timeline(program("hold"))
    assert t.at(60.0).pressures_mmHg["right.calf"] == 50
    assert t.at(119.0).pressures_mmHg["right.calf"] == pytest.approx(25)


def test_alternate_legs_take_turns_by_cycle():
    t = Timeline(program("sequential", legs="alternate"))
    assert set(t.at(8.5).pressures_mmHg) == {"left.foot", "left.calf", "left.thigh"}
    assert set(t.at(40 + 8.5).pressures_mmHg) == {"right.foot", "right.calf", "right.thigh"}
    assert set(Timeline(program("sequential", legs="right")).at(8.5).pressures_mmHg) == {
        "right.foot", "right.calf", "right.thigh"}  # fmt: skip


@pytest.mark.parametrize("mode", ["both", "left", "right", "alternate"])
def test_the_table_and_the_targets_squeeze_the_legs_the_mode_names(mode):
    """The setpoint table (the session's) and the targets agree cycle by cycle with the one
    definition of a legs mode; the device check asks for every leg the mode ever squeezes."""
    t = Timeline(program("sequential", legs=mode))
    cells = [f"{leg}.{zone}" for leg in ("left", "right") for zone in ("foot", "calf", "thigh")]
    table = t.setpoint_table([c.split(".")[0] for c in cells], [c.split(".")[1] for c in cells], 0.5)
    for cycle in range(3):
        at = 40 * cycle + 8.5  # mid-squeeze of each 40 s cycle
        squeezed = {c.split(".")[0] for c, p in zip(cells, table[round(at / 0.5)], strict=True) if p > 0}
        assert (
            squeezed == set(squeezed_legs(mode, cycle)) == {c.split(".")[0] for c in t.at(at).pressures_mmHg}
        )
    assert used_legs(mode) == ((mode,) if mode in ("left", "right") else ("left", "right"))


def test_phases_guide_steps_and_actuators_follow_the_clock():
    t = Timeline(program("sequential"))
    assert t.duration_s == 180
    assert t.at(10).guide.text == "one" and t.at(45).guide.text == "two"
    assert t.at(10).vibration_level == 2 and t.at(10).heat_C is None
    later = t.at(150)
    assert later.phase_index == 1 and later.heat_C == 38 and later.pressures_mmHg == {}
    assert later.phase_left_s == pytest.approx(30) and later.guide is None

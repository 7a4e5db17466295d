"""The false-alarm sweep's own measures (`benchmarks/false_alarms.py`): one short sound session
reports how close it came to the thin findings, and the report says what it measured."""

from __future__ import annotations

import pytest
from benchmarks.false_alarms import Case, Outcome, report, run_case

from legflow.safety.detectors import SECOND_LEAK_SHARE

pytestmark = pytest.mark.slow  # a real session of 300 s on the virtual clock


@pytest.fixture(scope="module")
def sound() -> Outcome:
    return run_case(Case("pre-sport", "reference", "adult", "supine", seed=0, duration_s=300.0))


def test_a_sound_session_completes_and_measures_its_margins(sound):
    assert sound.status == "completed" and sound.faults == [] and sound.error is None
    assert sound.sim_s == pytest.approx(300.0)
    # its cells were held (the leak finding watched them) and came somewhere short of each finding
    assert sound.held_ticks > 1000
    assert 0.0 < sound.leak_share < 1.0
    assert 0.0 < sound.slack_share < 1.0
    assert 0.0 <= sound.kept_share < 1.0
    assert sound.second_ticks <= sound.held_ticks
    assert (sound.second_ticks > 0) == (sound.leak_share >= SECOND_LEAK_SHARE)


def test_the_report_names_the_closest_session_and_every_run_that_did_not_complete(sound):
    case = Case("lymph", "calf-sleeve", "oedema", "standing", seed=3, duration_s=2400.0)
    tripped = Outcome(case, "fault", 120.0, 1.0, faults=[{"detector": "pressure_decay", "cell": "left.calf"}])
    text = report([sound, tripped], [], "python -m benchmarks.false_alarms", 2.0, 1, 0.0)
    assert "| runs | 2: 1 completed, 1 did not |" in text
    closest = f"{sound.leak_share:.2f} of it: pre-sport on reference, adult supine, seed 0 |"
    assert f"to the leak finding (a held cell's loss over a hole's) | {closest}" in text
    assert f"| {sound.second_ticks} of {sound.held_ticks} (" in text
    assert "lymph" in text.split("## Runs that did not complete")[1]
    assert "pressure_decay 1" in text

"""The twin-shape prototype (`benchmarks/twin_shape.py`) must measure what the validation runners
measure: its ``series`` shape is the twin's own network, so its numbers are the twin's."""

import pytest
from benchmarks.twin_shape import evaluate

from legflow.twin.subject import load_subject
from legflow.twin.validate import load_cases, measure_case


@pytest.mark.slow
def test_the_series_shape_reproduces_the_twins_foot_pump_and_refill():
    series = evaluate("series")
    cases = {case["id"]: case for case in load_cases()}
    adult = load_subject("adult")
    pump = measure_case(cases["foot_pump_pressure_response"], adult, "supine")
    refill = measure_case(cases["calf_step_refill"], adult, "supine")
    assert list(series.pump_rise_mL_per_s) == pytest.approx(pump.value, rel=0.05)
    assert series.refill_pct_per_s == pytest.approx(refill.value, rel=0.05)

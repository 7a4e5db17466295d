"""Hypothesis strategies for valid programs (shared by the property tests)."""

from __future__ import annotations

import math

from hypothesis import strategies as st

from legflow.anatomy import COMPRESSION_ZONES, GUIDE_AREAS, SOLE_ZONES
from legflow.programs.model import GOALS, Program

text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=30)
seconds = st.floats(min_value=0.1, max_value=120, allow_nan=False).map(lambda x: round(x, 2))


@st.composite
def compressions(draw, max_pressure: float = 300.0):
    zones = sorted(draw(st.sets(st.sampled_from(COMPRESSION_ZONES), min_size=1)), key=COMPRESSION_ZONES.index)
    pressure = st.floats(min_value=0, max_value=max_pressure, allow_nan=False).map(lambda x: round(x, 1))
    per_zone = draw(st.booleans())
    return {
        "pattern": draw(st.sampled_from(["sequential", "wave", "pulse", "hold"])),
        "zones": zones,
        "pressure_mmHg": [draw(pressure) for _ in zones] if per_zone else draw(pressure),
        "inflate_s": draw(seconds),
        "delay_s": draw(seconds),
        "hold_s": draw(seconds),
        "release_s": draw(seconds),
        "rest_s": draw(seconds),
    }


@st.composite
def phases(draw, minutes: float, max_pressure: float = 300.0, heat_max_C: float = 50.0):
    duration = round(minutes, 2)
    phase: dict = {"name": draw(text), "duration_min": duration}
    if draw(st.booleans()):
        phase["compression"] = draw(compressions(max_pressure))
    if draw(st.booleans()):
        phase["rollers"] = {
            "zones": draw(st.lists(st.sampled_from(SOLE_ZONES), min_size=1, unique=True)),
            "speed": draw(st.sampled_from(["slow", "medium", "fast"])),
            "depth": draw(st.sampled_from(["gentle", "deep"])),
        }
    if draw(st.booleans()):
        phase["vibration"] = {"level": draw(st.integers(0, 5))}
    if draw(st.booleans()):
        phase["heat"] = {"target_C": round(draw(st.floats(25, heat_max_C)), 1)}
    at_s = st.floats(0, duration * 60, exclude_max=True).map(lambda x: math.floor(x * 100) / 100)
    steps = draw(st.lists(at_s, max_size=3))
    phase["guide"] = [
        {"at_s": at, "area": draw(st.sampled_from(GUIDE_AREAS)), "text": draw(text)} for at in steps
    ]
    return phase


@st.composite
def program_dicts(draw, max_pressure: float = 300.0, heat_max_C: float = 50.0, max_minutes: float = 60.0):
    count = draw(st.integers(1, 4))
    minutes = [draw(st.floats(0.05, max_minutes / count)) for _ in range(count)]
    data = {
        "program": {
            "name": draw(text),
            "goal": draw(st.sampled_from(GOALS)),
            "summary": draw(st.text(max_size=60)),
            "legs": draw(st.sampled_from(["both", "left", "right", "alternate"])),
        },
        "phase": [draw(phases(m, max_pressure, heat_max_C)) for m in minutes],
    }
    if draw(st.booleans()):
        data["adaptive"] = {"refill": draw(st.booleans())}
    return data


def programs(**kwargs):
    return program_dicts(**kwargs).map(Program.model_validate)

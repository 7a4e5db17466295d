"""Hypothesis strategies for valid programs (shared by the property tests)."""

from __future__ import annotations

import math

from hypothesis import strategies as st

from legflow.anatomy import COMPRESSION_ZONES, GUIDE_AREAS, SOLE_ZONES
from legflow.device.faults import CELL_FAULTS, FAULT_KINDS, FaultSpec
from legflow.device.profile import DeviceProfile, load_profile, profile_names
from legflow.plan import device_findings
from legflow.plan.pump import PUMP_REFUSE_RATIO, pump_fills
from legflow.programs.model import GOALS, Program
from legflow.safety.limits import DEFAULT_LIMITS

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
    # whole hundredths of a second, strictly inside the phase however its length rounds (a float
    # floored to hundredths can round up onto the end: 3.83 min is 229.79999... s)
    at_s = st.integers(0, max(0, int(duration * 6000) - 1)).map(lambda x: x / 100)
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


# --- programs a device may run, and single faults (the safety soak) ---------------------------------
@st.composite
def device_programs(draw, min_minutes: float = 1.0, max_minutes: float = 3.0, heater: bool = False):
    """A device profile (with a heater if asked) and a program that passes the device check for it
    under the default limits, ``min_minutes``..``max_minutes`` long: real sessions cost time per
    simulated second, so a soak keeps them short and spends its time on more examples instead."""
    names = [n for n in profile_names() if not heater or load_profile(n).heater_max_C is not None]
    profile = load_profile(draw(st.sampled_from(names)))
    zones = [z for z in COMPRESSION_ZONES if z in profile.zones]
    total_s = draw(st.floats(min_minutes * 60, max_minutes * 60))
    count = draw(st.integers(1, 3))
    shares = [draw(st.floats(0.2, 1.0)) for _ in range(count)]
    phases = []
    for share in shares:
        chosen = sorted(draw(st.sets(st.sampled_from(zones), min_size=1)), key=COMPRESSION_ZONES.index)
        limit = {z: min(c.max_pressure_mmHg for c in profile.cells_in_zone(z)) for z in chosen}
        limit = {z: min(p, DEFAULT_LIMITS.pressure_limit_mmHg(z)[0]) for z, p in limit.items()}
        phase: dict = {
            "name": "p",
            "duration_min": round(total_s * share / sum(shares) / 60, 3),
            "compression": {
                "pattern": draw(st.sampled_from(["sequential", "wave", "pulse", "hold"])),
                "zones": chosen,
                "pressure_mmHg": [round(draw(st.floats(5, limit[z])), 1) for z in chosen],
                "inflate_s": round(draw(st.floats(0.5, 6)), 2),
                "delay_s": round(draw(st.floats(0, 2)), 2),
                "hold_s": round(draw(st.floats(0, 30)), 2),
                "release_s": round(draw(st.floats(0.5, 5)), 2),
                "rest_s": round(draw(st.floats(0, 20)), 2),
            },
        }
        if profile.heater_max_C is not None and draw(st.booleans()):
            phase["heat"] = {"target_C": round(draw(st.floats(30, min(42.0, profile.heater_max_C))), 1)}
        if profile.vibration_max_level and draw(st.booleans()):
            phase["vibration"] = {"level": draw(st.integers(0, profile.vibration_max_level))}
        if profile.rollers is not None and draw(st.booleans()):
            reach = list(profile.rollers.zones)
            phase["rollers"] = {
                "zones": draw(st.lists(st.sampled_from(reach), min_size=1, unique=True)),
                "speed": draw(st.sampled_from(["slow", "medium", "fast"])),
            }
        phases.append(phase)
    legs = draw(st.sampled_from(["both", "left", "right", "alternate"]))
    return profile, device_checked(profile, phases, legs)


@st.composite
def single_faults(draw, profile, duration_s: float, kind: str | None = None):
    """One fault (of ``kind``, or of any kind the profile can have: no heater runaway without a
    heater), in a random cell or leg, at a random time of a session ``duration_s`` long."""
    if kind is None:
        kinds = [k for k in FAULT_KINDS if k != "heater_runaway" or profile.heater_max_C is not None]
        kind = draw(st.sampled_from(kinds))
    if kind in CELL_FAULTS:
        where = draw(st.sampled_from(profile.cell_names()))
    elif kind == "link_loss":
        where = None
    else:
        where = draw(st.sampled_from(profile.legs))
    at_s = math.floor(draw(st.floats(0, duration_s, exclude_max=True)) * 100) / 100
    return FaultSpec(kind, at_s, where)


def device_checked(profile: DeviceProfile, phases: list[dict], legs: str) -> Program:
    """A random program's phases as a program the device check passes: a ramp far too fast for the
    pump is refused (legflow.plan.pump), so each is slowed to the fastest the pump allows."""
    data = {"program": {"name": "random", "goal": "custom", "legs": legs}, "phase": phases}
    for fill in pump_fills(Program.model_validate(data), profile):
        slowest_s = math.ceil(fill.shortest_inflate_s / PUMP_REFUSE_RATIO * 100) / 100
        c = phases[fill.phase]["compression"]
        c["inflate_s"] = max(c["inflate_s"], slowest_s)
    program = Program.model_validate(data)
    assert not device_findings(program, profile, DEFAULT_LIMITS)
    return program

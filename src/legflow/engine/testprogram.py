"""A program that exercises everything a device profile has: used to check every profile
against every fault (tests, the soak command) and by the controller benchmark.

Only tests and benchmarks use it, but so does `legflow.apps.faultmatrix` (the fault harness of
tests/test_fault_matrix.py, tests/test_safety_soak.py and benchmarks.fault_latency): it stays here
until the two move under tests/ together."""

from __future__ import annotations

from typing import Any

from legflow.anatomy import COMPRESSION_ZONES
from legflow.device.profile import DeviceProfile
from legflow.programs.model import Program


def exercise_program(
    profile: DeviceProfile,
    minutes: float = 4.0,
    pressure_mmHg: float = 60.0,
    *,
    hold_s: float = 10.0,
    rest_s: float = 10.0,
    heat_C: float | None = 39.0,
    name: str | None = None,
) -> Program:
    """Sequential squeezes over every zone of the device, with its rollers, vibration and heat
    (``heat_C``; None: none)."""
    zones = [z for z in COMPRESSION_ZONES if z in profile.zones]
    phase: dict[str, Any] = {
        "name": "exercise",
        "duration_min": minutes,
        "compression": {
            "pattern": "sequential",
            "zones": zones,
            "pressure_mmHg": pressure_mmHg,
            "inflate_s": 3.0,
            "delay_s": 0.5,
            "hold_s": hold_s,
            "release_s": 3.0,
            "rest_s": rest_s,
        },
    }
    if profile.rollers is not None:
        phase["rollers"] = {"zones": list(profile.rollers.zones), "speed": "medium"}
    if profile.vibration_max_level:
        phase["vibration"] = {"level": min(2, profile.vibration_max_level)}
    if heat_C is not None and profile.heater_max_C is not None:
        phase["heat"] = {"target_C": heat_C}
    head = {"name": name or f"exercise {profile.name}", "goal": "custom", "legs": "both"}
    return Program.model_validate({"program": head, "phase": [phase]})

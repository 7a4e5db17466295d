"""The goal composer: goal + zones + intensity + minutes → a valid program a user can then edit.

Intensity 1..5 maps linearly onto the goal's pressure range (from the dose its evidence used, or
the comfort default of docs/safety.md), graded so distal zones get the most, and never beyond the limits.
"""

from __future__ import annotations

from dataclasses import dataclass

from legflow.anatomy import COMPRESSION_ZONES, SOLE_ZONES, distal_rank
from legflow.device.profile import DeviceProfile
from legflow.errors import ProfileError
from legflow.evidence import for_goal
from legflow.programs.model import GOALS, Program
from legflow.safety.limits import Limits

#: Gradient between neighbouring zones, distal higher (graded compression).
GRADIENT_mmHg_PER_ZONE = 5.0
COMFORT_RANGE_mmHg = (30.0, 50.0)  # the comfort default of docs/safety.md


@dataclass(frozen=True)
class Recipe:
    """How a goal is squeezed: pattern, timing and where its pressure range comes from."""

    pattern: str
    pressure_range_mmHg: tuple[float, float]
    inflate_s: float
    delay_s: float
    hold_s: float
    release_s: float
    rest_s: float
    heat_C: float | None = None
    roller_speed: str = "medium"


RECIPES: dict[str, Recipe] = {
    "circulation": Recipe("sequential", (40, 50), 2.0, 0.5, 5.0, 3.0, 25.0),
    "recovery": Recipe("sequential", (60, 80), 3.0, 0.5, 15.0, 3.0, 20.0),
    "lymph": Recipe("sequential", (40, 60), 5.0, 1.0, 50.0, 5.0, 15.0),
    "pain": Recipe("wave", (20, 30), 4.0, 1.0, 5.0, 4.0, 20.0),
    "pre_sport": Recipe("wave", (40, 60), 1.5, 0.0, 2.0, 1.5, 5.0),
    "stress": Recipe("wave", (30, 40), 6.0, 1.0, 8.0, 6.0, 20.0, heat_C=39.0, roller_speed="slow"),
    "immune": Recipe("wave", (30, 40), 5.0, 1.0, 8.0, 5.0, 20.0, heat_C=38.0, roller_speed="slow"),
    "reflexology": Recipe("off", COMFORT_RANGE_mmHg, 2.0, 0.5, 5.0, 3.0, 20.0, roller_speed="slow"),
    "custom": Recipe("sequential", COMFORT_RANGE_mmHg, 2.0, 0.5, 10.0, 3.0, 20.0),
}


def intensity_pressure_mmHg(goal: str, intensity: int) -> float:
    low, high = RECIPES[goal].pressure_range_mmHg
    return low + (high - low) * (intensity - 1) / 4


def compose(
    goal: str, zones: list[str], intensity: int, minutes: float, profile: DeviceProfile, limits: Limits
) -> Program:
    """A program for ``goal`` on ``zones``; raises `ProfileError` on a choice it cannot honour."""
    if goal not in GOALS:
        raise ProfileError(f"unknown goal '{goal}' (one of: {', '.join(GOALS)})")
    if not 1 <= intensity <= 5:
        raise ProfileError(f"intensity must be 1..5, got {intensity}")
    if not 1 <= minutes <= limits.session_min:
        raise ProfileError(f"minutes must be 1..{limits.session_min:g}, got {minutes:g}")
    unknown = [z for z in zones if z not in COMPRESSION_ZONES + SOLE_ZONES]
    if unknown or not zones:
        raise ProfileError(
            f"unknown zone(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from: {', '.join(COMPRESSION_ZONES + SOLE_ZONES)}"
        )
    recipe = RECIPES[goal]
    squeeze = sorted({z for z in zones if z in COMPRESSION_ZONES}, key=distal_rank)
    soles = [z for z in SOLE_ZONES if z in zones]
    if goal == "reflexology" and squeeze:
        raise ProfileError(
            "reflexology works on sole zones (sole.toes, sole.arch, ...), not compression zones"
        )

    phase: dict[str, object] = {
        "name": f"{goal.replace('_', ' ')} (intensity {intensity})",
        "duration_min": minutes,
    }
    if squeeze:
        top = intensity_pressure_mmHg(goal, intensity)
        pressures = []
        for i, zone in enumerate(squeeze):
            limit, _ = limits.pressure_limit_mmHg(zone)
            device = min((c.max_pressure_mmHg for c in profile.cells_in_zone(zone)), default=limit)
            wanted = top - GRADIENT_mmHg_PER_ZONE * i
            pressures.append(round(max(0.0, min(wanted, limit, device)), 1))
        pattern = recipe.pattern if recipe.pattern != "off" else "sequential"
        phase["compression"] = {
            "pattern": pattern,
            "zones": squeeze,
            "pressure_mmHg": pressures,
            "inflate_s": recipe.inflate_s,
            "delay_s": recipe.delay_s,
            "hold_s": recipe.hold_s,
            "release_s": recipe.release_s,
            "rest_s": recipe.rest_s,
        }
    if soles:
        phase["rollers"] = {"zones": soles, "speed": recipe.roller_speed, "depth": "gentle"}
    heat_ok = limits.heat_C is not None and profile.heater_max_C is not None
    if recipe.heat_C is not None and heat_ok and minutes <= limits.heat_on_min:
        phase["heat"] = {"target_C": min(recipe.heat_C, limits.heat_C, profile.heater_max_C)}  # type: ignore[type-var]
    evidence = [b.id for b in for_goal(goal)]
    data = {
        "program": {
            "name": f"My {goal.replace('_', ' ')} program",
            "goal": goal,
            "summary": f"Composed for {goal.replace('_', ' ')} on {', '.join(squeeze + soles)}; edit freely.",
            "legs": "both",
            "evidence": evidence,
            "dose": _dose_words(minutes, phase),
        },
        "phase": [phase],
    }
    return Program.model_validate(data)


def _dose_words(minutes: float, phase: dict) -> str:
    words = [f"{minutes:g} min"]
    if "compression" in phase:
        c = phase["compression"]
        words.append(f"{c['pattern']} {min(c['pressure_mmHg']):g}–{max(c['pressure_mmHg']):g} mmHg")
    if "rollers" in phase:
        words.append(f"rollers on {', '.join(phase['rollers']['zones'])}")
    if "heat" in phase:
        words.append(f"heat {phase['heat']['target_C']:g} °C")
    return ", ".join(words)

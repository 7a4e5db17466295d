"""A plan: a program checked against a device profile and the user's limits.

This is the device check of `legflow check` and of every run: what the format allows (300 mmHg)
is far more than any device may do; here each request meets the device's abilities and the
tightest limit of the defaults and the user's screening, and each refusal says the limit and why.
"""

from __future__ import annotations

from legflow.device.profile import DeviceProfile
from legflow.errors import ProgramError
from legflow.programs.loader import ProgramSource
from legflow.programs.locate import Path
from legflow.programs.model import Program
from legflow.safety.limits import Limits

Finding = tuple[Path, str]


def _zone_findings(program: Program, profile: DeviceProfile, limits: Limits) -> list[Finding]:
    found: list[Finding] = []
    for i, phase in enumerate(program.phases):
        at: Path = ("phase", i)
        c = phase.compression
        if c is not None and phase.squeezes:
            for zone, pressure in c.zone_pressures().items():
                cells = profile.cells_in_zone(zone)
                if not cells:
                    found.append(
                        (
                            (*at, "compression", "zones"),
                            f"device '{profile.name}' has no {zone} cell "
                            f"(it has: {', '.join(profile.zones) or 'no cells'})",
                        )
                    )
                    continue
                if zone in limits.blocked_zones:
                    found.append(
                        (
                            (*at, "compression", "zones"),
                            f"the {zone} zone is blocked ({limits.reason('blocked_zones')})",
                        )
                    )
                limit, why = limits.pressure_limit_mmHg(zone)
                device_max = min(cell.max_pressure_mmHg for cell in cells)
                if device_max < limit:
                    limit, why = device_max, f"rating of device '{profile.name}'"
                if pressure > limit:
                    found.append(
                        (
                            (*at, "compression", "pressure_mmHg"),
                            f"{zone} pressure {pressure:g} mmHg is over the limit of {limit:g} mmHg ({why})",
                        )
                    )
        if phase.rollers is not None:
            found += _roller_findings(phase, at, profile, limits)
        if phase.vibration is not None and phase.vibration.level > 0:
            level = phase.vibration.level
            if not limits.vibration_allowed:
                found.append(
                    (
                        (*at, "vibration", "level"),
                        f"vibration is refused ({limits.reason('vibration_allowed')})",
                    )
                )
            elif level > profile.vibration_max_level:
                has = f"up to level {profile.vibration_max_level}" if profile.vibration_max_level else "none"
                found.append(
                    (
                        (*at, "vibration", "level"),
                        f"device '{profile.name}' has no vibration level {level} (it has {has})",
                    )
                )
        if phase.heat is not None:
            found += _heat_findings(phase.heat.target_C, (*at, "heat", "target_C"), profile, limits)
    return found


def _roller_findings(phase, at: Path, profile: DeviceProfile, limits: Limits) -> list[Finding]:
    rollers = phase.rollers
    where = (*at, "rollers")
    if not limits.rollers_allowed:
        return [((*where, "zones"), f"rollers are refused ({limits.reason('rollers_allowed')})")]
    if profile.rollers is None:
        return [((*where, "zones"), f"device '{profile.name}' has no rollers")]
    found: list[Finding] = []
    missing = [z for z in rollers.zones if z not in profile.rollers.zones]
    if missing:
        found.append(
            ((*where, "zones"), f"device '{profile.name}' rollers do not reach {', '.join(missing)}")
        )
    blocked = [z for z in rollers.zones if z in limits.blocked_zones or "foot" in limits.blocked_zones]
    if blocked:
        found.append(((*where, "zones"), f"{', '.join(blocked)} blocked ({limits.reason('blocked_zones')})"))
    if rollers.depth == "deep":
        if not limits.deep_rollers_allowed:
            found.append(
                ((*where, "depth"), f"deep rollers are refused ({limits.reason('deep_rollers_allowed')})")
            )
        elif not profile.rollers.deep:
            found.append(((*where, "depth"), f"device '{profile.name}' rollers are gentle only"))
    return found


def _heat_findings(target_C: float, at: Path, profile: DeviceProfile, limits: Limits) -> list[Finding]:
    if limits.heat_C is None:
        return [(at, f"heat is refused ({limits.reason('heat_C')})")]
    if profile.heater_max_C is None:
        return [(at, f"device '{profile.name}' has no heater")]
    limit, why = limits.heat_C, limits.reason("heat_C")
    if profile.heater_max_C < limit:
        limit, why = profile.heater_max_C, f"rating of device '{profile.name}'"
    if target_C > limit:
        return [(at, f"heat {target_C:g} °C is over the limit of {limit:g} °C ({why})")]
    return []


def device_findings(program: Program, profile: DeviceProfile, limits: Limits) -> list[Finding]:
    """Every reason this program may not run on this device for this user; empty if it may."""
    found: list[Finding] = [(("program",), f"screening blocks sessions: {b}") for b in limits.blocks]
    minutes = program.duration_s / 60
    if minutes > limits.session_min:
        found.append(
            (
                ("phase",),
                f"the program lasts {minutes:g} min, over the limit of "
                f"{limits.session_min:g} min ({limits.reason('session_min')})",
            )
        )
    if not program.needs_device:
        return found
    legs = program.program.legs
    wanted = {"both": ("left", "right"), "alternate": ("left", "right")}.get(legs, (legs,))
    if any(leg not in profile.legs for leg in wanted):
        found.append((("program", "legs"), f"device '{profile.name}' has no {legs} legs mode"))
    found += _zone_findings(program, profile, limits)
    heat_min = sum(p.duration_min for p in program.phases if p.heat is not None)
    if heat_min > limits.heat_on_min:
        first = next(i for i, p in enumerate(program.phases) if p.heat is not None)
        found.append(
            (
                ("phase", first, "heat"),
                f"heat is on for {heat_min:g} min, over the auto-off limit of "
                f"{limits.heat_on_min:g} min ({limits.reason('heat_on_min')})",
            )
        )
    return found


def check_source(source: ProgramSource, profile: DeviceProfile, limits: Limits) -> None:
    """Raise `ProgramError` with every device and limit problem of the program."""
    problems = source.problems(device_findings(source.program, profile, limits))
    if problems:
        raise ProgramError(problems)

"""The device check: a program checked against a device profile and the user's limits.

This is the device check of `legflow check` and of every run: what the format allows (300 mmHg)
is far more than any device may do; here each request meets the device's abilities and the
tightest limit of the defaults and the user's screening, and each refusal says the limit and why.

Hands-on steps (the guide steps of a phase that runs no actuator: a `self-massage-*` program, the
stretches after a cramp program) meet the same screening: a step on a zone screening blocks (a calf
wound blocks calf, calf.back and shin) refuses the program like a squeeze there would, and limits
that concern pressure add a note shown with every hands-on step (`guide_line`).

It also compares each inflate ramp with what the device's pump can deliver (`plan.pump`): a ramp
a little too fast for the pump is a *warning* (the session runs, the cells fill late); one far too
fast is refused like any other device finding.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from legflow.anatomy import guide_area_zones
from legflow.device.profile import DeviceProfile
from legflow.errors import Problem, ProgramError
from legflow.plan.adapt import adapt
from legflow.plan.pump import PUMP_REFUSE_RATIO, Fill, pump_fills
from legflow.programs.loader import ProgramSource, inspect_text
from legflow.programs.locate import Path
from legflow.programs.model import GuideStep, Phase, Program, used_legs
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
                found += _blocked_parts(at, zone, profile.parts_pressed(zone), limits)
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
    for z in rollers.zones:
        by = next((b for b in (z, "foot") if b in limits.blocked_zones), None)
        if by is not None:
            found.append(((*where, "zones"), f"{z} blocked ({limits.zone_reason(by)})"))
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


# --- hands-on steps ------------------------------------------------------------------------------
def is_hands_on(phase: Phase) -> bool:
    """A phase that runs no actuator: its guide steps are the person's own hands (or stretches)."""
    return not (phase.compression or phase.rollers or phase.vibration or phase.heat)


def _guide_findings(program: Program, limits: Limits) -> list[Finding]:
    """Hands-on steps on a zone screening blocks, or on an area it keeps hands off, refuse the
    program: its steps were written as one sequence, and a gap in it misguides."""
    found: list[Finding] = []
    for i, phase in enumerate(program.phases):
        if not is_hands_on(phase):
            continue  # steps beside a running device narrate it; the device check covers its zones
        for j, step in enumerate(phase.guide):
            at: Path = ("phase", i, "guide", j, "area")
            blocked = [z for z in guide_area_zones(step.area) if z in limits.blocked_zones]
            if blocked:
                zone = blocked[0]
                on = f"{step.area} lies on the {zone} zone, which is" if zone != step.area else f"{zone} is"
                found.append((at, f"{on} blocked: no hands-on step there ({limits.zone_reason(zone)})"))
            elif step.area in limits.no_pressure_areas:
                why = limits.zone_reason(step.area, "no_pressure_areas")
                found.append((at, f"no hand pressure on {step.area} ({why})"))
    return found


def _short(reason: str) -> str:
    """A reason cut to what it names ("screening: anticoagulants"), for a note shown at every step."""
    return reason.split(" — ")[0]


def hands_on_notes(limits: Limits) -> list[str]:
    """What the limits change about hands-on steps, shown with each one: the step texts are written
    for anyone, and a person on blood thinners must not knead firmly whatever a step says."""
    notes = []
    if not limits.deep_rollers_allowed:
        why = _short(limits.reason("deep_rollers_allowed"))
        notes.append(f"Gentle pressure only: no firm kneading or deep pressure ({why}).")
    if limits.no_pressure_areas:
        areas = " or ".join(sorted(a.removeprefix("sole.") for a in limits.no_pressure_areas))
        why = _short(limits.zone_reason(sorted(limits.no_pressure_areas)[0], "no_pressure_areas"))
        notes.append(f"No pressure on the {areas} ({why}).")
    return notes


def guide_line(step: GuideStep, phase: Phase, notes: list[str]) -> str:
    """A guide step as shown and stored: its area, the limits' notes (before the text, so they
    are read first) on a hands-on step, its text."""
    if notes and is_hands_on(phase):
        return f"[{step.area}] {' '.join(notes)} {step.text}"
    return f"[{step.area}] {step.text}"


def _pump_findings(program: Program, profile: DeviceProfile, *, refused: bool) -> list[Finding]:
    """One finding per phase whose slowest ramp is too fast for the pump: the refused ones (far
    off) or the warnings, as asked."""
    worst: dict[int, Fill] = {}
    for fill in pump_fills(program, profile):
        if fill.ratio > 1.0 and (fill.phase not in worst or fill.ratio > worst[fill.phase].ratio):
            worst[fill.phase] = fill
    found: list[Finding] = []
    for i, fill in sorted(worst.items()):
        if (fill.ratio > PUMP_REFUSE_RATIO) != refused:
            continue
        together = "fill together" if len(fill.cells) > 1 else "fills"
        message = (
            f"{', '.join(fill.cells)} {together} 0 → {fill.pressure_mmHg:g} mmHg in {fill.inflate_s:g} s: "
            f"that takes ~{fill.needed_mL:.0f} mL of air, but each leg's pump on device '{profile.name}' "
            f"delivers at most ~{fill.deliverable_mL:.0f} mL in {fill.inflate_s:g} s against "
            f"{fill.back_pressure_mmHg:g} mmHg; it needs inflate_s ≥ {fill.shortest_inflate_s:.1f} s"
        )
        if refused:
            message += f" (refused: over {PUMP_REFUSE_RATIO:g}× the time written)"
        found.append((("phase", i, "compression", "inflate_s"), message))
    return found


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
    found += _guide_findings(program, limits)
    if not program.needs_device:
        return found
    legs = program.program.legs
    if any(leg not in profile.legs for leg in used_legs(legs)):
        found.append((("program", "legs"), f"device '{profile.name}' has no {legs} legs mode"))
    found += _zone_findings(program, profile, limits)
    found += _pump_findings(program, profile, refused=True)
    # the auto-off counts wall time from the heater's first switch-on (as the supervisor does), so a
    # pause in the heat between two heated phases still counts
    heated = [i for i, p in enumerate(program.phases) if p.heat is not None]
    if heated:
        first, last = heated[0], heated[-1]
        heat_min = sum(p.duration_min for p in program.phases[first : last + 1])
        if heat_min > limits.heat_on_min:
            found.append(
                (
                    ("phase", first, "heat"),
                    f"heat spans {heat_min:g} min from its first switch-on, over the auto-off limit of "
                    f"{limits.heat_on_min:g} min ({limits.reason('heat_on_min')})",
                )
            )
    return found


def device_warnings(program: Program, profile: DeviceProfile) -> list[Finding]:
    """What will not go as written on this device but may still run: ramps a little too fast for
    its pump (the cells fill late)."""
    if not program.needs_device:
        return []
    return _pump_findings(program, profile, refused=False)


def check_source(source: ProgramSource, profile: DeviceProfile, limits: Limits) -> list[Problem]:
    """Raise `ProgramError` with every device and limit problem of the program; return its
    warnings (problems that do not refuse a run) for the caller to show."""
    problems = source.problems(device_findings(source.program, profile, limits))
    if problems:
        raise ProgramError(problems)
    return source.problems(device_warnings(source.program, profile))


@dataclass(frozen=True)
class ForDevice:
    """A program as one device runs it for one user: the program adapted to the device (its source
    keeps the file's lines), what the adaptation changed, and the warnings of the device check."""

    source: ProgramSource
    changes: tuple[str, ...]
    warnings: list[Problem]


def for_device(source: ProgramSource, profile: DeviceProfile, limits: Limits) -> ForDevice:
    """The program adapted to the device (`plan.adapt`), then checked against it and the limits.
    Raise `ProgramError` with every reason it may not run: the adaptation's refusals (its purpose
    would not survive) and the device check's findings on what is left."""
    return _for_device(source, profile, limits, [])


def _for_device(
    source: ProgramSource, profile: DeviceProfile, limits: Limits, problems: list[Problem]
) -> ForDevice:
    adaptation = adapt(source.program, profile)
    found = [
        *adaptation.refusals,
        *_blocked_and_carried(source.program, profile, limits),
        *device_findings(adaptation.program, profile, limits),
    ]
    problems = problems + source.problems(found)
    if problems:
        raise ProgramError(problems)
    adapted = replace(source, program=adaptation.program)
    return ForDevice(
        adapted, adaptation.changes, adapted.problems(device_warnings(adaptation.program, profile))
    )


def _blocked_and_carried(program: Program, profile: DeviceProfile, limits: Limits) -> list[Finding]:
    """A zone screening blocks that the program squeezes and this device lacks: adapting would hand
    its squeeze to a cell beside it (`plan.adapt`), but what the program asks is still refused, on
    every device alike (where the device has the zone, `_zone_findings` refuses it)."""
    found: list[Finding] = []
    for i, phase in enumerate(program.phases):
        c = phase.compression
        if c is None or not phase.squeezes:
            continue
        for zone in c.zones:
            if zone not in profile.zones:
                found += _blocked_parts(("phase", i), zone, frozenset({zone}), limits)
    return found


def _blocked_parts(at: Path, zone: str, parts: frozenset[str], limits: Limits) -> list[Finding]:
    """One finding per part screening blocks among ``parts``, those a squeeze of ``zone`` presses."""
    found: list[Finding] = []
    for part in sorted(parts & limits.blocked_zones):
        what = f"the {zone} zone" if part == zone else f"the {zone} cells press part of the {part}, which"
        found.append(((*at, "compression", "zones"), f"{what} is blocked ({limits.zone_reason(part)})"))
    return found


def device_verdict(source: ProgramSource, profile: DeviceProfile, limits: Limits) -> tuple[str, str]:
    """What `legflow run` does with this program on this device for this user: ``runs``,
    ``adapted`` (with its changes, joined) or ``refused`` (with the first reason)."""
    try:
        checked = for_device(source, profile, limits)
    except ProgramError as exc:
        return "refused", exc.problems[0].message
    return ("adapted", "; ".join(checked.changes)) if checked.changes else ("runs", "")


def check_text(text: str, filename: str, profile: DeviceProfile, limits: Limits) -> ForDevice:
    """Every problem of a program in one run, as `legflow check` promises: its format, its cross-field
    checks and, once it is well-formed, the device check beside them (zones out of order do not hide
    a pressure over the limit). Raise `ProgramError` listing them all; return the program as the
    device runs it."""
    source, problems = inspect_text(text, filename)
    if source is None:
        raise ProgramError(problems)
    return _for_device(source, profile, limits, problems)

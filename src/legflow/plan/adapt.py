"""Programs that adapt to the device: a program written for a whole-leg massager, run on a device
that lacks some of its zones or actuators, becomes what that device can give, with every change
listed (by `legflow check --profile`, before a session starts, and with the stored session), or a
refusal where what is left would no longer serve the program's purpose.

The changes:
- a compression zone the device lacks is carried by its cells over the same part of the leg
  (`anatomy.ZONE_SEGMENTS` against the profile's ``covers``): merged into a zone the phase squeezes
  already, or squeezed in its place at its pressure; with no cell over any of its segments, dropped;
- vibration above the device's top level is lowered to it, or dropped where it has none; heat is
  dropped where there is no heater; rollers lose the sole zones they do not reach (deep kneading
  becomes gentle on gentle rollers), or are dropped;
- an inflate ramp too fast for the device's pump is lengthened to what the pump needs (up to twice
  as long: one that needs more is refused by the device check, its timing would mean another thing).
Limits are never adapted: a pressure over a cell's rating or a heat over the heater's, and what the
user's screening forbids, are still refused by the device check, with the limit and why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from legflow.anatomy import ZONE_SEGMENTS, distal_rank
from legflow.device.profile import DeviceProfile
from legflow.evidence.dose import program_grading
from legflow.plan.pump import PUMP_REFUSE_RATIO, pump_fills
from legflow.programs.model import Compression, Phase, Program, Rollers

Finding = tuple[tuple[str | int, ...], str]


@dataclass(frozen=True)
class Purpose:
    """The compression zones a goal's program must still squeeze on a device, and why."""

    zones: tuple[str, ...]
    why: str


#: What each goal cannot do without (every goal also needs some of its squeeze, or of its rollers
#: for reflexology, to be left). Sources: shared/reference/evidence.md.
PURPOSES: dict[str, Purpose] = {
    "lymph": Purpose(("thigh",), "drainage clears the proximal leg first"),
    "circulation": Purpose(("calf",), "its muscle pump holds most of the blood a squeeze moves"),
    "recovery": Purpose(("calf",), "the pneumatic recovery trials squeeze it"),
    "pre_sport": Purpose(("calf",), "a run or a jump loads it first"),
}
#: The twin's segments in words, for the changes a user reads.
SEGMENT_WORDS = {"foot": "foot", "calf_distal": "lower calf", "calf_proximal": "upper calf", "thigh": "thigh"}


@dataclass(frozen=True)
class Adaptation:
    """A program as one device can run it: the program itself where nothing changed, what changed
    (in words, one line each), and why it may not run at all (findings, empty when it may)."""

    program: Program
    changes: tuple[str, ...]
    refusals: tuple[Finding, ...]


def adapt(program: Program, profile: DeviceProfile) -> Adaptation:
    """The program as ``profile`` can run it (see the module's list of changes)."""
    if not program.needs_device:
        return Adaptation(program, (), ())
    said: dict[str, list[str]] = {}  # each change → the phases it applies to
    phases = []
    for phase in program.phases:
        new, changes = _adapt_phase(phase, profile)
        phases.append(new)
        for change in changes:
            said.setdefault(change, []).append(phase.name)
    adapted = program.model_copy(update={"phases": phases})
    adapted, ramps = _lengthen_ramps(adapted, profile)
    for change, phase_name in ramps:
        said.setdefault(change, []).append(phase_name)
    whole = len(program.phases)
    lines = [
        change if whole == 1 else f"{change} ({'every phase' if len(names) == whole else _phases(names)})"
        for change, names in said.items()
    ]
    before, after = program_grading(program).grade, program_grading(adapted).grade
    if after != before:
        lines.append(f"evidence grade {before} becomes {after}")
    return Adaptation(adapted, tuple(lines), tuple(_refusals(program, adapted, profile)))


def _phases(names: list[str]) -> str:
    return ", ".join(f"phase '{n}'" for n in dict.fromkeys(names))


# --- one phase ---------------------------------------------------------------------------------
def _adapt_phase(phase: Phase, profile: DeviceProfile) -> tuple[Phase, list[str]]:
    device = f"device '{profile.name}'"
    changes: list[str] = []
    update: dict[str, object] = {}
    if phase.squeezes and phase.compression is not None:
        compression, said = _adapt_compression(phase.compression, profile)
        if said:
            update["compression"] = compression
            changes += said
    v = phase.vibration
    if v is not None and v.level > profile.vibration_max_level:
        top = profile.vibration_max_level
        update["vibration"] = v.model_copy(update={"level": top}) if top else None
        changes.append(
            f"vibration level {v.level} lowered to {top}, the top level of {device}"
            if top
            else f"vibration dropped: {device} has none"
        )
    if phase.heat is not None and profile.heater_max_C is None:
        update["heat"] = None
        changes.append(f"heat dropped: {device} has no heater")
    r = phase.rollers
    if r is not None and profile.rollers is None:
        update["rollers"] = None
        changes.append(f"rollers dropped: {device} has none")
    elif r is not None and profile.rollers is not None:
        reach = [z for z in r.zones if z in profile.rollers.zones]
        missed = [z for z in r.zones if z not in reach]
        rollers: Rollers | None = r
        if missed:
            changes.append(f"rollers do not reach {', '.join(missed)}: dropped")
            rollers = r.model_copy(update={"zones": reach}) if reach else None
        if rollers is not None and rollers.depth == "deep" and not profile.rollers.deep:
            changes.append(f"deep kneading made gentle: {device} has gentle rollers only")
            rollers = rollers.model_copy(update={"depth": "gentle"})
        if rollers is not r:
            update["rollers"] = rollers
    return (phase.model_copy(update=update) if update else phase), changes


def _adapt_compression(c: Compression, profile: DeviceProfile) -> tuple[Compression | None, list[str]]:
    """The zones this device has (a missing zone carried by the cells over its part of the leg, or
    dropped); None where nothing is left to squeeze."""
    changes: list[str] = []
    wanted = c.zone_pressures()
    kept = {z: p for z, p in wanted.items() if z in profile.zones}
    covers = profile.zone_covers()
    for zone, pressure in wanted.items():
        if zone in kept:
            continue
        segments = ZONE_SEGMENTS[zone]
        carriers = sorted(
            (z for z in profile.zones if any(covers[z].get(s, 0.0) > 0 for s in segments)),
            key=lambda z: -sum(covers[z].get(s, 0.0) for s in segments),
        )
        squeezed = [z for z in carriers if z in kept]
        carrier = (squeezed or carriers or [""])[0]
        over = " and ".join(SEGMENT_WORDS[s] for s in segments if covers.get(carrier, {}).get(s, 0.0) > 0)
        if squeezed:
            changes.append(f"{zone} left to the {carrier} cell, over the {over} (no {zone} cell)")
        elif carriers:
            kept[carrier] = pressure
            changes.append(f"{zone} squeezed by the {carrier} cell, over the {over} (no {zone} cell)")
        else:
            where = " and ".join(SEGMENT_WORDS[s] for s in segments)
            changes.append(f"{zone} dropped: device '{profile.name}' has no cell over the {where}")
    zones = sorted(kept, key=distal_rank)
    if not changes:
        return c, []
    if not zones:
        return None, [*changes, "nothing left to squeeze"]
    same = len(set(kept.values())) == 1 and not isinstance(c.pressure_mmHg, list)
    pressures: float | list[float] = kept[zones[0]] if same else [kept[z] for z in zones]
    return c.model_copy(update={"zones": zones, "pressure_mmHg": pressures}), changes


# --- the whole program ---------------------------------------------------------------------------
def _lengthen_ramps(program: Program, profile: DeviceProfile) -> tuple[Program, list[tuple[str, str]]]:
    """Each phase's inflate ramp made as long as the pump needs for its slowest fill, up to
    PUMP_REFUSE_RATIO times as long: a ramp the pump needs longer for would change the phase's
    timing past what the program means, and the device check refuses it."""
    fills = pump_fills(program, profile)
    too_slow = {f.phase for f in fills if f.ratio > PUMP_REFUSE_RATIO}
    slowest: dict[int, float] = {}
    for fill in fills:
        if fill.ratio > 1.0 and fill.phase not in too_slow:
            slowest[fill.phase] = max(slowest.get(fill.phase, 0.0), fill.shortest_inflate_s)
    phases = list(program.phases)
    changes = []
    for i, needed_s in sorted(slowest.items()):
        c = phases[i].compression
        assert c is not None
        longer = math.ceil(needed_s * 10.0) / 10.0
        phases[i] = phases[i].model_copy(update={"compression": c.model_copy(update={"inflate_s": longer})})
        changes.append(
            (f"inflate {c.inflate_s:g} s lengthened to {longer:g} s, what the pump needs", phases[i].name)
        )
    return (program.model_copy(update={"phases": phases}) if changes else program), changes


def _refusals(program: Program, adapted: Program, profile: DeviceProfile) -> list[Finding]:
    """Why the adapted program would no longer do what the program is for."""
    goal = program.program.goal
    device = f"device '{profile.name}'"
    found: list[Finding] = []
    purpose = PURPOSES.get(goal, Purpose((), ""))
    squeezed = set(adapted.compression_zones())
    for zone in purpose.zones:
        if zone in program.compression_zones() and zone not in squeezed:
            why = f"a {goal} program needs the {zone} ({purpose.why}); {device} has no {zone} cell"
            found.append((("program", "goal"), why))
    if program.compression_zones() and not squeezed:
        has = ", ".join(profile.zones) or "no cells"
        found.append((("program", "goal"), f"nothing of its squeeze is left on {device} (it has: {has})"))
    if goal == "reflexology" and program.sole_zones() and profile.rollers is None:
        found.append((("program", "goal"), f"reflexology works the sole with rollers; {device} has none"))
    elif goal == "reflexology":
        for i, (before, after) in enumerate(zip(program.phases, adapted.phases, strict=True)):
            if before.rollers is not None and after.rollers is None:
                zones = ", ".join(before.rollers.zones)
                why = f"this reflexology phase works {zones}, which the rollers of {device} do not reach"
                found.append((("phase", i, "rollers", "zones"), why))
    if not found and not adapted.needs_device:  # found at what it asked of the device first
        i, part = next(
            (i, part) for i, p in enumerate(program.phases) for part in PARTS if getattr(p, part) is not None
        )
        found.append((("phase", i, part, PARTS[part]), f"nothing of this program runs on {device}"))
    return found


#: The parts of a phase that ask something of the device, and the field a refusal names.
PARTS = {"compression": "zones", "rollers": "zones", "vibration": "level", "heat": "target_C"}

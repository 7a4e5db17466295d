"""Checks that span several fields of a program, each reported at the field it concerns."""

from __future__ import annotations

from legflow.anatomy import distal_rank
from legflow.programs.model import Compression, Phase, Program, SCHEMA_MAX_PROGRAM_min

Path = tuple[str | int, ...]
Finding = tuple[Path, str]


def compression_problems(c: Compression, at: Path) -> list[Finding]:
    found: list[Finding] = []
    if len(set(c.zones)) != len(c.zones):
        found.append(((*at, "zones"), "a zone is listed twice"))
    if c.pattern != "off" and not c.zones:
        found.append(((*at, "zones"), f"pattern '{c.pattern}' needs at least one zone"))
    if c.pattern in ("sequential", "wave"):
        ranks = [distal_rank(z) for z in c.zones]
        if ranks != sorted(ranks):
            order = ", ".join(sorted(c.zones, key=distal_rank))
            found.append(((*at, "zones"), f"{c.pattern} zones must run distal to proximal: [{order}]"))
    if isinstance(c.pressure_mmHg, list) and len(c.pressure_mmHg) != len(c.zones):
        found.append(
            (
                (*at, "pressure_mmHg"),
                f"{len(c.pressure_mmHg)} pressures for {len(c.zones)} zones: give one number or one per zone",
            )
        )
    return found


def phase_problems(phase: Phase, index: int) -> list[Finding]:
    at: Path = ("phase", index)
    found: list[Finding] = []
    if phase.compression is not None:
        found += compression_problems(phase.compression, (*at, "compression"))
    if phase.rollers is not None and len(set(phase.rollers.zones)) != len(phase.rollers.zones):
        found.append(((*at, "rollers", "zones"), "a zone is listed twice"))
    for j, step in enumerate(phase.guide):
        if step.at_s >= phase.duration_s:
            found.append(
                (
                    (*at, "guide", j, "at_s"),
                    f"{step.at_s:g} s is past the end of the phase ({phase.duration_s:g} s)",
                )
            )
    return found


def program_problems(program: Program) -> list[Finding]:
    found: list[Finding] = []
    for i, phase in enumerate(program.phases):
        found += phase_problems(phase, i)
    total_min = program.duration_s / 60
    if total_min > SCHEMA_MAX_PROGRAM_min:
        found.append(
            (
                ("phase",),
                f"the program lasts {total_min:g} min; at most {SCHEMA_MAX_PROGRAM_min:g} min is allowed",
            )
        )
    return found

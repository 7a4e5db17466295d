"""Legs, compression zones, sole zones and manual-guidance areas (DESIGN.md, program format v1)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, get_args

Leg = Literal["left", "right"]
CompressionZone = Literal["foot", "ankle", "calf", "knee", "thigh"]
SoleZone = Literal["sole.toes", "sole.ball", "sole.arch", "sole.heel", "sole.inner_edge", "sole.outer_edge"]
ManualArea = Literal["thigh.front", "thigh.back", "calf.back", "shin", "leg", "whole_body"]
GuideArea = Literal[CompressionZone, SoleZone, ManualArea]
LEGS: tuple[Leg, ...] = ("left", "right")

#: Compression zones, distal to proximal. A thigh cell presses hamstrings and quadriceps alike.
COMPRESSION_ZONES: tuple[str, ...] = get_args(CompressionZone)

#: Zones of the sole reached by rollers; each carries a traditional reflexology link (grade D).
SOLE_ZONES: tuple[str, ...] = get_args(SoleZone)

#: Areas a guide step may name: every zone plus the areas reached only by hand.
GUIDE_AREAS: tuple[str, ...] = COMPRESSION_ZONES + SOLE_ZONES + get_args(ManualArea)

#: The compression zone each hand-only area lies on. "leg" and "whole_body" name no one zone:
#: their steps are about moving, resting or breathing, not pressing one part of the leg.
MANUAL_AREA_ZONES: dict[str, tuple[str, ...]] = {
    "thigh.front": ("thigh",),
    "thigh.back": ("thigh",),
    "calf.back": ("calf",),
    "shin": ("calf",),  # the calf cell wraps the whole lower leg, shin included
    "leg": (),
    "whole_body": (),
}

#: The traditional reflexology map of ../shared/reference/reflexology.md, shown as tradition only.
REFLEXOLOGY_MAP: dict[str, str] = {
    "sole.toes": "head, sinuses, neck (big toe: head)",
    "sole.ball": "chest, lungs, heart area",
    "sole.arch": "digestive organs (stomach, intestines)",
    "sole.heel": "pelvis, lower back, sciatic area",
    "sole.inner_edge": "spine",
    "sole.outer_edge": "shoulder, hip, knee, limbs",
}


#: Where each compression zone lies on the leg twin's segments (`legflow.device.profile.TwinSegment`):
#: the ankle over the lower calf half, the knee over the calf's upper half and the lowest thigh. A
#: device's cells cover parts of these (its profile's ``covers``); a zone a device lacks is carried
#: by the device's cells over the same segments, if it has any (`legflow.plan.adapt`).
ZONE_SEGMENTS: dict[str, tuple[str, ...]] = {
    "foot": ("foot",),
    "ankle": ("calf_distal",),
    "calf": ("calf_distal", "calf_proximal"),
    "knee": ("calf_proximal", "thigh"),
    "thigh": ("thigh",),
}


#: Zones that are whole body parts: a cell covering any of their segments presses part of them (a
#: calf wound is anywhere on the calf, so a cell over its ends presses it too). The ankle and the knee
#: are joints between them, pressed by their own cells only.
WHOLE_PARTS: tuple[str, ...] = ("foot", "calf", "thigh")


def parts_covered(zone: str, segments: Iterable[str]) -> frozenset[str]:
    """The body parts a cell of ``zone`` covering ``segments`` presses: its zone, and each whole part
    one of the segments belongs to (the reference's knee cell, over the top of the calf and the
    bottom of the thigh, presses part of both)."""
    covered = set(segments)
    return frozenset({zone} | {part for part in WHOLE_PARTS if covered & set(ZONE_SEGMENTS[part])})


def distal_rank(zone: str) -> int:
    """Position of a compression zone from the foot upward (foot = 0)."""
    return COMPRESSION_ZONES.index(zone)


def is_foot_zone(zone: str) -> bool:
    """The foot has its own, higher pressure limit (hospital foot pumps use 130 mmHg)."""
    return zone == "foot"


def guide_area_zones(area: str) -> tuple[str, ...]:
    """The zones a hand on a guide area presses, so screening that blocks a zone (a calf wound)
    also blocks the hands-on steps there (calf, calf.back, shin). A sole zone lies in the foot."""
    if area in SOLE_ZONES:
        return (area, "foot")
    if area in COMPRESSION_ZONES:
        return (area,)
    return MANUAL_AREA_ZONES[area]

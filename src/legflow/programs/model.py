"""Program format v1 (a contract: see DESIGN.md): pydantic models of a massage program.

The models check types and ranges; `semantics` checks what spans several fields (zone order,
phase length). What a *device* may run is stricter and is checked by `legflow.plan`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from legflow.anatomy import LEGS, CompressionZone, GuideArea, SoleZone

Goal = Literal[
    "circulation", "recovery", "lymph", "pain", "pre_sport", "stress", "immune", "reflexology", "custom"
]
GOALS: tuple[str, ...] = Goal.__args__  # type: ignore[attr-defined]
LegsMode = Literal["both", "left", "right", "alternate"]


def squeezed_legs(mode: str, cycle: int) -> tuple[str, ...]:
    """The legs a compression cycle squeezes: both, one, or (``alternate``) the left leg on even
    cycles and the right on odd ones. The one owner of what a legs mode means, for the timeline, the
    adaptive rests and the device check."""
    if mode == "alternate":
        return (LEGS[cycle % 2],)
    return LEGS if mode == "both" else (mode,)


def used_legs(mode: str) -> tuple[str, ...]:
    """Every leg a program in this legs mode squeezes at some cycle (what the device must have)."""
    return tuple(dict.fromkeys(leg for cycle in (0, 1) for leg in squeezed_legs(mode, cycle)))


Pattern = Literal["sequential", "wave", "pulse", "hold", "off"]

#: The schema range of pressures; a device allows far less (see legflow.safety.limits).
SCHEMA_MAX_PRESSURE_mmHg = 300.0
#: The longest program the format accepts, and the longest session the default limits allow.
SCHEMA_MAX_PROGRAM_min = 60.0

#: The shortest phase: below a second a phase is a typo (1e-3 for 1e3), not a massage.
MIN_PHASE_s = 1.0
#: The shortest inflate or release ramp: five control ticks at 50 Hz; a shorter one is a step that
#: neither the controller nor a pump can follow.
MIN_RAMP_s = 0.1

Pressure_mmHg = Annotated[float, Field(ge=0, le=SCHEMA_MAX_PRESSURE_mmHg)]


class _Strict(BaseModel):
    """Unknown keys are errors and nothing is coerced from strings: a typo must not pass silently."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


class ProgramInfo(_Strict):
    name: str = Field(min_length=1, max_length=80)
    goal: Goal
    summary: str = Field(default="", max_length=500)
    legs: LegsMode = "both"
    #: Ids of the evidence entries behind this program; by default every entry of its goal.
    evidence: list[str] = Field(default_factory=list)
    #: The program's dose in words, compared in `legflow show` with the dose the evidence used.
    dose: str = ""


class Compression(_Strict):
    pattern: Pattern = "sequential"
    zones: list[CompressionZone] = Field(default_factory=list)
    pressure_mmHg: Pressure_mmHg | list[Pressure_mmHg] = 0.0
    inflate_s: float = Field(default=2.0, ge=MIN_RAMP_s, le=600)
    delay_s: float = Field(default=0.5, ge=0, le=600)
    hold_s: float = Field(default=10.0, ge=0, le=600)
    release_s: float = Field(default=3.0, ge=MIN_RAMP_s, le=600)
    rest_s: float = Field(default=20.0, ge=0, le=600)

    def zone_pressures(self) -> dict[str, float]:
        """The target pressure of each zone, in program order."""
        if isinstance(self.pressure_mmHg, list):
            return dict(zip(self.zones, self.pressure_mmHg, strict=False))
        return {zone: float(self.pressure_mmHg) for zone in self.zones}


class Rollers(_Strict):
    zones: list[SoleZone] = Field(min_length=1)
    speed: Literal["slow", "medium", "fast"] = "medium"
    #: "deep" kneading is refused by screening for anticoagulants and varicose veins.
    depth: Literal["gentle", "deep"] = "gentle"


class Vibration(_Strict):
    level: int = Field(ge=0, le=5)


class Heat(_Strict):
    target_C: float = Field(ge=25, le=50)


class GuideStep(_Strict):
    at_s: float = Field(ge=0)
    area: GuideArea
    text: str = Field(min_length=1, max_length=400)


class Phase(_Strict):
    name: str = Field(min_length=1, max_length=80)
    duration_min: float = Field(ge=MIN_PHASE_s / 60, le=SCHEMA_MAX_PROGRAM_min)
    compression: Compression | None = None
    rollers: Rollers | None = None
    vibration: Vibration | None = None
    heat: Heat | None = None
    guide: list[GuideStep] = Field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return self.duration_min * 60.0

    @property
    def squeezes(self) -> bool:
        """Whether this phase inflates any cell."""
        c = self.compression
        return c is not None and c.pattern != "off" and bool(c.zones) and max(c.zone_pressures().values()) > 0


class Adaptive(_Strict):
    #: Rest time follows the measured refill of the leg, like vascular-refill detection.
    refill: bool = False


class Program(_Strict):
    program: ProgramInfo
    phases: list[Phase] = Field(alias="phase", min_length=1)
    adaptive: Adaptive | None = None

    @property
    def name(self) -> str:
        return self.program.name

    @property
    def duration_s(self) -> float:
        return sum(p.duration_s for p in self.phases)

    @property
    def needs_device(self) -> bool:
        """A guide-only program runs with no massager at all."""
        return any(p.compression or p.rollers or p.vibration or p.heat for p in self.phases)

    def compression_zones(self) -> list[str]:
        """Every compression zone the program squeezes, distal to proximal."""
        from legflow.anatomy import COMPRESSION_ZONES

        used = {z for p in self.phases if p.squeezes and p.compression for z in p.compression.zones}
        return [z for z in COMPRESSION_ZONES if z in used]

    def sole_zones(self) -> list[str]:
        from legflow.anatomy import SOLE_ZONES

        used = {z for p in self.phases if p.rollers for z in p.rollers.zones}
        return [z for z in SOLE_ZONES if z in used]

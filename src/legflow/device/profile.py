"""Device profiles: what a massager has (cells, rollers, vibration, heater), as data.

A profile lists the cells of one leg; a two-leg device mirrors them. Cells are named
``LEG.NAME`` (``left.calf``). ``covers`` says which fraction of which twin segment a cell presses
(the calf's halves by length: a cell over the whole calf covers 1.0 of each).
The pump (one per leg) is optional: a profile that gives it lets the device check see ramps that
ask more air than the pump can deliver (`legflow.plan`).
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from legflow.anatomy import CompressionZone, SoleZone, parts_covered
from legflow.errors import ProfileError

#: The leg twin's compartments (`legflow.twin.subject.COMPARTMENT_NAMES`, which a test holds to it):
#: the calf in halves by length, so that a profile says which half each calf cell presses.
TwinSegment = Literal["foot", "calf_distal", "calf_proximal", "thigh"]
DEFAULT_PROFILE = "reference"


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CellSpec(_Data):
    name: str
    zone: CompressionZone
    volume_mL: float = Field(gt=0)
    max_pressure_mmHg: float = Field(gt=0)
    covers: dict[TwinSegment, float]

    def parts_pressed(self) -> frozenset[str]:
        """The body parts this cell presses (`legflow.anatomy.parts_covered`): screening that blocks
        one stops the cell."""
        return parts_covered(self.zone, (s for s, fraction in self.covers.items() if fraction > 0.0))


class RollerSpec(_Data):
    zones: tuple[SoleZone, ...]
    deep: bool = False


class DeviceProfile(_Data):
    name: str
    title: str
    description: str
    source: str
    legs: tuple[Literal["left", "right"], ...] = ("left", "right")
    cells: tuple[CellSpec, ...] = ()
    rollers: RollerSpec | None = None
    vibration_max_level: int = Field(default=0, ge=0, le=5)
    heater_max_C: float | None = None
    #: The pump of each leg, a linear pressure–flow curve: free flow (no back-pressure, at
    #: atmospheric pressure) and shut-off (dead-head) pressure. Both or neither.
    pump_free_flow_L_per_min: float | None = Field(default=None, gt=0)
    pump_shutoff_mmHg: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _pump_whole(self) -> DeviceProfile:
        """Half a pump curve is no curve: refuse a profile that gives only one of the two."""
        if (self.pump_free_flow_L_per_min is None) != (self.pump_shutoff_mmHg is None):
            raise ValueError("give both pump_free_flow_L_per_min and pump_shutoff_mmHg, or neither")
        return self

    def pump_flow_L_per_min(self, back_pressure_mmHg: float, duty: float = 1.0) -> float | None:
        """What one leg's pump delivers (at atmospheric pressure) against a back-pressure, at a
        duty (its speed); None if the profile does not say. The supervisor's no-rise check uses
        the same curve (`legflow.safety.detectors.check_cells`)."""
        if self.pump_free_flow_L_per_min is None or self.pump_shutoff_mmHg is None:
            return None
        speed = min(1.0, duty) - max(0.0, back_pressure_mmHg) / self.pump_shutoff_mmHg
        return self.pump_free_flow_L_per_min * max(0.0, speed)

    def parts_pressed(self, zone: str) -> frozenset[str]:
        """The body parts the cells of ``zone`` press, together."""
        return frozenset().union(*(c.parts_pressed() for c in self.cells_in_zone(zone)))

    def cells_in_zone(self, zone: str) -> list[CellSpec]:
        return [c for c in self.cells if c.zone == zone]

    @property
    def zones(self) -> list[str]:
        return list(dict.fromkeys(c.zone for c in self.cells))

    def cell_names(self) -> list[str]:
        """Every cell of the device, ``LEG.NAME``."""
        return [f"{leg}.{c.name}" for leg in self.legs for c in self.cells]

    def cell_zones(self) -> list[str]:
        """The zone each cell of `cell_names` squeezes (a calf sleeve's ``calf_low`` the calf)."""
        return [c.zone for _ in self.legs for c in self.cells]

    def zone_covers(self) -> dict[str, dict[str, float]]:
        """Per compression zone, the fraction of each twin segment its cells cover together (a
        zone split over two cells covers what both do): how this device's zones press the leg."""
        covers: dict[str, dict[str, float]] = {}
        for cell in self.cells:
            zone = covers.setdefault(cell.zone, {})
            for segment, fraction in cell.covers.items():
                zone[segment] = zone.get(segment, 0.0) + fraction
        return covers


def profile_names() -> list[str]:
    folder = resources.files("legflow.device") / "profiles"
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


@cache
def load_profile(name: str = DEFAULT_PROFILE) -> DeviceProfile:
    """A built-in profile by name; an unknown name is a `ProfileError` listing the known ones."""
    if name not in profile_names():
        raise ProfileError(f"unknown device profile '{name}' (known: {', '.join(profile_names())})")
    text = (resources.files("legflow.device") / "profiles" / f"{name}.toml").read_text(encoding="utf-8")
    return DeviceProfile.model_validate(tomllib.loads(text))

"""Device profiles: what a massager has (cells, rollers, vibration, heater), as data.

A profile lists the cells of one leg; a two-leg device mirrors them. Cells are named
``LEG.NAME`` (``left.calf``). ``covers`` says which fraction of which twin segment a cell presses.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from legflow.anatomy import CompressionZone, SoleZone
from legflow.errors import ProfileError

TwinSegment = Literal["foot", "calf", "thigh"]
DEFAULT_PROFILE = "reference"


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CellSpec(_Data):
    name: str
    zone: CompressionZone
    volume_mL: float = Field(gt=0)
    max_pressure_mmHg: float = Field(gt=0)
    covers: dict[TwinSegment, float]


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

    def cells_in_zone(self, zone: str) -> list[CellSpec]:
        return [c for c in self.cells if c.zone == zone]

    @property
    def zones(self) -> list[str]:
        return list(dict.fromkeys(c.zone for c in self.cells))

    def cell_names(self) -> list[str]:
        """Every cell of the device, ``LEG.NAME``."""
        return [f"{leg}.{c.name}" for leg in self.legs for c in self.cells]


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

"""Fault injection requests: ``KIND[:CELL]@SECONDS`` (``leak:left.calf@60``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args

from legflow.errors import LegflowError

FaultKind = Literal[
    "leak",
    "valve_stuck_closed",
    "valve_stuck_open",
    "sensor_stuck",
    "sensor_drift",
    "pump_failure",
    "kinked_tube",
    "heater_runaway",
    "garment_off",
    "link_loss",
]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
#: How a garment is worn, injectable like a fault (``garment_loose:left.calf@0``), for the fit check
#: (`legflow fit`): no fault for the supervisor to find, a garment strapped too loose or too tight.
#: On a cell, or on a leg (every cell of it).
FIT_KINDS: tuple[str, ...] = ("garment_loose", "garment_tight")
INJECTABLE: tuple[str, ...] = FAULT_KINDS + FIT_KINDS
#: Faults that happen at one cell; the others concern the pump, heater, garment (leg) or link.
CELL_FAULTS = {
    "leak",
    "valve_stuck_closed",
    "valve_stuck_open",
    "sensor_stuck",
    "sensor_drift",
    "kinked_tube",
}

_SPEC = re.compile(r"^(?P<kind>[a-z_]+)(?::(?P<where>[a-z_.]+))?@(?P<at>\d+(?:\.\d+)?)$")


@dataclass(frozen=True)
class FaultSpec:
    kind: str
    at_s: float
    where: str | None = None  # a cell (``left.calf``) or, for pump/heater/garment faults, a leg

    @classmethod
    def parse(cls, text: str) -> FaultSpec:
        m = _SPEC.match(text.strip())
        if not m:
            raise LegflowError(f"bad fault '{text}': write KIND[:CELL]@SECONDS, e.g. leak:left.calf@60")
        if m["kind"] not in INJECTABLE:
            raise LegflowError(f"unknown fault kind '{m['kind']}' (one of: {', '.join(INJECTABLE)})")
        return cls(m["kind"], float(m["at"]), m["where"])

    def __str__(self) -> str:
        where = f":{self.where}" if self.where else ""
        return f"{self.kind}{where}@{self.at_s:g}"

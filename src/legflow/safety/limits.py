"""The limits no program passes: defaults of docs/safety.md, tightened (never loosened) by screening.

Each limit carries the reason it has its value, so a refusal can say why.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import cast

DEFAULT_SOURCE = "default limit, docs/safety.md"


@dataclass(frozen=True)
class Limits:
    leg_pressure_mmHg: float = 100.0  # Normatec levels reach about 110 mmHg
    foot_pressure_mmHg: float = 130.0  # hospital foot pumps use 130 mmHg (Kendall SCD 700)
    session_min: float = 60.0  # peer devices offer 15-60 min
    heat_C: float | None = 42.0  # heating-pad and applied-part limits; None: no heat at all
    heat_on_min: float = 30.0  # heater auto-off
    vibration_allowed: bool = True
    rollers_allowed: bool = True
    #: Deep pressure of any kind: deep rollers, and firm kneading in a hands-on program.
    deep_rollers_allowed: bool = True
    #: Compression and sole zones nothing may press: no cell pressure, no rollers (a blocked foot
    #: blocks every sole zone), no hands-on guide step there.
    blocked_zones: frozenset[str] = frozenset()
    #: Guide areas a hands-on step may not press, though the device may still compress them
    #: (pregnancy: the ankles and heel, whose reflexology points are avoided).
    no_pressure_areas: frozenset[str] = frozenset()
    #: Why each limit has its value; a field absent here has its default value.
    reasons: dict[str, str] = field(default_factory=dict, compare=False)
    #: Screening findings that forbid any session; empty when the user may start.
    blocks: tuple[str, ...] = ()
    #: Warnings to show before a session; they change nothing.
    warnings: tuple[str, ...] = ()

    def reason(self, name: str) -> str:
        return self.reasons.get(name, DEFAULT_SOURCE)

    def zone_reason(self, zone: str, name: str = "blocked_zones") -> str:
        """Why a zone (or area) is in the set ``name``: each answer that blocked it keeps its own
        reason, so a calf blocked by a wound is not explained by a later pregnancy answer."""
        return self.reasons.get(f"{name}:{zone}", self.reason(name))

    def pressure_limit_mmHg(self, zone: str) -> tuple[float, str]:
        """The pressure limit of a compression zone and why it is that."""
        name = "foot_pressure_mmHg" if zone == "foot" else "leg_pressure_mmHg"
        return getattr(self, name), self.reason(name)

    def tighten(self, why: str, **changes: object) -> Limits:
        """A copy where each given limit is made stricter: numbers only fall, permissions only
        turn off, zones only get blocked. A change that would loosen a limit is ignored."""
        updates: dict[str, object] = {}
        reasons = dict(self.reasons)
        for name, value in changes.items():
            old = getattr(self, name)
            if name in ("blocked_zones", "no_pressure_areas"):
                new = old | frozenset(cast("Iterable[str]", value))
                for zone in new - old:
                    reasons[f"{name}:{zone}"] = why
            elif isinstance(old, bool):
                new = old and bool(value)
            elif name == "heat_C":
                new = None if value is None or old is None else min(old, value)
            else:
                new = min(old, value)
            if new != old:
                updates[name] = new
                reasons[name] = why
        return replace(self, reasons=reasons, **updates)  # type: ignore[arg-type]

    def block(self, why: str) -> Limits:
        """Blocked for ``why`` (once: the same screening applied twice says it once)."""
        return self if why in self.blocks else replace(self, blocks=(*self.blocks, why))

    def warn(self, why: str) -> Limits:
        """A warning shown before a session (once, as `block`)."""
        return self if why in self.warnings else replace(self, warnings=(*self.warnings, why))


DEFAULT_LIMITS = Limits()

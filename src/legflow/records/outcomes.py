"""What a user measures and records beside their sessions: limb circumference at set points,
soreness, swelling, sleep. One table of measures, read by `legflow log`, the web form, the
report and the FHIR export alike."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from legflow.errors import LegflowError


@dataclass(frozen=True)
class Measure:
    name: str
    unit: str
    low: float
    high: float
    #: Circumference is taken at a site (``left.calf``, ``right.10cm`` above the ankle bone).
    needs_site: bool
    says: str


MEASURES: dict[str, Measure] = {
    m.name: m
    for m in (
        Measure(
            "circumference_cm",
            "cm",
            5,
            150,
            True,
            "limb circumference at a set point: LEG.foot|ankle|calf|knee|thigh, "
            "or LEG.Ncm above the ankle bone",
        ),
        Measure("soreness", "0-10", 0, 10, False, "muscle soreness, 0 none to 10 worst imaginable"),
        Measure("swelling", "0-10", 0, 10, False, "how swollen the legs feel, 0 not at all to 10 worst"),
        Measure("sleep_h", "h", 0, 24, False, "hours slept last night"),
    )
}
#: How far ahead of the clock a measurement's time may be (clocks of phones and scales differ).
FUTURE_SLACK = timedelta(minutes=5)
SITE = re.compile(r"^(left|right)\.(foot|ankle|calf|knee|thigh|\d{1,3}cm)$")


@dataclass(frozen=True)
class Outcome:
    at: str  # UTC, ISO 8601
    measure: str
    site: str
    value: float
    note: str

    @property
    def unit(self) -> str:
        return MEASURES[self.measure].unit

    def label(self) -> str:
        return f"{self.measure} {self.site}".strip()

    def as_json(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "measure": self.measure,
            "site": self.site,
            "value": self.value,
            "unit": self.unit,
            "note": self.note,
        }


def checked_outcome(
    measure: str, value: float, site: str = "", at: str | None = None, note: str = ""
) -> Outcome:
    """An outcome as given, or `LegflowError` saying what is wrong with it."""
    known = MEASURES.get(measure)
    if known is None:
        raise LegflowError(f"unknown measure '{measure}' (one of: {', '.join(MEASURES)})")
    if known.needs_site and not SITE.match(site):
        raise LegflowError(f"{measure} needs --site LEG.POINT, e.g. left.calf or right.10cm ({known.says})")
    if not known.needs_site and site:
        raise LegflowError(f"{measure} takes no site")
    if not known.low <= value <= known.high:
        scale = f"{known.low:g}-{known.high:g}"  # a score's unit is its scale: said once
        span = scale if known.unit == scale else f"{known.low:g} to {known.high:g} {known.unit}"
        raise LegflowError(f"{measure} {value:g} is out of range: {span}")
    if len(note) > 500:
        raise LegflowError("note: at most 500 characters")
    now = datetime.now(UTC)
    if at is None:
        when = now
    else:
        try:  # a time without a zone is local; years past what a zone offset can carry are refused too
            when = datetime.fromisoformat(at).astimezone(UTC)
        except (ValueError, OverflowError):
            raise LegflowError(f"--at {at!r}: expected a date and time such as 2026-12-05T08:30") from None
        if when > now + FUTURE_SLACK:
            raise LegflowError(f"--at {at}: that is in the future; log what was measured")
    return Outcome(when.isoformat(timespec="seconds"), measure, site, float(value), note)


def stored_outcomes(history: Any, user: str) -> list[Outcome]:
    return [Outcome(*row) for row in history.outcomes(user)]


def record_outcome(history: Any, user: str, outcome: Outcome) -> None:
    history.add_outcome(user, outcome.at, outcome.measure, outcome.site, outcome.value, outcome.note)

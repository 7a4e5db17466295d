"""A user's treatment plan: which programs, on which days, at which times, for how long, and,
when a clinician sets them, the bounds the user's comfort moves inside (pressure per zone,
session length, sessions a week), as a lymphoedema pump's prescription states them.

A plan is a TOML file anyone can read::

    note = "lymph daily, a sitting break every hour of the working day"

    [[session]]
    program = "lymph"
    minutes = 40
    days = "daily"
    at = ["19:00"]

    [[session]]
    program = "sitting-break"
    minutes = 3
    days = "weekdays"
    every_h = 1
    from = "09:00"
    to = "17:00"

    [bounds]                      # a clinician's; the user changes comfort only inside them
    session_min = [30, 60]
    sessions_per_week = [5, 7]
    pressure_mmHg = { foot = [30, 50], calf = [30, 45] }

Every version of a plan is kept with who set it and when (`legflow.store.History.set_plan`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from legflow.anatomy import CompressionZone
from legflow.errors import LegflowError, Problem, ProgramError
from legflow.programs.loader import read_text, say_pattern, validate_toml
from legflow.programs.locate import KeyLines, format_path

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_SETS: dict[str, tuple[Weekday, ...]] = {
    "daily": WEEKDAYS,
    "weekdays": WEEKDAYS[:5],
    "weekends": WEEKDAYS[5:],
}
#: When a planned session with no `at` and no `every_h` is due: the morning.
DEFAULT_AT = "09:00"
ClockTime = Annotated[
    str,
    Field(
        pattern=say_pattern(r"^([01]\d|2[0-3]):[0-5]\d$", "a time of day, HH:MM from 00:00 to 23:59"),
        description="HH:MM, local time",
    ),
]


def _time(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


class Scheduled(BaseModel):
    """One line of a plan: a program, how long, on which days, at which times."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    program: str = Field(min_length=1, max_length=200)
    minutes: float = Field(gt=0, le=120)
    days: Literal["daily", "weekdays", "weekends"] | Annotated[list[Weekday], Field(min_length=1)] = "daily"
    #: Fixed times of day; or `every_h` hours from `from` to `to` (a sitting break).
    at: list[ClockTime] = Field(default_factory=list, max_length=24)
    every_h: float | None = Field(default=None, ge=0.25, le=12)
    from_: ClockTime | None = Field(default=None, alias="from")
    to: ClockTime | None = None

    @model_validator(mode="after")
    def _one_way_of_timing(self) -> Scheduled:
        if self.every_h is not None and self.at:
            raise ValueError("give either `at` or `every_h` (with `from` and `to`), not both")
        if self.every_h is None and (self.from_ or self.to):
            raise ValueError("`from` and `to` go with `every_h`")
        if self.every_h is not None:
            if not (self.from_ and self.to):
                raise ValueError("`every_h` needs `from` and `to`")
            if _time(self.to) <= _time(self.from_):
                raise ValueError("`to` must come after `from`")
        if len(set(self.at)) != len(self.at):
            raise ValueError("`at` lists a time twice")
        starts = [t.hour * 60 + t.minute for t in self.times()]
        if any(later - earlier < self.minutes for earlier, later in pairwise(starts)):
            raise ValueError(
                f"{self.minutes:g} min sessions overlap at these times: the next would start first"
            )
        return self

    def on(self, day: date) -> bool:
        days = DAY_SETS[self.days] if isinstance(self.days, str) else self.days
        return WEEKDAYS[day.weekday()] in days

    def times(self) -> list[time]:
        """The times of day this session is due, in order."""
        if self.every_h is None:
            return sorted(_time(t) for t in (self.at or [DEFAULT_AT]))
        assert self.from_ and self.to  # checked above
        start, end = _time(self.from_), _time(self.to)
        step = timedelta(hours=self.every_h)
        out, t = [], datetime.combine(date.min, start)
        while t.time() <= end and t.date() == date.min:
            out.append(t.time())
            t += step
        return out

    def describe(self) -> str:
        days = self.days if isinstance(self.days, str) else ", ".join(self.days)
        if self.every_h is not None:
            when = f"every {self.every_h:g} h from {self.from_} to {self.to}"
        else:
            when = "at " + ", ".join(t.strftime("%H:%M") for t in self.times())
        return f"{self.program}: {self.minutes:g} min, {days}, {when}"


Range = Annotated[list[float], Field(min_length=2, max_length=2)]


class Bounds(BaseModel):
    """A clinician's bounds: the user's comfort changes pressures only inside them."""

    model_config = ConfigDict(extra="forbid")

    pressure_mmHg: dict[CompressionZone, Range] = Field(default_factory=dict)
    session_min: Range | None = None
    sessions_per_week: Range | None = None

    @field_validator("pressure_mmHg")
    @classmethod
    def _pressures(cls, value: dict[str, list[float]]) -> dict[str, list[float]]:
        for zone, (low, high) in value.items():
            if not 0 <= low <= high <= 300:
                raise ValueError(f"{zone}: [low, high] with 0 <= low <= high <= 300 mmHg")
        return value

    @field_validator("session_min", "sessions_per_week")
    @classmethod
    def _ordered(cls, value: list[float] | None) -> list[float] | None:
        if value is not None and not 0 <= value[0] <= value[1]:
            raise ValueError("[low, high] with 0 <= low <= high")
        return value

    def zone_range_mmHg(self, zone: str) -> tuple[float, float] | None:
        found = next((span for name, span in self.pressure_mmHg.items() if name == zone), None)
        return None if found is None else (found[0], found[1])


class Plan(BaseModel):
    """What a user is to do: the scheduled sessions and a clinician's bounds."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=2000)
    session: list[Scheduled] = Field(min_length=1, max_length=50)
    bounds: Bounds | None = None

    @model_validator(mode="after")
    def _inside_bounds(self) -> Plan:
        span = self.bounds.session_min if self.bounds else None
        if span is not None:
            for line in self.session:
                if not span[0] <= line.minutes <= span[1]:
                    raise ValueError(
                        f"{line.program}: {line.minutes:g} min is outside the bounds' session_min "
                        f"{span[0]:g}-{span[1]:g}"
                    )
        return self

    def due(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, Scheduled]]:
        """Every planned session due in [start, end), in time order (naive local times)."""
        found: list[tuple[datetime, int, Scheduled]] = []
        day = start.date()
        while day <= end.date():
            for i, line in enumerate(self.session):
                if line.on(day):
                    for t in line.times():
                        at = datetime.combine(day, t)
                        if start <= at < end:
                            found.append((at, i, line))
            day += timedelta(days=1)
        for at, _, line in sorted(found, key=lambda item: (item[0], item[1])):
            yield at, line

    def planned_min(self, day: date) -> float:
        """Minutes of sessions due on `day`."""
        return sum(line.minutes * len(line.times()) for line in self.session if line.on(day))

    def programs(self) -> set[str]:
        return {line.program for line in self.session}


def parse_plan(text: str, filename: str = "<plan>") -> Plan:
    """A plan from TOML text; `ProgramError` names the file, line and field of each problem, a
    program that is not a built-in or saved program's name among them (`check_programs`)."""
    from legflow.programs.library import resolve_named

    plan = validate_toml(Plan, text, filename)
    lines = KeyLines(text)
    problems = []
    for i, line in enumerate(plan.session):
        try:
            resolve_named(line.program)
        except LegflowError as exc:
            where = ("session", i, "program")
            problems.append(Problem(filename, lines.line_of(where), format_path(where), str(exc)))
    if problems:
        raise ProgramError(problems)
    return plan


def load_plan(path: str) -> Plan:
    return parse_plan(read_text(path), path)


@dataclass(frozen=True)
class PlanVersion:
    """One stored version of a user's plan: who set it, in which role, and when (UTC)."""

    plan: Plan
    at: str
    set_by: str
    role: Literal["user", "clinician"]


def plan_versions(history: Any, user: str) -> list[PlanVersion]:
    """Every stored version of `user`'s plan, oldest first."""
    return _versions(history.plans(user))


def _versions(rows: list[tuple[str, str, str, dict[str, Any]]]) -> list[PlanVersion]:
    return [PlanVersion(Plan.model_validate(plan), at, by, role) for at, by, role, plan in rows]  # type: ignore[arg-type]


def plan_in_force(versions: list[PlanVersion], until: datetime) -> Plan | None:
    """The latest version set before `until` (aware), if any."""
    found = [v for v in versions if datetime.fromisoformat(v.at) < until]
    return found[-1].plan if found else None


def zone_bounds_mmHg(history: Any, user: str) -> dict[str, tuple[float, float]]:
    """Per zone, the pressure range of the bounds in `user`'s current plan (none: empty)."""
    versions = plan_versions(history, user) if history is not None else []
    bounds = versions[-1].plan.bounds if versions else None
    return {} if bounds is None else {z: (r[0], r[1]) for z, r in bounds.pressure_mmHg.items()}


def check_change(new: Plan, versions: list[PlanVersion], set_by: str, role: str) -> None:
    """A user may change their plan, but only a clinician changes the bounds a clinician set
    last (whatever the user's versions since kept of them): raises `LegflowError` otherwise."""
    if role == "clinician":
        return
    set_by_clinician = [v for v in versions if v.role == "clinician"]
    if set_by_clinician and new.bounds != set_by_clinician[-1].plan.bounds:
        last = set_by_clinician[-1]
        raise LegflowError(
            f"the plan's bounds were set by {last.set_by} (clinician) on {last.at[:10]}; only a "
            f"clinician changes them (legflow plan set FILE --clinician NAME); {set_by} may change the "
            "sessions inside them"
        )


def check_programs(plan: Plan) -> None:
    """Every program the plan names is a built-in or saved program (by name: a session's label,
    which adherence counts, is one); `LegflowError` names one that is not."""
    from legflow.programs.library import resolve_named

    for name in sorted(plan.programs()):
        resolve_named(name)


def store_plan(history: Any, user: str, plan: Plan, set_by: str, role: str) -> PlanVersion:
    """Check a new version of `user`'s plan (its programs; a user's change against a clinician's
    bounds, in the same transaction as the write) and store it: the CLI's and the dashboard's way."""
    check_programs(plan)

    def check(rows: list[tuple[str, str, str, dict[str, Any]]]) -> None:
        check_change(plan, _versions(rows), set_by, role)

    data = plan.model_dump(mode="json", by_alias=True)
    at = history.set_plan(user, data, set_by, role, check=check)
    return PlanVersion(plan, at, set_by, role)  # type: ignore[arg-type]

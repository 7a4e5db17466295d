"""Done against planned, per day and week: a user's sessions (their counted time only,
`legflow.records.dose`) against the plan version in force each day.

A program's minutes done on a day count up to its planned minutes that day, so a long session
does not make up for a missed one; with no plan in force, sessions count but nothing is planned.
A day is met when the minutes done reach `MET_SHARE` of the minutes planned; a streak is the
met days in a row up to today (today counts once it is met, and does not break a streak before).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from legflow.records.dose import Dose, stored_dose
from legflow.records.plan import plan_in_force, plan_versions

#: A day is met at this share of its planned minutes: a session that ends a second short of its
#: program at a fault edge or a commit does not break a streak.
MET_SHARE = 0.9


@dataclass
class Day:
    day: date
    planned_min: float
    done_min: float
    sessions: list[int] = field(default_factory=list)

    @property
    def met(self) -> bool:
        return self.planned_min > 0 and self.done_min >= MET_SHARE * self.planned_min

    def status(self, today: bool = False) -> str:
        """The day in words, as the CLI's table and the dashboard's calendar say it (`DAY_STATUSES`);
        ``today``: the day is still going on."""
        if self.planned_min <= 0:
            return "nothing planned"
        if self.met:
            return "met"
        if self.done_min > 0:
            return "partly done"
        return "not done yet today" if today else "missed"


DAY_STATUSES = ("met", "partly done", "missed", "not done yet today", "nothing planned")


@dataclass
class Adherence:
    user: str
    days: list[Day]
    #: Per zone, the minutes at pressure over the range (`Dose.zone_minutes`).
    zone_minutes: dict[str, float]
    doses: dict[int, Dose]
    streak_days: int
    longest_streak_days: int

    def weeks(self) -> list[dict[str, Any]]:
        """Per ISO week (from Monday): minutes planned and done, days met."""
        out: dict[date, dict[str, Any]] = {}
        for d in self.days:
            monday = d.day - timedelta(days=d.day.weekday())
            week = out.setdefault(
                monday, {"week_of": monday.isoformat(), "planned_min": 0.0, "done_min": 0.0, "days_met": 0}
            )
            week["planned_min"] += d.planned_min
            week["done_min"] += d.done_min
            week["days_met"] += d.met
        return list(out.values())

    def as_json(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "days": [
                {
                    "date": d.day.isoformat(),
                    "planned_min": round(d.planned_min, 1),
                    "done_min": round(d.done_min, 1),
                    "met": d.met,
                    "status": d.status(today=d is self.days[-1]),
                    "sessions": d.sessions,
                }
                for d in self.days
            ],
            "weeks": [
                {**w, "planned_min": round(w["planned_min"], 1), "done_min": round(w["done_min"], 1)}
                for w in self.weeks()
            ],
            "streak_days": self.streak_days,
            "longest_streak_days": self.longest_streak_days,
            "zone_minutes_at_pressure": {z: round(m, 1) for z, m in self.zone_minutes.items()},
        }


def day_start(day: date, tz: tzinfo | None) -> datetime:
    """Midnight at the start of `day` in `tz`, or on the machine's clock (daylight saving included)."""
    if tz is not None:
        return datetime.combine(day, time.min, tzinfo=tz)
    return datetime.combine(day, time.min).astimezone()


def local_start(row: Any, tz: tzinfo | None) -> datetime:
    """When a stored session started, in local time (`tz`, or the machine's)."""
    return datetime.fromisoformat(row.started_at).astimezone(tz)


def adherence(history: Any, user: str, first: date, last: date, tz: tzinfo | None = None) -> Adherence:
    """`user`'s adherence from `first` to `last` (local days, both included)."""
    versions = plan_versions(history, user)
    by_day: dict[date, list[Any]] = defaultdict(list)
    for row in history.sessions(user):
        day = local_start(row, tz).date()
        if first <= day <= last:
            by_day[day].append(row)
    doses: dict[int, Dose] = {}
    zones: dict[str, float] = defaultdict(float)
    days: list[Day] = []
    day = first
    while day <= last:
        end = day_start(day + timedelta(days=1), tz)
        plan = plan_in_force(versions, end)
        planned: dict[str, float] = defaultdict(float)
        if plan is not None:
            for line in plan.session:
                if line.on(day):
                    planned[line.program] += line.minutes * len(line.times())
        done: dict[str, float] = defaultdict(float)
        rows = sorted(by_day.get(day, []), key=lambda r: r.id)
        for row in rows:
            dose = doses[row.id] = stored_dose(history, row.id)
            done[row.program] += dose.counted_min
            for zone, minutes in dose.zone_minutes().items():
                zones[zone] += minutes
        done_min = sum(done.values()) if plan is None else sum(min(done[p], planned[p]) for p in planned)
        days.append(Day(day, sum(planned.values()), done_min, [r.id for r in rows]))
        day += timedelta(days=1)
    return Adherence(user, days, dict(zones), doses, *_streaks(days))


def _streaks(days: list[Day]) -> tuple[int, int]:
    """The met days in a row up to the last day, and the longest such run. Days with nothing
    planned neither count nor break a run; a last day not met yet is still in progress."""
    planned = [d for d in days if d.planned_min > 0]
    if planned and planned[-1] is days[-1] and not planned[-1].met:
        planned.pop()
    longest = run = 0
    for d in planned:
        run = run + 1 if d.met else 0
        longest = max(longest, run)
    return run, longest

"""When the next planned session or sitting break is due, and a small service that says so when
it comes. A reminder only tells: it never starts a session (a massager on the legs of someone
who did not ask for it is a hazard), and it reads the history only to see what was done.

A planned occurrence at time T is done by a session of its program that started from
`EARLY_s` before T until its next occurrence (the same line's next time, or the day's end) and
counted at least `MET_SHARE` of the planned minutes (`legflow.records.dose`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from legflow.clock import Clock
from legflow.records.adherence import MET_SHARE, local_start
from legflow.records.dose import stored_dose
from legflow.records.plan import Plan, Scheduled, plan_versions

#: A session this long before a planned time does it (an early start counts).
EARLY_s = 30 * 60.0
#: How often the service looks again.
CHECK_EVERY_s = 30.0


@dataclass(frozen=True)
class Due:
    at: datetime  # local, aware
    program: str
    minutes: float
    done: bool

    def describe(self, now: datetime) -> str:
        when = self.at.astimezone().strftime("%a %d %b %H:%M")
        gap_min = (self.at - now).total_seconds() / 60.0
        if abs(gap_min) < 1:
            rel = "now"
        elif gap_min >= 0:
            rel = f"in {_span(gap_min)}"
        else:
            rel = f"due since {_span(-gap_min)}"
        return f"{self.program} ({self.minutes:g} min) at {when}, {rel}"


def _span(minutes: float) -> str:
    if minutes < 90:
        return f"{minutes:.0f} min"
    return f"{minutes / 60:.1f} h"


def _window_end(plan: Plan, line: Scheduled, at: datetime) -> datetime:
    """Until when a session still does the occurrence at `at`: the same line's next time that day,
    else the day's end."""
    later = [t for t in line.times() if t > at.time().replace(tzinfo=None)]
    if later:
        return at.replace(hour=later[0].hour, minute=later[0].minute)
    return (at + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)


def _wall(at: datetime) -> datetime:
    """An aware time as the machine's local wall-clock time (naive), daylight saving included:
    a plan's "19:00" is 19:00 on the clock on the wall, whatever the offset that day."""
    return at.astimezone().replace(tzinfo=None)


def occurrences(history: Any, user: str, start: datetime, end: datetime) -> list[Due]:
    """Every occurrence in [start, end) (aware) of the plan in force at `end`, from when that
    version was set, each marked done or not; times are the machine's local time."""
    versions = [v for v in plan_versions(history, user) if datetime.fromisoformat(v.at) < end]
    if not versions:
        return []
    plan, set_at = versions[-1].plan, _wall(datetime.fromisoformat(versions[-1].at))
    first, last = _wall(start), _wall(end)
    early = timedelta(seconds=EARLY_s)
    began_at = {r.id: _wall(local_start(r, None)) for r in history.sessions(user)}
    rows = [r for r in history.sessions(user) if began_at[r.id] >= first - early]
    planned = list(plan.due(max(first, set_at), last))
    # Each session does at most one occurrence: the nearest in time whose window it falls in.
    pairs = []
    for row in rows:
        began = began_at[row.id]
        for i, (at, line) in enumerate(planned):
            if row.program == line.program and at - early <= began < _window_end(plan, line, at):
                pairs.append((abs((began - at).total_seconds()), i, row.id, line.minutes))
    counted: dict[int, float] = {}
    done: set[int] = set()
    used: set[int] = set()
    for _, i, row_id, minutes in sorted(pairs):
        if i in done or row_id in used:
            continue
        if row_id not in counted:
            counted[row_id] = stored_dose(history, row_id).counted_min
        if counted[row_id] >= MET_SHARE * minutes:
            done.add(i)
            used.add(row_id)
    return [
        Due(at.astimezone(), line.program, line.minutes, i in done) for i, (at, line) in enumerate(planned)
    ]


def due_now(history: Any, user: str, now: datetime) -> tuple[list[Due], Due | None]:
    """What is due today (local) and not done (overdue), and the next occurrence after `now`."""
    day_start = _wall(now).replace(hour=0, minute=0, second=0, microsecond=0).astimezone()
    today = occurrences(history, user, day_start, now + timedelta(days=8))
    overdue = [d for d in today if d.at <= now and not d.done and _wall(d.at).date() == _wall(now).date()]
    upcoming = next((d for d in today if d.at > now), None)
    return overdue, upcoming


def watch(
    history: Any,
    user: str,
    start: datetime,
    clock: Clock,
    say: Callable[[str], None],
    until: datetime | None = None,
) -> None:
    """The reminder service: says each occurrence once when it comes due and is not done yet,
    checking every CHECK_EVERY_s on `clock` from the wall time `start`, until `until` (or for ever)."""
    origin = clock.now()
    told: set[tuple[datetime, str]] = set()
    while True:
        now = start + timedelta(seconds=clock.now() - origin)
        if until is not None and now >= until:
            return
        overdue, upcoming = due_now(history, user, now)
        for due in overdue:
            if (due.at, due.program) not in told:
                told.add((due.at, due.program))
                say(f"{now.astimezone():%H:%M} due: {due.describe(now)}")
        nxt = origin + (now - start).total_seconds() + CHECK_EVERY_s
        if upcoming is not None:  # wake at the next occurrence if it comes sooner
            nxt = min(nxt, origin + (upcoming.at - start).total_seconds())
        clock.sleep_until(nxt)


__all__ = ["CHECK_EVERY_s", "Due", "due_now", "occurrences", "watch"]

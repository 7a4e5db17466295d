"""`legflow plan`, `adherence`, `log`, `remind`, `report`: a user's record of use, outcomes and
plan, for them and their clinician."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from legflow.cli.options import user_name
from legflow.cli.text import as_text
from legflow.clock import Clock, RealClock, VirtualClock
from legflow.errors import LegflowError, UsageError
from legflow.records.adherence import adherence
from legflow.records.outcomes import MEASURES, checked_outcome, record_outcome, stored_outcomes
from legflow.records.plan import load_plan, plan_versions, store_plan
from legflow.records.remind import due_now, watch
from legflow.screening import DEFAULT_USER
from legflow.store.history import default_history

console = Console()
err = Console(stderr=True)
User = Annotated[
    str, typer.Option("--user", help="Whose record (the screening profile's name).", callback=user_name)
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print it as JSON.")]

plan_app = typer.Typer(help="A user's treatment plan: programs, days, times, a clinician's bounds.")


def _say(line: str) -> None:
    err.print(as_text(line))


def _local(text: str | None, what: str) -> datetime:
    """A date or date-time given on the command line, as an aware local time (now if None)."""
    if text is None:
        return datetime.now().astimezone()
    try:
        return datetime.fromisoformat(text).astimezone()
    except ValueError:
        raise UsageError(
            f"{what} {text!r}: expected a date (2026-12-05) or date-time (2026-12-05T08:30)"
        ) from None


@plan_app.command("set")
def plan_set(
    file: Annotated[Path, typer.Argument(help="The plan, a TOML file (README: Plans).")],
    user: User = DEFAULT_USER,
    clinician: Annotated[
        str | None, typer.Option("--clinician", help="Set it as this clinician (may set bounds).")
    ] = None,
) -> None:
    """Set a user's plan; every earlier version is kept, with who set it and when."""
    plan = load_plan(str(file))
    by, role = (clinician, "clinician") if clinician else (user, "user")
    history = default_history()
    try:
        at = store_plan(history, user, plan, by, role).at
    finally:
        history.close()
    _say(f"plan of user '{user}' set by {by} ({role}) at {at}")


@plan_app.command("show")
def plan_show(user: User = DEFAULT_USER, json_out: JsonOpt = False) -> None:
    """The plan in force and every earlier version: who set it, when."""
    history = default_history(readonly=True)
    try:
        versions = plan_versions(history, user)
    finally:
        history.close()
    if json_out:
        print(
            json.dumps(
                {
                    "user": user,
                    "versions": [
                        {
                            "at": v.at,
                            "set_by": v.set_by,
                            "role": v.role,
                            "plan": v.plan.model_dump(by_alias=True),
                        }
                        for v in versions
                    ],
                }
            )
        )
        return
    if not versions:
        console.print(as_text(f"no plan for user '{user}' (set one: legflow plan set FILE --user {user})"))
        return
    current = versions[-1]
    console.print(as_text(f"Plan of user '{user}', set by {current.set_by} ({current.role}) at {current.at}"))
    if current.plan.note:
        console.print(as_text(f"  {current.plan.note}"))
    for line in current.plan.session:
        console.print(as_text(f"  - {line.describe()}"))
    bounds = current.plan.bounds
    if bounds is not None:
        for zone, (low, high) in bounds.pressure_mmHg.items():
            console.print(as_text(f"  bounds: {zone} {low:g}-{high:g} mmHg"))
        if bounds.session_min:
            console.print(
                as_text(f"  bounds: session {bounds.session_min[0]:g}-{bounds.session_min[1]:g} min")
            )
        if bounds.sessions_per_week:
            low, high = bounds.sessions_per_week
            console.print(as_text(f"  bounds: {low:g}-{high:g} sessions a week"))
    if len(versions) > 1:
        console.print("earlier versions:")
        for v in reversed(versions[:-1]):
            console.print(
                as_text(f"  {v.at}  by {v.set_by} ({v.role}): {len(v.plan.session)} session line(s)")
            )


def adherence_command(
    user: User = DEFAULT_USER,
    weeks: Annotated[int, typer.Option("--weeks", min=1, max=520, help="How many weeks back.")] = 2,
    today: Annotated[str | None, typer.Option("--today", help="The last day shown (default: today).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Done against planned per day and week, counting only time with the garment on and the cells
    at their pressures; streaks; minutes at pressure per zone."""
    last = _local(today, "--today").date()
    first = last - timedelta(days=7 * weeks - 1)
    history = default_history(readonly=True)
    try:
        result = adherence(history, user, first, last)
    finally:
        history.close()
    if json_out:
        print(json.dumps(result.as_json()))
        return
    table = Table(title=as_text(f"Adherence of user '{user}', {first} to {last}"), title_justify="left")
    for column in ("day", "planned min", "done min", "", "sessions"):
        table.add_column(column)
    for d in result.days:
        table.add_row(
            d.day.strftime("%a %Y-%m-%d"),
            f"{d.planned_min:.0f}",
            f"{d.done_min:.1f}",
            d.status(today=d is result.days[-1]),
            ", ".join(map(str, d.sessions)),
        )
    console.print(table)
    for w in result.weeks():
        share = f" ({w['done_min'] / w['planned_min']:.0%})" if w["planned_min"] else ""
        console.print(
            f"week of {w['week_of']}: {w['done_min']:.0f} of {w['planned_min']:.0f} min{share}, "
            f"{w['days_met']} day(s) met"
        )
    console.print(f"streak: {result.streak_days} day(s); longest {result.longest_streak_days}")
    if result.zone_minutes:
        zones = ", ".join(f"{z} {m:.0f}" for z, m in result.zone_minutes.items())
        console.print(as_text(f"minutes at pressure per zone (the leg with less): {zones}"))
    console.print(
        "[dim]counted: time running with every cell's latest squeeze at its pressure, before any fault[/]"
    )


def log_command(
    measure: Annotated[str | None, typer.Argument(help=f"One of: {', '.join(MEASURES)}.")] = None,
    value: Annotated[float | None, typer.Argument(help="The value, in the measure's unit.")] = None,
    site: Annotated[str, typer.Option("--site", help="Where (circumference): left.calf, right.10cm.")] = "",
    at: Annotated[str | None, typer.Option("--at", help="When it was measured (default: now).")] = None,
    note: Annotated[str, typer.Option("--note", help="A few words.")] = "",
    user: User = DEFAULT_USER,
    json_out: JsonOpt = False,
) -> None:
    """Record an outcome (circumference, soreness, swelling, sleep); without arguments, list them."""
    if measure is None:
        history = default_history(readonly=True)
        try:
            found = stored_outcomes(history, user)
        finally:
            history.close()
        if json_out:
            print(json.dumps({"user": user, "outcomes": [o.as_json() for o in found]}))
            return
        table = Table(title=as_text(f"Outcomes of user '{user}'"), title_justify="left")
        for column in ("at (UTC)", "measure", "site", "value", "note"):
            table.add_column(column)
        for o in found:
            table.add_row(o.at, o.measure, as_text(o.site), f"{o.value:g} {o.unit}", as_text(o.note))
        console.print(table if found else as_text(f"nothing logged yet for user '{user}'"))
        return
    if value is None:
        raise UsageError("give the value after the measure, e.g. legflow log soreness 4")
    outcome = checked_outcome(measure, value, site, at, note)
    history = default_history()
    try:
        record_outcome(history, user, outcome)
    finally:
        history.close()
    _say(f"logged {outcome.label()} = {outcome.value:g} {outcome.unit} at {outcome.at}")


def remind_command(
    user: User = DEFAULT_USER,
    serve: Annotated[
        bool, typer.Option("--watch", help="Keep running: say each one when it comes due.")
    ] = False,
    now: Annotated[str | None, typer.Option("--now", help="Start from this time (default: now).")] = None,
    until: Annotated[str | None, typer.Option("--until", help="With --watch: stop at this time.")] = None,
    fast: Annotated[
        bool, typer.Option("--fast", help="With --watch: on a virtual clock, for a dry run.")
    ] = False,
) -> None:
    """When the next planned session or sitting break is due (and what is due and not done today).
    With --watch, a small service that says each one when it comes due; it never starts a session."""
    start = _local(now, "--now")
    end = _local(until, "--until") if until else None
    if fast and end is None:
        raise UsageError("--fast needs --until: a virtual clock would otherwise run for ever")
    history = default_history(readonly=True)
    try:
        if not plan_versions(history, user):
            raise LegflowError(f"no plan for user '{user}' (set one: legflow plan set FILE --user {user})")
        if serve:
            clock: Clock = VirtualClock() if fast else RealClock()
            _say(
                f"reminders for user '{user}' from {start:%Y-%m-%d %H:%M}; Ctrl-C stops "
                "(it never starts a session)"
            )
            watch(history, user, start, clock, lambda line: print(line, flush=True), end)
            return
        overdue, upcoming = due_now(history, user, start)
    finally:
        history.close()
    for due in overdue:
        print(f"due: {due.describe(start)}")
    print(f"next: {upcoming.describe(start)}" if upcoming else "next: nothing planned in the coming week")


def report_command(
    output: Annotated[
        Path, typer.Option("-o", "--output", help="The report: FILE.pdf or FILE.html (or .json).")
    ],
    user: User = DEFAULT_USER,
    first: Annotated[
        str | None, typer.Option("--from", help="First day (default: 4 weeks before --to).")
    ] = None,
    last: Annotated[str | None, typer.Option("--to", help="Last day (default: today).")] = None,
    fhir: Annotated[bool, typer.Option("--fhir", help="A FHIR R4 Bundle (JSON) instead.")] = False,
) -> None:
    """A clinician-readable report of a user's record: plan, adherence, sessions with their
    pressure, duration and counted time, faults, outcomes and plots; or with --fhir the same as a
    FHIR Bundle."""
    from legflow.records.fhir import bundle
    from legflow.records.report import gather, write_report, write_whole

    end = _local(last, "--to").date()
    start = _local(first, "--from").date() if first else end - timedelta(days=27)
    history = default_history(readonly=True)
    try:
        report = gather(history, user, start, end)
    finally:
        history.close()
    if fhir:
        write_whole(output, (json.dumps(bundle(report), indent=1) + "\n").encode("utf-8"))
    else:
        write_report(report, output)
    _say(
        f"wrote {output}: {len(report.sessions)} session(s), {len(report.outcomes)} outcome(s), "
        f"{start} to {end}"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(plan_app, name="plan")
    app.command(name="adherence")(adherence_command)
    app.command(name="log")(log_command)
    app.command(name="remind")(remind_command)
    app.command(name="report")(report_command)

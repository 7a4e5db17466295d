"""A record people and clinicians can use: plans with a clinician's bounds, adherence that counts
only the time with the garment on at pressure, outcomes, reminders on a virtual clock."""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from cli_helpers import run_cli
from legflow.apps.launch import prepare_session
from legflow.clock import VirtualClock
from legflow.engine.intensity import Intensity, IntensityInForce, shares_in_force
from legflow.errors import LegflowError, ProgramError
from legflow.records.adherence import adherence
from legflow.records.dose import GATE_s, session_dose, stored_dose
from legflow.records.outcomes import checked_outcome
from legflow.records.plan import check_change, parse_plan, plan_versions
from legflow.records.remind import due_now, watch
from legflow.safety.limits import DEFAULT_LIMITS
from legflow.store import History
from legflow.store.history import default_history, history_path

PLAN = """\
note = "lymph every evening; a sitting break each hour of the working day"

[[session]]
program = "lymph"
minutes = 40
at = ["19:00"]

[[session]]
program = "sitting-break"
minutes = 8
days = "weekdays"
every_h = 2
from = "10:00"
to = "16:00"

[bounds]
session_min = [5, 60]
pressure_mmHg = { calf = [30, 45] }
"""


pytestmark = pytest.mark.usefixtures("local_utc")


def _write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return str(path)


def _session(
    program: str,
    started: datetime | None = None,
    *,
    inject: list[str] | None = None,
    user: str = "default",
    act: Any = None,
    profile: str = "reference",
) -> int:
    """One real session on the simulated massager (virtual clock) into the user's history, then
    its start moved to `started` (the only thing a test cannot wait a day for)."""
    history = default_history()
    try:
        with prepare_session(
            program,
            limits=DEFAULT_LIMITS,
            history=history,
            user=user,
            fast=True,
            inject=inject,
            profile=profile,
        ) as launch:
            session = launch.session
            session.run(on_update=(lambda state: act(session, state)) if act else None, update_every_s=1.0)
            session_id = session.session_id
    finally:
        history.close()
    assert session_id is not None
    if started is not None:
        with sqlite3.connect(history_path()) as db:
            db.execute("UPDATE sessions SET started_at = ? WHERE id = ?", (started.isoformat(), session_id))
    return session_id


def _set_plan(at: datetime | None = None, text: str = PLAN, by: str = "default", role: str = "user") -> None:
    """Store `text` as the default user's plan; set `at` when it was set."""
    history = default_history()
    try:
        history.set_plan("default", parse_plan(text).model_dump(mode="json", by_alias=True), by, role)
    finally:
        history.close()
    if at is not None:
        with sqlite3.connect(history_path()) as db:
            db.execute(
                "UPDATE plans SET at = ? WHERE rowid = (SELECT max(rowid) FROM plans)", (at.isoformat(),)
            )
        db.close()


def _dose(session_id: int):
    history = default_history(readonly=True)
    try:
        return stored_dose(history, session_id)
    finally:
        history.close()


# -- the dose of one session ----------------------------------------------------------------------
@pytest.mark.slow
def test_a_whole_session_counts_in_full():
    dose = _dose(_session("lymph"))
    assert dose.counted_s == pytest.approx(2400.0, abs=1.0)
    assert dose.squeezes_reached == dose.squeezes > 100
    assert set(dose.zone_minutes()) == {"foot", "ankle", "calf", "knee", "thigh"}


@pytest.mark.slow
def test_minutes_at_pressure_are_per_zone_as_the_device_names_its_cells():
    """A calf sleeve's cells are named ankle, calf_low, calf_high, knee: its minutes are the ankle's,
    the calf's (its two cells), the knee's, as a plan's bounds name zones."""
    dose = _dose(_session("sitting-break", profile="calf-sleeve"))
    assert set(dose.target_mmHg) >= {"left.calf_low", "left.calf_high"}
    assert set(dose.zone_minutes()) == set(dose.zone_targets_mmHg()) == {"ankle", "calf", "knee"}


@pytest.mark.parametrize(
    ("fault", "onset_s"), [("garment_off:left@900", 900.0), ("leak:left.calf@600", 600.0)]
)
@pytest.mark.slow
def test_time_after_the_garment_comes_off_or_a_cell_leaks_does_not_count(fault, onset_s):
    dose = _dose(_session("lymph", inject=[fault]))
    assert onset_s - 60 <= dose.counted_s <= onset_s
    assert any("fault" in why for why in dose.lost)


@pytest.mark.slow
def test_a_session_run_on_a_garment_that_does_not_fit_counts_nothing_after_its_first_squeeze(
    capsys, monkeypatch
):
    args = (
        "run",
        "sitting-break",
        "--fast",
        "--inject",
        "garment_loose:left.calf@0",
        "--fit-anyway",
        "--json",
    )
    ran = run_cli(capsys, monkeypatch, *args)
    assert ran.code == 0 and json.loads(ran.out)["fit"]["left.calf"] == "loose"
    dose = _dose(1)
    assert dose.ran_s == pytest.approx(480.0, abs=1.0)
    assert dose.counted_s < 60.0  # only until the loose calf's first squeeze
    assert dose.lost[0] == "the fit check found left.calf loose"
    assert dose.at_pressure_s["left.calf"] == 0.0 and dose.at_pressure_s["right.calf"] > 0.0


def _pause_once(at_s: float, updates: int, stop_at_s: float | None = None):
    """An ``act`` for `_session`: pause at ``at_s`` of session time for ``updates`` live updates
    (a second each), then run on (to a stop at ``stop_at_s``); the session times seen paused."""
    paused_at: list[float] = []

    def act(session, state):
        if state.paused:
            paused_at.append(state.t_s)
            if len(paused_at) >= updates:
                session.control.resume()
        elif state.t_s >= at_s and not paused_at:
            session.control.pause()
        elif stop_at_s is not None and state.t_s >= stop_at_s:
            session.control.stop()

    return act, paused_at


@pytest.mark.slow
def test_paused_and_stopped_time_does_not_count():
    """Session time stands still while paused; a stop ends the count."""
    act, paused_at = _pause_once(600.0, 300, stop_at_s=1500.0)
    dose = _dose(_session("lymph", act=act))
    assert len(paused_at) >= 300 and all(abs(t - 600.0) <= 1.0 for t in paused_at)
    assert dose.ran_s == pytest.approx(1500.0, abs=3.0)
    assert dose.counted_s == pytest.approx(dose.ran_s, abs=3.0)


@pytest.mark.slow
def test_a_fault_after_a_pause_stops_the_count_where_it_happened_in_session_time():
    """Fault times in the summary run on the massager's clock, pauses included; samples and events
    on session time, which stands still while paused. A leak 900 s into the massager's clock, after
    a 300 s pause, is 600 s into the session: nothing after that counts."""
    act, paused_at = _pause_once(300.0, 300)
    dose = _dose(_session("lymph", inject=["leak:left.calf@900"], act=act))
    assert len(paused_at) >= 300
    assert 600.0 - 60 <= dose.counted_s <= 600.0 + 1.0 < dose.ran_s + 300.0
    assert any("fault" in why for why in dose.lost)


@pytest.mark.slow
def test_a_session_cut_by_a_crash_counts_what_it_stored(tmp_path):
    """A power cut: the rows of the last seconds and the end are never written."""
    path = tmp_path / "h.sqlite"

    class PowerCut(History):
        def commit(self, session: int, duration_s: float) -> None:
            if duration_s < 1000:
                super().commit(session, duration_s)
            else:
                self._clear()

        def finish(self, session: int, summary: dict) -> None:
            pass

    history = PowerCut(path)
    with prepare_session("lymph", limits=DEFAULT_LIMITS, history=history, fast=True) as launch:
        launch.session.run()
        session_id = launch.session.session_id
    history.close()
    reader = History(path, readonly=True)
    try:
        row = reader.session(session_id)
        assert row.summary is None and row.duration_s < 1000
        dose = stored_dose(reader, session_id)
    finally:
        reader.close()
    assert 900 <= dose.counted_s <= 1000


def test_squeezes_that_never_reach_their_pressure_stop_the_count():
    """A garment worn too loose for the supervisor to call it off: the cells fill, the pressures
    never come. Only the minutes before count."""
    cells = ["left.calf", "right.calf"]
    samples = []
    for t in range(1200):
        squeezing = (t % 60) < 30
        setpoint = [40.0, 40.0] if squeezing else [0.0, 0.0]
        reached = t < 600 or not squeezing
        pressure = [s if reached else 12.0 for s in setpoint]
        samples.append({"t_s": float(t), "pressure_mmHg": pressure, "setpoint_mmHg": setpoint})
    dose = session_dose(1, cells, samples, [], {"faults": []}, 1200.0)
    assert dose.counted_s == pytest.approx(600.0, abs=1.0)
    assert dose.squeezes == 40 and dose.squeezes_reached == 20
    assert dose.at_pressure_s["left.calf"] == pytest.approx(300.0, abs=1.0)
    assert GATE_s >= 60  # a failed squeeze gates at least until the cell's next one


# -- plans ----------------------------------------------------------------------------------------
def test_a_bad_plan_names_the_file_line_and_field(tmp_path):
    text = PLAN.replace('days = "weekdays"', 'dayz = "weekdays"').replace(
        "calf = [30, 45]", "calv = [30, 45]"
    )
    with pytest.raises(ProgramError) as bad:
        parse_plan(text, "plan.toml")
    lines = [str(p) for p in bad.value.problems]
    assert "plan.toml:11: session[2].dayz: unknown key 'dayz'; did you mean 'days'?" in lines
    assert any(
        line.startswith("plan.toml:18: bounds.pressure_mmHg.calv:") and "calf" in line for line in lines
    )
    with pytest.raises(ProgramError, match="outside the bounds' session_min"):
        parse_plan(PLAN.replace("minutes = 8", "minutes = 3"), "plan.toml")
    for old, new, says in [
        ('at = ["19:00"]', 'at = ["19:00", "19:00"]', "lists a time twice"),
        ('at = ["19:00"]', 'at = ["19:00", "19:20"]', "overlap"),
        (
            'minutes = 8\ndays = "weekdays"\nevery_h = 2',
            'minutes = 30\ndays = "weekdays"\nevery_h = 0.25',
            "overlap",
        ),
        ('days = "weekdays"', "days = []", "must not be empty"),
        (
            'at = ["19:00"]',
            'at = ["25:00"]',
            r"at\[1\]: '25:00' is not a time of day, HH:MM from 00:00 to 23:59$",
        ),
    ]:
        assert old in PLAN
        with pytest.raises(ProgramError, match=says):
            parse_plan(PLAN.replace(old, new), "p.toml")


def test_a_plan_keeps_every_version_and_only_a_clinician_changes_bounds(capsys, monkeypatch, tmp_path):
    first = _write(tmp_path / "plan.toml", PLAN)
    assert run_cli(capsys, monkeypatch, "plan", "set", first, "--clinician", "Dr Lee").code == 0
    looser = _write(tmp_path / "looser.toml", PLAN.replace("calf = [30, 45]", "calf = [30, 80]"))
    refused = run_cli(capsys, monkeypatch, "plan", "set", looser)
    assert refused.code != 0 and "set by Dr Lee (clinician)" in refused.err
    later = _write(tmp_path / "later.toml", PLAN.replace('at = ["19:00"]', 'at = ["20:00"]'))
    assert run_cli(capsys, monkeypatch, "plan", "set", later).code == 0  # the sessions are the user's
    sneaky = run_cli(capsys, monkeypatch, "plan", "set", looser)  # after a version of their own
    assert sneaky.code != 0 and "set by Dr Lee (clinician)" in sneaky.err
    unknown = _write(tmp_path / "unknown.toml", PLAN.replace('program = "lymph"', 'program = "lymf"'))
    refused_program = run_cli(capsys, monkeypatch, "plan", "set", unknown)
    assert refused_program.code != 0 and "lymf" in refused_program.err
    line = PLAN.splitlines().index('program = "lymph"') + 1  # named by file, line and field
    assert f"{unknown}:{line}: session[1].program: 'lymf'" in refused_program.err
    assert run_cli(capsys, monkeypatch, "plan", "set", looser, "--clinician", "Dr Lee").code == 0
    shown = json.loads(run_cli(capsys, monkeypatch, "plan", "show", "--json").out)
    assert [(v["set_by"], v["role"]) for v in shown["versions"]] == [
        ("Dr Lee", "clinician"),
        ("default", "user"),
        ("Dr Lee", "clinician"),
    ]
    assert shown["versions"][1]["plan"]["session"][0]["at"] == ["20:00"]
    assert shown["versions"][2]["plan"]["bounds"]["pressure_mmHg"]["calf"] == [30, 80]


def test_check_change_without_a_clinician_plan_lets_the_user_set_bounds():
    plan = parse_plan(PLAN)
    check_change(plan, [], "ann", "user")  # nothing stored: theirs to set


def test_the_clinicians_bounds_hold_whatever_the_user_asks():
    supervisor_limits = np.array([100.0, 100.0])
    at_rest = np.zeros(2)  # a louder level waits for each cell's next squeeze
    force = IntensityInForce(
        ["calf", "thigh"], supervisor_limits, {"calf": 1.4}, {"calf": (30.0, 45.0)}, {"calf": 50.0}
    )
    programmed = np.array([50.0, 40.0])
    force.apply(at_rest, Intensity(level=2, boost="calf"))
    louder = force.apply(programmed, Intensity(level=2, boost="calf"))
    assert louder[0] == 45.0 and louder[1] == pytest.approx(48.0)  # thigh has no bounds
    softer = IntensityInForce(
        ["calf", "thigh"], supervisor_limits, {"calf": 0.3}, {"calf": (30.0, 45.0)}, {"calf": 50.0}
    )
    assert softer.apply(programmed, Intensity(level=-2))[0] == pytest.approx(30.0)
    assert supervisor_limits.tolist() == [100.0, 100.0]  # the supervisor's own limits untouched


def test_what_an_intensity_costs_is_reckoned_at_the_setpoints_the_session_runs():
    """The shares the summary and the displays cost are those `IntensityInForce` sets, bounds,
    boost and pause included."""
    peaks = {"calf": 50.0, "thigh": 40.0, "foot": 60.0}
    bounds = {"calf": (30.0, 45.0), "thigh": (20.0, 30.0)}
    comfort = {"calf": 0.6}
    asked = Intensity(level=-2, boost="calf", paused=frozenset({"thigh"}))
    force = IntensityInForce(["calf", "thigh", "foot"], np.full(3, 200.0), comfort, bounds, peaks)
    force.apply(np.zeros(3), asked)  # at rest: what was asked takes effect
    programmed = np.array([peaks["calf"], peaks["thigh"], peaks["foot"]])
    setpoints = force.apply(programmed, asked)
    shares = shares_in_force(peaks, comfort, asked, bounds)
    assert [shares[z] * peaks[z] for z in ("calf", "thigh", "foot")] == pytest.approx(setpoints.tolist())
    assert setpoints.tolist() == pytest.approx([40.0, 0.0, 48.0])  # floor 30, +10 boost; paused; 80 %


@pytest.mark.slow
def test_a_session_runs_inside_the_plans_bounds(capsys, monkeypatch):
    _set_plan(by="Dr Lee", role="clinician")
    session_id = _session("lymph")
    reader = default_history(readonly=True)
    try:
        samples = reader.samples(session_id)
        events = reader.events(session_id)
        cells = reader.session(session_id).cells
    finally:
        reader.close()
    calf = [cells.index("left.calf"), cells.index("right.calf")]
    assert max(s["setpoint_mmHg"][i] for s in samples for i in calf) <= 45.0  # lymph writes 50
    assert max(s["setpoint_mmHg"][i] for s in samples for i in calf) >= 44.0
    assert any(e["kind"] == "bounds" and "calf held to 30-45 mmHg" in e["detail"] for e in events)
    with prepare_session("lymph", limits=DEFAULT_LIMITS, history=None, fast=True) as unbounded:
        assert unbounded.session.shares_run(Intensity(level=2))["calf"] == pytest.approx(1.2)
    history = default_history(readonly=True)
    try:
        with prepare_session("lymph", limits=DEFAULT_LIMITS, history=history, fast=True) as bounded:
            assert bounded.session.shares_run(Intensity(level=2))["calf"] == pytest.approx(45.0 / 50.0)
    finally:
        history.close()
    shown = run_cli(capsys, monkeypatch, "run", "sitting-break", "--fast", "--no-fit")
    assert "your plan's bounds hold: calf 30-45 mmHg" in " ".join(shown.out.split())


# -- adherence ------------------------------------------------------------------------------------
MONDAY = datetime(2026, 11, 30, tzinfo=UTC)


@pytest.mark.slow
def test_adherence_counts_only_the_true_time(capsys, monkeypatch):
    _set_plan(MONDAY - timedelta(days=1))
    day = timedelta(days=1)
    _session("lymph", MONDAY + timedelta(hours=19))  # Mon: 40 of 40 min
    _session("sitting-break", MONDAY + timedelta(hours=10))  # Mon: one break of four
    _session("lymph", MONDAY + day + timedelta(hours=19), inject=["garment_off:left@600"])  # Tue: 10 min
    _session("lymph", MONDAY + 2 * day + timedelta(hours=19))  # Wed: 40 min ...
    _session("lymph", MONDAY + 2 * day + timedelta(hours=20))  # ... and 40 more, which make up nothing
    _session("lymph", MONDAY + 3 * day + timedelta(hours=7), user="bob")  # someone else's
    history = default_history(readonly=True)
    try:
        result = adherence(history, "default", MONDAY.date(), MONDAY.date() + 3 * day)
    finally:
        history.close()
    days = {d.day.isoformat(): d for d in result.days}
    monday = days["2026-11-30"]
    assert monday.planned_min == 40 + 4 * 8 and monday.done_min == pytest.approx(48.0, abs=0.1)
    assert days["2026-12-01"].done_min == pytest.approx(10.0, abs=0.1)
    assert days["2026-12-02"].done_min == pytest.approx(48.0 - 8.0, abs=0.1)  # lymph capped at 40
    assert days["2026-12-03"].done_min == 0 and days["2026-12-03"].sessions == []
    assert not any(d.met for d in result.days)  # no day had its four sitting breaks
    assert result.streak_days == 0

    out = run_cli(capsys, monkeypatch, "adherence", "--weeks", "1", "--today", "2026-12-03", "--json")
    shown = json.loads(out.out)
    assert [d["done_min"] for d in shown["days"][-4:]] == [48.0, 10.0, 40.0, 0.0]
    assert shown["weeks"][-1]["planned_min"] == 4 * 72
    assert set(shown["zone_minutes_at_pressure"]) >= {"foot", "calf", "thigh"}


@pytest.mark.slow
def test_streaks_count_met_days_and_skip_days_with_nothing_planned(capsys, monkeypatch):
    _set_plan(MONDAY - timedelta(days=1), PLAN.replace('days = "weekdays"', 'days = ["sun"]'))
    for n in range(3):  # Mon-Wed each met; Thu missed; Fri-Sat met; Sun (a sitting break too) missed
        _session("lymph", MONDAY + timedelta(days=n, hours=19))
    for n in (4, 5):
        _session("lymph", MONDAY + timedelta(days=n, hours=19))
    text = run_cli(capsys, monkeypatch, "adherence", "--weeks", "1", "--today", "2026-12-05", "--json").out
    shown = json.loads(text)
    assert shown["streak_days"] == 2 and shown["longest_streak_days"] == 3
    assert [d["met"] for d in shown["days"]] == [False, True, True, True, False, True, True]
    # the table says each day as the dashboard's calendar does (the same `Day.status`), today too
    today = ("adherence", "--weeks", "1", "--today", "2026-12-06")
    shown = json.loads(run_cli(capsys, monkeypatch, *today, "--json").out)
    table = run_cli(capsys, monkeypatch, *today).out
    assert shown["days"][-1]["status"] == "not done yet today"  # Sunday's break, later today
    for d in shown["days"]:
        day = date.fromisoformat(d["date"]).strftime("%a %Y-%m-%d")
        [row] = [line for line in table.splitlines() if day in line]
        assert f" {d['status']} " in row, row
    assert {d["status"] for d in shown["days"]} >= {"met", "missed"}


# -- reminders ------------------------------------------------------------------------------------
@pytest.mark.slow
def test_reminders_on_a_virtual_clock_say_what_is_due_and_never_start_a_session(tmp_path):
    _set_plan(MONDAY - timedelta(days=1))
    _session("sitting-break", MONDAY + timedelta(hours=11, minutes=50))  # does the 12:00 break
    history = default_history(readonly=True)
    said: list[str] = []
    try:
        before = len(history.sessions())
        watch(
            history,
            "default",
            MONDAY + timedelta(hours=9),
            VirtualClock(),
            said.append,
            MONDAY + timedelta(hours=20),
        )
        assert len(history.sessions()) == before
        overdue, upcoming = due_now(history, "default", MONDAY + timedelta(hours=12, minutes=30))
    finally:
        history.close()
    times = [line.split(" ")[0] for line in said]
    assert times == ["10:00", "14:00", "16:00", "19:00"]  # 12:00 was done early
    assert "lymph (40 min)" in said[-1]
    assert [d.at.hour for d in overdue] == [10]
    assert upcoming is not None and upcoming.at.hour == 14 and upcoming.program == "sitting-break"


def _watch(capsys, monkeypatch, now: str, until: str):
    """The reminder service on a virtual clock from `now` to `until`."""
    return run_cli(capsys, monkeypatch, "remind", "--watch", "--fast", "--now", now, "--until", until)


def test_a_planned_time_is_the_time_on_the_wall_across_a_change_of_daylight_saving(capsys, monkeypatch):
    monkeypatch.setenv("TZ", "Europe/Berlin")  # summer time ends at 03:00 on Sunday 25 October 2026
    time.tzset()
    _set_plan(datetime(2026, 10, 1, tzinfo=UTC), PLAN.replace('days = "weekdays"', 'days = ["mon"]'))
    out = run_cli(capsys, monkeypatch, "remind", "--now", "2026-10-24T20:00")
    assert "next: lymph (40 min) at Sun 25 Oct 19:00, in 23.0 h" not in out.out
    assert "next: lymph (40 min) at Sun 25 Oct 19:00, in 24.0 h" in out.out  # 25 hours of clock, less one
    watched = _watch(capsys, monkeypatch, "2026-10-25T18:00", "2026-10-25T20:00")
    assert watched.out.splitlines() == ["19:00 due: lymph (40 min) at Sun 25 Oct 19:00, now"]


def test_remind_from_the_command_line(capsys, monkeypatch):
    assert run_cli(capsys, monkeypatch, "remind").code != 0  # no plan yet: one line says so
    _set_plan(MONDAY - timedelta(days=1))
    out = run_cli(capsys, monkeypatch, "remind", "--now", "2026-11-30T10:30")
    assert "due: sitting-break (8 min) at Mon 30 Nov 10:00, due since 30 min" in out.out
    assert "next: sitting-break (8 min) at Mon 30 Nov 12:00, in 1.5 h" in out.out
    watched = _watch(capsys, monkeypatch, "2026-11-30T11:00", "2026-11-30T13:00")
    assert watched.out.splitlines() == [
        "11:00 due: sitting-break (8 min) at Mon 30 Nov 10:00, due since 60 min",  # missed: said at once
        "12:00 due: sitting-break (8 min) at Mon 30 Nov 12:00, now",
    ]


# -- outcomes -------------------------------------------------------------------------------------
def test_outcomes_are_checked_and_kept(capsys, monkeypatch):
    good = run_cli(
        capsys,
        monkeypatch,
        "log",
        "circumference_cm",
        "36.5",
        "--site",
        "left.calf",
        "--at",
        "2026-12-01T08:00",
    )
    assert good.code == 0
    assert run_cli(capsys, monkeypatch, "log", "soreness", "4", "--note", "<b>stairs</b>").code == 0
    for args, says in [
        (("circumference_cm", "36.5"), "needs --site"),
        (("soreness", "11"), "out of range"),
        (("mood", "3"), "unknown measure"),
        (("soreness", "2", "--at", "yesterday"), "expected a date"),
        (("soreness", "2", "--at", "0001-01-01T00:00"), "expected a date"),
        (("soreness", "2", "--at", "9999-12-31T23:00-05:00"), "expected a date"),
        (("soreness", "2", "--at", "2099-01-01T08:00"), "in the future"),
    ]:
        bad = run_cli(capsys, monkeypatch, "log", *args)
        assert bad.code != 0 and says in bad.err
    listed = json.loads(run_cli(capsys, monkeypatch, "log", "--json").out)["outcomes"]
    assert [(o["measure"], o["site"], o["value"]) for o in listed] == [
        ("circumference_cm", "left.calf", 36.5),
        ("soreness", "", 4.0),
    ]
    assert listed[0]["at"] == "2026-12-01T08:00:00+00:00" and listed[1]["note"] == "<b>stairs</b>"
    with pytest.raises(LegflowError):
        checked_outcome("sleep_h", 7, site="left.calf")


@pytest.mark.slow
def test_sessions_belong_to_their_user(capsys, monkeypatch):
    _session("sitting-break", user="ann")
    _session("sitting-break")
    listed = json.loads(run_cli(capsys, monkeypatch, "history", "--user", "ann", "--json").out)
    assert [(r["id"], r["user"]) for r in listed] == [(1, "ann")]
    assert "ann" in run_cli(capsys, monkeypatch, "history").out
    history = default_history(readonly=True)
    try:
        assert [r.user for r in history.sessions()] == ["default", "ann"]
        assert len(history.sessions("ann")) == 1
        assert plan_versions(history, "ann") == []
    finally:
        history.close()


OLD_SCHEMA = (  # the history of a legflow from before users, plans, outcomes and traces
    "CREATE TABLE sessions (id INTEGER PRIMARY KEY, program TEXT NOT NULL, profile TEXT NOT NULL, "
    "started_at TEXT NOT NULL, pid INTEGER NOT NULL, status TEXT NOT NULL, duration_s REAL NOT NULL "
    "DEFAULT 0, cells TEXT NOT NULL, summary TEXT);"
    "CREATE TABLE samples (session_id INTEGER NOT NULL, t_s REAL NOT NULL, pressure_mmHg TEXT NOT NULL, "
    "setpoint_mmHg TEXT NOT NULL, skin_temp_C TEXT NOT NULL, twin TEXT);"
    "CREATE TABLE events (session_id INTEGER NOT NULL, t_s REAL NOT NULL, kind TEXT NOT NULL, "
    "detail TEXT NOT NULL);"
    "INSERT INTO sessions VALUES (1, 'lymph', 'reference', '2026-11-01T10:00:00+00:00', 1, "
    "'completed', 60, '[]', NULL);"
)


def _old_history(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.executescript(OLD_SCHEMA)
    db.close()


def test_a_history_from_before_users_reads_as_the_default_users(tmp_path, capsys, monkeypatch):
    _old_history(history_path())
    before = history_path().read_bytes()
    for args in (
        ("history", "--user", "default", "--json"),
        ("adherence", "--json"),
        ("plan", "show", "--json"),
        ("log", "--json"),
        ("report", "--fhir", "-o", str(tmp_path / "b.json")),
    ):
        read = run_cli(capsys, monkeypatch, *args)
        assert read.code == 0, (args, read.err)
    assert history_path().read_bytes() == before  # reading changed nothing
    reader = History(history_path(), readonly=True)
    assert [(r.id, r.user) for r in reader.sessions("default")] == [(1, "default")]
    assert reader.plans("default") == [] and reader.outcomes("default") == []
    reader.close()
    writer = History(history_path())  # upgrades the file: the column, the old row the default user's
    try:
        assert writer.start("recovery", "reference", [], "ann") == 2
        assert [(r.id, r.user) for r in writer.sessions()] == [(2, "ann"), (1, "default")]
    finally:
        writer.close()


def _open_writer(path: str) -> str:
    try:
        History(path).close()
        return "ok"
    except Exception as exc:  # what the parent asserts on
        return f"{type(exc).__name__}: {exc}"


@pytest.mark.slow
def test_writers_opening_an_old_history_at_once_upgrade_it_once(tmp_path):
    import multiprocessing

    path = tmp_path / "old.sqlite"
    _old_history(path)
    with multiprocessing.get_context("spawn").Pool(8) as pool:
        opened = pool.map(_open_writer, [str(path)] * 8)
    assert opened == ["ok"] * 8
    with sqlite3.connect(path) as db:
        assert [r[1] for r in db.execute("PRAGMA table_info(sessions)")].count("user") == 1
    db.close()

"""REST API v1: programs, check, compose, edit, screening, sessions, history and a user's record
(adherence, reminders, plan, outcomes).

Every handler calls the same library functions as the CLI, so a program the page accepts is one
`legflow check` accepts. Expected errors become 4xx answers with a message (see `server`).
"""

from __future__ import annotations

import contextlib
import unicodedata
from collections.abc import Iterator, MutableMapping
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, get_args

import numpy as np
import tomlkit
from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from legflow.anatomy import COMPRESSION_ZONES, SOLE_ZONES
from legflow.device.profile import DEFAULT_PROFILE, load_profile, profile_names
from legflow.engine.intensity import LEVELS
from legflow.errors import HistoryError, LegflowError, ProfileError, ProgramError
from legflow.evidence import GRADE_MEANING
from legflow.evidence.dose import compare, max_pressure_mmHg, program_grading
from legflow.plan import check_source, check_text, for_device
from legflow.plan.compose import compose
from legflow.programs.library import (
    USER_NAME,
    builtin_names,
    builtin_source,
    builtin_text,
    resolve,
    save_user_program,
    saved_text,
    user_names,
)
from legflow.programs.loader import ProgramSource, dump_program, validate_text
from legflow.programs.model import GOALS, Phase, Program
from legflow.programs.timeline import cycle_s, phase_zone_pressures
from legflow.records.adherence import adherence
from legflow.records.outcomes import MEASURES, checked_outcome, record_outcome, stored_outcomes
from legflow.records.plan import PlanVersion, parse_plan, plan_versions, store_plan
from legflow.records.remind import Due, due_now
from legflow.screening import (
    DEFAULT_USER,
    QUESTIONS,
    check_user_name,
    decide,
    parse_answers,
    save_answers,
    stored_answers,
)
from legflow.screening import user_limits as stored_limits
from legflow.store import History
from legflow.store.export import export_csv, export_json
from legflow.twin.model import Posture
from legflow.twin.subject import LEG_SEPARATOR, available_subjects
from legflow.web.live import NoSession, SessionManager, StartOptions

#: Points of a phase's timeline drawn on the program page.
TIMELINE_POINTS = 120
#: Stored sessions are numbered 1, 2, ... up to SQLite's largest integer.
MAX_SESSION_ID = 2**63 - 1


# The client names things; it never sends a path. A name is checked against its rule, or against
# the built-in list, before anything uses it.
def _program_name(name: str) -> str:
    if not USER_NAME.fullmatch(name):
        raise ValueError("not a valid program name: use 1-48 lower-case letters, digits, '-' or '_'")
    return name


def _user_name(name: str) -> str:
    try:
        return check_user_name(name)
    except ProfileError as exc:
        raise ValueError(str(exc)) from None


def _subject_name(name: str) -> str:
    """A built-in parameter set, or one per leg (``adult,oedema``): each a name from the list."""
    legs = name.split(LEG_SEPARATOR)
    if len(legs) > 2 or any(leg not in available_subjects() for leg in legs):
        raise ValueError(
            f"unknown subject: one of {', '.join(available_subjects())}, or two of them, left and right, "
            f"separated by '{LEG_SEPARATOR}'"
        )
    return name


def _person_name(name: str) -> str:
    """Who sets a plan (a clinician's name, shown as text): printable characters only."""
    name = name.strip()
    if not 1 <= len(name) <= 80 or any(unicodedata.category(c).startswith("C") for c in name):
        raise ValueError("a name is 1-80 printable characters")
    return name


ProgramName = Annotated[str, AfterValidator(_program_name)]
UserName = Annotated[str, AfterValidator(_user_name)]
PersonName = Annotated[str, AfterValidator(_person_name)]
SubjectName = Annotated[str, AfterValidator(_subject_name)]
SessionId = Annotated[int, PathParam(ge=1, le=MAX_SESSION_ID, description="A stored session's id.")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProgramText(_Body):
    toml: str = Field(max_length=200_000, description="The program as TOML text (format v1).")
    profile: str = DEFAULT_PROFILE
    user: UserName = DEFAULT_USER


class ComposeRequest(_Body):
    goal: str
    zones: list[str] = Field(min_length=1)
    intensity: int = Field(default=3, ge=1, le=5)
    minutes: float = Field(default=20.0, gt=0)
    profile: str = DEFAULT_PROFILE
    user: UserName = DEFAULT_USER


class PhaseEdit(_Body):
    index: int = Field(ge=0)
    duration_min: float | None = Field(default=None, gt=0)
    pressure_mmHg: float | None = Field(default=None, ge=0)
    hold_s: float | None = Field(default=None, ge=0)
    rest_s: float | None = Field(default=None, ge=0)


class EditRequest(ProgramText):
    """The form's common edits, applied to the TOML text so that its comments stay."""

    name: str | None = Field(default=None, min_length=1, max_length=80, description="The program's title.")
    phases: list[PhaseEdit] = Field(default_factory=list)


class ScreeningRequest(_Body):
    user: UserName = DEFAULT_USER
    answers: dict[str, Any]


class StartRequest(_Body):
    program: ProgramName = Field(description="A built-in program's name or a saved program's name.")
    profile: str = DEFAULT_PROFILE
    user: UserName = DEFAULT_USER
    subject: SubjectName = Field(
        default="adult",
        description="A built-in leg-twin subject, or one per leg, left then right ('adult,oedema').",
    )
    posture: Posture = "supine"
    fixed_rest: bool = False
    inject: list[str] = Field(default_factory=list, description="Faults to inject: KIND[:CELL]@SECONDS.")
    fit: Literal["check", "anyway", "skip"] = Field(
        default="check",
        description="The fit check first: start only if every cell fits (check), whatever it finds (anyway: "
        "the user agreed), or no check (skip)",
    )


class IntensityRequest(BaseModel):
    """What to change of the running session's intensity; what is left out stays as it is."""

    model_config = ConfigDict(extra="forbid")
    level: int | None = Field(
        default=None, ge=LEVELS[0], le=LEVELS[1], description="-2..+2, each a tenth of the pressures"
    )
    boost: str | None = Field(default=None, description="a zone to boost +10 mmHg; empty: no boost")
    paused: list[str] | None = Field(default=None, description="the zones to pause (the others resume)")


class PlanRequest(_Body):
    toml: str = Field(max_length=200_000, description="The plan as TOML text (README: Plans).")
    clinician: PersonName | None = Field(
        default=None, description="Set it as this clinician, who may set bounds; null: as the user."
    )


class OutcomeRequest(_Body):
    """An outcome as `legflow log` takes it; `legflow.records.outcomes.checked_outcome` judges it."""

    measure: str = Field(max_length=64, description="One of GET /measures' names.")
    value: float = Field(description="In the measure's unit.")
    site: str = Field(default="", max_length=64, description="Where, for a measure that needs one.")
    at: str | None = Field(
        default=None,
        max_length=64,
        description="When it was measured, ISO 8601 (default: now; without a zone: the server's local time).",
    )
    note: str = Field(default="", description="A few words.")


def _now() -> datetime:
    """The server's local time, aware: a record's days are the server's local days, as the CLI's."""
    return datetime.now().astimezone()


def _path_user(user: str) -> str:
    """A user named in a route's path, checked as `UserName` is (422 with the rule)."""
    try:
        return _user_name(user)
    except ValueError as exc:
        raise HTTPException(422, f"user: {exc}") from None


def _due(due: Due, now: datetime) -> dict[str, Any]:
    return {
        "at": due.at.isoformat(timespec="seconds"),
        "program": due.program,
        "minutes": due.minutes,
        "done": due.done,
        "text": due.describe(now),
    }


def _plan_version(version: PlanVersion) -> dict[str, Any]:
    plan = version.plan
    return {
        "at": version.at,
        "set_by": version.set_by,
        "role": version.role,
        "plan": plan.model_dump(mode="json", by_alias=True),
        "lines": [line.describe() for line in plan.session],
    }


def _problems(exc: LegflowError) -> list[dict[str, Any]]:
    return [p.__dict__ for p in getattr(exc, "problems", [])]


def _check(
    text: str,
    filename: str,
    profile: str,
    user: str,
    warnings: list[dict] | None = None,
    changes: list[str] | None = None,
) -> tuple[ProgramSource | None, list[dict]]:
    """Validate text as `legflow check` does, adapted to the device; the problems as dicts (empty
    when it may run). The warnings (problems that do not refuse a run) go into ``warnings``, what
    the adaptation changes into ``changes``, when given."""
    try:
        checked = check_text(text, filename, load_profile(profile), stored_limits(user))
    except LegflowError as exc:
        if not getattr(exc, "problems", None):
            raise
        return None, _problems(exc)
    if warnings is not None:
        warnings += [w.__dict__ for w in checked.warnings]
    if changes is not None:
        changes += checked.changes
    return checked.source, []


def _library_row(name: str, source: ProgramSource, origin: str) -> dict[str, Any]:
    program = source.program
    grading = program_grading(program)
    return {
        "name": name,
        "title": program.program.name,
        "goal": program.program.goal,
        "origin": origin,
        "summary": program.program.summary,
        "zones": program.compression_zones() + program.sole_zones(),
        "minutes": round(program.duration_s / 60, 2),
        "grade": grading.grade,
        "grade_note": grading.note,
        "peak_mmHg": max_pressure_mmHg(program),
    }


def phase_timeline(phase: Phase) -> dict[str, Any] | None:
    """One compression cycle of a phase (the whole phase for 'hold') as zone setpoints over time."""
    c = phase.compression
    if c is None or not phase.squeezes:
        return None
    span = phase.duration_s if c.pattern == "hold" else min(cycle_s(c), phase.duration_s)
    times = np.linspace(0.0, span, TIMELINE_POINTS)
    zones, _ = phase_zone_pressures(phase, times)
    return {
        "span_s": span,
        "t_s": np.round(times, 2).tolist(),
        "zones": {z: np.round(np.broadcast_to(p, times.shape), 1).tolist() for z, p in zones.items()},
        "whole_phase": c.pattern == "hold",
    }


def program_detail(name: str, source: ProgramSource, origin: str, text: str) -> dict[str, Any]:
    program: Program = source.program
    evidence = [
        {
            "id": item.benefit.id,
            "grade": item.benefit.grade,
            "text": item.benefit.describe(),
            "is_effect": item.benefit.is_effect,
            "method": item.benefit.method,
            "dose": item.benefit.dose,
            "verdict": item.verdict,
            "matches": item.matches,
            "sources": list(item.benefit.sources),
        }
        for item in compare(program)
    ]
    phases = [
        {**phase.model_dump(by_alias=True, exclude_none=True), "timeline": phase_timeline(phase)}
        for phase in program.phases
    ]
    extra = {
        "toml": text,
        "phases": phases,
        "evidence": evidence,
        "legs": program.program.legs,
        "dose": program.program.dose,
        "grade_meaning": GRADE_MEANING,
    }
    return {**_library_row(name, source, origin), **extra}


def _program_to_run(name: str) -> str:
    """What the session starts from: the name of a built-in or a saved program (never a path the
    request chose); 404 for any other name."""
    if name in builtin_names() or name in user_names():
        return name
    raise HTTPException(status.HTTP_404_NOT_FOUND, f"no program named '{name}'")


def _program_text(name: str) -> tuple[ProgramSource, str, str]:
    if name in builtin_names():
        return builtin_source(name), builtin_text(name), "builtin"
    if name in user_names():
        text = saved_text(name)  # read once: validated and shown
        return validate_text(text, f"{name}.toml"), text, "user"
    raise HTTPException(status.HTTP_404_NOT_FOUND, f"no program named '{name}'")


def _edit(text: str, request: EditRequest) -> str:
    """Apply the form's edits to the TOML document (tomlkit keeps comments and layout)."""
    try:
        doc = tomlkit.parse(text)
    except tomlkit.exceptions.ParseError as exc:
        raise LegflowError(f"the program is not valid TOML, fix it in the text first: {exc}") from None
    if request.name is not None:
        program = doc.setdefault("program", tomlkit.table())
        if not isinstance(program, MutableMapping):
            raise LegflowError("`program` is not a table ([program]): fix it in the text first")
        program["name"] = request.name
    phases = doc.get("phase")
    for edit in request.phases:
        if not isinstance(phases, list) or edit.index >= len(phases):
            raise LegflowError(f"the program has no phase {edit.index + 1}")
        phase = phases[edit.index]
        if not isinstance(phase, MutableMapping):
            raise LegflowError(f"phase {edit.index + 1} is not a table ([[phase]]): fix it in the text first")
        if edit.duration_min is not None:
            phase["duration_min"] = edit.duration_min
        squeeze = {k: getattr(edit, k) for k in ("pressure_mmHg", "hold_s", "rest_s")}
        if any(v is not None for v in squeeze.values()):
            compression = phase.get("compression")
            if not isinstance(compression, MutableMapping):
                raise LegflowError(f"phase {edit.index + 1} has no compression table to edit")
            for key, value in squeeze.items():
                if value is not None:
                    compression[key] = value
    return tomlkit.dumps(doc)


@contextlib.contextmanager
def _history(manager: SessionManager, session_id: int | None = None) -> Iterator[History]:
    """A read-only reader of the history for one request; 404 if it has no ``session_id``. A
    history that cannot be read (damaged, not a history) raises `HistoryError`: a 503."""
    history = History(manager.history_path, readonly=True)
    try:
        if session_id is not None:
            try:
                history.session(session_id)
            except HistoryError:
                raise
            except LegflowError as exc:
                raise HTTPException(404, str(exc)) from None
        yield history
    finally:
        history.close()


@contextlib.contextmanager
def _history_writer(manager: SessionManager) -> Iterator[History]:
    """A writer of the history for one request, closed after it (503 when it cannot be written)."""
    history = History(manager.history_path)
    try:
        yield history
    finally:
        history.close()


def build_router(manager: SessionManager, authenticated) -> APIRouter:
    """The `/api/v1` routes; ``authenticated`` is the dependency that checks the token."""
    api = APIRouter(prefix="/api/v1", dependencies=[Depends(authenticated)])

    # -- programs ----------------------------------------------------------------------------
    @api.get("/programs", summary="The program library: built-in and saved programs")
    def list_programs(goal: Annotated[str | None, Query(description="Only this goal.")] = None):
        if goal is not None and goal not in GOALS:
            raise HTTPException(400, f"unknown goal '{goal}' (one of: {', '.join(GOALS)})")
        rows = [_library_row(n, builtin_source(n), "builtin") for n in builtin_names()]
        for name in user_names():
            try:
                rows.append(_library_row(name, resolve(name), "user"))
            except LegflowError:
                continue  # a saved file made invalid by hand is shown in the editor, not the library
        return [r for r in rows if goal is None or r["goal"] == goal]

    @api.get("/programs/{name}", summary="One program: phases, timeline, evidence, its TOML")
    def get_program(name: str):
        source, text, origin = _program_text(name)
        return program_detail(name, source, origin, text)

    @api.get(
        "/programs/{name}/toml", summary="A program's TOML as it is, valid or not: what the editor opens"
    )
    def get_program_toml(name: str):
        if name in builtin_names():
            return {"name": name, "origin": "builtin", "toml": builtin_text(name)}
        if name in user_names():  # a saved file made invalid by hand opens here, to be fixed
            return {
                "name": name,
                "origin": "user",
                "toml": saved_text(name),
            }
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no program named '{name}'")

    @api.put("/programs/{name}", summary="Save a program to the user's program folder")
    def save_program(name: str, body: ProgramText):
        source, problems = _check(body.toml, f"{name}.toml", body.profile, body.user)
        if problems:
            raise HTTPException(
                422, {"message": f"{len(problems)} problem(s) in the program", "problems": problems}
            )
        assert source is not None  # no problems: the program was read
        save_user_program(name, body.toml)
        return {"name": name, "title": source.program.program.name}

    @api.post("/check", summary="Validate a program as `legflow check` does")
    def check_program(body: ProgramText):
        warnings: list[dict] = []
        changes: list[str] = []
        source, problems = _check(body.toml, "program.toml", body.profile, body.user, warnings, changes)
        summary = None
        if source is not None:
            summary = {"title": source.program.program.name, "minutes": source.program.duration_s / 60}
        return {
            "ok": not problems,
            "problems": problems,
            "warnings": warnings,
            "adapted": changes,
            "program": summary,
        }

    @api.get(
        "/programs/{name}/on-device", summary="How a program runs on a device: as written, adapted or refused"
    )
    def program_on_device(
        name: str,
        profile: Annotated[str, Query(description="A device profile.")] = DEFAULT_PROFILE,
        user: Annotated[UserName, Query(description="Whose screening limits apply.")] = DEFAULT_USER,
    ):
        source, _, _ = _program_text(name)
        try:
            checked = for_device(source, load_profile(profile), stored_limits(user))
        except ProgramError as exc:
            return {"verdict": "refused", "changes": [], "problems": _problems(exc)}
        verdict = "adapted" if checked.changes else "runs"
        return {"verdict": verdict, "changes": list(checked.changes), "problems": []}

    @api.post("/compose", summary="Write a program for a goal, zones and intensity")
    def compose_program(body: ComposeRequest):
        device, limits = load_profile(body.profile), stored_limits(body.user)
        program = compose(body.goal, body.zones, body.intensity, body.minutes, device, limits)
        text = dump_program(program)
        check_source(validate_text(text, "<composed>"), device, limits)
        return {"toml": text, "minutes": program.duration_s / 60}

    @api.post("/edit", summary="Apply the form's common edits to a program's TOML")
    def edit_program(body: EditRequest):
        text = _edit(body.toml, body)
        _, problems = _check(text, "program.toml", body.profile, body.user)
        return {"toml": text, "problems": problems}

    @api.get("/profiles", summary="Device profiles")
    def profiles():
        return [
            {
                "name": p.name,
                "title": p.title,
                "legs": list(p.legs),
                "zones": p.zones,
                "cells": [c.name for c in p.cells],
                "rollers": p.rollers is not None,
                "heater_max_C": p.heater_max_C,
                "vibration_max_level": p.vibration_max_level,
            }
            for p in map(load_profile, profile_names())
        ]

    @api.get("/choices", summary="What forms offer: zones, goals, twin subjects, postures")
    def choices():
        return {
            "compression": list(COMPRESSION_ZONES),
            "sole": list(SOLE_ZONES),
            "goals": list(GOALS),
            "subjects": available_subjects(),
            "postures": list(get_args(Posture)),
        }

    # -- screening ---------------------------------------------------------------------------
    @api.get("/screening/questions", summary="The screening questions of docs/safety.md")
    def questions():
        return [
            {"id": q.id, "ask": q.ask, "kind": q.kind, "action": q.action, "why": q.why} for q in QUESTIONS
        ]

    @api.get("/screening/{user}", summary="A user's stored answers and what they decide")
    def get_screening(user: str):
        _path_user(user)
        answers = stored_answers(user)
        if answers is None:
            return {"user": user, "answers": None, "decisions": [], "blocked": False}
        return _decisions(user, answers)

    @api.post("/screening", summary="Store screening answers; get block / limit / warn decisions")
    def post_screening(body: ScreeningRequest):
        answers = parse_answers(body.answers, "answers")
        save_answers(answers, body.user)
        return _decisions(body.user, answers)

    # -- sessions ----------------------------------------------------------------------------
    @api.post("/sessions", status_code=201, summary="Start a session (409 while one runs)")
    def start_session(body: StartRequest):
        options = StartOptions(
            _program_to_run(body.program),
            body.profile,
            stored_limits(body.user),
            body.subject,
            body.posture,
            body.fixed_rest,
            tuple(body.inject),
            body.user,
            body.fit,
        )
        return manager.start(options)

    @api.get("/sessions/current", summary="The running (or last) session: what it is, its state")
    def current_session():
        return {**manager.hello(), "state": manager.latest, "summary": manager.last_summary}

    @api.post("/sessions/current/pause", summary="Pause: vent and wait")
    def pause():
        manager.pause()
        return {"paused": True}

    @api.post("/sessions/current/intensity", summary="Level, boost or paused zones of the running session")
    def intensity(body: IntensityRequest):
        return manager.intensity(body.level, body.boost, body.paused)

    @api.post("/sessions/current/resume", summary="Resume after a pause")
    def resume():
        manager.resume()
        return {"paused": False}

    @api.post("/sessions/current/stop", summary="Stop gracefully: vent, then end")
    def stop():
        manager.stop()
        return {"stopping": True}

    @api.post("/sessions/current/emergency-stop", summary="The safe state at once (409 if none runs)")
    async def emergency_stop(request: Request):
        was_running = manager.emergency_stop()  # first the safe state, then the answer
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return RedirectResponse("/#/live", status_code=303)  # the no-script form on the page
        if not was_running:
            raise NoSession("no session is running")
        return {"safe_state": True, "was_running": True}

    # -- history -----------------------------------------------------------------------------
    @api.get("/history", summary="Stored sessions, newest first")
    def history_list():
        with _history(manager) as history:
            return [row.__dict__ for row in history.sessions()]

    @api.get("/history/{session_id}", summary="One stored session: summary, events, samples")
    def history_session(session_id: SessionId):
        with _history(manager, session_id) as history:
            row = history.session(session_id)
            return {
                **row.__dict__,
                "events": history.events(session_id),
                "samples": history.samples(session_id),
            }

    @api.get("/history/{session_id}/export", summary="Download: per-second samples as CSV, or JSON")
    def history_export(session_id: SessionId, format: Literal["csv", "json"] = "csv"):
        with _history(manager, session_id) as history:
            text = export_csv(history, session_id) if format == "csv" else export_json(history, session_id)
        media = "text/csv" if format == "csv" else "application/json"
        name = f"legflow-session-{session_id}.{format}"
        return Response(
            text, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
        )

    # -- a user's record: the same functions as `legflow adherence`, `remind`, `plan`, `log` ---------
    @api.get(
        "/users/{user}/adherence",
        summary="Done against planned per day and week, streaks, minutes at pressure per zone",
    )
    def user_adherence(
        user: str,
        weeks: Annotated[int, Query(ge=1, le=520, description="How many weeks back, ending today.")] = 4,
    ):
        _path_user(user)
        last = _now().date()
        first = last - timedelta(days=7 * weeks - 1)  # as `legflow adherence --weeks`
        with _history(manager) as history:
            return adherence(history, user, first, last).as_json()

    @api.get("/users/{user}/reminders", summary="What is due today and not done, and what comes next")
    def user_reminders(user: str):
        _path_user(user)
        now = _now()
        with _history(manager) as history:
            planned = bool(plan_versions(history, user))
            overdue, upcoming = due_now(history, user, now)
        return {
            "now": now.isoformat(timespec="seconds"),
            "planned": planned,
            "overdue": [_due(d, now) for d in overdue],
            "next": None if upcoming is None else _due(upcoming, now),
        }

    @api.get("/users/{user}/plan", summary="Every version of a user's plan, oldest first: who set it, when")
    def user_plan(user: str):
        _path_user(user)
        with _history(manager) as history:
            versions = plan_versions(history, user)
        return {"user": user, "versions": [_plan_version(v) for v in versions]}

    @api.put(
        "/users/{user}/plan",
        summary="Set a user's plan, keeping every earlier version (422: its problems; 403: bounds a "
        "clinician set)",
    )
    def set_user_plan(user: str, body: PlanRequest):
        _path_user(user)
        try:
            plan = parse_plan(body.toml, "plan.toml")
        except ProgramError as exc:
            problems = [{**p.__dict__, "text": str(p)} for p in exc.problems]
            detail = f"{len(problems)} problem(s) in the plan"
            return JSONResponse({"detail": detail, "problems": problems}, status_code=422)
        by, role = (body.clinician, "clinician") if body.clinician else (user, "user")
        with _history_writer(manager) as history:  # (parse_plan has found every program it names)
            try:
                stored = store_plan(history, user, plan, by, role)
            except HistoryError:
                raise
            except LegflowError as exc:
                raise HTTPException(403, str(exc)) from None
            return _plan_version(stored)

    @api.get("/measures", summary="What an outcome may measure: unit, range, whether it needs a site")
    def measures():
        return [asdict(m) for m in MEASURES.values()]

    @api.get("/users/{user}/outcomes", summary="A user's logged outcomes, oldest first")
    def user_outcomes(user: str):
        _path_user(user)
        with _history(manager) as history:
            return [o.as_json() for o in stored_outcomes(history, user)]

    @api.post("/users/{user}/outcomes", status_code=201, summary="Log an outcome (422 with what is wrong)")
    def log_outcome(user: str, body: OutcomeRequest):
        _path_user(user)
        try:
            outcome = checked_outcome(body.measure, body.value, body.site, body.at, body.note)
        except LegflowError as exc:
            raise HTTPException(422, str(exc)) from None
        with _history_writer(manager) as history:
            record_outcome(history, user, outcome)
        return outcome.as_json()

    return api


def _decisions(user: str, answers) -> dict[str, Any]:
    limits, decisions = decide(answers)
    return {
        "user": user,
        "answers": answers.model_dump(),
        "decisions": [{"question": d.question.id, "action": d.action, "text": d.text} for d in decisions],
        "blocked": bool(limits.blocks),
        "warnings": list(limits.warnings),
    }

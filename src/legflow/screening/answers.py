"""Screening answers → block / limit / warn decisions that tighten the limits.

Answers are kept with the user's profile in the user's data directory. Nothing a user answers
can loosen the default limits: every decision goes through `Limits.tighten`.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import tomlkit
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from legflow.anatomy import COMPRESSION_ZONES, CompressionZone
from legflow.errors import ProfileError, ScreeningError
from legflow.paths import data_dir
from legflow.safety.limits import DEFAULT_LIMITS, Limits
from legflow.screening.questions import QUESTIONS, ADULT_AGE_years, Question

DEFAULT_USER = "default"
#: A user's name: ASCII, so that it names the same file on every system and fits a URL as it is.
USER_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,47}")


class Answers(BaseModel):
    """One answer per question; a scripted answers file must answer every one."""

    model_config = ConfigDict(extra="forbid", strict=True)

    dvt_signs: bool
    heart_failure: bool
    severe_arterial_disease: bool
    skin_problem_zones: list[CompressionZone]
    injury_zones: list[CompressionZone]
    arterial_disease: bool
    anticoagulants: bool
    diabetes: bool
    neuropathy: bool
    pregnancy: bool
    varicose_veins: bool
    age: int = Field(ge=0, le=130)
    active_cancer: bool
    leg_implant_or_vein_surgery: bool


@dataclass(frozen=True)
class Decision:
    question: Question
    action: str  # block | block_zone | limit | warn
    text: str


def _applies(question: Question, answers: Answers) -> bool:
    value = getattr(answers, question.id)
    if question.kind == "age":
        return value < ADULT_AGE_years
    return bool(value)


def decide(answers: Answers, base: Limits = DEFAULT_LIMITS) -> tuple[Limits, list[Decision]]:
    """The limits that follow from the answers, and one decision per question that applies."""
    limits = base
    decisions: list[Decision] = []
    for q in QUESTIONS:
        if not _applies(q, answers):
            continue
        name = q.id.replace("_", " ")
        why = f"screening: {name} — {q.why}"
        parts = [q.why]
        if q.action == "block":
            limits = limits.block(f"{name}: {q.why}. {q.advice}")
        elif q.action == "block_zone":
            zones = getattr(answers, q.id)
            limits = limits.tighten(why, blocked_zones=zones)
            parts = [f"{', '.join(zones)} blocked: {q.why}"]
        if q.limits:
            limits = limits.tighten(why, **q.limits)
            parts.append(f"limits: {_describe_limits(q.limits)}")
        if q.advice:
            parts.append(q.advice)
            if q.action in ("warn", "limit"):
                limits = limits.warn(f"{q.why}. {q.advice}")
        elif q.action == "warn":
            limits = limits.warn(q.why)
        text = "; ".join(parts)
        decisions.append(Decision(q, q.action, text))
    return limits, decisions


def _describe_limits(changes: dict[str, object]) -> str:
    words = {
        "leg_pressure_mmHg": lambda v: f"leg ≤ {v:g} mmHg",
        "foot_pressure_mmHg": lambda v: f"foot ≤ {v:g} mmHg",
        "heat_C": lambda v: "no heat" if v is None else f"heat ≤ {v:g} °C",
        "vibration_allowed": lambda v: "no vibration",
        "deep_rollers_allowed": lambda v: "no deep rollers",
        "blocked_zones": lambda v: f"no {', '.join(v)}",
        "no_pressure_areas": lambda v: f"no hand pressure on {', '.join(v)}",
    }
    return ", ".join(words[k](v) for k, v in changes.items() if k in words)


def check_user_name(user: str) -> str:
    """``user`` if it is a user's name (it names a file in the data folder): the one rule for the
    CLI's ``--profile``/``--user`` and the dashboard; `ProfileError` otherwise."""
    if not USER_PATTERN.fullmatch(user):
        raise ProfileError(
            "a user name is 1-48 letters, digits, '-' or '_' (ASCII), starting with a letter or digit"
        )
    return user


def _profile_path(user: str) -> Path:
    return data_dir() / "users" / f"{check_user_name(user)}.toml"


def parse_answers(data: dict, source: str) -> Answers:
    try:
        return Answers.model_validate(data)
    except ValidationError as exc:
        # a misspelt question first: it explains the answer that then seems missing
        first = min(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        where = ".".join(str(p) for p in first["loc"]) or "answers"
        known = f" (zones: {', '.join(COMPRESSION_ZONES)})" if "zones" in where else ""
        count = f" and {exc.error_count() - 1} more" if exc.error_count() > 1 else ""
        what = "answer missing" if first["type"] == "missing" else first["msg"].lower()
        if first["type"] == "extra_forbidden":
            close = difflib.get_close_matches(where, Answers.model_fields, n=1)
            what = "not a question" + (f" (did you mean {close[0]}?)" if close else "")
        raise ScreeningError(f"{source}: {where}: {what}{known}{count}") from None


def load_answers_file(path: str | Path) -> Answers:
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScreeningError(f"{path}: cannot read: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ScreeningError(f"{path}: not a valid TOML file: {exc}") from None
    return parse_answers(data, str(path))


def save_answers(answers: Answers, user: str = DEFAULT_USER) -> Path:
    """Store a user's answers atomically (write a temporary file, then rename)."""
    path = _profile_path(user)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"screened_at": datetime.now(UTC).isoformat(timespec="seconds"), **answers.model_dump()}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(tomlkit.dumps(record), encoding="utf-8")
    tmp.replace(path)
    return path


def stored_answers(user: str = DEFAULT_USER) -> Answers | None:
    """A user's stored answers, or None if that user was never screened."""
    path = _profile_path(user)
    if not path.exists():
        if user != DEFAULT_USER:
            raise ProfileError(f"no screening profile named '{user}'; run: legflow screen --user {user}")
        return None
    # named as it sits in legflow's folder, not by its full path: the dashboard shows this too
    source = f"{path.parent.name}/{path.name}"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ScreeningError(
            f"{source}: the stored screening is damaged ({exc}); "
            f"answer it again: legflow screen --user {user}"
        ) from None
    data.pop("screened_at", None)
    return parse_answers(data, source)


def user_limits(user: str = DEFAULT_USER) -> Limits:
    """The limits for a user: the defaults, tightened by their stored screening if any."""
    answers = stored_answers(user)
    return DEFAULT_LIMITS if answers is None else decide(answers)[0]

"""A clinician-readable report of a user's record over a period: the plan and its bounds, done
against planned, each session's pressure, duration and counted time, faults and alarms, outcomes
beside the dose, with the leg twin's predicted fluid cleared beside the measured change.

`gather` collects it once (the HTML, the PDF and the FHIR bundle read the same `Report`); the
HTML comes from one Jinja2 template with autoescaping (every user string is text), the PDF is that
HTML laid out by WeasyPrint, and the figures are Matplotlib SVGs (Agg, never pyplot).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from importlib import resources
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from legflow.anatomy import distal_rank
from legflow.errors import LegflowError
from legflow.records.adherence import Adherence, adherence, day_start, local_start
from legflow.records.dose import Dose, cell_zones, stored_dose
from legflow.records.outcomes import MEASURES, Outcome, stored_outcomes
from legflow.records.plan import PlanVersion, plan_versions

FORMATS = (".html", ".pdf")
#: Said beside every plot of outcomes against the dose.
NOT_PROOF = (
    "Correlation is not proof: a change measured beside the sessions may come from anything else "
    "that changed (activity, weather, other treatment, the time of day of the measurement), and the "
    "leg twin's fluid cleared is a model's prediction, not a measurement."
)


@dataclass(frozen=True)
class SessionLine:
    id: int
    started: datetime  # local
    program: str
    profile: str
    status: str
    duration_min: float
    dose: Dose
    #: Per zone, the highest pressure sensed (from the session summary; none if it never ended).
    sensed_max_mmHg: dict[str, float]
    faults: list[str]
    twin_fluid_cleared_mL: float | None


@dataclass
class Report:
    user: str
    first: date
    last: date
    generated_at: datetime
    versions: list[PlanVersion]
    adherence: Adherence
    sessions: list[SessionLine]
    outcomes: list[Outcome]
    figures: dict[str, str] = field(default_factory=dict)  # name → SVG

    @property
    def plan(self) -> PlanVersion | None:
        return self.versions[-1] if self.versions else None

    def sessions_per_week(self) -> list[tuple[date, int]]:
        """Per week (from Monday), the sessions of the plan's programs that counted any time
        (every session that counted any, with no plan): what a plan's sessions a week bound means."""
        weeks: dict[date, int] = {}
        day = self.first - timedelta(days=self.first.weekday())
        while day <= self.last:
            weeks[day] = 0
            day += timedelta(days=7)
        programs = self.plan.plan.programs() if self.plan else None
        for s in self.sessions:
            if s.dose.counted_s <= 0 or (programs is not None and s.program not in programs):
                continue
            monday = s.started.date() - timedelta(days=s.started.weekday())
            weeks[monday] = weeks.get(monday, 0) + 1
        return sorted(weeks.items())


def gather(history: Any, user: str, first: date, last: date, tz: tzinfo | None = None) -> Report:
    """Everything the report shows, read once from the history."""
    if first > last:
        raise LegflowError(f"--from {first} is after --to {last}")
    end, start = day_start(last + timedelta(days=1), tz), day_start(first, tz)
    versions = [v for v in plan_versions(history, user) if datetime.fromisoformat(v.at) < end]
    in_force = [v for v in versions if datetime.fromisoformat(v.at) < start][-1:]
    shown = in_force + [v for v in versions if datetime.fromisoformat(v.at) >= start]
    record = adherence(history, user, first, last, tz)
    lines = []
    for row in sorted(history.sessions(user), key=lambda r: r.id):
        began = local_start(row, tz)
        if not first <= began.date() <= last:
            continue
        dose = record.doses.get(row.id) or stored_dose(history, row.id)
        summary = row.summary or {}
        sensed: dict[str, float] = {}  # none where the session never ended
        cells = summary.get("cells") or {}
        zone_of = cell_zones(row.profile, list(cells))
        for cell, values in cells.items():
            sensed[zone_of[cell]] = max(sensed.get(zone_of[cell], 0.0), values["max_pressure_mmHg"])
        faults = [_fault_line(f) for f in summary.get("faults") or []]
        if row.status == "interrupted":
            faults.append("the session was interrupted (its process ended without closing it)")
        twin = summary.get("twin") or {}
        lines.append(
            SessionLine(
                row.id,
                began,
                row.program,
                row.profile,
                row.status,
                row.duration_s / 60.0,
                dose,
                sensed,
                faults,
                twin.get("fluid_cleared_mL"),
            )
        )
    outcomes = [o for o in stored_outcomes(history, user) if first <= _local(o.at, tz).date() <= last]
    report = Report(user, first, last, datetime.now(UTC).astimezone(tz), shown, record, lines, outcomes)
    report.figures = {"adherence": _adherence_figure(report), "outcomes": _outcomes_figure(report, tz)}
    return report


def _fault_line(fault: dict[str, Any]) -> str:
    where = f" {fault['cell']}" if fault.get("cell") else ""
    found = fault.get("detected_s")
    when = f" at {found:.0f} s" if found is not None else " (never detected)"
    return f"{fault['kind']}{where}: {fault.get('message', '')}{when}"


def _local(at: str, tz: tzinfo | None) -> datetime:
    return datetime.fromisoformat(at).astimezone(tz)


# -- figures --------------------------------------------------------------------------------------
def _svg(fig: Figure) -> str:
    FigureCanvasAgg(fig)
    out = io.StringIO()
    with mpl.rc_context({"svg.fonttype": "none", "svg.hashsalt": "legflow"}):
        fig.savefig(out, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = out.getvalue()
    return text[text.index("<svg") :]  # inline: no XML declaration or doctype


def _adherence_figure(report: Report) -> str:
    days = report.adherence.days
    fig = Figure(figsize=(7.0, 2.4))
    ax = fig.subplots()
    x = np.array([d.day for d in days], dtype="datetime64[D]")
    ax.bar(
        x, [d.done_min for d in days], color=["tab:green" if d.met else "tab:orange" for d in days], width=0.8
    )
    ax.step(x, [d.planned_min for d in days], where="mid", color="0.2", linewidth=1.2, label="planned")
    ax.set_ylabel("minutes")
    ax.set_title("Done (bars: green met, orange short) against planned (line), per day", fontsize=9)
    ax.tick_params(labelsize=7)
    fig.autofmt_xdate()
    ax.legend(fontsize=7, loc="upper left")
    return _svg(fig)


def _outcomes_figure(report: Report, tz: tzinfo | None) -> str:
    """Each outcome over time, above the daily pressure-minutes and the twin's predicted fluid
    cleared (cumulative)."""
    series: dict[str, list[tuple[datetime, float]]] = {}
    for o in report.outcomes:
        series.setdefault(o.label(), []).append((_local(o.at, tz), o.value))
    fig = Figure(figsize=(7.0, 2.2 * (len(series) + 1)))
    axes = fig.subplots(len(series) + 1, 1, sharex=True, squeeze=False)[:, 0]
    for ax, (label, points) in zip(axes, series.items(), strict=False):
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", color="tab:blue")
        ax.set_ylabel(f"{label}\n({MEASURES[label.split()[0]].unit})", fontsize=7)
        ax.tick_params(labelsize=7)
    dose_ax = axes[-1]
    by_day: dict[date, float] = {}
    cleared: list[tuple[datetime, float]] = []
    total = 0.0
    for s in report.sessions:
        by_day[s.started.date()] = by_day.get(s.started.date(), 0.0) + s.dose.pressure_mmHg_min
        if s.twin_fluid_cleared_mL is not None:
            total += s.twin_fluid_cleared_mL
            cleared.append((s.started, total))
    days = sorted(by_day)
    dose_ax.bar(
        [day_start(d, tz) for d in days],
        [by_day[d] for d in days],
        color="0.6",
        width=0.8,
    )
    dose_ax.set_ylabel("pressure-minutes\n(mmHg·min)", fontsize=7)
    dose_ax.tick_params(labelsize=7)
    if cleared:
        twin_ax = dose_ax.twinx()
        twin_ax.plot([c[0] for c in cleared], [c[1] for c in cleared], color="tab:purple", linestyle="--")
        twin_ax.set_ylabel("twin: fluid cleared,\ncumulative mL (model)", fontsize=7, color="tab:purple")
        twin_ax.tick_params(labelsize=7)
    axes[0].set_title("Outcomes beside the dose (correlation is not proof)", fontsize=9)
    fig.autofmt_xdate()
    return _svg(fig)


# -- output ---------------------------------------------------------------------------------------
def render_html(report: Report) -> str:
    from jinja2 import Environment, select_autoescape

    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    env.filters["minutes"] = lambda v: f"{v:.1f}"
    template = env.from_string(resources.files("legflow.records").joinpath("report.html").read_text("utf-8"))
    zones = sorted({z for s in report.sessions for z in s.dose.zone_targets_mmHg()}, key=distal_rank)
    return template.render(
        r=report,
        zones=zones,
        measures=MEASURES,
        weeks=report.adherence.weeks(),
        per_week=report.sessions_per_week(),
        not_proof=NOT_PROOF,
        figures=report.figures,
    )


def write_report(report: Report, path: Path) -> None:
    """The report as HTML or PDF, by the file's suffix; written whole or not at all."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise LegflowError(f"{path}: a report is .html or .pdf (or --fhir for a FHIR bundle in JSON)")
    html = render_html(report)
    if suffix == ".html":
        data = html.encode("utf-8")
    else:
        from weasyprint import HTML  # type: ignore[import-untyped]

        data = HTML(string=html).write_pdf()
    write_whole(path, data)


def write_whole(path: Path, data: bytes) -> None:
    part = path.with_name(f".{path.name}.part")
    try:
        part.write_bytes(data)
        part.replace(path)
    except OSError as exc:
        part.unlink(missing_ok=True)
        raise LegflowError(f"cannot write {path}: {exc.strerror or exc}") from None

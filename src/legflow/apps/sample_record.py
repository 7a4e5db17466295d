"""A sample record of an invented user, made of real sessions on the simulated massager (virtual
clock) on the days the sample sets: a clinician's plan, sessions on most days, one missed, one
where the garment came off, one the user stopped, one cut by a power loss, and outcomes the user
logged. It shows what `legflow report` makes of a record; its outcome values are invented.

    python -m legflow.apps.sample_record OUT_DIR   # OUT_DIR/sample-report.pdf, .html, page PNGs

The tests of the report and the FHIR export build a shorter one with the same builder.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from legflow.apps.launch import prepare_session
from legflow.records.outcomes import checked_outcome, record_outcome
from legflow.records.plan import parse_plan
from legflow.safety.limits import DEFAULT_LIMITS
from legflow.store import History

USER = "sample"
CLINICIAN = "Dr A. Example (invented)"
PLAN = """\
note = "Sample plan, invented: {program} every evening"

[[session]]
program = "{program}"
minutes = {minutes}
at = ["19:00"]

[bounds]
session_min = [5, 60]
sessions_per_week = [5, 7]
pressure_mmHg = {{ calf = [30, 45], thigh = [25, 40] }}
"""
#: Day (from the first) → what happens that evening. Days not listed: a whole session.
EVENINGS: dict[int, str] = {3: "missed", 6: "garment_off", 9: "stopped", 11: "power_loss"}
#: Invented outcome values, by day: left calf circumference (cm) and soreness (0-10).
OUTCOMES: dict[int, tuple[float, float]] = {0: (38.4, 4), 4: (38.1, 3), 8: (37.9, 3), 13: (37.8, 2)}


def _evening(path: Path, when: datetime, what: str, program: str, minutes: float) -> None:
    """One evening's session, in its own process: a power loss ends that process mid-way
    (`os._exit`, as a pulled plug would), leaving what its last commit stored."""
    ctx = multiprocessing.get_context("spawn")
    process = ctx.Process(target=_run_evening, args=(str(path), when, what, program, minutes))
    process.start()
    process.join()


def _run_evening(path: str, when: datetime, what: str, program: str, minutes: float) -> None:
    history = History(path, now=lambda: when)
    inject = [f"garment_off:left@{minutes * 60 * 0.25:.0f}"] if what == "garment_off" else []
    with prepare_session(
        program, limits=DEFAULT_LIMITS, history=history, user=USER, fast=True, inject=inject
    ) as launch:
        session = launch.session

        def act(state: Any) -> None:
            if what == "stopped" and state.t_s >= minutes * 60 * 0.5:
                session.control.stop()
            elif what == "power_loss" and state.t_s >= minutes * 60 * 0.6:
                os._exit(137)

        session.run(on_update=act, update_every_s=1.0)
    history.close()


def build(path: Path, first: date, days: int = 14, program: str = "lymph", minutes: float = 40) -> None:
    """The sample record, in the history at `path`, over `days` days from `first` (UTC): each
    evening `program`, as planned for `minutes`, or what `EVENINGS` says."""
    start = datetime.combine(first, datetime.min.time(), UTC)
    history = History(path, now=lambda: start - timedelta(days=1))
    try:
        plan = parse_plan(PLAN.format(program=program, minutes=minutes), "sample plan")
        history.set_plan(USER, plan.model_dump(mode="json", by_alias=True), CLINICIAN, "clinician")
        for day, (calf_cm, soreness) in OUTCOMES.items():
            if day < days:
                at = (start + timedelta(days=day, hours=8)).isoformat()
                record_outcome(history, USER, checked_outcome("circumference_cm", calf_cm, "left.calf", at))
                record_outcome(
                    history, USER, checked_outcome("soreness", soreness, at=at, note="sample, invented")
                )
    finally:
        history.close()
    for day in range(days):
        what = EVENINGS.get(day, "whole")
        if what != "missed":
            _evening(path, start + timedelta(days=day, hours=19), what, program, minutes)


def main(out: Path) -> None:
    from legflow.records.report import gather, write_report

    out.mkdir(parents=True, exist_ok=True)
    path = out / "sample-history.sqlite"
    path.unlink(missing_ok=True)
    first = date(2026, 11, 16)
    build(path, first)
    reader = History(path, readonly=True)
    try:
        report = gather(reader, USER, first, first + timedelta(days=13), UTC)
    finally:
        reader.close()
    write_report(report, out / "sample-report.html")
    write_report(report, out / "sample-report.pdf")
    import pypdfium2  # type: ignore[import-untyped]

    pdf = pypdfium2.PdfDocument(out / "sample-report.pdf")
    for i in range(len(pdf)):
        pdf[i].render(scale=1.2).to_pil().save(out / f"sample-report-page{i + 1}.png")
    print(f"wrote {out}/sample-report.pdf ({len(pdf)} pages), .html and page PNGs")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "."))

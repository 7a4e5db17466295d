"""A trial's report: figures (matplotlib) and one file to keep, HTML with the figures inside, or
Markdown with the figure beside it as PNG.

The report carries what a reader needs to judge the numbers: each program's goal with its evidence
grade beside every predicted effect, the cohort's priors with their sources, the method (solver
tolerance, bootstrap), and the statement that a twin prediction is not clinical evidence.
Figures are built on :class:`matplotlib.figure.Figure` with the Agg canvas, never pyplot.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from legflow.errors import LegflowError
from legflow.trials.chunks import METRICS
from legflow.trials.cohorts import TRAITS, load_cohort, trait_notes
from legflow.trials.trial import BOOTSTRAP_RESAMPLES, NOT_EVIDENCE, TrialResult

REPORT_SUFFIXES = (".html", ".md")
PNG_DPI = 100


class ReportError(LegflowError):
    """A report path that cannot be written."""


def check_report_path(path: Path) -> None:
    """Refuse a bad path before the (slower) trial runs."""
    if path.suffix.lower() not in REPORT_SUFFIXES:
        raise ReportError(f"cannot write '{path}': use a .html or .md report")
    if not path.parent.is_dir():
        raise ReportError(f"cannot write '{path}': folder '{path.parent}' does not exist")


def trial_figure(result: TrialResult) -> Figure:
    """One panel per metric: the spread across the cohort of each program (box: quartiles,
    whiskers: 5th–95th percentile, triangle: mean); each program is labelled with its evidence
    grade."""
    keys = [k for k in METRICS if np.isfinite(result.values[:, :, list(METRICS).index(k)]).any()]
    cols = 3
    rows = max(1, -(-len(keys) // cols))
    fig = Figure(figsize=(4.2 * cols, 3.4 * rows + 0.8), layout="constrained")
    FigureCanvasAgg(fig)
    ticks = [
        f"{label}\n{goal}: grade {result.evidence_of(label)[0]}"
        for label, goal in zip(result.labels, result.goals, strict=True)
    ]
    for i, key in enumerate(keys):
        ax = fig.add_subplot(rows, cols, i + 1)
        data = [result.metric(label, key) for label in result.labels]
        data = [v[np.isfinite(v)] for v in data]
        ax.boxplot(data, whis=(5, 95), showfliers=False, showmeans=True, tick_labels=ticks)
        words, unit = METRICS[key]
        ax.set_title(f"{words} [{unit}]", fontsize=10)
        ax.tick_params(axis="x", labelrotation=20, labelsize=8)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(
        f"Virtual trial on the {result.cohort} cohort (n = {result.n}, seed {result.seed}), per leg. "
        f"{NOT_EVIDENCE}",
        fontsize=10,
    )
    return fig


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=PNG_DPI, metadata={"Software": "legflow"})
    return buffer.getvalue()


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3g}"


def summary_rows(result: TrialResult) -> list[list[str]]:
    """The comparison table: program, goal and evidence grade, metric, mean [CI], SD, 5th–95th
    percentile, paired difference to the first program [CI]."""
    rows = []
    for r in result.summary():
        goal = result.goals[result.labels.index(r.label)]
        words, unit = METRICS[r.metric]
        diff = "-" if r.diff is None else f"{_fmt(r.diff)} [{_fmt(r.diff_low)}, {_fmt(r.diff_high)}]"
        rows.append(
            [
                r.label,
                f"{goal} (grade {result.evidence_of(r.label)[0]})",
                f"{words} [{unit}]",
                f"{_fmt(r.mean)} [{_fmt(r.ci_low)}, {_fmt(r.ci_high)}]",
                _fmt(r.sd),
                f"{_fmt(r.p5)} – {_fmt(r.p95)}",
                diff,
            ]
        )
    return rows


HEADERS = [
    "program",
    "goal (evidence)",
    "metric, per leg",
    "mean [95 % CI]",
    "SD",
    "5th – 95th pct",
    "Δ vs first [95 % CI]",
]


def _prior_text(prior) -> str:
    params = ", ".join(f"{k} = {v}" for k, v in prior.params.items())
    return f"{prior.distribution} ({params})"


def _sections(result: TrialResult) -> dict[str, list[list[str]]]:
    cohort = load_cohort(result.cohort)
    notes = trait_notes()
    evidence = []
    for label, goal in zip(result.labels, result.goals, strict=True):
        grade, text = result.evidence_of(label)
        evidence.append([label, goal, grade, text])
    priors = [
        [t, _prior_text(cohort.priors[t]), cohort.priors[t].source, notes[t]["maps_to"], notes[t]["source"]]
        for t in TRAITS
    ]
    return {"evidence": evidence, "priors": priors}


def _method(result: TrialResult) -> str:
    first = result.labels[0]
    return (
        f"{result.n} virtual subjects of the {result.cohort} cohort (seed {result.seed}), both legs alike; "
        f"every subject runs every program (paired). Leg twin solver tolerance rtol {result.rtol:g}; "
        f"{result.leg_hours:.1f} leg-hours simulated in {result.wall_s:.1f} s on the {result.backend} "
        f"backend. Confidence intervals: percentile bootstrap over subjects ({BOOTSTRAP_RESAMPLES} "
        f"resamples); differences are per subject against '{first}'."
    )


def _html_table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _md_table(headers: list[str], rows: list[list[str]]) -> str:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"

    return "\n".join([line(headers), line(["---"] * len(headers)), *(line(r) for r in rows)])


def write_report(result: TrialResult, path: Path) -> list[Path]:
    """Write the report; returns the files written (the Markdown report also writes a PNG)."""
    check_report_path(path)
    png = _png(trial_figure(result))
    sections = _sections(result)
    title = f"Virtual trial: {', '.join(result.labels)} on the {result.cohort} cohort"
    ev_headers = ["program", "goal", "grade", "what the evidence supports"]
    prior_headers = ["trait", "prior", "source of the prior", "changes in the twin", "source of the mapping"]
    try:
        if path.suffix.lower() == ".html":
            image = base64.b64encode(png).decode("ascii")
            text = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #bbb;padding:3px 6px;font-size:0.9em;
vertical-align:top}}th{{background:#eee}}
.warn{{background:#fff4d6;padding:0.6em;border:1px solid #e0c060}}</style>
</head><body>
<h1>{html.escape(title)}</h1>
<p class="warn"><strong>{html.escape(NOT_EVIDENCE)}</strong> Each program's goal is shown with the grade of
its clinical evidence; the twin's numbers say what the model predicts, not what a person will feel.</p>
<h2>Comparison</h2>
{_html_table(HEADERS, summary_rows(result))}
<h2>Evidence for each program's goal</h2>
{_html_table(ev_headers, sections["evidence"])}
<h2>Spread across the cohort</h2>
<img alt="distribution of each metric per program" src="data:image/png;base64,{image}" style="max-width:100%">
<h2>Cohort: {html.escape(result.cohort)}</h2>
{_html_table(prior_headers, sections["priors"])}
<h2>Method</h2><p>{html.escape(_method(result))}</p>
</body></html>
"""
            path.write_text(text, encoding="utf-8")
            return [path]
        figure = path.with_suffix(".png")
        figure.write_bytes(png)
        text = "\n\n".join(
            [
                f"# {title}",
                f"**{NOT_EVIDENCE}** Each program's goal is shown with the grade of its clinical evidence.",
                "## Comparison",
                _md_table(HEADERS, summary_rows(result)),
                "## Evidence for each program's goal",
                _md_table(ev_headers, sections["evidence"]),
                "## Spread across the cohort",
                f"![distribution of each metric per program]({figure.name})",
                f"## Cohort: {result.cohort}",
                _md_table(prior_headers, sections["priors"]),
                "## Method",
                _method(result),
            ]
        )
        path.write_text(text + "\n", encoding="utf-8")
        return [path, figure]
    except OSError as exc:
        raise ReportError(f"cannot write '{path}': {exc.strerror or exc}") from exc

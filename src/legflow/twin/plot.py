"""A figure of one simulated leg: a representative compression cycle beside the whole session.

Rows, each in the same units on both sides: tissue pressure applied to foot, calf, thigh [mmHg];
venous volume per segment [mL]; venous outflow to the abdomen [mL/s] with its resting value;
interstitial fluid excess per segment [mL]; lymph flow of the leg [mL/h]. The left column plots the
records of the chosen cycle exactly (time from the cycle's start); the right column the whole trace
with the chosen cycle shaded, so the reader sees where it sits.

Built on :class:`matplotlib.figure.Figure` with the Agg canvas, never pyplot: no GUI, no global
figure registry, safe on a machine without a screen. SVG keeps its text as text (searchable, small).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from legflow.errors import LegflowError
from legflow.twin import model as m
from legflow.twin.metrics import compression_cycles, program_metrics
from legflow.twin.solver import Trace
from legflow.twin.subject import COMPARTMENT_NAMES, LEG_SEPARATOR

#: Output formats by file suffix (lower case).
FORMATS: dict[str, str] = {".png": "png", ".svg": "svg"}
LEG_NAMES = ("left", "right")
#: One colour per line label, the same in every panel, so one legend serves the whole figure.
#: Each compartment as the legend names it.
_LABELS = {"foot": "foot", "calf_distal": "lower calf", "calf_proximal": "upper calf", "thigh": "thigh"}
SEGMENT_LABELS = tuple(_LABELS[name] for name in COMPARTMENT_NAMES)
COLOURS = {
    "foot": "tab:blue",
    "lower calf": "tab:orange",
    "upper calf": "tab:brown",
    "thigh": "tab:green",
    "outflow": "tab:red",
}
COLOURS |= {"lymph": "tab:purple", "resting": "0.4"}
PNG_DPI = 100
FIGURE_SIZE_in = (13.0, 13.0)
CYCLE_SHADE = "0.85"


class PlotError(LegflowError):
    """The figure cannot be written: an unsupported suffix or an unwritable path."""


@dataclass(frozen=True)
class Cycle:
    """Record indices of one compression cycle: pressure on at ``start``, off at ``release``,
    next cycle (or the trace's end) at ``end``; the cycle's records are ``start .. end`` inclusive."""

    start: int
    release: int
    end: int


def output_format(path: Path) -> str:
    """The format for ``path`` from its suffix, checked before the (slower) simulation runs."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        allowed = ", ".join(FORMATS)
        raise PlotError(f"cannot write '{path}': unsupported suffix '{path.suffix}' (use one of: {allowed})")
    folder = path.parent
    if not folder.is_dir():
        raise PlotError(f"cannot write '{path}': folder '{folder}' does not exist")
    if not os.access(folder, os.W_OK):
        raise PlotError(f"cannot write '{path}': folder '{folder}' is not writable")
    return fmt


def representative_cycle(trace: Trace, leg: int = 0) -> Cycle | None:
    """The cycle whose ejected volume is nearest the median over cycles that rest after release.

    Why not the first: it starts from rest and ejects more than the rest. Why the median: the session
    summary's per-cycle figures describe a typical cycle; a cycle cut off by a phase change (no
    rest after release) shows no refill, so it is only chosen when no other exists.
    """
    cycles = [Cycle(int(s), int(r), int(e)) for s, r, e in compression_cycles(trace, leg)]
    if not cycles:
        return None
    resting = [c for c in cycles if c.end - c.release >= 2] or cycles
    volume_mL = trace.venous_volume_mL[:, leg]
    ejected_mL = np.array([volume_mL[c.start] - volume_mL[c.start : c.end + 1].min() for c in resting])
    return resting[int(np.argmin(np.abs(ejected_mL - np.median(ejected_mL))))]


class Row(NamedTuple):
    """One row of the figure. ``least_span`` keeps a flat series flat: without it a 1e-15 mL drift
    would fill the axes."""

    key: str
    ylabel: str
    least_span: float
    series: list[tuple[str, np.ndarray]]  # (line label, value per record)


def _rows(trace: Trace, leg: int) -> list[Row]:
    def per_segment(values: np.ndarray) -> list[tuple[str, np.ndarray]]:
        return [(name, values[:, i]) for i, name in enumerate(SEGMENT_LABELS)]

    return [
        Row("pressure", "tissue pressure (mmHg)", 10.0, per_segment(trace.external_mmHg[:, leg])),
        Row(
            "volume", "venous volume (mL)", 10.0, per_segment(trace.states[:, leg, m.VEIN : m.VEIN + m.N_SEG])
        ),
        Row("outflow", "outflow to abdomen (mL/s)", 1.0, [("outflow", trace.outflow_mL_per_s[:, leg])]),
        Row("fluid", "interstitial fluid excess (mL)", 1.0, per_segment(trace.fluid_excess_mL[:, leg])),
        Row("lymph", "lymph flow (mL/h)", 1.0, [("lymph", trace.lymph_mL_per_s[:, leg] * 3600.0)]),
    ]


def caption(trace: Trace, leg: int | None = None) -> str:
    """The session metrics that `legflow twin run` prints, on one line, with the model's caveat:
    the mean of both legs, or ``leg``'s own (a subject whose legs differ)."""
    twin = program_metrics(trace, None if leg is None else [leg])
    session = (
        f"fluid cleared {twin['fluid_cleared_mL']:g} mL · lymph {twin['lymph_mL_per_h']:g} mL/h · "
        f"{twin['cycles']} compression cycles"
    )
    if twin["cycles"]:
        refill = "not reached" if twin["refill_s"] is None else f"{twin['refill_s']:g} s"
        session = (
            f"ejected {twin['ejected_mL_per_cycle']:g} mL per cycle · "
            f"peak outflow {twin['peak_flow_augmentation']:g}× resting · refill {refill} · {session}"
        )
    whose = "Per leg, mean of both legs" if leg is None else "This leg"
    return (
        f"{whose}: {session}.\n"
        "A model prediction, not clinical evidence: see `legflow twin validate` for where it misses."
    )


def session_figure(trace: Trace, program: str, subject: str, posture: str, leg: int = 0) -> Figure:
    """Two columns (one representative cycle | whole session) × five rows for one leg of ``trace``.

    Each plotted series is a :class:`~matplotlib.lines.Line2D` labelled by segment (``foot``,
    ``calf``, ``thigh``) or quantity (``outflow``, ``lymph``); the resting outflow is ``resting``.
    A program without compression cycles leaves the left column empty, saying so.
    """
    rows = _rows(trace, leg)
    cycle = representative_cycle(trace, leg)
    fig = Figure(figsize=FIGURE_SIZE_in, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(rows), 2, sharex="col", width_ratios=(1, 2), squeeze=False)
    session_min = trace.t_s / 60.0
    resting_mL_per_s = float(trace.outflow_mL_per_s[0, leg])
    for row, (left, right) in zip(rows, axes, strict=True):
        for label, values in row.series:
            right.plot(session_min, values, color=COLOURS[label], label=label, linewidth=0.8)
        if row.key == "outflow":
            right.axhline(
                resting_mL_per_s, color=COLOURS["resting"], linestyle="--", linewidth=0.9, label="resting"
            )
        right.set_ylabel(row.ylabel)
        _at_least(right, row.least_span)
        if cycle is None:
            left.set_axis_off()
            continue
        span = slice(cycle.start, cycle.end + 1)
        cycle_s = trace.t_s[span] - trace.t_s[cycle.start]
        for label, values in row.series:
            left.plot(cycle_s, values[span], color=COLOURS[label], label=label, linewidth=1.2)
        if row.key == "outflow":
            left.axhline(
                resting_mL_per_s, color=COLOURS["resting"], linestyle="--", linewidth=0.9, label="resting"
            )
        left.axvline(cycle_s[cycle.release - cycle.start], color="0.5", linestyle=":", linewidth=0.9)
        right.axvspan(session_min[cycle.start], session_min[cycle.end], color=CYCLE_SHADE, zorder=0)
        left.set_ylabel(row.ylabel)
        _at_least(left, row.least_span)
    for ax in axes.flat:
        ax.grid(True, linewidth=0.3)
    _label_columns(axes, trace, cycle)
    handles = {line.get_label(): line for ax in axes[:, 1] for line in ax.lines}
    fig.legend(list(handles.values()), list(handles), loc="outside right upper")
    leg_name = LEG_NAMES[leg] if leg < len(LEG_NAMES) else f"leg {leg}"
    fig.suptitle(f"Leg twin: {program} — subject {subject}, {posture}, {leg_name} leg")
    fig.supxlabel(caption(trace, leg if LEG_SEPARATOR in subject else None), fontsize="small")
    return fig


def _at_least(ax: Axes, span: float) -> None:
    low, high = ax.get_ylim()
    if high - low < span:
        middle = (low + high) / 2.0
        ax.set_ylim(middle - span / 2.0, middle + span / 2.0)


def _label_columns(axes: np.ndarray, trace: Trace, cycle: Cycle | None) -> None:
    axes[-1, 1].set_xlabel("session time (min)")
    if cycle is None:
        axes[0, 1].set_title("whole session")
        axes[len(axes) // 2, 0].text(
            0.5, 0.5, "no compression cycle\nin this program", ha="center", va="center", fontsize="large"
        )
        return
    axes[0, 1].set_title("whole session (shaded: the cycle on the left)")
    axes[-1, 0].set_xlabel("time from cycle start (s)")
    start_min = trace.t_s[cycle.start] / 60.0
    axes[0, 0].set_title(f"one compression cycle, from {start_min:.1f} min (dotted: release)")


def save_figure(fig: Figure, path: Path) -> Path:
    """Write ``fig`` in the format its suffix names; an unwritable path is a :class:`PlotError`."""
    fmt = output_format(path)
    metadata = {"Date": None} if fmt == "svg" else {}
    try:
        with mpl.rc_context({"svg.fonttype": "none", "svg.hashsalt": "legflow"}):  # text as text; stable ids
            fig.savefig(path, format=fmt, dpi=PNG_DPI, metadata=metadata)
    except OSError as exc:
        raise PlotError(f"cannot write '{path}': {exc.strerror or exc}") from exc
    return path

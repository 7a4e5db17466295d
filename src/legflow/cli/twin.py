"""`legflow twin`: the leg twin under a program's ideal cell pressures, and its validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from legflow.anatomy import COMPRESSION_ZONES
from legflow.engine.timeline import Timeline
from legflow.errors import LegflowError
from legflow.programs.model import Program
from legflow.twin.live import TRANSMISSION_RATIO, TWIN_STEP_s
from legflow.twin.metrics import program_metrics
from legflow.twin.model import POSTURES, Posture
from legflow.twin.protocol import DEFAULT_COVERAGE
from legflow.twin.solver import Trace, simulate
from legflow.twin.subject import load_subject

LEGS = ("left", "right")


def check_posture(posture: str) -> Posture:
    """The posture, or one clear error naming the known ones."""
    if posture not in POSTURES:
        raise LegflowError(f"unknown posture '{posture}' (one of: {', '.join(POSTURES)})")
    return posture  # type: ignore[return-value]


def tissue_pressures(
    program: Program, dt_s: float = TWIN_STEP_s, transmission: float = TRANSMISSION_RATIO
) -> np.ndarray:
    """Pressure on foot, calf and thigh tissue of each leg at each step: [n_steps, 2, 3].

    Every zone the program names gets an ideal cell (no device limits beyond the format's 300 mmHg);
    tissue pressure = transmission × Σ coverage × cell pressure.
    """
    legs = [leg for leg in LEGS for _ in COMPRESSION_ZONES]
    zones = [zone for _ in LEGS for zone in COMPRESSION_ZONES]
    table = Timeline(program).setpoint_table(legs, zones, dt_s)  # [n, 10]
    coverage = np.array([DEFAULT_COVERAGE[z] for z in COMPRESSION_ZONES])  # [5, 3]
    per_leg = table.reshape(len(table), len(LEGS), len(COMPRESSION_ZONES))
    return transmission * per_leg @ coverage


def simulate_program(program: Program, subject: str = "adult", posture: str = "supine") -> Trace:
    """Both legs from rest under the program: the one simulation `twin run` and `twin plot` share,
    so a figure always shows the numbers the table reports."""
    external = tissue_pressures(program)
    return simulate(load_subject(subject), external, TWIN_STEP_s, posture=check_posture(posture))


def run_twin(program: Program, subject: str = "adult", posture: str = "supine") -> dict[str, Any]:
    """The twin under the program; returns the session summary's ``twin`` block."""
    trace = simulate_program(program, subject, posture)
    return {"subject": subject, "posture": posture, **program_metrics(trace)}


def plot_twin(
    program: Program,
    label: str,
    output: Path,
    subject: str = "adult",
    posture: str = "supine",
    leg: str = "left",
) -> Path:
    """Simulate and write the figure of :mod:`legflow.twin.plot` to ``output`` (.png or .svg).

    The path is checked before the simulation, so a typo costs no waiting."""
    try:
        from legflow.twin import plot
    except ModuleNotFoundError as exc:  # matplotlib is needed only here
        if exc.name != "matplotlib":
            raise
        raise LegflowError("`legflow twin plot` needs matplotlib: pip install matplotlib") from exc
    if leg not in LEGS:
        raise LegflowError(f"unknown leg '{leg}' (one of: {', '.join(LEGS)})")
    plot.output_format(output)
    trace = simulate_program(program, subject, posture)
    figure = plot.session_figure(trace, label, subject, posture, leg=LEGS.index(leg))
    return plot.save_figure(figure, output)

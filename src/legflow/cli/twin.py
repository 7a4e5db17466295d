"""`legflow twin`: the leg twin under a program's ideal cell pressures, and its validation."""

from __future__ import annotations

from pathlib import Path

from legflow.device.profile import load_profile
from legflow.engine.summary import TwinSummary
from legflow.errors import LegflowError
from legflow.plan.dose_schedule import tissue_pressures
from legflow.programs.model import Program
from legflow.twin.live import TWIN_STEP_s
from legflow.twin.metrics import leg_metrics, program_metrics
from legflow.twin.model import POSTURES, Posture
from legflow.twin.solver import Trace, simulate
from legflow.twin.subject import legs_label, load_legs

LEGS = ("left", "right")
__all__ = ["check_posture", "plot_twin", "run_twin", "simulate_program", "tissue_pressures"]


def check_posture(posture: str) -> Posture:
    """The posture, or one clear error naming the known ones."""
    if posture not in POSTURES:
        raise LegflowError(f"unknown posture '{posture}' (one of: {', '.join(POSTURES)})")
    return posture  # type: ignore[return-value]


def simulate_program(program: Program, subject: str = "adult", posture: str = "supine") -> Trace:
    """Both legs from rest under the program: the one simulation `twin run` and `twin plot` share,
    so a figure always shows the numbers the table reports. The cells are the reference device's
    (its profile's coverage: what `legflow run` squeezes), through the subject's transmission."""
    legs = load_legs(subject, len(LEGS))
    ratios = [leg.circulation.pressure_transmission_ratio for leg in legs]
    ratio = ratios[0] if len(set(ratios)) == 1 else ratios  # each leg through its own skin and fat
    external = tissue_pressures(program, load_profile().zone_covers(), ratio)
    return simulate(legs, external, TWIN_STEP_s, posture=check_posture(posture))


def run_twin(program: Program, subject: str = "adult", posture: str = "supine") -> TwinSummary:
    """The twin under the program; returns the session summary's ``twin`` block."""
    trace = simulate_program(program, subject, posture)
    metrics = program_metrics(trace)
    legs = load_legs(subject, len(LEGS))
    per_leg = leg_metrics(trace, [leg.name for leg in legs])
    return TwinSummary.of(
        legs_label(legs), posture, metrics if per_leg is None else {**metrics, "legs": per_leg}
    )


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

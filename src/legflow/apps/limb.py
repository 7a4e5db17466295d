"""The leg twin inside a device's cells: the `Limb` a session reads, and the limb a simulated
massager or an emulator squeezes."""

from __future__ import annotations

from collections.abc import Callable

from legflow.device.profile import DeviceProfile
from legflow.engine.intensity import scaled
from legflow.plan.dose_schedule import tissue_pressures
from legflow.programs.model import Program
from legflow.twin.live import LiveTwin, TWIN_STEP_s
from legflow.twin.metrics import program_metrics
from legflow.twin.model import Posture
from legflow.twin.solver import simulate
from legflow.twin.subject import load_legs

#: What the cost of an intensity reports, of the twin's metrics.
COST_METRICS = ("ejected_mL_per_cycle", "fluid_cleared_mL")


def intensity_cost(
    program: Program, profile: DeviceProfile, subject: str = "adult", posture: Posture = "supine"
) -> Callable[[dict[str, float]], dict[str, float]]:
    """What the program gives the leg at per-zone shares of its pressures: the twin alone (as
    `legflow twin run` runs it, here under this device's cells) over the program scaled, blood
    ejected per cycle and fluid cleared, means of the legs. A share of 0 is a zone paused."""
    legs = load_legs(subject, len(profile.legs))
    ratios = [leg.circulation.pressure_transmission_ratio for leg in legs]
    ratio = ratios[0] if len(set(ratios)) == 1 else ratios

    def cost(shares: dict[str, float]) -> dict[str, float]:
        external = tissue_pressures(scaled(program, shares), profile.zone_covers(), ratio)
        metrics = program_metrics(simulate(legs, external, TWIN_STEP_s, posture=posture))
        return {
            name: round(float(metrics[name]), 1) for name in COST_METRICS if metrics.get(name) is not None
        }

    return cost


def leg_twin(profile: DeviceProfile, subject: str = "adult", posture: Posture = "supine") -> LiveTwin:
    """The leg twin of a named subject inside a device's cells (every leg of the profile): one
    parameter set, or one per leg (``adult,oedema``, `load_legs`)."""
    legs = range(len(profile.legs))
    return LiveTwin(
        load_legs(subject, len(profile.legs)),
        [cell.covers for _ in legs for cell in profile.cells],
        [leg for leg in legs for _ in profile.cells],
        posture,
    )

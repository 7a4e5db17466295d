"""A program as the twin sees it: tissue pressure on foot, calf and thigh of each leg at each step.

Shared by ``legflow twin`` (one subject) and ``legflow.trials`` (cohorts). It joins the program's
cell setpoints over time (``programs.timeline``, a pure function of the program: no clock,
controller or massager) with the ``twin`` (coverage of cells over segments, transmission through
skin and fat), so it sits in ``plan``, above both; ``trials`` reaches the timeline through here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from legflow.anatomy import COMPRESSION_ZONES, LEGS
from legflow.programs.model import Program
from legflow.programs.timeline import Timeline
from legflow.twin.live import TWIN_STEP_s
from legflow.twin.subject import COMPARTMENT_NAMES

ZoneCovers = Mapping[str, Mapping[str, float]]


def tissue_pressures(
    program: Program,
    zone_covers: ZoneCovers,
    transmission_ratio: float | Sequence[float],
    dt_s: float = TWIN_STEP_s,
) -> np.ndarray:
    """Pressure on foot, calf and thigh tissue of each leg at each step: [n_steps, 2, 3].

    Every zone the program names gets an ideal cell (no device limits beyond the format's 300 mmHg)
    covering what ``zone_covers`` says (a device profile's `DeviceProfile.zone_covers`: the same
    cells `legflow run` squeezes); tissue pressure = the subject's transmission ratio × Σ coverage ×
    cell pressure (``transmission_ratio``: one for both legs, or each leg's).
    """
    legs = [leg for leg in LEGS for _ in COMPRESSION_ZONES]
    zones = [zone for _ in LEGS for zone in COMPRESSION_ZONES]
    table = Timeline(program).setpoint_table(legs, zones, dt_s)  # [n, 10]
    cover = zone_covers.get
    segments = COMPARTMENT_NAMES
    coverage = np.array(
        [[cover(z, {}).get(s, 0.0) for s in segments] for z in COMPRESSION_ZONES]
    )  # [5, N_SEG]
    per_leg = table.reshape(len(table), len(LEGS), len(COMPRESSION_ZONES))
    if isinstance(transmission_ratio, float | int):
        return transmission_ratio * per_leg @ coverage
    return np.asarray(transmission_ratio)[None, :, None] * per_leg @ coverage

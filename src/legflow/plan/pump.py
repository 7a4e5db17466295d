"""Pump capacity: the air each inflate ramp of a program needs against what the device's pump can
deliver in the ramp's time. The device check (`plan.check`) warns about a ramp a little too fast
for the pump and refuses one far too fast.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from legflow.device.profile import DeviceProfile
from legflow.programs.model import Compression, Program

#: A ramp that needs more than this many times its inflate time of the pump is refused, not only
#: warned about: it would last over twice as long as written, so the phase's timing (the holds, a
#: wave's travel, the rest) no longer means what the program says.
PUMP_REFUSE_RATIO = 2.0


@dataclass(frozen=True)
class Fill:
    """One inflate ramp of one leg: the cells that fill together from vented, the air they take
    and what the leg's pump can deliver in the ramp's time (volumes at atmospheric pressure)."""

    phase: int
    zones: tuple[str, ...]
    cells: tuple[str, ...]
    pressure_mmHg: float  # the highest target among them
    inflate_s: float
    needed_mL: float
    deliverable_mL: float
    shortest_inflate_s: float
    back_pressure_mmHg: float

    @property
    def ratio(self) -> float:
        """How many times the written inflate time the pump needs (over 1: too fast)."""
        return self.shortest_inflate_s / self.inflate_s


def cell_fill_mL(volume_mL: float, pressure_mmHg: float) -> float:
    """Air (at atmospheric pressure) a cell takes from vented to ``pressure_mmHg``, by the
    simulator's own gas law (`legflow.device.sim.simulator.cell_air_mL`). It leaves out the limb
    yielding under the cell (more room, more air) and the manifold's own gas, so it never overstates.
    """
    # imported here: the sim package loads numba, which `legflow check` pays for only when it counts air
    from legflow.device.sim.simulator import cell_air_mL

    return cell_air_mL(volume_mL, pressure_mmHg) - cell_air_mL(volume_mL, 0.0)


def ramp_groups(c: Compression) -> list[tuple[str, ...]]:
    """Zones whose inflate ramps run at the same time, in order.

    As the timeline lays them out (`legflow.programs.timeline.zone_fraction`): pulse and hold ramp
    every zone at once from the cycle's start; sequential and wave start zone i at i·(inflate + delay)
    and, with delay ≥ 0 (the schema's range), each ramp ends before the next begins.
    """
    zones = [z for z, p in c.zone_pressures().items() if p > 0]
    if c.pattern in ("pulse", "hold"):
        return [tuple(zones)] if zones else []
    groups: list[tuple[str, ...]] = []
    end_s = -math.inf
    for i, zone in enumerate(c.zones):
        start_s = i * (c.inflate_s + c.delay_s)
        if zone in zones:
            if groups and start_s < end_s:
                groups[-1] = (*groups[-1], zone)
            else:
                groups.append((zone,))
            end_s = start_s + c.inflate_s
    return groups


def pump_fills(program: Program, profile: DeviceProfile) -> list[Fill]:
    """Every distinct inflate ramp of the program on one leg of this device, with the air it needs
    and the air the pump can give; empty when the profile gives no pump.

    The cells of a ramp follow linear setpoints up to their targets together, so the manifold feeding
    them stands at least at the highest setpoint: on average half the highest target over the ramp.
    The pump curve being linear, its mean flow is its flow at that mean back-pressure. The inlet
    valves' pressure drop and the pump's spin-up are left out: the pump can only do worse, so a
    finding means the ramp cannot be followed, while a ramp that passes may still end a little low.
    """
    found: list[Fill] = []
    for i, phase in enumerate(program.phases):
        c = phase.compression
        if c is None or not phase.squeezes:
            continue
        targets = c.zone_pressures()
        for zones in ramp_groups(c):
            cells = [(cell, targets[z]) for z in zones for cell in profile.cells_in_zone(z)]
            if not cells:
                continue  # no such cell on this device: a finding of its own
            top_mmHg = max(p for _, p in cells)
            back_mmHg = top_mmHg / 2.0
            flow = profile.pump_flow_L_per_min(back_mmHg)
            if flow is None:
                return []
            flow_mL_per_s = flow * 1000.0 / 60.0
            needed = sum(cell_fill_mL(cell.volume_mL, p) for cell, p in cells)
            found.append(
                Fill(
                    phase=i,
                    zones=zones,
                    cells=tuple(cell.name for cell, _ in cells),
                    pressure_mmHg=top_mmHg,
                    inflate_s=c.inflate_s,
                    needed_mL=needed,
                    deliverable_mL=flow_mL_per_s * c.inflate_s,
                    shortest_inflate_s=needed / flow_mL_per_s if flow_mL_per_s > 0 else math.inf,
                    back_pressure_mmHg=back_mmHg,
                )
            )
    return found

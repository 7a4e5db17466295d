"""The pressure controller on its own: what it asks of the pump and valves for a held cell."""

from __future__ import annotations

import numpy as np

from legflow.device.massager import Commands
from legflow.engine.controller import ControllerSettings, PressureController

TICK_s = 0.02


def test_a_top_up_that_does_not_raise_its_cell_pushes_harder_until_it_does():
    """A calf held for 96 mmHg reads 92 while the limb under it empties (sitting or standing): a
    top-up at a fixed duty of 0.4 left it there, fed without a break, for seconds, which the
    supervisor's refill demand took for a hole. The top-up starts a gentle push above the duty that
    only holds the pump against the cell, and climbs while the cell does not rise."""
    ctl = PressureController(1, np.array([0]), 1)
    out = Commands.idle(1, 1)
    duties = []
    for k in range(20):
        reading = 92.0 + 0.05 * (-1) ** k  # sensor noise, no rise
        ctl.update(np.array([96.0]), np.array([reading]), TICK_s, out)
        duties.append(float(out.pump_duty[0]) if out.inlet_open[0] else 0.0)
    holding = 92.0 / ControllerSettings().pump_shutoff_mmHg
    first = next(d for d in duties if d > 0.0)
    assert holding < first < holding + 0.3  # a breath above holding, not a burst
    assert duties[-1] > 0.9  # and it climbs while the cell stays put

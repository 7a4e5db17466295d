"""The pump check of `legflow.plan.pump`: a ramp that asks more air than a leg's pump can deliver in its
inflate time is a warning (far too fast: refused); the estimate uses the simulator's own physics."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from cli_helpers import run_cli
from legflow.clock import VirtualClock
from legflow.device.massager import Commands
from legflow.device.profile import DeviceProfile, load_profile
from legflow.device.sim import SimulatedMassager, physics
from legflow.device.sim.parameters import ATMOSPHERE_Pa, MMHG_Pa, SimParameters
from legflow.device.sim.simulator import _cell_params
from legflow.engine.controller import ControllerSettings
from legflow.engine.session import Session
from legflow.errors import DeviceError, ProgramError
from legflow.plan import check_source, device_findings, device_warnings
from legflow.plan.pump import PUMP_REFUSE_RATIO, cell_fill_mL, pump_fills, ramp_groups
from legflow.programs.library import builtin_names, builtin_source
from legflow.programs.loader import validate_text
from legflow.programs.model import Compression
from legflow.programs.timeline import zone_fraction
from legflow.safety.limits import DEFAULT_LIMITS
from legflow.safety.supervisor import Supervisor

REFERENCE = load_profile("reference")

#: pre-sport's pulse phase as it was: calf, knee and thigh 0 -> 50 mmHg together.
PULSE = """\
[program]
name = "pulse"
goal = "custom"
legs = "both"

[[phase]]
name = "pulses"
duration_min = 1
  [phase.compression]
  pattern = "{pattern}"
  zones = ["calf", "knee", "thigh"]
  pressure_mmHg = 50
  inflate_s = {inflate_s}
  delay_s = 0.0
  hold_s = 5.0
  release_s = 2.0
  rest_s = 10.0
"""


def _pulse(inflate_s: float, pattern: str = "pulse"):
    return validate_text(PULSE.format(inflate_s=inflate_s, pattern=pattern), "pulse.toml")


def _with_pump(free_flow_L_per_min: float | None, shutoff_mmHg: float | None) -> DeviceProfile:
    data = {**REFERENCE.model_dump(), "pump_free_flow_L_per_min": free_flow_L_per_min}
    return DeviceProfile.model_validate({**data, "pump_shutoff_mmHg": shutoff_mmHg})


def test_the_simulated_pump_is_the_profiles():
    """The simulator reads the pump curve from the device profile: a pump dead-headed against
    closed inlets stalls at the profile's own shut-off pressure."""
    dead_head = {}
    for profile in (REFERENCE, _with_pump(13.0, 250.0)):
        clock = VirtualClock()
        sim = SimulatedMassager(profile, clock)
        cmd = Commands.idle(sim.n_legs, sim.n_cells)
        cmd.pump_duty[0] = 1.0  # every inlet closed
        for _ in range(100):
            sim.apply(cmd)  # (each command also feeds the device's heartbeat watchdog)
            clock.advance(0.02)
            sim.read()
        dead_head[profile.pump_shutoff_mmHg] = float(sim.true_manifold_mmHg[0])
    assert dead_head[400.0] == pytest.approx(400.0, rel=0.03)
    assert dead_head[250.0] == pytest.approx(250.0, rel=0.03)


def test_a_profile_without_a_pump_curve_cannot_be_simulated():
    with pytest.raises(DeviceError, match="gives no pump curve"):
        SimulatedMassager(_with_pump(None, None), VirtualClock())


def test_the_controller_holds_with_the_profiles_pump_curve():
    assert ControllerSettings.for_profile(REFERENCE).pump_shutoff_mmHg == REFERENCE.pump_shutoff_mmHg
    clock = VirtualClock()
    supervisor = Supervisor(SimulatedMassager(_with_pump(13.0, 250.0), clock), DEFAULT_LIMITS, clock)
    session = Session(_pulse(2.0).program, "pulse", supervisor, clock)
    assert session.pressure_ctl.settings.pump_shutoff_mmHg == 250.0  # what its controller holds with


def test_cell_fill_is_the_simulators_gas_law():
    """The kernel's own gas amount of each reference cell, vented and at 50 and 100 mmHg."""
    cells = _cell_params(REFERENCE, SimParameters())
    for i, cell in enumerate(REFERENCE.cells):
        vented = physics.gas_amount(cells[i], 0.0, ATMOSPHERE_Pa)[0]
        for p_mmHg in (50.0, 100.0):
            full = physics.gas_amount(cells[i], p_mmHg * MMHG_Pa, ATMOSPHERE_Pa)[0]
            assert cell_fill_mL(cell.volume_mL, p_mmHg) == pytest.approx((full - vented) * 1e6, rel=1e-3)


def test_the_old_pulse_phase_is_too_fast_for_the_reference_pump():
    """1053 mL of air wanted in 2 s; the pump gives 26 L/min x (1 - 25/400) x 2 s = 812 mL."""
    source = _pulse(2.0)
    (fill,) = pump_fills(source.program, REFERENCE)
    assert fill.cells == ("calf", "knee", "thigh")
    assert fill.needed_mL == pytest.approx(1053, abs=2)
    assert fill.deliverable_mL == pytest.approx(812.5, abs=0.5)
    assert fill.shortest_inflate_s == pytest.approx(2.59, abs=0.01)
    # a warning: it still runs (the cells fill late), so it is not a refusal
    assert not device_findings(source.program, REFERENCE, DEFAULT_LIMITS)
    (warning,) = check_source(source, REFERENCE, DEFAULT_LIMITS)
    assert warning.field == "phase[1].compression.inflate_s"
    assert warning.line == PULSE.splitlines().index("  inflate_s = {inflate_s}") + 1
    for text in ("calf, knee, thigh", "~1053 mL", "~812 mL", "25 mmHg", "inflate_s ≥ 2.6 s", "'reference'"):
        assert text in warning.message


def test_a_pulse_far_too_fast_is_refused_everywhere(tmp_path, capsys, monkeypatch):
    """1 s for the same fill: the pump needs 2.6 times as long, over the refusal ratio of 2."""
    source = _pulse(1.0)
    assert pump_fills(source.program, REFERENCE)[0].ratio > PUMP_REFUSE_RATIO
    assert not device_warnings(source.program, REFERENCE)
    with pytest.raises(ProgramError, match=r"inflate_s ≥ 2\.6 s \(refused"):
        check_source(source, REFERENCE, DEFAULT_LIMITS)
    path = tmp_path / "fast.toml"
    path.write_text(PULSE.format(inflate_s=1.0, pattern="pulse"), encoding="utf-8")
    result = run_cli(capsys, monkeypatch, "check", str(path), "--profile", "reference")
    assert result.code == 2
    assert "phase[1].compression.inflate_s: calf, knee, thigh fill together" in result.out


def test_legflow_check_lengthens_a_ramp_a_little_too_fast_and_says_so(tmp_path, capsys, monkeypatch):
    """The run adapts the program to the pump: the ramp takes the 2.6 s the pump needs, and that
    change is listed (a session on it runs the lengthened ramp, `tests/test_adapt.py`)."""
    path = tmp_path / "pulse.toml"
    path.write_text(PULSE.format(inflate_s=2.0, pattern="pulse"), encoding="utf-8")
    result = run_cli(capsys, monkeypatch, "check", str(path), "--profile", "reference")
    assert result.code == 0
    assert "on device 'reference': inflate 2 s lengthened to 2.6 s, what the pump needs" in result.err
    assert f"{path}: ok, adapted to device 'reference'" in result.err


def test_a_fill_the_pump_can_do_passes():
    for source in (_pulse(3.0), _pulse(2.0, pattern="sequential"), _pulse(2.0, pattern="wave")):
        assert not device_findings(source.program, REFERENCE, DEFAULT_LIMITS)
        assert check_source(source, REFERENCE, DEFAULT_LIMITS) == []
    # one cell at a time, each fits: the thigh (the biggest) alone takes ~526 mL of the 812 mL
    fills = pump_fills(_pulse(2.0, pattern="sequential").program, REFERENCE)
    assert [f.cells for f in fills] == [("calf",), ("knee",), ("thigh",)]
    assert max(f.ratio for f in fills) < 0.7


def test_a_profile_without_a_pump_is_not_checked_and_half_a_pump_is_refused():
    data = REFERENCE.model_dump()
    bare = DeviceProfile.model_validate({**data, "pump_free_flow_L_per_min": None, "pump_shutoff_mmHg": None})
    assert pump_fills(_pulse(1.0).program, bare) == []
    assert not device_findings(_pulse(1.0).program, bare, DEFAULT_LIMITS)
    with pytest.raises(ValidationError, match="both"):
        DeviceProfile.model_validate({**data, "pump_shutoff_mmHg": None})


@pytest.mark.parametrize("pattern", ["sequential", "wave", "pulse", "hold"])
@pytest.mark.parametrize("delay_s", [0.0, 0.7])
def test_ramp_groups_are_the_zones_the_timeline_ramps_at_once(pattern, delay_s):
    c = Compression(
        pattern=pattern, zones=["foot", "calf", "thigh"], pressure_mmHg=[40.0, 35.0, 30.0],
        inflate_s=2.0, delay_s=delay_s, hold_s=3.0, release_s=2.0, rest_s=5.0,
    )  # fmt: skip
    t = np.arange(0.0, 20.0, 0.01)
    rising = [np.diff(zone_fraction(c, i, t)) > 0 for i in range(len(c.zones))] if pattern != "hold" else None
    if rising is None:  # hold: one ramp of every zone from the phase's start
        assert ramp_groups(c) == [("foot", "calf", "thigh")]
        return
    together = {tuple(z for z, r in zip(c.zones, rising, strict=True) if r[k]) for k in range(t.size - 1)}
    assert sorted(g for g in together if g) == sorted(ramp_groups(c))


@pytest.mark.parametrize("name", builtin_names())
def test_every_builtin_program_fits_the_reference_pump(name):
    program = builtin_source(name).program
    assert not device_findings(program, REFERENCE, DEFAULT_LIMITS)
    assert device_warnings(program, REFERENCE) == []

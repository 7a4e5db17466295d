"""The simulated massager: its physics, its sensors, its failsafes and the signature of every fault.

Everything runs on a `VirtualClock`; nothing sleeps.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from legflow.clock import VirtualClock
from legflow.device.faults import FAULT_KINDS, FaultSpec
from legflow.device.massager import Commands, HEARTBEAT_TIMEOUT_s, Massager
from legflow.device.profile import load_profile, profile_names
from legflow.device.sim import SimParameters, SimulatedMassager, warm_up
from legflow.engine.session import Session
from legflow.errors import DeviceError
from legflow.programs.library import builtin_source
from legflow.safety.limits import DEFAULT_LIMITS
from legflow.safety.supervisor import Supervisor

PROFILE = load_profile("reference")
NAMES = PROFILE.cell_names()
CALF = NAMES.index("left.calf")
THIGH = NAMES.index("left.thigh")
TICK_s = 0.02


#: Physics tests pump far past any rating; the device's own over-pressure switch (tested on its own
#: below) is set out of their way.
NO_TRIP = {"trip_margin_mmHg": 1000.0}


def make(faults: tuple[str, ...] = (), seed: int = 0, **params) -> tuple[SimulatedMassager, VirtualClock]:
    clock = VirtualClock()
    specs = [FaultSpec.parse(f) for f in faults]
    return SimulatedMassager(
        PROFILE, clock, specs, seed, params=SimParameters(**{**NO_TRIP, **params})
    ), clock


def idle(sim: Massager) -> Commands:
    return Commands.idle(sim.n_legs, sim.n_cells)


def inflate(sim: Massager, *cells: int) -> Commands:
    """Pump on the cells' legs, their inlets open and exhausts closed; every other cell vents."""
    cmd = idle(sim)
    for i in cells:
        cmd.pump_duty[i // len(PROFILE.cells)] = True
        cmd.inlet_open[i] = True
        cmd.exhaust_open[i] = False
    return cmd


def hold(sim: Massager, *cells: int) -> Commands:
    cmd = idle(sim)
    cmd.exhaust_open[list(cells)] = False
    return cmd


def run(sim: SimulatedMassager, clock: VirtualClock, cmd: Commands, seconds: float, tick_s: float = TICK_s):
    """Apply `cmd` every tick for `seconds` (each apply is a heartbeat); returns the last reading."""
    for _ in range(round(seconds / tick_s)):
        sim.apply(cmd)
        clock.advance(tick_s)
    return sim.read()


def fill_time_s(sim: SimulatedMassager, clock: VirtualClock, cell: int, target_mmHg: float = 60.0) -> float:
    cmd = inflate(sim, cell)
    t0 = clock.now()
    while sim.true_pressure_mmHg[cell] < target_mmHg:
        assert clock.now() - t0 < 10.0, "never reached the target"
        sim.apply(cmd)
        clock.advance(0.005)
    return clock.now() - t0


def fill_to(sim, clock, cell, target_mmHg=60.0):
    fill_time_s(sim, clock, cell, target_mmHg)
    return run(sim, clock, hold(sim, cell), 0.2)


# --- interface and numerics ----------------------------------------------------------------------
def test_it_is_a_massager_with_every_sensor_per_leg_and_cell():
    warm_up()
    sim, clock = make()
    assert isinstance(sim, Massager)
    s = sim.read()
    assert s.pressure_mmHg.shape == (10,)
    for arr in (s.manifold_mmHg, s.skin_temp_C, s.pump_current_A, s.roller_current_A, s.vibration_current_A):
        assert arr.shape == (2,)
    assert s.seq == 1 and s.t_s == 0.0 and not s.relay_open
    clock.advance(0.1)
    s2 = sim.read()
    assert s2.seq == 2 and s2.t_s == pytest.approx(0.1)


def test_one_long_step_matches_many_ticks():
    """Fixed substeps inside the kernel: the result does not depend on how often the host calls."""
    a, ca = make()
    b, cb = make()
    cmd = inflate(a, CALF, THIGH)
    run(a, ca, cmd, 1.0, tick_s=0.02)
    run(b, cb, cmd, 1.0, tick_s=0.25)
    assert a.true_pressure_mmHg == pytest.approx(b.true_pressure_mmHg, abs=0.5)


def test_unconditionally_stable_with_a_coarse_substep():
    """Linearised backward Euler: even a 20 ms substep (longer than the valve stroke) stays finite
    and close to the fine solution."""
    fine, cf = make()
    coarse, cc = make(substep_s=0.02)
    for sim, clock in ((fine, cf), (coarse, cc)):
        run(sim, clock, inflate(sim, CALF, THIGH), 1.0)
        run(sim, clock, idle(sim), 1.0)
    assert np.all(np.isfinite(coarse.true_pressure_mmHg))
    assert coarse.true_pressure_mmHg == pytest.approx(fine.true_pressure_mmHg, abs=2.0)


def test_quiet_legs_in_one_step_match_fine_substeps_everywhere():
    """A session's commands replayed twice: the default numerics (2 ms substeps, quiet legs one step
    per call) against 0.5 ms substeps on every leg all the time. The true pressures agree within
    the default substep's own error (measured at most 1.4 mmHg against 0.5 ms)."""
    clock = VirtualClock()
    recorder = SimulatedMassager(PROFILE, clock)
    applied: list[tuple[float, Commands]] = []
    apply = recorder.apply
    recorder.apply = lambda c: (applied.append((clock.now(), copy.deepcopy(c))), apply(c))  # type: ignore[method-assign]
    program = builtin_source("circulation").program
    session = Session(program, "circulation", Supervisor(recorder, DEFAULT_LIMITS, clock), clock)
    session.run(on_update=lambda state: session.control.stop() if state.t_s >= 40.0 else None)
    default, default_clock = make()
    fine, fine_clock = make(substep_s=0.0005, quiet_legs_one_step=False)
    gaps, highest = [], 0.0
    for t_s, commands in applied:
        for sim, sim_clock in ((default, default_clock), (fine, fine_clock)):
            sim_clock.advance(t_s - sim_clock.now())
            sim.apply(commands)
        gaps.append(np.abs(default.true_pressure_mmHg - fine.true_pressure_mmHg).max())
        highest = max(highest, float(fine.true_pressure_mmHg.max()))
    assert len(gaps) > 1500 and highest > 40.0  # squeezes, holds and rests were all replayed
    assert np.percentile(gaps, 99) <= 1.0 and max(gaps) <= 2.0


@pytest.mark.parametrize("name", profile_names())
def test_every_profile_simulates(name):
    profile = load_profile(name)
    clock = VirtualClock()
    sim = SimulatedMassager(profile, clock, params=SimParameters(**NO_TRIP))
    cmd = Commands.idle(sim.n_legs, sim.n_cells)
    cmd.pump_duty[:] = True
    cmd.inlet_open[:] = True
    cmd.exhaust_open[:] = False
    cmd.heater_power[:] = 1.0
    cmd.roller_speed[:] = 1.0
    cmd.vibration_level[:] = 5
    s = run(sim, clock, cmd, 6.0)  # one pump fills every cell of its leg together
    assert np.all(sim.true_pressure_mmHg > 20.0)
    assert np.all(np.isfinite(s.pressure_mmHg)) and np.all(np.isfinite(s.skin_temp_C))
    assert (s.roller_current_A.max() > 0.1) == (profile.rollers is not None)
    assert (s.vibration_current_A.max() > 0.1) == (profile.vibration_max_level > 0)
    assert (sim.heater_power_W.max() > 0.0) == (profile.heater_max_C is not None)


# --- pneumatics ----------------------------------------------------------------------------------
def test_pump_curve_is_linear_from_free_flow_to_shutoff():
    sim, clock = make()
    p, pump = sim.params, sim.profile
    run(sim, clock, inflate(sim, THIGH), 0.3)  # spun up, cell still soft: near free flow
    pm = sim.true_manifold_mmHg[0]
    expected = pump.pump_flow_L_per_min(pm)
    assert sim.true_pump_flow_L_per_min[0] == pytest.approx(expected, rel=0.02)
    cmd = idle(sim)
    cmd.pump_duty[0] = True  # dead-headed: every inlet closed
    s = run(sim, clock, cmd, 2.0)
    assert sim.true_manifold_mmHg[0] == pytest.approx(pump.pump_shutoff_mmHg, rel=0.03)
    assert sim.true_pump_flow_L_per_min[0] < 0.03 * pump.pump_free_flow_L_per_min
    assert s.manifold_mmHg[0] == pytest.approx(sim.true_manifold_mmHg[0], abs=3.0)
    assert s.pump_current_A[0] > p.pump_free_current_A + 0.5  # pumping against pressure costs current


def test_largest_cell_fills_to_60_mmHg_in_under_1_6_s():
    times = {}
    for cell in (CALF, THIGH):
        sim, clock = make()
        times[cell] = fill_time_s(sim, clock, cell)
    assert 0.3 < times[CALF] < times[THIGH] < 1.6


def test_a_held_cell_keeps_its_pressure_with_only_a_small_leak():
    sim, clock = make()
    fill_to(sim, clock, THIGH)
    p0 = sim.true_pressure_mmHg[THIGH]
    run(sim, clock, hold(sim, THIGH), 30.0, tick_s=0.1)
    p1 = sim.true_pressure_mmHg[THIGH]
    assert 0.0 < p0 - p1 < 3.0


def test_the_exhaust_vents_a_cell_to_zero_within_seconds():
    sim, clock = make()
    fill_to(sim, clock, THIGH)
    run(sim, clock, idle(sim), 4.0)
    assert sim.true_pressure_mmHg[THIGH] < 1.0


def test_valves_take_their_switching_time():
    sim, clock = make()
    cmd = inflate(sim, CALF)
    sim.apply(cmd)
    clock.advance(0.004)
    inlet, exhaust = sim.true_valve_opening
    assert 0.0 < inlet[CALF] < 1.0 and 0.0 < exhaust[CALF] < 1.0
    clock.advance(sim.params.valve_switching_s)
    inlet, exhaust = sim.true_valve_opening
    assert inlet[CALF] == 1.0 and exhaust[CALF] == 0.0


def test_a_swelling_limb_raises_the_pressure_of_a_closed_cell():
    sim, clock = make()
    fill_to(sim, clock, CALF, 40.0)
    p0 = sim.true_pressure_mmHg[CALF]
    change = np.zeros(sim.n_cells)
    change[CALF] = 20.0
    sim.set_limb_volume_change_mL(change)
    assert sim.true_pressure_mmHg[CALF] > p0 + 3.0
    change[CALF] = -20.0
    sim.set_limb_volume_change_mL(change)
    assert sim.true_pressure_mmHg[CALF] < p0 - 3.0


class _RampLimb:
    """A limb under the given cells whose volume moves at a steady rate (the twin's interface)."""

    step_s = 0.1

    def __init__(self, n_cells: int, cells: list[int], start_mL: float, rate_mL_per_s: float):
        self.t_s, self.n_cells, self.cells = 0.0, n_cells, cells
        self.start_mL, self.rate_mL_per_s = start_mL, rate_mL_per_s

    def step(self, cell_mmHg: np.ndarray) -> None:
        self.t_s += self.step_s

    def limb_volume_change_mL(self) -> np.ndarray:
        change = np.zeros(self.n_cells)
        change[self.cells] = self.start_mL + self.rate_mL_per_s * self.t_s
        return change


@pytest.mark.parametrize("one_step", [True, False], ids=["quiet-one-step", "substeps"])
@pytest.mark.parametrize("rate_mL_per_s", [1.0, -1.0], ids=["swelling", "emptying"])
def test_a_vented_cell_stays_near_zero_while_the_limb_fills_its_bladder(one_step, rate_mL_per_s):
    """A limb that swells past the deflated bladder's residual volume leaves the cell's gas at its
    floor (the tube), where dN/dp is a thousandth of what it is a fraction of a mmHg higher. A cell
    vented there after a squeeze sits at 0 mmHg (open to air through its exhaust) while the limb
    keeps swelling or emptying across that floor; one linearised step per tick or substep threw it
    to -10..-220 mmHg and back."""
    foot = [NAMES.index("left.foot"), NAMES.index("right.foot")]
    residual_mL = SimParameters().cell_residual_fraction * PROFILE.cells_in_zone("foot")[0].volume_mL
    start_mL = residual_mL - 5.0 if rate_mL_per_s > 0 else residual_mL + 35.0
    clock = VirtualClock()
    limb = _RampLimb(len(NAMES), foot, start_mL, rate_mL_per_s)
    params = SimParameters(quiet_legs_one_step=one_step)
    sim = SimulatedMassager(PROFILE, clock, seed=1, params=params, limb=limb)
    true_worst = sensed_worst = 0.0
    for _ in range(10):  # squeeze, hold, vent for 3 s
        run(sim, clock, inflate(sim, *foot), 0.4)
        run(sim, clock, hold(sim, *foot), 0.5)
        for tick in range(round(3.0 / TICK_s)):
            sim.apply(idle(sim))
            clock.advance(TICK_s)
            sensed = sim.read().pressure_mmHg[foot]
            if tick * TICK_s >= 1.0:  # vented for a second: the squeeze's gas is out
                true_worst = max(true_worst, float(np.abs(sim.true_pressure_mmHg[foot]).max()))
                sensed_worst = max(sensed_worst, float(np.abs(sensed).max()))
    assert limb.limb_volume_change_mL()[foot[0]] == pytest.approx(start_mL + 39.0 * rate_mL_per_s, abs=0.2)
    assert true_worst < 1.0 and sensed_worst < 3.0


# --- sensors --------------------------------------------------------------------------------------
def test_pressure_sensors_have_offset_noise_and_quantisation():
    sim, clock = make(seed=3)
    p = sim.params
    readings = []
    for _ in range(400):  # vented, truth is 0 mmHg
        sim.apply(idle(sim))
        clock.advance(TICK_s)
        readings.append(sim.read().pressure_mmHg)
    r = np.array(readings)
    assert np.abs(sim.true_pressure_mmHg).max() < 1e-6
    steps = r / p.pressure_lsb_mmHg
    assert np.allclose(steps, np.round(steps), atol=1e-6)  # on the ADC grid
    sd = r.std(axis=0)
    assert np.all((sd > 0.7 * p.pressure_noise_sd_mmHg) & (sd < 1.3 * p.pressure_noise_sd_mmHg))
    offsets = r.mean(axis=0)
    assert np.ptp(offsets) > 0.2  # each sensor has its own offset
    assert np.abs(offsets).max() < 5 * p.pressure_offset_sd_mmHg


def test_same_seed_same_readings_other_seed_other_readings():
    a, ca = make(seed=7)
    b, cb = make(seed=7)
    c, cc = make(seed=8)
    for sim, clock in ((a, ca), (b, cb), (c, cc)):
        run(sim, clock, inflate(sim, CALF), 0.5)
    ra, rb, rc = a.read(), b.read(), c.read()
    assert np.array_equal(ra.pressure_mmHg, rb.pressure_mmHg)
    assert not np.array_equal(ra.pressure_mmHg, rc.pressure_mmHg)


def test_the_pressure_sensor_lags_a_fast_rise():
    sim, clock = make(pressure_noise_sd_mmHg=0.0, pressure_offset_sd_mmHg=0.0, pressure_lag_s=0.05)
    run(sim, clock, inflate(sim, CALF), 0.8, tick_s=0.01)  # rising fast now: ~100 mmHg/s
    s = sim.read()
    assert s.pressure_mmHg[CALF] < sim.true_pressure_mmHg[CALF] - 2.0


# --- heater and motors ----------------------------------------------------------------------------
def test_heater_warms_over_minutes_and_cools_when_off():
    sim, clock = make(substep_s=0.01)
    t_rest = sim.true_skin_temp_C[0]
    cmd = idle(sim)
    cmd.heater_power[:] = 1.0
    run(sim, clock, cmd, 30.0, tick_s=0.25)
    assert sim.true_skin_temp_C[0] - t_rest < 1.5  # a pad has thermal mass
    s = run(sim, clock, cmd, 270.0, tick_s=0.25)
    warm = sim.true_skin_temp_C[0]
    assert warm - t_rest > 3.0
    assert s.skin_temp_C[0] == pytest.approx(warm, abs=0.6)
    run(sim, clock, idle(sim), 300.0, tick_s=0.25)
    assert sim.true_skin_temp_C[0] < warm - 1.0


def test_full_heater_power_settles_near_45_C_at_the_pad():
    sim, clock = make(substep_s=0.05)
    cmd = idle(sim)
    cmd.heater_power[:] = 1.0
    run(sim, clock, cmd, 3 * 3600.0, tick_s=0.4)
    assert 43.0 < sim.true_pad_temp_C[0] < 47.0
    assert sim.true_skin_temp_C[0] < sim.true_pad_temp_C[0]


def test_motor_current_rises_with_speed_and_on_stall():
    currents = []
    for speed in (0.3, 0.6, 1.0):
        sim, clock = make()
        cmd = idle(sim)
        cmd.roller_speed[:] = speed
        cmd.vibration_level[:] = round(speed * 5)
        s = run(sim, clock, cmd, 1.0)
        currents.append((s.roller_current_A[0], s.vibration_current_A[0]))
    roller, vibration = np.array(currents).T
    assert np.all(np.diff(roller) > 0.05) and np.all(np.diff(vibration) > 0.03)
    sim.set_roller_load_N_m([1.0, sim.params.roller_load_N_m])  # a jam on the left
    s = run(sim, clock, cmd, 0.5)
    stall_A = sim.params.motor_supply_V / sim.params.roller_resistance_ohm
    assert s.roller_current_A[0] == pytest.approx(stall_A, rel=0.05)
    assert s.roller_current_A[1] == pytest.approx(roller[-1], abs=0.05)


# --- relay, heartbeat, safe state -----------------------------------------------------------------
def test_heartbeat_failsafe_trips_half_a_second_after_the_last_command():
    sim, clock = make()
    cmd = inflate(sim, CALF)
    cmd.heater_power[:] = 1.0
    run(sim, clock, cmd, 1.0)
    sim.apply(cmd)
    last_s = clock.now()
    clock.advance(HEARTBEAT_TIMEOUT_s - 0.01)
    assert not sim.read().relay_open
    clock.advance(0.1)
    s = sim.read()
    assert s.relay_open and sim.relay_open
    assert sim.failsafe_at_s == pytest.approx(last_s + HEARTBEAT_TIMEOUT_s)
    assert s.pump_current_A.max() <= 0.03 and sim.heater_power_W.max() == 0.0
    inlet, exhaust = sim.true_valve_opening
    assert inlet.max() == 0.0 and exhaust.min() == 1.0
    sim.reset()
    assert not sim.relay_open


def test_no_failsafe_while_commands_keep_coming():
    sim, clock = make()
    run(sim, clock, idle(sim), 5.0)
    assert not sim.read().relay_open and sim.failsafe_at_s is None


@pytest.mark.parametrize("fault", ["heater_runaway", "valve_stuck_open"])
def test_safe_state_vents_and_stops_heating_even_under_a_fault(fault):
    where = "left" if fault == "heater_runaway" else "left.calf"
    sim, clock = make((f"{fault}:{where}@0",))
    cmd = inflate(sim, CALF)
    cmd.heater_power[:] = 1.0
    run(sim, clock, cmd, 1.0)
    assert sim.true_pressure_mmHg[CALF] > 20.0
    sim.safe_state()
    assert sim.heater_power_W.max() == 0.0
    t_hot = sim.true_pad_temp_C[0]
    run(sim, clock, cmd, 5.0)  # commands are refused by physics: the relay is open
    s = sim.read()
    assert s.relay_open
    assert sim.true_pressure_mmHg.max() < 2.0
    assert s.pump_current_A.max() <= 0.03
    assert sim.true_valve_opening[1].min() == 1.0  # every exhaust open
    assert sim.true_pad_temp_C[0] < t_hot


# --- faults: each one a physical change -----------------------------------------------------------
def test_every_fault_kind_is_covered_here():
    tested = {name.removeprefix("test_fault_") for name in globals() if name.startswith("test_fault_")}
    assert tested == set(FAULT_KINDS)


def test_a_fault_names_its_cell_or_leg_and_unknown_names_are_refused():
    sim, _ = make(("leak:right.thigh@0", "pump_failure:right@0", "sensor_stuck@0"))
    kinds = {f.kind: f.where for _, f in sim.applied_faults}
    assert kinds == {"leak": "right.thigh", "pump_failure": "right", "sensor_stuck": "left.calf"}
    with pytest.raises(DeviceError, match="no cell"):
        make(("leak:left.elbow@0",))


def test_fault_leak():
    sim, clock = make(("leak:left.calf@3",))
    fill_to(sim, clock, CALF)
    run(sim, clock, hold(sim, CALF), 3.0 - clock.now())
    p0 = sim.true_pressure_mmHg[CALF]
    run(sim, clock, hold(sim, CALF), 2.0)
    assert p0 > 55.0 and sim.true_pressure_mmHg[CALF] < p0 - 20.0


def test_fault_valve_stuck_closed():
    sim, clock = make(("valve_stuck_closed:left.calf@0",))
    s = run(sim, clock, inflate(sim, CALF), 1.5)
    assert sim.true_pressure_mmHg[CALF] < 0.5
    assert s.manifold_mmHg[0] > 300.0  # the pump dead-heads against the closed valve


def test_fault_valve_stuck_open():
    sim, clock = make(("valve_stuck_open:left.calf@0",))
    cmd = hold(sim, CALF)  # inlet commanded closed
    cmd.pump_duty[0] = True
    run(sim, clock, cmd, 3.0)
    assert sim.true_pressure_mmHg[CALF] > 100.0
    assert sim.true_pressure_mmHg[CALF] == pytest.approx(sim.true_manifold_mmHg[0], abs=5.0)


def test_fault_sensor_stuck():
    sim, clock = make(("sensor_stuck:left.calf@0.5",))
    cmd = inflate(sim, CALF)
    s0 = run(sim, clock, cmd, 0.5)
    s1 = run(sim, clock, cmd, 0.5)
    assert s1.pressure_mmHg[CALF] == s0.pressure_mmHg[CALF]
    assert sim.true_pressure_mmHg[CALF] > s0.pressure_mmHg[CALF] + 10.0
    assert s1.pressure_mmHg[THIGH] != s0.pressure_mmHg[THIGH] or s1.manifold_mmHg[0] != s0.manifold_mmHg[0]


def test_fault_sensor_drift():
    sim, clock = make(("sensor_drift:left.calf@1",))
    fill_to(sim, clock, CALF, 40.0)
    run(sim, clock, hold(sim, CALF), 1.0 - clock.now())
    s = run(sim, clock, hold(sim, CALF), 10.0)
    error = s.pressure_mmHg[CALF] - sim.true_pressure_mmHg[CALF]
    assert error == pytest.approx(10 * sim.params.fault_drift_mmHg_per_s, abs=2.0)  # reads low


def test_fault_pump_failure():
    sim, clock = make(("pump_failure:left@0",))
    s = run(sim, clock, inflate(sim, CALF), 1.5)
    assert sim.true_pressure_mmHg[CALF] < 0.5
    assert s.pump_current_A[0] <= 0.03
    assert sim.true_pump_flow_L_per_min[0] == 0.0


def test_fault_kinked_tube():
    healthy, ch = make()
    kinked, ck = make(("kinked_tube:left.calf@0",))
    for sim, clock in ((healthy, ch), (kinked, ck)):
        run(sim, clock, inflate(sim, CALF), 1.0)
    assert 0.05 < kinked.true_pressure_mmHg[CALF] < 0.1 * healthy.true_pressure_mmHg[CALF]
    run(kinked, ck, inflate(kinked, CALF), 20.0, tick_s=0.1)  # it does fill, very slowly
    assert kinked.true_pressure_mmHg[CALF] > 20.0


def test_fault_heater_runaway():
    sim, clock = make(("heater_runaway:left@0",), substep_s=0.01)
    run(sim, clock, idle(sim), 300.0, tick_s=0.25)  # heater commanded off
    assert sim.heater_power_W[0] == sim.params.heater_power_W and sim.heater_power_W[1] == 0.0
    assert sim.true_skin_temp_C[0] > sim.true_skin_temp_C[1] + 3.0


def test_fault_garment_off():
    healthy, ch = make()
    off, co = make(("garment_off:left@0",))
    for sim, clock in ((healthy, ch), (off, co)):
        run(sim, clock, inflate(sim, CALF), 1.0)
    assert off.true_pressure_mmHg[CALF] < 0.2 * healthy.true_pressure_mmHg[CALF]


def test_fault_link_loss():
    sim, clock = make(("link_loss@1",))
    cmd = inflate(sim, CALF)
    run(sim, clock, cmd, 0.9)
    clock.advance(0.05)
    sim.apply(cmd)  # the last command that gets through, at 0.95 s
    last = sim.read()
    clock.advance(0.05)
    frozen = run(sim, clock, cmd, 0.3)
    assert (frozen.seq, frozen.t_s) == (last.seq, last.t_s)
    assert np.array_equal(frozen.pressure_mmHg, last.pressure_mmHg)
    assert not sim.relay_open
    sim.safe_state()  # a host's request does not get through a lost link either
    assert not sim.relay_open
    run(sim, clock, cmd, 0.3)
    assert sim.relay_open
    assert sim.failsafe_at_s == pytest.approx(0.95 + HEARTBEAT_TIMEOUT_s)
    run(sim, clock, cmd, 4.0)
    assert sim.true_pressure_mmHg[CALF] < 2.0  # the device vented by itself


def test_the_device_vents_itself_above_a_cells_rating():
    """Firmware keeps its own over-pressure switch, whatever the host commands (or if it is gone)."""
    clock = VirtualClock()
    sim = SimulatedMassager(PROFILE, clock)
    run(sim, clock, inflate(sim, CALF), 3.0)
    rating = PROFILE.cells_in_zone("calf")[0].max_pressure_mmHg
    assert sim.relay_open and sim.failsafe_at_s is not None
    assert sim.true_pressure_mmHg.max() < rating + sim.params.trip_margin_mmHg

"""The safety supervisor on its own, against a scripted massager: every detector, every clamp,
the latch, emergency stop from another thread, and a property that no command gets past it."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakes import ScriptedMassager
from legflow.clock import VirtualClock
from legflow.device.faults import FAULT_KINDS
from legflow.device.massager import Commands
from legflow.device.profile import load_profile
from legflow.safety.detectors import CELL_DETECTORS, FAULT_KIND_OF, HEATER_DETECTORS, fault_kind
from legflow.safety.limits import DEFAULT_LIMITS, Limits
from legflow.safety.supervisor import Supervisor

TICK = 0.02


def rig(limits: Limits = DEFAULT_LIMITS, profile: str = "reference"):
    clock = VirtualClock()
    fake = ScriptedMassager(load_profile(profile), clock)
    return clock, fake, Supervisor(fake, limits, clock)


def commands(sup: Supervisor, **changes) -> Commands:
    c = Commands.idle(sup.n_legs, sup.n_cells)
    c.exhaust_open[:] = False
    for name, value in changes.items():
        getattr(c, name)[:] = value
    return c


def run(clock, sup, seconds: float, cmd: Commands | None = None, each=None) -> None:
    """Tick the supervisor like the engine does: read, then apply."""
    for _ in range(round(seconds / TICK)):
        clock.advance(TICK)
        if each:
            each()
        sup.read()
        if cmd is not None:
            sup.apply(cmd)


def test_quiet_device_never_trips():
    """Every cell filled to 40 mmHg, then held sealed for 30 s while its sensor reads with the
    simulated sensor's noise (σ 0.25 mmHg): no detector takes the noise for a fault."""
    clock, fake, sup = rig()
    rng = np.random.default_rng(1)
    fake.pressure[:] = 40.0
    run(clock, sup, TICK, commands(sup, inlet_open=True, pump_duty=1.0))  # filled, so now held

    def noisy_readings() -> None:
        fake.pressure[:] = 40.0 + rng.normal(0.0, 0.25, fake.n_cells)

    run(clock, sup, 30, commands(sup), each=noisy_readings)
    assert not sup.latched, sup.trip


def test_over_pressure_at_once_trips_on_the_first_sample():
    clock, fake, sup = rig()
    calf = sup.cell_names.index("left.calf")
    fake.pressure[calf] = 100 + 26
    run(clock, sup, TICK)
    assert sup.trip.detector == "over_pressure" and sup.trip.where == "left.calf"
    assert fake.relay_open and sup.trip.safe_at_s == pytest.approx(TICK)


def test_over_pressure_sustained_trips_after_half_a_second():
    clock, fake, sup = rig()
    calf = sup.cell_names.index("right.calf")
    rng = np.random.default_rng(3)
    noisy = lambda: fake.pressure.__setitem__(calf, 100 + 12 + rng.normal(0, 0.3))  # noqa: E731
    run(clock, sup, 0.4, commands(sup), each=noisy)
    assert not sup.latched
    run(clock, sup, 0.2, commands(sup), each=noisy)
    assert sup.trip.detector == "over_pressure" and sup.trip.detected_s == pytest.approx(0.5, abs=TICK * 1.5)


def test_the_foot_has_its_own_higher_limit():
    clock, fake, sup = rig()
    fake.pressure[sup.cell_names.index("left.foot")] = 125
    run(clock, sup, 1.0, commands(sup))
    assert not sup.latched


def test_no_rise_while_inflating():
    clock, fake, sup = rig()
    calf = sup.cell_names.index("left.calf")
    cmd = commands(sup)
    cmd.inlet_open[calf], cmd.pump_duty[0] = True, True
    fake.pressure[calf] = 5.0
    rng = np.random.default_rng(0)
    run(clock, sup, 2.5, cmd, each=lambda: fake.pressure.__setitem__(calf, 5.0 + rng.normal(0, 0.3)))
    assert sup.trip.detector == "no_pressure_rise" and sup.trip.where == "left.calf"
    assert 1.8 <= sup.trip.detected_s <= 2.2


def test_a_normal_fill_does_not_trip():
    clock, fake, sup = rig()
    calf = sup.cell_names.index("left.calf")
    cmd = commands(sup)
    cmd.inlet_open[calf], cmd.pump_duty[0] = True, True
    run(clock, sup, 2.5, cmd, each=lambda: fake.pressure.__setitem__(calf, fake.pressure[calf] + 0.6))
    assert not sup.latched


def hold_after_fill(
    start_mmHg: float, pressure_at, seconds: float, profile: str = "reference", cell: str = "left.calf"
):
    """Fill the ``cell``, then hold it with closed valves while its reading follows
    ``pressure_at(t)`` (t from the start of the hold); return the supervisor."""
    clock, fake, sup = rig(profile=profile)
    calf = sup.cell_names.index(cell)
    fake.pressure[calf] = start_mmHg
    fill = commands(sup)
    fill.inlet_open[calf], fill.pump_duty[0] = True, 1.0
    run(clock, sup, TICK, fill)  # the cell was filled, so now it must hold
    t0 = clock.now()
    follow = lambda: fake.pressure.__setitem__(calf, pressure_at(clock.now() - t0))  # noqa: E731
    run(clock, sup, seconds, commands(sup), each=follow)
    return sup


@pytest.mark.parametrize("drop_per_s, trips", [(40.0, True), (4.0, False), (0.2, False)])
def test_decay_while_holding(drop_per_s, trips):
    """A hole empties a sealed cell fast (a 1.2 mm hole: 30-60 mmHg/s); a slow fall is what a cell
    left sealed on a release ramp does as the limb empties under it, so it is no fault by itself."""
    sup = hold_after_fill(80.0, lambda t: max(0.0, 80.0 - drop_per_s * t), 12.0)
    assert (sup.trip is not None and sup.trip.detector == "pressure_decay") is trips


@pytest.mark.parametrize(
    ("profile", "cell", "trips"),
    [("calf-sleeve", "left.calf_high", False), ("reference", "left.calf", True)],
)
def test_a_fast_sag_is_judged_as_the_gas_it_lost(profile, cell, trips):
    """80 mmHg, settled, then falling 50 mmHg/s for 0.4 s: in a 200 mL calf-sleeve cell the few mL a
    squeezed half-calf yields after a fast squeeze (a soak false alarm); in a 450 mL calf 2.25
    times the gas, a hole."""
    sup = hold_after_fill(80.0, lambda t: 80.0 - 50.0 * min(max(t - 0.3, 0.0), 0.4), 2.0, profile, cell)
    assert (sup.trip is not None and sup.trip.detector == "pressure_decay") is trips, sup.trip


def test_a_limb_emptying_under_a_held_cell_is_not_a_leak():
    # the gas expands into the room the emptying limb leaves: a bounded fall (here 20 mmHg with a
    # 2 s time constant), where a hole's loss grows without end
    sup = hold_after_fill(60.0, lambda t: 40.0 + 20.0 * math.exp(-t / 2.0), 30.0)
    assert sup.trip is None


def test_falling_pressure_after_a_vent_step_is_a_release_not_a_leak():
    clock, fake, sup = rig()
    calf = sup.cell_names.index("left.calf")
    fake.pressure[calf] = 50.0
    vent = commands(sup)
    vent.exhaust_open[calf] = True
    run(clock, sup, TICK, vent)
    leak = lambda: fake.pressure.__setitem__(calf, fake.pressure[calf] - 1.5 * TICK)  # noqa: E731
    run(clock, sup, 6, commands(sup), each=leak)
    assert not sup.latched


def test_a_cell_that_needs_gas_most_of_the_time_cannot_hold_it():
    """A hole the controller keeps topping up: 80 % of the time refilling, the pressure steady."""
    clock, fake, sup = rig()
    calf = sup.cell_names.index("left.calf")
    fake.pressure[calf] = 50.0
    top_up = commands(sup)
    top_up.inlet_open[calf], top_up.pump_duty[0] = True, 1.0
    rise = lambda: fake.pressure.__setitem__(calf, fake.pressure[calf] + 0.5)  # noqa: E731
    fall = lambda: fake.pressure.__setitem__(calf, fake.pressure[calf] - 2.0)  # noqa: E731
    for _ in range(80):
        run(clock, sup, 8 * TICK, top_up, each=rise)
        run(clock, sup, 2 * TICK, commands(sup), each=fall)
    assert sup.trip is not None and sup.trip.detector == "refill_demand"


def held_with_top_ups(
    fall_per_s: float, sealed_s: float, rise_per_s: float, profile: str = "reference", cell: str = "left.calf"
) -> Supervisor:
    """The ``cell`` held from 50 mmHg, falling ``fall_per_s`` in sealed spells of ``sealed_s``
    between 0.1 s top-ups that raise it ``rise_per_s``, twelve times; return the supervisor."""
    clock, fake, sup = rig(profile=profile)
    calf = sup.cell_names.index(cell)
    fake.pressure[calf] = 50.0
    top_up = commands(sup)
    top_up.inlet_open[calf], top_up.pump_duty[0] = True, True

    def change_by(per_s: float):
        return lambda: fake.pressure.__setitem__(calf, fake.pressure[calf] + per_s * TICK)

    for _ in range(12):
        run(clock, sup, sealed_s, commands(sup), each=change_by(-fall_per_s))
        run(clock, sup, 0.1, top_up, each=change_by(rise_per_s))
    return sup


def test_decay_hidden_by_top_ups_is_still_caught():
    """A controller topping up a holed cell every 0.3 s cannot hide the hole: what the cell loses in
    its short sealed spells (60 mmHg/s, a 1.2 mm hole in a 60 mmHg calf) adds up across them."""
    sup = held_with_top_ups(60.0, 0.2, 120.0)
    assert sup.trip is not None and sup.trip.detector == "pressure_decay"


def held_open_with_top_ups(fall_per_s: float) -> Supervisor:
    """The calf from 50 mmHg with its inlet never closed, still climbing 3 mmHg/s off its fill:
    0.1 s pushes, each ending in 0.08 s with the pump off (its spin-down) in which it falls
    ``fall_per_s``, with the manifold joined to it; 24 times. Return the supervisor."""
    clock, fake, sup = rig()
    calf = sup.cell_names.index("left.calf")
    fake.pressure[calf] = fake.manifold[0] = 50.0
    top_up = commands(sup)
    top_up.inlet_open[calf], top_up.pump_duty[0] = True, 0.5
    spin_down = commands(sup)
    spin_down.inlet_open[calf] = True

    def change_by(per_s: float):
        def change() -> None:
            fake.pressure[calf] += per_s * TICK
            fake.manifold[0] = fake.pressure[calf] + 0.5

        return change

    for _ in range(24):
        run(clock, sup, 0.1, top_up, each=change_by((0.5 + fall_per_s * 0.08) / 0.1))
        run(clock, sup, 0.08, spin_down, each=change_by(-fall_per_s))
    return sup


@pytest.mark.parametrize(("fall_per_s", "trips"), [(60.0, True), (5.0, False)])
def test_a_hole_in_a_cell_never_sealed_shows_while_its_pump_spins_down(fall_per_s, trips):
    """A holed cell the controller keeps open, each top-up ending in a spin-down with the pump off,
    is never sealed: cell and manifold are then one still gas, and a fast loss in those ticks is a
    hole like a sealed cell's (it was found by refill demand only once the fill's trend had faded,
    5-10 s into the fill). A slow fall (a limb emptying) is not."""
    sup = held_open_with_top_ups(fall_per_s)
    assert (sup.trip is not None and sup.trip.detector == "pressure_decay") == trips, sup.trip


@pytest.mark.parametrize(
    ("profile", "cell", "fall_per_s", "trips"),
    [
        ("calf-sleeve", "left.calf_high", 40.0, False),  # 200 mL: the limb under it yields ~3 mL/s
        ("reference", "left.calf", 40.0, True),  # 450 mL: the same fall is 2.25 times the gas
        ("calf-sleeve", "left.calf_high", 150.0, True),  # a hole
    ],
)
def test_a_sealed_loss_is_judged_as_the_gas_it_lost(profile, cell, fall_per_s, trips):
    """A cell's pressure falls by its absolute pressure × the gas it lost / its volume: the few mL
    a squeezed half-calf yields under a 200 mL sleeve cell on a steep ramp sag it as fast as a hole
    sags a 450 mL calf (a false alarm the soak found on the calf sleeve)."""
    sup = held_with_top_ups(fall_per_s, 0.15, 1.5 * fall_per_s, profile, cell)
    assert (sup.trip is not None and sup.trip.detector == "pressure_decay") == trips, sup.trip


def hold_two_after_fill(fall_per_s: tuple[float, float], seconds: float) -> Supervisor:
    """Both calves filled to 60 mmHg, then held sealed, each falling at its rate of ``fall_per_s``
    (left, right) once settled, with the sensor's noise; return the supervisor."""
    clock, fake, sup = rig()
    calves = [sup.cell_names.index("left.calf"), sup.cell_names.index("right.calf")]
    rng = np.random.default_rng(4)
    fake.pressure[calves] = 60.0
    fill = commands(sup)
    fill.inlet_open[calves], fill.pump_duty[:] = True, 1.0
    run(clock, sup, TICK, fill)
    t0 = clock.now()

    def fall() -> None:
        t = max(0.0, clock.now() - t0 - 0.5)
        fake.pressure[calves] = 60.0 - np.array(fall_per_s) * t + rng.normal(0.0, 0.25, 2)

    run(clock, sup, seconds, commands(sup), each=fall)
    return sup


@pytest.mark.parametrize(("fall_per_s", "listed"), [((40.0, 34.0), 2), ((40.0, 0.0), 1), ((40.0, 4.0), 1)])
def test_a_second_hole_of_the_same_instant_is_listed_too(fall_per_s, listed):
    """Two holes made at once are found ticks apart: the one a little slower is already close to
    a hole's loss as the first latches, and is listed beside it (the session used to report only
    the first). A sound cell, or one sagging as a limb empties under it, is not."""
    sup = hold_two_after_fill(fall_per_s, 3.0)
    assert sup.trip is not None and sup.trip.where == "left.calf"
    found = [(t.detector, t.where) for t in sup.trips]
    assert found == [("pressure_decay", "left.calf"), ("pressure_decay", "right.calf")][:listed], found


def test_a_slow_fall_between_top_ups_is_no_fault():
    """5 mmHg/s between top-ups every second: a limb emptying, or a cell on a release ramp."""
    assert not held_with_top_ups(5.0, 1.0, 50.0).latched


def test_frozen_sensor_while_filling():
    clock, fake, sup = rig()
    calf = sup.cell_names.index("left.calf")
    cmd = commands(sup)
    cmd.inlet_open[calf], cmd.pump_duty[0] = True, True
    fake.pressure[calf] = 33.3
    fake.dither_mmHg = 0.0  # a frozen element: bit-identical readings
    run(clock, sup, 0.7, cmd)
    assert sup.trip.detector == "frozen_sensor"


def test_a_frozen_sensor_is_caught_at_rest_too():
    """A held cell moves no gas, yet a live sensor's noise never repeats one value for a second."""
    clock, fake, sup = rig()
    fake.pressure[:] = 40.0
    run(clock, sup, 0.8, commands(sup))
    assert not sup.latched  # noise: alive
    fake.dither_mmHg = 0.0
    run(clock, sup, 1.2, commands(sup))
    assert sup.trip is not None and sup.trip.detector == "frozen_sensor"


def test_a_cell_sensor_that_disagrees_with_the_manifold_once_equalised_is_caught():
    """Inlet open, pump off: cell and manifold are one gas. A cell reading 10 mmHg under the
    manifold (a drift) is a lying sensor; 2 mmHg is normal."""
    clock, fake, sup = rig()
    calf = sup.cell_names.index("left.calf")
    fill = commands(sup)
    fill.inlet_open[calf], fill.pump_duty[0] = True, 0.6
    fake.pressure[calf], fake.manifold[0] = 40.0, 50.0
    rise = lambda: fake.pressure.__setitem__(calf, fake.pressure[calf] + 1.0)  # noqa: E731
    run(clock, sup, 0.4, fill, each=rise)  # a fill that rises: the cell is reached
    coast = commands(sup)
    coast.inlet_open[calf] = True
    fake.manifold[0] = fake.pressure[calf] + 2.0
    run(clock, sup, 1.0, coast)
    assert not sup.latched
    fake.manifold[0] = fake.pressure[calf] + 10.0
    run(clock, sup, 0.2, coast)
    assert sup.trip is not None and (sup.trip.detector, sup.trip.where) == ("sensor_mismatch", "left.calf")


@pytest.mark.parametrize("passes", [True, False])
@pytest.mark.parametrize("opening", ["bleed", "end of fill"])
def test_an_inlet_that_opens_to_a_still_manifold_must_make_one_gas_of_them_within_a_tick(opening, passes):
    """A held calf at 60 mmHg opened to a manifold 15 mmHg below it (a bleed), or a fill whose pump
    stops with the manifold 25 mmHg above the cell: through a sound inlet the two nearly agree one
    tick later; through a kink or an inlet stuck closed the manifold does not follow, twice: a
    blocked inlet. Gaps under 20 mmHg, which the first-tick rule alone let pass."""
    clock, fake, sup = rig()
    calf = sup.cell_names.index("left.calf")
    fill = commands(sup)
    fill.inlet_open[calf], fill.pump_duty[0] = True, 0.6
    opened = commands(sup)
    opened.inlet_open[calf] = True
    fake.pressure[calf], fake.manifold[0] = 60.0, 62.0
    run(clock, sup, 0.1, fill)  # filled: from now on held
    fake.manifold[0] = 20.0  # sagging through the pump's reeds (a fill's manifold cannot jump)
    run(clock, sup, 0.5, commands(sup))
    for _ in range(4):
        if opening == "bleed":
            fake.manifold[0] = 45.0  # sagged through the pump's reeds while the leg was quiet
            run(clock, sup, 0.5, commands(sup))
            run(clock, sup, TICK, opened)  # sealed in force during this read; opened next
            fake.manifold[0] = 58.0 if passes else 45.5
        else:
            fake.manifold[0] = 85.0
            run(clock, sup, 0.06, fill)
            run(clock, sup, TICK, opened)  # pump on in force during this read; off next
            fake.manifold[0] = 64.0 if passes else 78.0
        run(clock, sup, TICK, commands(sup))  # the first tick open with the pump off
        fake.manifold[0] = 20.0  # sagging through the pump's reeds once the leg is quiet
        run(clock, sup, 0.5, commands(sup))
    if passes:
        assert not sup.latched, sup.trip
    else:
        assert sup.trip is not None and (sup.trip.detector, sup.trip.where) == ("inlet_blocked", "left.calf")


def test_a_pump_that_draws_no_current_is_a_pump_failure_on_its_leg():
    clock, fake, sup = rig()
    calf = sup.cell_names.index("left.calf")
    fill = commands(sup)
    fill.inlet_open[calf], fill.exhaust_open[calf], fill.pump_duty[0] = True, False, 0.8
    fake.pressure[calf], fake.manifold[0] = 20.0, 25.0
    run(clock, sup, 0.5, fill)
    assert not sup.latched
    fake.pump_ok = False
    run(clock, sup, 0.3, fill)
    assert sup.trip is not None and (sup.trip.detector, sup.trip.where) == ("pump_failure", "left")


def test_a_vented_cell_fed_by_the_manifold_has_an_inlet_stuck_open():
    clock, fake, sup = rig()
    calf = sup.cell_names.index("left.calf")
    vent = commands(sup)
    vent.exhaust_open[calf] = True
    fake.pressure[calf], fake.manifold[0] = 25.0, 45.0
    run(clock, sup, 1.5, vent)
    assert sup.trip is not None and (sup.trip.detector, sup.trip.where) == ("valve_stuck_open", "left.calf")


@pytest.mark.parametrize("joined", ["left.calf", "left.knee"])
def test_an_inlet_stuck_open_among_cells_held_alike_is_named_by_the_cell_its_manifold_follows(joined):
    """Every left cell held at 60 mmHg, the leg quiet, and its manifold keeps their pressure: one
    inlet is open, but the held cells give no sign which. As the safe state vents them, the
    manifold empties with that one cell, near it and at a steady gap, and not with the others,
    even one of the same size held alike (the latch alone named the leg's first cell)."""
    clock, fake, sup = rig()
    left = [c for c, name in enumerate(sup.cell_names) if name.startswith("left.")]
    stuck = sup.cell_names.index(joined)
    fake.pressure[left] = fake.manifold[0] = 60.0
    fill = commands(sup)
    fill.inlet_open[left], fill.pump_duty[0] = True, 1.0
    run(clock, sup, TICK, fill)
    while not sup.latched and clock.now() < 3.0:
        run(clock, sup, TICK, commands(sup))
    assert sup.trip is not None and sup.trip.detector == "valve_stuck_open"
    # the vent: each cell empties with its own time constant (calf and knee alike), the joined
    # one a little slower; the manifold reads half a mmHg under it, as the simulated one does
    tau_s = np.array([0.05, 0.07, 0.1, 0.1, 0.2, 0.05, 0.07, 0.1, 0.1, 0.2])
    tau_s[stuck] *= 1.1  # the manifold's 15 mL beside a 150 mL cell
    start, t0 = fake.pressure.copy(), clock.now()
    rng = np.random.default_rng(2)

    def vent() -> None:
        fake.pressure[:] = start * np.exp(-(clock.now() - t0) / tau_s) + rng.normal(0.0, 0.25, 10)
        fake.manifold[0] = start[stuck] * np.exp(-(clock.now() - t0) / tau_s[stuck]) - 0.5

    run(clock, sup, 1.0, each=vent)
    assert (sup.trip.detector, sup.trip.where) == ("valve_stuck_open", joined)
    assert [t.where for t in sup.trips] == [joined]
    assert "followed" in sup.trip.message


def test_the_manifold_guards_a_cell_whose_own_sensor_reads_low():
    """No pumping into an open cell once the manifold (its second signal) is at its limit + 5."""
    clock, fake, sup = rig()
    calf = sup.cell_names.index("left.calf")
    fill = commands(sup)
    fill.inlet_open[calf], fill.exhaust_open[calf], fill.pump_duty[0] = True, False, 1.0
    fake.pressure[calf], fake.manifold[0] = 90.0, 100.0
    run(clock, sup, 0.1, fill)
    assert fake.applied[-1].pump_duty[0] == 1.0
    fake.manifold[0] = sup.cell_limit_mmHg[calf] + 6.0
    run(clock, sup, 0.1, fill)
    assert fake.applied[-1].pump_duty[0] == 0.0


@pytest.mark.parametrize("value", [np.nan, -50.0, 900.0])
def test_implausible_reading(value):
    clock, fake, sup = rig()
    fake.pressure[3] = value
    run(clock, sup, TICK)
    assert sup.trip.detector in ("implausible_sensor", "over_pressure")


def test_a_vented_cell_must_read_near_zero():
    clock, fake, sup = rig()
    fake.pressure[2] = -14.0  # a drifted sensor
    cmd = Commands.idle(sup.n_legs, sup.n_cells)  # all vented
    run(clock, sup, 2.5, cmd)
    assert sup.trip.detector == "implausible_sensor" and sup.trip.where == sup.cell_names[2]


def test_heater_over_temperature_and_runaway():
    clock, fake, sup = rig()
    fake.skin[1] = 43.0
    run(clock, sup, TICK)
    assert sup.trip.detector == "over_temperature" and sup.trip.where == "right"
    clock, fake, sup = rig()
    fake.skin[0] = 37.0
    run(clock, sup, 65, commands(sup), each=lambda: fake.skin.__setitem__(0, fake.skin[0] + 0.03 * TICK))
    assert sup.trip.detector == "thermal_runaway" and sup.trip.where == "left"


def test_heater_that_never_warms_is_a_fault():
    clock, _, sup = rig()
    run(clock, sup, 65, commands(sup, heater_power=1.0))
    assert sup.trip.detector == "heater_fault"


def _warm_then(fake, rate_C_per_s: float, after_s: float, clock) -> None:
    """The left pad's reading: +2 °C/min for ``after_s``, then ``rate_C_per_s``."""
    fake.skin[0] += (2.0 / 60.0 if clock.now() < after_s else rate_C_per_s) * TICK


def test_a_pad_settled_short_of_its_target_at_full_power_is_no_fault():
    """A weak heater (or a cold room) settles below the target: the sensor has shown the pad
    warming, so a flat reading at full power is not the sensor off the pad."""
    clock, fake, sup = rig()
    fake.skin[0] = 32.0
    heat = commands(sup)
    heat.heater_power[0] = 1.0  # the left pad only
    run(clock, sup, 240, heat, each=lambda: _warm_then(fake, 0.0, 90.0, clock))
    assert sup.trip is None and fake.skin[0] < 38.0


def test_a_reading_that_cools_at_full_power_is_a_heater_fault():
    """Once warmed, a reading that falls 2 °C in a minute at full power: the sensor left the pad."""
    clock, fake, sup = rig()
    fake.skin[0] = 32.0
    heat = commands(sup)
    heat.heater_power[0] = 1.0
    run(clock, sup, 240, heat, each=lambda: _warm_then(fake, -2.0 / 60.0, 90.0, clock))
    assert sup.trip.detector == "heater_fault" and sup.trip.where == "left"


def test_link_loss_trips_and_the_device_is_safe_half_a_second_after_its_last_command():
    clock, fake, sup = rig()
    run(clock, sup, 1.0, commands(sup))
    fake.link_up = False
    run(clock, sup, 0.3, commands(sup))
    assert sup.trip.detector == "link_lost"
    assert sup.trip.detected_s == pytest.approx(1.22, abs=0.03)
    # an upper bound: the device vents 0.5 s after the last command it heard, sent at the latest
    # just before detection
    assert 1.5 <= sup.trip.safe_at_s <= sup.trip.detected_s + 0.5


def test_clamps_gas_into_a_full_or_blocked_cell_and_refused_actuators():
    limits = DEFAULT_LIMITS.tighten("test", blocked_zones=["thigh"], vibration_allowed=False, heat_C=None)
    clock, fake, sup = rig(limits)
    calf, thigh = sup.cell_names.index("left.calf"), sup.cell_names.index("left.thigh")
    fake.pressure[calf] = 100.0
    run(clock, sup, TICK)
    sup.apply(
        commands(sup, inlet_open=True, pump_duty=True, vibration_level=4, heater_power=1.0, roller_speed=3.0)
    )
    sent = fake.applied[-1]
    assert not sent.inlet_open[calf] and not sent.inlet_open[thigh]
    assert sent.inlet_open[sup.cell_names.index("left.foot")]
    assert (
        (sent.vibration_level == 0).all()
        and (sent.heater_power == 0).all()
        and (sent.roller_speed <= 1).all()
    )


def test_a_blocked_calf_stops_every_cell_over_part_of_it_and_a_blocked_knee_only_its_own():
    """The reference's ankle cell covers the bottom of the calf and its knee cell the top: a calf
    wound may lie under either. The knee is a joint between two parts: blocking it stops its cell."""

    def stopped(zone: str) -> set[str]:
        _, _, sup = rig(DEFAULT_LIMITS.tighten("test", blocked_zones=[zone]))
        return {name for name, limit in zip(sup.cell_names, sup.cell_limit_mmHg, strict=True) if limit == 0}

    assert stopped("calf") == {
        f"{leg}.{zone}" for leg in ("left", "right") for zone in ("ankle", "calf", "knee")
    }
    assert stopped("knee") == {"left.knee", "right.knee"}


@pytest.mark.slow
def test_heater_off_at_the_limit_and_after_thirty_minutes():
    clock, fake, sup = rig()
    fake.skin[:] = [42.0, 36.0]
    run(clock, sup, TICK)
    sup.apply(commands(sup, heater_power=1.0))
    assert list(fake.applied[-1].heater_power) == [0.0, 1.0]
    fake.skin[:] = 38.0
    cool = commands(sup, heater_power=0.5)
    run(clock, sup, 30 * 60 + 1, cool)
    assert not sup.latched and (fake.applied[-1].heater_power == 0).all()


def test_the_time_limit_stops_the_session():
    clock, fake, sup = rig(DEFAULT_LIMITS.tighten("test", session_min=1.0))
    run(clock, sup, 61, commands(sup))
    assert sup.trip.detector == "time_limit" and not sup.trip.is_fault and fake.relay_open


def test_the_time_limit_lets_the_cells_vent_after_it_and_stops_anything_else():
    clock, fake, sup = rig(DEFAULT_LIMITS.tighten("test", session_min=1.0))
    run(clock, sup, 59.98, commands(sup))  # cells held sealed to the end
    vent = Commands.idle(sup.n_legs, sup.n_cells)
    run(clock, sup, 10, vent)  # a program as long as the limit, then its final vent
    assert not sup.latched
    sup.apply(commands(sup, heater_power=0.5))  # anything on after the limit
    assert sup.trip.detector == "time_limit" and fake.relay_open
    assert (fake.applied[-1].heater_power == 0).all()


def test_the_time_limit_stops_an_engine_that_went_quiet_with_its_cells_held():
    clock, _, sup = rig(DEFAULT_LIMITS.tighten("test", session_min=1.0))
    run(clock, sup, 59.9, commands(sup))  # cells held sealed
    run(clock, sup, 0.7)  # read, no command: the last one stays in force
    assert sup.trip.detector == "time_limit" and sup.trip.detected_s == pytest.approx(60.5, abs=TICK)


def test_the_time_limit_counts_from_the_program_start_which_only_moves_once():
    clock, _, sup = rig(DEFAULT_LIMITS.tighten("test", session_min=1.0))
    clock.advance(30)  # a fit check, a prompt
    sup.start_program()
    held = commands(sup)  # cells held sealed
    run(clock, sup, 60.4, held)  # the last tick may be a little late
    sup.start_program()  # a second start moves nothing
    assert not sup.latched
    run(clock, sup, 0.2, held)
    assert sup.trip.detector == "time_limit" and sup.trip.detected_s == pytest.approx(60.52)


def test_a_trip_before_the_program_starts_keeps_its_moment_before_it():
    """A fault of a fit check on hardware (the session's own supervisor) stays before the program:
    moving the origin to the program's start moves the trips' times with it."""
    clock, _, sup = rig()
    clock.advance(20.0)
    sup.stop("stop", "during the fit check")
    assert sup.trip.detected_s == pytest.approx(20.0)
    clock.advance(5.0)
    sup.start_program()
    assert sup.trip is sup.trips[0] and sup.trip.detected_s == pytest.approx(-5.0)


def test_emergency_stop_from_another_thread_latches_at_once_until_reset():
    _, fake, sup = rig()
    worker = threading.Thread(target=sup.emergency_stop)
    worker.start()
    worker.join()
    assert fake.relay_open and sup.trip.detector == "emergency_stop"
    sup.apply(commands(sup, inlet_open=True, pump_duty=True, heater_power=1.0))
    sent = fake.applied[-1]
    assert not sent.pump_duty.any() and sent.exhaust_open.all() and not sent.heater_power.any()
    sup.reset()
    assert not fake.relay_open and not sup.latched
    sup.read()  # gas is allowed only into cells with a fresh reading under their limit
    sup.apply(commands(sup, pump_duty=True, inlet_open=True))
    assert fake.applied[-1].pump_duty.any()


@settings(max_examples=300)
@given(
    readings=st.lists(st.floats(-10, 200, allow_nan=False), min_size=10, max_size=10),
    skin=st.lists(st.floats(20, 50), min_size=2, max_size=2),
    inlet=st.lists(st.booleans(), min_size=10, max_size=10),
    heater=st.lists(st.floats(0, 5), min_size=2, max_size=2),
)
def test_no_command_opens_gas_past_a_limit_or_heats_past_one(readings, skin, inlet, heater):
    clock, fake, sup = rig(DEFAULT_LIMITS.tighten("test", leg_pressure_mmHg=40, heat_C=40))
    fake.pressure[:] = readings
    fake.skin[:] = skin
    clock.advance(TICK)
    sup.read()
    c = commands(sup, pump_duty=True, heater_power=0.0)
    c.inlet_open[:] = inlet
    c.heater_power[:] = heater
    sup.apply(c)
    sent = fake.applied[-1]
    if sup.latched:
        assert not sent.inlet_open.any() and not sent.heater_power.any() and not sent.pump_duty.any()
    else:
        assert not (sent.inlet_open & (np.array(readings) >= sup.cell_limit_mmHg)).any()
        assert not (sent.heater_power[np.array(skin) >= 40] > 0).any()
        assert (sent.heater_power <= 1).all()


def test_a_finding_is_reported_as_the_fault_it_is_and_by_the_detector_that_found_it():
    """A sealed cell losing pressure fast is a leak, however it was found; each mapped detector is
    one the supervisor has, and each kind one that can be injected."""
    assert fault_kind("pressure_decay") == fault_kind("refill_demand") == "leak"
    assert fault_kind("inlet_blocked") == "inlet_blocked"  # a stuck inlet or a kink: it cannot tell
    detectors = {*CELL_DETECTORS.values(), *(name for name, _ in HEATER_DETECTORS.values()), "link_lost"}
    assert set(FAULT_KIND_OF) <= detectors and set(FAULT_KIND_OF.values()) <= set(FAULT_KINDS)


@pytest.mark.parametrize(
    ("leads", "blocked"),
    [
        ((-5.0, 18.0, 36.0), True),  # a kink: the pump pressurises the manifold, 18 mmHg a tick
        ((3.0, 19.0), True),  # a top-up of two ticks through a kink
        ((20.0, 11.0, 13.0, 14.0, 15.0), False),  # a sound top-up: the inlet's drop, steady
        ((22.0, 22.5, 23.0, 23.5), False),  # a sensor reading 20 mmHg low: leads, but does not climb
    ],
)
def test_a_manifold_that_climbs_away_from_a_filling_held_cell_is_a_blocked_path(leads, blocked):
    """A held calf topped up for a few ticks: a manifold that leads it past KINKED_LEAD_mmHg and
    climbs by more than KINKED_CLIMB_mmHg a tick, once the fill is under way, cannot pass its gas
    (a kink, an inlet stuck closed); too short a fill for the manifold-gap rule's 0.1 s."""
    clock, fake, sup = rig()
    calf = sup.cell_names.index("left.calf")
    fill = commands(sup)
    fill.inlet_open[calf], fill.pump_duty[0] = True, 0.6
    fake.pressure[calf], fake.manifold[0] = 60.0, 62.0
    run(clock, sup, 0.1, fill)  # filled: from now on held
    fake.manifold[0] = 20.0  # sagging through the pump's reeds
    run(clock, sup, 0.5, commands(sup))
    run(clock, sup, TICK, fill)  # sealed in force during this read; filling from the next
    for lead in leads:  # manifold − cell at each tick of the fill
        fake.manifold[0] = 60.0 + lead
        run(clock, sup, TICK, fill)
    if blocked:
        assert sup.trip is not None and (sup.trip.detector, sup.trip.where) == ("inlet_blocked", "left.calf")
    else:
        assert sup.trip is None or sup.trip.detector != "inlet_blocked", sup.trip

"""Single-fault safety, case by case: every fault kind × every device profile × three moments of the
faulted cell's cycle (filling, holding, vented), in real sessions with the leg twin inside the cells
(`legflow.apps.faultmatrix`, which also serves ``python -m benchmarks.fault_latency``).

Each case must meet every target of `FaultRun.missed_targets`: the true pressure never over a cell's
limit + 10 mmHg for more than 0.5 s nor over limit + 25; the true skin never over 42 °C (40 °C with
reduced sensation); the safe state (the summary's ``safe_at_s``) within 5 s of the fault taking
effect for a leak, stuck valve, kinked tube, dead pump, frozen sensor or garment off, within 60 s
and before the skin passes its limit for a heater runaway, within 1 s for a lost link, and before
the true pressure breaks its rule for a drifting sensor; the summary names the faulted cell (the
leg, for a pump, heater or garment). The same programs without a fault must complete.
"""

from __future__ import annotations

import numpy as np
import pytest

from legflow.apps.faultmatrix import (
    TIMINGS,
    FaultCase,
    Watch,
    default_where,
    fault_matters,
    fault_place,
    healthy_cases,
    matrix_cases,
    matrix_program,
    run_case,
    run_watched,
    schedule,
)
from legflow.clock import VirtualClock
from legflow.device.faults import CELL_FAULTS, FAULT_KINDS, FaultSpec
from legflow.device.massager import Commands
from legflow.device.profile import load_profile, profile_names
from legflow.device.sim import SimulatedMassager
from legflow.engine.session import TICK_HZ
from legflow.programs.timeline import Timeline

CASES = matrix_cases()
HEALTHY = healthy_cases()
#: Cases whose detection is still too slow or names the wrong place (measured by
#: ``python -m benchmarks.fault_latency``, reported there and in the README): for these the truth
#: rules (pressure, skin) and the detection itself are still asserted, the latency and the name are
#: not yet.
KNOWN_MISSES: set[str] = set()


def _latency_or_name(miss: str) -> bool:
    return "after the fault took effect" in miss or miss.startswith(("summary names", "another fault"))


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_one_fault_is_made_safe_in_time_and_named_where_it_is(case):
    run = run_case(case)
    assert run.where == default_where(load_profile(case.profile), case.kind, case.leg)  # aimed right
    missed = run.missed_targets()
    if case.label in KNOWN_MISSES:
        missed = [m for m in missed if not _latency_or_name(m)]
        assert run.summary["status"] == "fault", f"{case.label}: never detected"
    assert not missed, f"{case.label}: " + "; ".join(missed)


@pytest.mark.slow
@pytest.mark.parametrize("case", HEALTHY, ids=[c.label for c in HEALTHY])
def test_the_same_session_without_a_fault_completes(case):
    run = run_case(case)
    assert not run.missed_targets(), run.missed_targets()


#: The one case of `python -m benchmarks.second_holes` whose second hole is not listed: standing,
#: the left calf-sleeve cell had lost 0.59 of a hole's loss as the right latched, under the 0.72
#: that lists it, and the sound cells of the false-alarm sweep reach 0.83 (a miss, kept as one).
SECOND_HOLE_MISSED = pytest.mark.xfail(strict=True, reason="the second hole had lost 0.59 of a hole's loss")


@pytest.mark.slow
@pytest.mark.parametrize("posture", ["supine", "seated", "standing"])
@pytest.mark.parametrize("timing", ["inflating", "holding"])
@pytest.mark.parametrize("profile", profile_names())
def test_every_fault_present_is_in_the_summary_with_its_cell(request, profile, timing, posture):
    """Two leaks at once, one per leg, while both cells fill or hold: both are listed, each at its
    cell, not only the first one found (the second is found as the first latches)."""
    if (profile, timing, posture) == ("calf-sleeve", "holding", "standing"):
        request.applymarker(SECOND_HOLE_MISSED)
    device = load_profile(profile)
    plan = schedule(FaultCase(profile, "leak", timing))
    right = default_where(device, "leak")
    left = default_where(device, "leak", "left")
    faults = [FaultSpec("leak", plan.inject_s, right), FaultSpec("leak", plan.inject_s, left)]
    watched = run_watched(device, plan.program, faults, posture=posture)
    listed = sorted((f["kind"], f["cell"]) for f in watched.summary["faults"] if f["detected_s"] is not None)
    assert listed == sorted([("leak", left), ("leak", right)]), watched.summary["faults"]


@pytest.mark.slow
@pytest.mark.parametrize("posture", ["seated", "standing"])
def test_a_sound_session_near_the_limit_completes_in_every_posture(posture):
    """Sitting or standing, the limb empties under a calf held near 96 mmHg for seconds: its top-up
    must reach the setpoint (a fixed duty of 0.4 left it at 91 mmHg, fed without a break, and refill
    demand took that for a hole)."""
    case = FaultCase("reference", None, "holding", 96.0, posture=posture)
    run = run_case(case)
    assert not run.missed_targets(), run.missed_targets()


@pytest.mark.slow
@pytest.mark.parametrize("posture", ["seated", "standing"])
@pytest.mark.parametrize("profile", ["reference", "recovery-boots"])
def test_a_kinked_tube_while_holding_is_found_in_seconds_in_every_posture(profile, posture):
    """Sitting or standing, a held calf creeps over its setpoint as the limb refills and bleeds into
    its manifold: through a kink the manifold does not follow, which is the sign (it was found only
    at the release, 19-23 s later, while the first tick's 20 mmHg rule let 10-20 mmHg gaps pass)."""
    case = FaultCase(profile, "kinked_tube", "holding", posture=posture)
    run = run_case(case)
    assert run.detector == "inlet_blocked" and not run.missed_targets(), run.missed_targets()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("profile", "posture", "subject", "leg"),
    [("calf-sleeve", "supine", "older_adult", None), ("reference", "standing", "older_adult", "left")],
)
def test_an_inlet_stuck_open_that_makes_a_fill_look_like_a_garment_off_is_named_by_the_vent(
    profile, posture, subject, leg
):
    """The stuck inlet feeds its cell the gas a neighbour's fill takes, so the fill seems to press
    less and garment off trips first, naming the leg; as the safe state vents, the leg's manifold
    follows the stuck cell, which names it (it named the leg before)."""
    run = run_case(
        FaultCase(profile, "valve_stuck_open", "inflating", posture=posture, subject=subject, leg=leg)
    )
    assert run.reported == run.where and run.detector == "valve_stuck_open", run.missed_targets()


@pytest.mark.slow
@pytest.mark.parametrize(("posture", "subject"), [("standing", "adult"), ("standing", "oedema")])
def test_the_vent_does_not_rename_a_stuck_inlet_to_its_twin(posture, subject):
    """The calf sleeve's two halves, held alike, vent alike: the detector named the upper one,
    and the vent, whose manifold read the lower one a few hundredths of a mmHg closer, renamed it
    (VENT_NAMING_TIE_mmHg keeps the detector's name)."""
    run = run_case(
        FaultCase("calf-sleeve", "valve_stuck_open", "holding", posture=posture, subject=subject, leg="left")
    )
    assert run.reported == run.where, run.missed_targets()


@pytest.mark.slow
def test_an_inlet_stuck_open_among_cells_all_topped_up_is_found_in_seconds():
    """Sitting in recovery boots, every held cell of the leg is topped up in turn: the leg is rarely
    quiet for more than 7 ticks, and the stuck calf joins a manifold that never sags (judged at the
    8th quiet tick it was found after 5.5 s)."""
    run = run_case(FaultCase("recovery-boots", "valve_stuck_open", "holding", posture="seated"))
    assert run.detector == "valve_stuck_open" and not run.missed_targets(), run.missed_targets()


@pytest.mark.slow
def test_a_hole_made_as_a_cell_fills_and_kept_open_by_its_controller_is_found_in_seconds():
    """Standing, a home massager's calf with a hole made at rest is kept open by its controller
    through its fill and after it, leaving a sealed tick or two per top-up: the gas those ticks lose
    must add up to a hole's within 5 s (with 5.5 mL of gas as the least loss it took 5.2 s)."""
    run = run_case(FaultCase("home-foot-calf", "leak", "idle", posture="standing"))
    assert run.detector == "pressure_decay" and not run.missed_targets(), run.missed_targets()


@pytest.mark.parametrize("posture", ["supine", "seated", "standing"])
@pytest.mark.parametrize("profile", ["reference", "recovery-boots"])
def test_a_garment_taken_off_at_rest_is_found_early_in_the_next_fill(profile, posture):
    """Off the leg, a bladder takes about three times its gas before it presses at all: that is seen
    within a second or so of the next fill (the rise per inflow above 15 mmHg alone found the
    reference seated after 12.2 s, the boots after 5.2 s)."""
    run = run_case(FaultCase(profile, "garment_off", "idle", posture=posture))
    assert run.detector == "garment_off" and not run.missed_targets(), run.missed_targets()
    assert run.safe_latency_s is not None and run.safe_latency_s < 2.0


# --- the harness itself (fast) ---------------------------------------------------------------------
@pytest.mark.parametrize("profile", profile_names())
def test_each_timing_injects_while_the_cell_fills_holds_or_rests(profile):
    """The moments are read from the timeline's setpoints: check them against it."""
    device = load_profile(profile)
    dt = 1.0 / TICK_HZ
    cells = device.cell_names()
    for kind in ("leak", "pump_failure"):
        for timing in TIMINGS:
            plan = schedule(FaultCase(profile, kind, timing))  # type: ignore[arg-type]
            table = Timeline(plan.program).setpoint_table(
                [c.split(".")[0] for c in cells], [c.zone for c in device.cells] * len(device.legs), dt
            )
            cell = cells.index(default_where(device, "leak"))
            tick = round(plan.inject_s / dt)
            now, full = table[tick, cell], table[:, cell].max()
            if timing == "inflating":
                assert 0.0 < now < full and table[tick + 1, cell] > now, (kind, timing, now)
            elif timing == "holding":
                assert now == pytest.approx(full) and table[tick + 5 * TICK_HZ, cell] == pytest.approx(full)
            else:
                leg = [i for i, c in enumerate(cells) if c.startswith("right.")]
                vented = table[tick, cell] if kind == "leak" else table[tick, leg].max()
                assert vented == 0.0, (kind, timing)
                effect = round(plan.effect_s / dt)
                assert effect > tick and table[effect, cell if kind == "leak" else leg].max() > 0.0
                assert (table[tick:effect, cell if kind == "leak" else leg] == 0.0).all()


def test_the_watch_times_each_stay_over_limit_plus_10_and_flags_the_rule():
    watch = Watch(["a", "b"], np.array([100.0, 130.0]), 42.0, 0.02)
    skin = np.array([35.0])
    for k in range(100):  # cell a: 0.4 s over limit + 10, then 0.6 s over, then under
        t = k * 0.02
        over = 10 <= k < 30 or 40 <= k < 70
        watch.sample(t, np.array([112.0 if over else 90.0, 139.0]), skin, False)
    assert watch.longest_over_s[0] == pytest.approx(0.6) and watch.longest_over_s[1] == 0.0
    assert watch.rule_broken_s == pytest.approx(40 * 0.02 + 0.5) and watch.rule_broken_cell == "a"
    once = Watch(["a"], np.array([100.0]), 42.0, 0.02)
    once.sample(1.0, np.array([126.0]), np.array([42.5]), True)
    assert once.rule_broken_s == 1.0 and once.skin_over_s == 1.0 and once.relay_open_s == 1.0


@pytest.mark.slow
def test_a_case_puts_its_own_leg_in_the_cells():
    """``--subject`` and ``--posture`` of the benchmark reach the twin inside the simulated cells,
    and name the case."""
    case = FaultCase("calf-sleeve", None, "holding", subject="oedema", posture="seated")
    twin = run_case(case).summary["twin"]
    assert (twin["subject"], twin["posture"]) == ("oedema", "seated")
    assert case.label == "calf-sleeve-no_fault-holding-oedema-seated"
    assert [c.posture for c in matrix_cases(["calf-sleeve"], ["leak"], posture="standing")] == [
        "standing"
    ] * 6


def test_the_matrix_programs_pass_the_device_check():
    for name in profile_names():
        matrix_program(load_profile(name), 96.0, 36.0)  # raises if the device check refuses it


@pytest.mark.parametrize("profile", profile_names())
def test_the_harness_places_each_fault_where_the_simulator_does(profile):
    device = load_profile(profile)
    clock = VirtualClock()
    for kind in FAULT_KINDS:
        for where in {None, default_where(device, kind), *device.legs}:
            if kind in CELL_FAULTS or where is None or where in device.legs:
                spec = FaultSpec(kind, 0.0, where)
                applied = SimulatedMassager(device, clock, faults=[spec]).applied_faults[0][1].where
                cell, leg = fault_place(device, spec)
                placed = device.cell_names()[cell] if cell is not None else None
                placed = placed or (device.legs[leg] if leg is not None else None)
                assert placed == applied, (kind, where)


def test_a_fault_takes_effect_when_the_commands_let_it_matter():
    """A stuck-closed inlet matters once it is commanded open, a stuck-open one once closed, a kink
    once gas should pass, a dead pump once it should run, a shorted heater below full power."""
    idle = Commands.idle(2, 4)  # every cell vented: exhausts open, inlets closed, pump off
    sealed = Commands.idle(2, 4)
    sealed.exhaust_open[:] = False
    filling = sealed.copy()
    filling.inlet_open[1], filling.pump_duty[0] = True, 0.8
    assert not fault_matters("valve_stuck_closed", 1, 0, sealed, 60.0)
    assert fault_matters("valve_stuck_closed", 1, 0, filling, 20.0)
    assert fault_matters("valve_stuck_open", 1, 0, sealed, 60.0)
    assert not fault_matters("valve_stuck_open", 1, 0, filling, 20.0)
    assert not fault_matters("kinked_tube", 1, 0, sealed, 60.0)
    assert not fault_matters("kinked_tube", 1, 0, idle, 0.0)  # vented already: nothing to pass
    assert fault_matters("kinked_tube", 1, 0, idle, 60.0)  # venting a full cell
    assert fault_matters("kinked_tube", 1, 0, filling, 20.0)
    assert not fault_matters("pump_failure", None, 0, sealed, 0.0)
    assert fault_matters("pump_failure", None, 0, filling, 0.0)
    full_heat = sealed.copy()
    full_heat.heater_power[:] = 1.0
    assert not fault_matters("heater_runaway", None, 0, full_heat, 0.0)
    assert fault_matters("heater_runaway", None, 0, sealed, 0.0)
    assert fault_matters("leak", 1, 0, sealed, 60.0) and fault_matters("garment_off", None, 0, idle, 0.0)

"""The leg twin inside sessions: pressures in, limb volume back out, metrics in the summary."""

from __future__ import annotations

import math

import numpy as np
import pytest

from legflow.apps.limb import leg_twin
from legflow.clock import VirtualClock
from legflow.device.massager import Commands
from legflow.device.profile import load_profile
from legflow.device.sim import SimulatedMassager
from legflow.engine.adaptive import AdaptiveCycle
from legflow.engine.session import Session
from legflow.programs.model import Program
from legflow.safety.limits import DEFAULT_LIMITS
from legflow.safety.supervisor import Supervisor
from legflow.store import History
from legflow.twin.live import SESSION_RTOL, LiveTwin
from legflow.twin.subject import COMPARTMENT_NAMES, load_subject


def test_tissue_pressure_is_the_transmitted_pressure_of_the_cells_over_each_segment():
    profile = load_profile("reference")
    twin = leg_twin(profile)
    cells = np.arange(1.0, 11.0) * 10.0  # left foot, ankle, calf, knee, thigh, then the right leg
    tissue = twin.tissue_pressures(cells)
    for leg in range(2):
        expected = np.zeros(len(COMPARTMENT_NAMES))
        for k, cell in enumerate(profile.cells):
            for s, segment in enumerate(COMPARTMENT_NAMES):
                expected[s] += 0.8 * cell.covers.get(segment, 0.0) * cells[leg * 5 + k]
        assert tissue[leg] == pytest.approx(expected)  # the adult's cited ratio: 0.8


def test_the_transmission_through_skin_and_fat_is_the_subjects():
    adult = load_subject("adult")
    circulation = adult.circulation.model_copy(update={"pressure_transmission_ratio": 0.5})
    thin = adult.model_copy(update={"circulation": circulation})
    twin = LiveTwin(thin, [{"calf_distal": 1.0, "calf_proximal": 1.0}], [0])
    assert twin.tissue_pressures(np.array([60.0]))[0] == pytest.approx([0.0, 30.0, 30.0, 0.0])


def hold_foot_cell(limb: bool, seconds: float = 10.0) -> tuple[float, SimulatedMassager]:
    """Fill the left foot cell to about 50 mmHg, close it, wait; return its true pressure."""
    profile = load_profile("reference")
    clock = VirtualClock()
    sim = SimulatedMassager(profile, clock, limb=leg_twin(profile) if limb else None)
    cmd = Commands.idle(sim.n_legs, sim.n_cells)
    cmd.exhaust_open[0], cmd.inlet_open[0], cmd.pump_duty[0] = False, True, 1.0
    while sim.true_pressure_mmHg[0] < 50.0:
        cmd.heartbeat += 1
        sim.apply(cmd)
        clock.advance(0.02)
    cmd.inlet_open[0], cmd.pump_duty[0] = False, 0.0
    for _ in range(round(seconds / 0.02)):
        cmd.heartbeat += 1
        sim.apply(cmd)
        clock.advance(0.02)
    return float(sim.true_pressure_mmHg[0]), sim


def test_a_limb_emptying_under_a_closed_cell_lets_its_gas_expand():
    without, _ = hold_foot_cell(limb=False)
    with_limb, sim = hold_foot_cell(limb=True)
    assert sim.limb is not None
    emptied_mL = sim.limb.limb_volume_change_mL()[0]
    assert emptied_mL < -5.0  # the squeezed foot gave up blood and fluid
    assert with_limb < without - 10.0  # ... and the cell's gas took that room


def short_program(adaptive: bool, minutes: float = 4.0) -> Program:
    data: dict = {
        "program": {"name": "twin test", "goal": "circulation", "legs": "both"},
        "phase": [{
            "name": "squeeze", "duration_min": minutes,
            "compression": {"pattern": "sequential", "zones": ["foot", "calf", "thigh"],
                            "pressure_mmHg": 40, "inflate_s": 2.0, "delay_s": 0.5, "hold_s": 4.0,
                            "release_s": 2.0, "rest_s": 20.0},
        }],
    }  # fmt: skip
    if adaptive:
        data["adaptive"] = {"refill": True}
    return Program.model_validate(data)


def run_with_twin(program: Program, subject: str = "adult", history: History | None = None, **kw):
    profile = load_profile("reference")
    clock = VirtualClock()
    twin = leg_twin(profile, subject)
    sim = SimulatedMassager(profile, clock, limb=twin)
    session = Session(
        program, "twin", Supervisor(sim, DEFAULT_LIMITS, clock), clock, history=history, twin=twin, **kw
    )
    return session.run(), session, twin


@pytest.mark.slow
def test_the_summary_carries_the_twins_metrics_of_the_session(tmp_path):
    history = History(tmp_path / "h.db")
    summary, _, twin = run_with_twin(short_program(adaptive=False), history=history)
    assert summary["status"] == "completed"
    block = summary["twin"]
    assert block["subject"] == "adult" and block["cycles"] == 2 * 7  # 7 cycles of 33 s per leg
    assert block["ejected_mL_per_cycle"] > 20.0 and block["peak_flow_augmentation"] > 1.5
    # the twin kept up with the session, and with the vent after its end (its block covers the program)
    assert twin.t_s == pytest.approx(summary["vented_at_s"], abs=0.11)
    samples = history.samples(summary["id"])
    assert all(len(s["twin"]["outflow_mL_per_min"]) == 2 for s in samples)
    assert (
        max(max(s["twin"]["outflow_mL_per_min"]) for s in samples)
        > 2 * samples[0]["twin"]["outflow_mL_per_min"][0]
    )


@pytest.mark.slow
def test_a_session_on_two_different_legs_reports_each_leg_in_the_summary():
    """A session's twin with a healthy left leg and an oedematous right one: each leg is its own
    parameter set (its resting fluid), and the summary's twin block gives each leg's metrics."""
    summary, _, twin = run_with_twin(short_program(adaptive=False), subject="adult,oedema")
    assert [leg.name for leg in twin.subjects] == ["adult", "oedema"]
    assert twin.trace().fluid_excess_mL[0, 1].sum() > twin.trace().fluid_excess_mL[0, 0].sum() + 50.0
    block = summary["twin"]
    assert block["subject"] == "adult,oedema"
    assert [block["legs"][leg]["subject"] for leg in ("left", "right")] == ["adult", "oedema"]
    assert block["legs"]["left"]["cycles"] + block["legs"]["right"]["cycles"] == block["cycles"]
    assert block["legs"]["right"]["lymph_mL_per_h"] > 2 * block["legs"]["left"]["lymph_mL_per_h"]


@pytest.mark.parametrize(
    "tau_s, rest_s", [(5.0, 5.0 * math.log(10)), (15.0, 15.0 * math.log(10)), (30.0, 60.0)]
)
def test_a_rest_lasts_until_the_leg_has_refilled_to_90_percent(tau_s, rest_s):
    """A leg whose veins refill as 1 − e^(−t/τ) reaches 90 % at τ·ln 10; rests are capped at 3 × 20 s."""
    phase = short_program(adaptive=True).phases[0]
    cycle = AdaptiveCycle(phase, ["foot"], [0], ("left",), baseline_mL=np.array([500.0]))
    dt = 0.01
    while not cycle.rests_s:
        t = cycle.t_cycle_s
        lost = 100.0 if t < cycle.rest_from_s else 100.0 * math.exp(-(t - cycle.rest_from_s) / tau_s)
        cycle.advance(dt, np.array([500.0 - lost]), "both")
    assert cycle.rests_s[0] == pytest.approx(rest_s, abs=2 * dt)
    assert cycle.cycle == 1 and cycle.t_cycle_s == 0.0


@pytest.mark.slow
def test_adaptive_rest_differs_from_the_programmed_rest_and_can_be_switched_off():
    adaptive, _, _ = run_with_twin(short_program(adaptive=True))
    fixed, session, _ = run_with_twin(short_program(adaptive=True), adaptive_rest=False)
    assert "adaptive" not in fixed and not session.adaptive
    assert adaptive["adaptive"]["mean_rest_s"] != pytest.approx(20.0, abs=1.0)
    assert adaptive["twin"]["cycles"] != fixed["twin"]["cycles"]


def test_the_sessions_twin_tolerance_keeps_its_metrics_within_1_percent():
    def metrics(rtol: float) -> dict:
        profile = load_profile("reference")
        clock = VirtualClock()
        twin = leg_twin(profile)
        twin.rtol = rtol
        sim = SimulatedMassager(profile, clock, limb=twin)
        program = short_program(adaptive=False, minutes=2.0)
        return Session(program, "twin", Supervisor(sim, DEFAULT_LIMITS, clock), clock, twin=twin).run()[
            "twin"
        ]

    loose, tight = metrics(SESSION_RTOL), metrics(1e-6)
    for key in ("ejected_mL_per_cycle", "peak_flow_augmentation", "refill_s", "fluid_cleared_mL"):
        assert loose[key] == pytest.approx(tight[key], rel=0.01), key

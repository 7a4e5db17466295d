"""The linear network tier: against a steady state reduced by hand, the twin's resting network,
svZeroDSolver, SciPy's matrix exponential, and itself (batched vs alone, coarse vs fine steps)."""

from __future__ import annotations

import numpy as np
import pytest

from legflow.twin import load_subject, network
from legflow.twin import model as m
from legflow.twin.network import (
    linear_legs,
    propagators,
    run_svzerod,
    simulate_linear,
    steady_state_mmHg,
    svzerod_config,
    tube_law_slope_mL_per_mmHg,
)

VARIANTS = ("adult", "small_leg", "large_leg", "oedema", "older_adult")
DT = 0.05


def hand_steady_state(subject) -> tuple[np.ndarray, float]:
    """Venous pressures [mmHg] and outflow [mL/s] by series-parallel reduction, segment by segment.

    Every arterial inlet is at MAP, so the network upstream of a node is a source MAP behind one
    resistance: foot Rth0 = Rmv0; next Rth_i = (Rth_{i-1} + R_{i-1}) ∥ Rmv_i, up to the thigh.
    Then Q_out = (MAP − p_abd)/(Rth_last + R_last), p_last = p_abd + Q_out·R_last, and back down
    the leg p_i = p_{i+1} + R_i·(MAP − p_{i+1})/(Rth_i + R_i).
    """
    mean_arterial = subject.circulation.mean_arterial_pressure_mmHg
    abdominal = subject.circulation.abdominal_venous_pressure_mmHg
    r = [s.venous_resistance_mmHg_s_per_mL for s in subject.compartments]
    rmv = [s.microvascular_resistance_mmHg_s_per_mL for s in subject.compartments]

    def parallel(a: float, b: float) -> float:
        return a * b / (a + b)

    rth = [rmv[0]]
    for i in range(1, len(r)):
        rth.append(parallel(rth[-1] + r[i - 1], rmv[i]))
    outflow = (mean_arterial - abdominal) / (rth[-1] + r[-1])
    p = [abdominal + outflow * r[-1]]
    for i in range(len(r) - 2, -1, -1):
        p.insert(0, p[0] + r[i] * (mean_arterial - p[0]) / (rth[i] + r[i]))
    return np.array(p), outflow


@pytest.mark.parametrize("name", VARIANTS)
def test_steady_state_matches_the_hand_reduction_and_stays_put(name):
    subject = load_subject(name)
    legs = linear_legs(subject)
    expected, outflow = hand_steady_state(subject)
    np.testing.assert_allclose(steady_state_mmHg(legs)[0], expected, rtol=1e-12)
    trace = simulate_linear(legs, DT, 200)  # inputs held: must not drift
    np.testing.assert_allclose(trace.venous_pressure_mmHg[:, 0], np.tile(expected, (201, 1)), rtol=1e-12)
    assert trace.outflow_mL_per_s[-1, 0] == pytest.approx(outflow, rel=1e-12)
    assert trace.inflow_mL_per_s[-1, 0].sum() == pytest.approx(outflow, rel=1e-12)  # mass balance


def test_resting_pressures_match_the_twins_resting_network():
    """Same compartments and resistances: the twin's rest differs only by its (tiny) resting
    filtration (largest in oedema, where lymph runs faster) and the valves' residual backflow
    conductance: < 0.2 %."""
    for name in VARIANTS:
        subject = load_subject(name)
        prm, _ = m.pack(subject)
        twin = prm["local_venous_pressure_at_rest_mmHg"] - prm["hydrostatic_mmHg"]  # supine: same depths
        np.testing.assert_allclose(steady_state_mmHg(linear_legs(subject))[0], twin, rtol=2e-3)


def test_compliance_is_the_tube_laws_slope_at_rest():
    subject = load_subject("adult")
    for posture in ("supine", "standing"):
        legs = linear_legs(subject, posture)
        p_rest = steady_state_mmHg(legs)[0]
        for i, seg in enumerate(subject.compartments):
            ptm = p_rest[i] + subject.circulation.blood_hydrostatic_gradient_mmHg_per_cm * getattr(
                seg, f"depth_{posture}_cm"
            )
            args = (seg.venous_compliance_mL_per_mmHg, seg.venous_unstressed_volume_mL)
            args += (seg.venous_max_distension_volume_mL,)
            slope = (m.vein_volume_mL(ptm + 1e-4, *args) - m.vein_volume_mL(ptm - 1e-4, *args)) / 2e-4
            assert legs.compliance_mL_per_mmHg[0, i] == pytest.approx(slope, rel=1e-6)
    assert tube_law_slope_mL_per_mmHg(0.0, 3.0, 100.0, 150.0) == 3.0
    standing = linear_legs(subject, "standing").compliance_mL_per_mmHg
    assert np.all(standing < 0.5 * linear_legs(subject).compliance_mL_per_mmHg)  # distended veins


def test_one_step_map_equals_scipys_matrix_exponential():
    expm = pytest.importorskip("scipy.linalg").expm
    legs = linear_legs([load_subject(n) for n in VARIANTS])
    phi, _, _ = propagators(legs, 0.7)
    for n in range(legs.n_legs):
        c = legs.compliance_mL_per_mmHg[n]
        g_v, g_mv = (
            1 / legs.venous_resistance_mmHg_s_per_mL[n],
            1 / legs.microvascular_resistance_mmHg_s_per_mL[n],
        )
        g = np.diag(g_mv + g_v + np.r_[0.0, g_v[:-1]]) - np.diag(g_v[:-1], 1) - np.diag(g_v[:-1], -1)
        np.testing.assert_allclose(phi[n], expm(-0.7 * g / c[:, None]), rtol=1e-10, atol=1e-13)


def test_the_update_is_exact_for_inputs_linear_between_samples():
    """A coarse grid gives the fine grid's answer when the input is linear between coarse samples."""
    legs = linear_legs(load_subject("adult"))
    coarse_t = np.arange(41) * 1.0
    ramp = np.interp(coarse_t, [0, 5, 15, 40], [0, 12, 12, -3])  # mmHg
    fine_t = np.arange(401) * 0.1
    coarse = simulate_linear(legs, 1.0, 40, abdominal_change_mmHg=ramp)
    fine = simulate_linear(legs, 0.1, 400, abdominal_change_mmHg=np.interp(fine_t, coarse_t, ramp))
    np.testing.assert_allclose(fine.venous_pressure_mmHg[::10], coarse.venous_pressure_mmHg, rtol=1e-11)


def test_a_batch_of_different_subjects_equals_each_alone(monkeypatch):
    subjects = [load_subject(n) for n in VARIANTS] + [load_subject("adult", mean_arterial_pressure_mmHg=80.0)]
    legs = linear_legs(subjects, "seated")
    n_steps = 300
    rng = np.random.default_rng(3)
    arterial = np.cumsum(rng.normal(0.0, 0.5, (n_steps + 1, legs.n_legs)), axis=0)  # one input per leg
    abdominal = 3.0 * np.sin(2 * np.pi * np.arange(n_steps + 1) * DT / 4.0)  # shared
    batch = simulate_linear(legs, DT, n_steps, arterial, abdominal, record_every=7)
    for n in range(legs.n_legs):
        alone = simulate_linear(legs.leg(n), DT, n_steps, arterial[:, n], abdominal, record_every=7)
        np.testing.assert_allclose(
            batch.venous_pressure_mmHg[:, n], alone.venous_pressure_mmHg[:, 0], rtol=1e-13
        )
        np.testing.assert_allclose(batch.outflow_mL_per_s[:, n], alone.outflow_mL_per_s[:, 0], rtol=1e-13)
    monkeypatch.setattr(network, "PARALLEL_MIN_LEG_STEPS", 0)  # the multi-threaded kernel: same numbers
    threaded = simulate_linear(legs, DT, n_steps, arterial, abdominal, record_every=7)
    np.testing.assert_array_equal(threaded.venous_pressure_mmHg, batch.venous_pressure_mmHg)


@pytest.mark.parametrize("name", ["adult", "older_adult"])
def test_matches_svzerodsolver_through_steps_and_breathing(name):
    """svZeroDSolver (generalized-α, 2nd order) on the same network and inputs: a 10-mmHg pulse of
    abdominal pressure (10-40 s), a lasting 8-mmHg fall of MAP at 50 s, and breathing from 60 s.
    Within 1 % everywhere; within 0.05 % once 1 s has passed since the last step."""
    pytest.importorskip("svzerod")
    legs = linear_legs(load_subject(name))
    n_steps = 1800
    t = np.arange(n_steps + 1) * DT
    abdominal = np.where((t >= 10.0) & (t < 40.0), 10.0, 0.0) + np.where(
        t >= 60.0, 2.0 * (1 - np.cos(2 * np.pi * (t - 60.0) / 4.0)), 0.0
    )
    arterial = np.where(t >= 50.0, -8.0, 0.0)
    ours = simulate_linear(legs, DT, n_steps, arterial, abdominal)
    ref = run_svzerod(svzerod_config(legs, DT, n_steps, arterial, abdominal))
    np.testing.assert_allclose(ref.t_s, t, atol=1e-9)
    for got, want in (
        (ours.venous_pressure_mmHg[:, 0], ref.venous_pressure_mmHg),
        (ours.valve_flow_mL_per_s[:, 0], ref.valve_flow_mL_per_s),
    ):
        scale = np.abs(want).max(axis=0)
        assert np.max(np.abs(got - want) / scale) < 0.01
        settled = (t >= 41.0) & ((t < 50.0) | (t >= 51.0))
        assert np.max(np.abs(got - want)[settled] / scale) < 5e-4
    # the step's direction and the new steady state: MAP −8 mmHg lowers every venous pressure
    assert np.all(ours.venous_pressure_mmHg[1190, 0] < ours.venous_pressure_mmHg[990, 0])

"""Prototype of other shapes for the twin's venous network, against the two cases it misses.

Not the twin: a plain SciPy (Radau) model of the leg's veins alone, built from the twin's own blocks
(tube law, valve, waterfall, venular outlet: ``model.*.py_func``) and the adult's packed parameters,
so that a shape can be tried in minutes before it is written into the compiled kernels with their
analytic Jacobian. Tissue fluid and lymph are left out (over the seconds of these cases they move
< 0.01 mL/s); the ``series`` shape is the twin's own and reproduces its validation numbers
(foot pump 2.3 / 5.0 / 5.4 mL/s, popliteal 4.0 / 9.9 / 13.7, refill 0.134 %/s, τ 3.6 s), which is
the check that the prototype measures what the validation runners measure.

Shapes (``python -m benchmarks.twin_shape``):

``series``
    the twin: foot → distal calf → proximal calf → thigh → abdomen, each one compliance.
``thigh_conduit``
    the thigh's veins split into a deep axial conduit (popliteal and femoral vein) and the rest
    (muscle veins, profunda tributaries, great saphenous: the reservoir). The proximal calf drains
    into the conduit; the thigh's microcirculation fills the reservoir, which drains into the
    conduit through the thigh's own valve and resistance; the conduit drains to the abdomen through
    its Poiseuille resistance. A pulse from the popliteal vein then reaches the groin through a small
    compliance and a low resistance, instead of through the thigh's whole compliance.
``calf_and_thigh_conduits``
    the same in each calf half too (posterior tibial, peroneal and anterior tibial veins, then the
    popliteal): the foot drains into the distal calf's conduit; each half's muscle veins (soleal and
    gastrocnemial) drain into it through a valve, the halves side by side (each half's resistance is
    the calf's / its volume share, so that each still empties with the calf's τ = R·C).

Option ``foot_collapse_exponent`` n: the foot's outflow resistance rises as its veins collapse,
R = R0·(V_rest/V)^n (Poiseuille at constant length: n = 2 for a circular lumen; a flattening one
rises faster). The conduit values are anatomical estimates (see ``CONDUITS``), not fitted.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_ivp

from legflow.twin import model as m
from legflow.twin.subject import load_subject, series_resistance_factor

_tube = m.vein_transmural_mmHg.py_func
_drop = m.waterfall_drop_mmHg.py_func
_valve = m.valve_flow_mL_per_s.py_func
_outlet = m.venular_outlet_mmHg.py_func
W = m.WATERFALL_WIDTH

#: Deep axial conduit per compartment (distal calf, proximal calf, thigh): its share of the
#: compartment's venous compliance and volumes, and its resistance [mmHg·s/mL] (Poiseuille,
#: 8·μ·L/(π·r⁴), μ = 3.5 mPa·s), all assumed from typical adult anatomy:
#: distal calf: six tibial/peroneal veins, 3.5 mm across, 21.5 cm (half the calf's 43 cm) → 0.26;
#: proximal calf: the same veins joining into the popliteal → 0.1; thigh: femoral vein 11 mm
#: across, 40 cm → 0.03. Shares: six 4 mm veins × 43 cm ≈ 32 mL of the calf's V0 102 mL (0.3);
#: femoral and popliteal ≈ 50 mL of the thigh's V0 222 mL (0.2). The results move little with
#: the shares (see ``--shares``).
CONDUITS = {1: (0.3, 0.26), 2: (0.3, 0.1), 3: (0.2, 0.03)}


@dataclass(frozen=True)
class Result:
    outflow_mL_per_min: float
    pump_rise_mL_per_s: tuple[float, float, float]
    popliteal_rise_mL_per_s: tuple[float, float, float]
    emptying_tau_s: float
    refill_pct_per_s: float
    refill_from_foot_pct_per_s: float


Rhs = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, float, float]]


def build(shape: str, foot_collapse_exponent: float = 0.0, share_scale: float = 1.0) -> tuple[Rhs, int]:
    """dy/dt, outflow to the abdomen and popliteal flow of the adult leg in ``shape``; and the
    number of states (four compartment reservoirs, then the conduits)."""
    prm, _ = m.pack(load_subject("adult"))
    c = prm["venous_compliance_mL_per_mmHg"].copy()
    v0 = prm["venous_unstressed_volume_mL"].copy()
    vmax = prm["venous_max_distension_volume_mL"].copy()
    r = prm["venous_resistance_mmHg_s_per_mL"].copy()
    r_back = prm["valve_backflow_resistance_mmHg_s_per_mL"]
    rmv, hydro = prm["microvascular_resistance_mmHg_s_per_mL"], prm["hydrostatic_mmHg"]
    arterial, abdomen, k = (
        prm["mean_arterial_pressure_mmHg"],
        prm["abdominal_venous_pressure_mmHg"],
        prm["valve_steepness_per_mmHg"],
    )
    p0_if = prm["interstitial_pressure_at_rest_mmHg"]
    conduits = conduits_of(shape)
    share = {i: CONDUITS[i][0] * share_scale for i in conduits}
    if shape == "calf_and_thigh_conduits":  # the calf's halves side by side, each with the calf's τ
        calf_r = r[1] / series_resistance_factor(0.38)  # undo the twin's halves in series
        r[1], r[2] = calf_r / 0.38, calf_r / 0.62
    ca = {i: c[i] * share[i] for i in conduits}
    v0a = {i: v0[i] * share[i] for i in conduits}
    vmaxa = {i: vmax[i] * share[i] for i in conduits}
    for i in conduits:
        c[i], v0[i], vmax[i] = c[i] - ca[i], v0[i] - v0a[i], vmax[i] - vmaxa[i]
    slot = {i: 4 + n for n, i in enumerate(conduits)}
    v_foot_rest = [1.0]

    def rhs(y: np.ndarray, ext: np.ndarray) -> tuple[np.ndarray, float, float]:
        d = np.zeros_like(y)
        p = [_tube(y[i], c[i], v0[i], vmax[i]) + ext[i] for i in range(4)]
        for i in range(4):
            d[i] += (arterial - (_outlet(p[i], p0_if[i] + ext[i], W) - hydro[i])) / rmv[i]
        pa = {i: _tube(y[slot[i]], ca[i], v0a[i], vmaxa[i]) + ext[i] for i in conduits}

        def node(i: int) -> tuple[int, float]:  # where blood entering compartment i goes
            return (slot[i], pa[i]) if i in conduits else (i, p[i])

        popliteal = 0.0
        for i in range(4):  # compartment i's reservoir drains into its own conduit or onwards
            if i in conduits:
                q = _valve(p[i] - pa[i], r[i], r_back[i], k)
                d[i] -= q
                d[slot[i]] += q
            elif i < 3:
                to, p_down = node(i + 1)
                scale = (v_foot_rest[0] / y[0]) ** foot_collapse_exponent if i == 0 else 1.0
                drop = _drop(p[i] - hydro[i], p_down - hydro[i + 1], ext[i + 1] - hydro[i + 1], W)
                q = _valve(drop, r[i] * scale, r_back[i], k)
                d[i] -= q
                d[to] += q
                popliteal = q if i == 2 else popliteal
        out = 0.0
        for i in conduits:  # conduit i drains into the next compartment's entry, or the abdomen
            r_ax = CONDUITS[i][1]
            if i < 3:
                to, p_down = node(i + 1)
                drop = _drop(pa[i] - hydro[i], p_down - hydro[i + 1], ext[i + 1] - hydro[i + 1], W)
                q = _valve(drop, r_ax, r_back[i], k)
                popliteal = q if i == 2 else popliteal
            else:
                to, q = -1, _valve(pa[i] - hydro[i] - abdomen, r_ax, r_back[i], k)
                out = q
            d[slot[i]] -= q
            if to >= 0:
                d[to] += q
        if 3 not in conduits:
            out = _valve(p[3] - hydro[3] - abdomen, r[3], r_back[3], k)
            d[3] -= out
        return d, out, popliteal

    n_states = 4 + len(conduits)
    if foot_collapse_exponent:
        v_foot_rest[0] = rest_state(rhs, n_states)[0]
    return rhs, n_states


def rest_state(rhs: Rhs, n_states: int) -> np.ndarray:
    _, y_twin = m.pack(load_subject("adult"))
    y = np.concatenate([y_twin[:4], np.full(n_states - 4, 20.0)])
    sol = solve_ivp(
        lambda t, y: rhs(y, np.zeros(4))[0], (0.0, 3000.0), y, method="Radau", rtol=1e-9, atol=1e-10
    )
    return np.asarray(sol.y[:, -1])


def run(rhs: Rhs, y0: np.ndarray, phases: list[tuple[float, np.ndarray]], dt: float) -> np.ndarray:
    rows, y = [y0], y0
    for duration, ext in phases:
        n = round(duration / dt)
        sol = solve_ivp(
            lambda t, y, e=ext: rhs(y, e)[0],
            (0.0, duration),
            y,
            method="Radau",
            t_eval=np.linspace(0.0, duration, n + 1),
            rtol=1e-7,
            atol=1e-8,
            max_step=0.05,
        )
        rows += list(sol.y.T[1:])
        y = sol.y[:, -1]
    return np.array(rows)


def evaluate(shape: str, foot_collapse_exponent: float = 0.0, share_scale: float = 1.0) -> Result:
    """The validation runners' measures on the prototype (tissue ratio 0.8, as the adult's)."""
    rhs, n = build(shape, foot_collapse_exponent, share_scale)
    y0, z = rest_state(rhs, n), np.zeros(4)
    _, out0, pop0 = rhs(y0, z)
    rise, pop = [], []
    for cell in (50.0, 125.0, 200.0):
        foot = np.array([0.8 * cell, 0.0, 0.0, 0.0])
        ys = run(rhs, y0, [(3.0, foot), (3.0, z)], 0.01)
        flows = np.array([rhs(y, foot if k <= 300 else z)[1:] for k, y in enumerate(ys)])
        rise.append(float(flows[:, 0].max() - out0))
        pop.append(float(flows[:, 1].max() - pop0))
    conduits = conduits_of(shape)
    calf_idx = [1, 2] + [4 + n for n, i in enumerate(conduits) if i < 3]  # reservoirs and conduits
    dt, off = 0.02, 1500
    ys = run(rhs, y0, [(30.0, np.array([0.0, 8.0, 8.0, 0.0])), (1.0, z)], dt)
    calf = ys[:, calf_idx].sum(axis=1)
    fall = calf[0] - calf[off]
    k = int(np.flatnonzero(calf[:off] <= calf[0] - (1.0 - np.exp(-1.0)) * fall)[0])
    per = 100.0 / 3000.0
    return Result(
        60.0 * out0,
        (rise[0], rise[1], rise[2]),
        (pop[0], pop[1], pop[2]),
        k * dt,
        (calf[-1] - calf[off]) * per,
        (ys[off, 0] - ys[-1, 0]) * per,
    )


def conduits_of(shape: str) -> list[int]:
    return {"series": [], "thigh_conduit": [3], "calf_and_thigh_conduits": [1, 2, 3]}[shape]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--shares", action="store_true", help="also each conduit shape at half and 1.5x shares"
    )
    args = parser.parse_args()
    runs = [("series", 0.0, 1.0), ("thigh_conduit", 0.0, 1.0), ("calf_and_thigh_conduits", 0.0, 1.0)]
    runs += [
        ("thigh_conduit", 2.0, 1.0),
        ("calf_and_thigh_conduits", 2.0, 1.0),
        ("calf_and_thigh_conduits", 3.0, 1.0),
    ]
    if args.shares:
        runs += [(s, 0.0, f) for s in ("thigh_conduit", "calf_and_thigh_conduits") for f in (0.5, 1.5)]
    print("published: foot pump 9.1 / 13.4 / 15.1 mL/s ±35 %; refill 0.054 %/s ±50 %; τ 4.2 s ±40 %")
    for shape, n, scale in runs:
        res = evaluate(shape, n, scale)
        print(
            f"{shape:24s} n={n:g} shares×{scale:g}: outflow {res.outflow_mL_per_min:.0f} mL/min, foot pump "
            + " / ".join(f"{x:.1f}" for x in res.pump_rise_mL_per_s)
            + " (popliteal "
            + " / ".join(f"{x:.1f}" for x in res.popliteal_rise_mL_per_s)
            + f"), τ {res.emptying_tau_s:.2f} s, refill {res.refill_pct_per_s:.3f} %/s "
            + f"(from the foot {res.refill_from_foot_pct_per_s:.3f})"
        )


if __name__ == "__main__":
    main()

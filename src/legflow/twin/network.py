"""The linear network tier: the twin's leg veins as a linear RC network, and the same network for
svZeroDSolver.

Why a linear tier: it is the baseline the twin's nonlinear blocks (tube law, valves, waterfall) are
judged against, it can be checked against an independent solver (SimVascular's svZeroDSolver) and
against a steady state worked out by hand, and it runs a cohort in milliseconds.

One leg, the twin's compartments and resistances (pressures referenced to heart level, as in
:mod:`legflow.twin.model`, so the hydrostatic columns cancel in the flows)::

    MAP ─Rmv0─ foot (C0) ─R0─ distal calf (C1) ─R1─ proximal calf (C2) ─R2─ thigh (C3) ─R3─ abdomen
                MAP ─Rmv1─────┘        MAP ─Rmv2──────────┘        MAP ─Rmv3──────┘

    C_i·dp_i/dt = (MAP − p_i)/Rmv_i + (p_{i−1} − p_i)/R_{i−1} − (p_i − p_{i+1})/R_i,  p_N = p_abd
    i.e.  C·dp/dt = −G·p + B·u,  u = (MAP, p_abd)

Linear where the twin is not: each compliance is the tube law's slope at the resting transmural
pressure (:func:`linear_legs`), a valve is its forward resistance in both directions, there is no
external pressure (hence no waterfall) and no tissue fluid or lymph: the resting filtration is
dropped (adult: 0.1227 mL/h per 100 mL × 105 → 13 mL/h = 0.0036 mL/s, 0.08 % of the 4.4 mL/s leg
blood flow). Inputs are sampled on a grid of ``dt_s`` and linear between
samples (first-order hold, svZeroDSolver's convention for time-dependent boundary values); for
such inputs the update is exact (:func:`propagators`), so the time step costs no accuracy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit, prange

from legflow.twin.model import N_SEG, POSTURES, Posture
from legflow.twin.subject import COMPARTMENT_NAMES, Subject

SEGMENTS = COMPARTMENT_NAMES
#: Index of the inputs in ``u``: arterial (MAP) and abdominal venous pressure [mmHg].
ARTERIAL, ABDOMINAL = 0, 1


@dataclass(frozen=True)
class LinearLegs:
    """A batch of linear legs. Per-segment arrays are [n_legs, N_SEG] (the twin's compartments)."""

    compliance_mL_per_mmHg: np.ndarray
    venous_resistance_mmHg_s_per_mL: np.ndarray
    microvascular_resistance_mmHg_s_per_mL: np.ndarray
    arterial_pressure_mmHg: np.ndarray  # [n_legs], the input's resting value
    abdominal_pressure_mmHg: np.ndarray  # [n_legs]

    @property
    def n_legs(self) -> int:
        return int(self.compliance_mL_per_mmHg.shape[0])

    def leg(self, index: int) -> LinearLegs:
        """One leg of the batch, as a batch of one."""
        sl = slice(index, index + 1)
        return LinearLegs(*(np.ascontiguousarray(getattr(self, f)[sl]) for f in self.__dataclass_fields__))


def tube_law_slope_mL_per_mmHg(
    transmural_mmHg: float, compliance_mL_per_mmHg: float, unstressed_mL: float, max_distension_mL: float
) -> float:
    """dV/dPtm of the twin's tube law (model.vein_volume_mL), the linear tier's compliance.

    V = V0 + (2S/π)·atan(π·C·Ptm/(2S))  ⇒  dV/dPtm = C / (1 + (π·C·Ptm/(2S))²),
    S = Vmax for Ptm ≥ 0, V0 below. Equals C at Ptm = 0 and falls as the vein distends or collapses.
    """
    span_mL = max_distension_mL if transmural_mmHg >= 0.0 else unstressed_mL
    c = compliance_mL_per_mmHg
    return c / (1.0 + (math.pi * c * transmural_mmHg / (2.0 * span_mL)) ** 2)


def linear_legs(subjects: Subject | Sequence[Subject], posture: Posture = "supine") -> LinearLegs:
    """Linear parameters of each subject's leg in a posture, from the twin's parameter set.

    Resistances are the subject's own (valve = forward resistance R). Compliance = slope of the tube
    law at the resting transmural pressure Ptm = p_rest + ρg·depth(posture), p_rest the network's
    steady state (resistances only, so no circularity). Posture changes only the compliances.
    """
    if posture not in POSTURES:
        raise ValueError(f"unknown posture {posture!r}; one of {POSTURES}")
    subs = [subjects] if isinstance(subjects, Subject) else list(subjects)
    r = np.array([[seg.venous_resistance_mmHg_s_per_mL for seg in s.compartments] for s in subs])
    rmv = np.array([[seg.microvascular_resistance_mmHg_s_per_mL for seg in s.compartments] for s in subs])
    map_mmHg = np.array([s.circulation.mean_arterial_pressure_mmHg for s in subs])
    abd_mmHg = np.array([s.circulation.abdominal_venous_pressure_mmHg for s in subs])
    unit_c = np.ones_like(r)  # compliances do not enter the steady state
    p_rest = steady_state_mmHg(LinearLegs(unit_c, r, rmv, map_mmHg, abd_mmHg))
    c = np.empty_like(r)
    for n, s in enumerate(subs):
        gradient = s.circulation.blood_hydrostatic_gradient_mmHg_per_cm
        for i, seg in enumerate(s.compartments):
            ptm = p_rest[n, i] + gradient * getattr(seg, f"depth_{posture}_cm")
            c[n, i] = tube_law_slope_mL_per_mmHg(
                ptm,
                seg.venous_compliance_mL_per_mmHg,
                seg.venous_unstressed_volume_mL,
                seg.venous_max_distension_volume_mL,
            )
    return LinearLegs(c, r, rmv, map_mmHg, abd_mmHg)


def _network_matrices(legs: LinearLegs) -> tuple[np.ndarray, np.ndarray]:
    """Conductance matrix G [n, N_SEG, N_SEG] (mL/s/mmHg) and input matrix B [n, N_SEG, 2] of
    C·ṗ = −G·p + B·u."""
    g_v = 1.0 / legs.venous_resistance_mmHg_s_per_mL
    g_mv = 1.0 / legs.microvascular_resistance_mmHg_s_per_mL
    n = legs.n_legs
    g = np.zeros((n, N_SEG, N_SEG))
    for i in range(N_SEG):
        g[:, i, i] = g_mv[:, i] + g_v[:, i] + (g_v[:, i - 1] if i > 0 else 0.0)
        if i + 1 < N_SEG:
            g[:, i, i + 1] = g[:, i + 1, i] = -g_v[:, i]
    b = np.zeros((n, N_SEG, 2))
    b[:, :, ARTERIAL] = g_mv
    b[:, N_SEG - 1, ABDOMINAL] = g_v[:, N_SEG - 1]
    return g, b


def steady_state_mmHg(
    legs: LinearLegs,
    arterial_mmHg: np.ndarray | float | None = None,
    abdominal_mmHg: np.ndarray | float | None = None,
) -> np.ndarray:
    """Venous pressures [n_legs, N_SEG] with the inputs held (default: each leg's resting inputs):
    G·p = B·u."""
    g, b = _network_matrices(legs)
    u = np.stack(
        [
            legs.arterial_pressure_mmHg
            if arterial_mmHg is None
            else np.broadcast_to(arterial_mmHg, legs.n_legs),
            legs.abdominal_pressure_mmHg
            if abdominal_mmHg is None
            else np.broadcast_to(abdominal_mmHg, legs.n_legs),
        ],
        axis=-1,
    )
    return np.linalg.solve(g, np.einsum("nij,nj->ni", b, u)[..., None])[..., 0]


def propagators(legs: LinearLegs, dt_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact one-step maps for inputs linear over each step: p₁ = Φ·p₀ + W₀·u₀ + W₁·u₁.

    With K = G⁻¹B (p_ss = K·u) and e = p − K·u:  ė = A·e − K·u̇,  A = −C⁻¹G, so over a step h
    with u̇ = (u₁ − u₀)/h constant:  p₁ = K·u₁ + Φ·(p₀ − K·u₀) + M·(u₁ − u₀),
    Φ = e^{A·h},  M = G⁻¹·C·(Φ − I)·K / h   (−A⁻¹ = G⁻¹C);  hence W₀ = −(Φ·K + M), W₁ = K + M.
    Φ from the symmetric S = C^-½·G·C^-½ = Q·Λ·Qᵀ: Φ = C^-½·Q·e^{−Λh}·Qᵀ·C^½ (NumPy's eigh,
    batched; no SciPy needed at run time). Returns Φ [n,N,N], W₀ [n,N,2], W₁ [n,N,2].
    """
    if dt_s <= 0.0:
        raise ValueError("dt_s must be > 0")
    g, b = _network_matrices(legs)
    c = legs.compliance_mL_per_mmHg
    inv_sqrt_c = 1.0 / np.sqrt(c)
    s = inv_sqrt_c[:, :, None] * g * inv_sqrt_c[:, None, :]
    lam, q = np.linalg.eigh(s)
    decay = np.einsum("nij,nj,nkj->nik", q, np.exp(-lam * dt_s), q)
    phi = inv_sqrt_c[:, :, None] * decay * np.sqrt(c)[:, None, :]
    k = np.linalg.solve(g, b)
    mix = np.linalg.solve(g, c[:, :, None] * (phi - np.eye(N_SEG))) @ k / dt_s
    return phi, -(phi @ k + mix), k + mix


@njit(cache=True)
def _propagate_leg(leg, phi, w0, w1, base, change, p0, record_every, out):  # pragma: no cover - compiled
    """One leg through every step: p ← Φ·p + W₀·u₀ + W₁·u₁, a few multiply-adds per compartment."""
    col = min(leg, change.shape[1] - 1)  # inputs shared by the batch (one column) or one per leg
    f, g, h = phi[leg], w0[leg], w1[leg]
    n_seg = f.shape[0]
    art, abd = base[leg, 0], base[leg, 1]
    x = p0[leg].copy()
    y = np.empty(n_seg)
    out[0, leg, :] = x
    a0, d0 = art + change[0, col, 0], abd + change[0, col, 1]
    since, rec = 0, 0
    for n in range(1, change.shape[0]):
        a1, d1 = art + change[n, col, 0], abd + change[n, col, 1]
        for i in range(n_seg):
            acc = g[i, 0] * a0 + g[i, 1] * d0 + h[i, 0] * a1 + h[i, 1] * d1
            for j in range(n_seg):
                acc += f[i, j] * x[j]
            y[i] = acc
        x, y = y, x
        a0, d0 = a1, d1
        since += 1
        if since == record_every:
            since, rec = 0, rec + 1
            out[rec, leg, :] = x


@njit(parallel=True, cache=True)
def _propagate_parallel(phi, w0, w1, base, change, p0, record_every, out):  # pragma: no cover - compiled
    for leg in prange(phi.shape[0]):  # prange's index is unsigned: numba would mix it with int to float
        _propagate_leg(np.int64(leg), phi, w0, w1, base, change, p0, record_every, out)


@njit(cache=True)
def _propagate_serial(phi, w0, w1, base, change, p0, record_every, out):  # pragma: no cover - compiled
    for leg in range(phi.shape[0]):
        _propagate_leg(leg, phi, w0, w1, base, change, p0, record_every, out)


#: Leg-steps below which the batch runs on one thread: waking numba's worker threads costs
#: ≈ 0.1 ms on an idle machine and up to a scheduler slice (≈ 10 ms, measured) on a busy one,
#: while a leg-step costs ≈ 7 ns; 2·10⁶ leg-steps ≈ 14 ms of serial work (measured, 2-core VM).
PARALLEL_MIN_LEG_STEPS = 2_000_000


@njit(cache=True)
def _valve_flows(p, abdominal, change, r, q):  # pragma: no cover - compiled
    """q = Δp/R down the leg (a compiled loop: NumPy is slow on short trailing axes)."""
    for rec in range(p.shape[0]):
        for leg in range(p.shape[1]):
            down = abdominal[leg] + change[rec, min(leg, change.shape[1] - 1)]
            for i in range(N_SEG - 1, -1, -1):
                q[rec, leg, i] = (p[rec, leg, i] - down) / r[leg, i]
                down = p[rec, leg, i]


@dataclass(frozen=True)
class LinearTrace:
    """A simulated batch of linear legs; arrays are [n_records, n_legs, ...]. The inputs are kept
    as the (often shared) changes and derived on demand, so a cohort does not store them per leg."""

    t_s: np.ndarray
    venous_pressure_mmHg: np.ndarray  # [n_rec, n_legs, N_SEG], heart-referenced, per compartment
    change_mmHg: np.ndarray  # [n_rec, 1 or n_legs, 2], input changes (ARTERIAL, ABDOMINAL)
    legs: LinearLegs

    @property
    def arterial_mmHg(self) -> np.ndarray:
        """[n_rec, n_legs]"""
        return self.legs.arterial_pressure_mmHg + self.change_mmHg[..., ARTERIAL]

    @property
    def abdominal_mmHg(self) -> np.ndarray:
        """[n_rec, n_legs]"""
        return self.legs.abdominal_pressure_mmHg + self.change_mmHg[..., ABDOMINAL]

    @property
    def valve_flow_mL_per_s(self) -> np.ndarray:
        """Flow out of each compartment (the last one is the leg's outflow to the abdomen)."""
        q = np.empty_like(self.venous_pressure_mmHg)
        _valve_flows(
            self.venous_pressure_mmHg,
            self.legs.abdominal_pressure_mmHg,
            np.ascontiguousarray(self.change_mmHg[..., ABDOMINAL]),
            self.legs.venous_resistance_mmHg_s_per_mL,
            q,
        )
        return q

    @property
    def outflow_mL_per_s(self) -> np.ndarray:
        return self.valve_flow_mL_per_s[..., N_SEG - 1]

    @property
    def inflow_mL_per_s(self) -> np.ndarray:
        """Arterial inflow through each segment's microvascular resistance."""
        p = self.venous_pressure_mmHg
        return (self.arterial_mmHg[..., None] - p) / self.legs.microvascular_resistance_mmHg_s_per_mL


def _changes(arterial: np.ndarray | None, abdominal: np.ndarray | None, n_points: int, n_legs: int):
    """Stack the input changes into [n_points, 1 or n_legs, 2]."""
    cols = []
    for x in (arterial, abdominal):
        a = np.zeros((n_points, 1)) if x is None else np.asarray(x, dtype=np.float64)
        cols.append(a[:, None] if a.ndim == 1 else a)
    width = max(c.shape[1] for c in cols)
    if any(c.shape[0] != n_points or c.shape[1] not in (1, n_legs) for c in cols):
        raise ValueError(f"input changes must be [{n_points}] or [{n_points}, {n_legs}]")
    return np.ascontiguousarray(np.stack([np.broadcast_to(c, (n_points, width)) for c in cols], axis=-1))


def simulate_linear(
    legs: LinearLegs,
    dt_s: float,
    n_steps: int,
    arterial_change_mmHg: np.ndarray | None = None,
    abdominal_change_mmHg: np.ndarray | None = None,
    record_every: int = 1,
    initial_mmHg: np.ndarray | None = None,
) -> LinearTrace:
    """Simulate ``n_steps`` of ``dt_s`` from the steady state of the first inputs (or ``initial_mmHg``).

    Input changes are added to each leg's resting MAP and abdominal pressure, sampled at the
    ``n_steps + 1`` grid points (shape [n_steps + 1], shared, or [n_steps + 1, n_legs]) and linear
    between them. Changes rather than absolute pressures so a cohort can share one input.
    """
    if n_steps < 0 or record_every < 1:
        raise ValueError("n_steps must be ≥ 0 and record_every ≥ 1")
    n_points, n_legs = n_steps + 1, legs.n_legs
    change = _changes(arterial_change_mmHg, abdominal_change_mmHg, n_points, n_legs)
    base = np.stack([legs.arterial_pressure_mmHg, legs.abdominal_pressure_mmHg], axis=-1).astype(np.float64)
    u0 = base + change[0]
    if initial_mmHg is None:
        p0 = steady_state_mmHg(legs, u0[:, ARTERIAL], u0[:, ABDOMINAL])
    else:
        p0 = np.broadcast_to(np.asarray(initial_mmHg, dtype=np.float64), (n_legs, N_SEG))
    phi, w0, w1 = propagators(legs, dt_s)
    out = np.empty((n_steps // record_every + 1, n_legs, N_SEG))
    kernel = _propagate_parallel if n_legs * n_steps >= PARALLEL_MIN_LEG_STEPS else _propagate_serial
    kernel(phi, w0, w1, np.ascontiguousarray(base), change, np.ascontiguousarray(p0), record_every, out)
    idx = np.arange(out.shape[0]) * record_every
    return LinearTrace(idx * dt_s, out, change[idx], legs)


# ---------------------------------------------------------------- svZeroDSolver


def svzerod_config(
    legs: LinearLegs,
    dt_s: float,
    n_steps: int,
    arterial_change_mmHg: np.ndarray | None = None,
    abdominal_change_mmHg: np.ndarray | None = None,
    leg: int = 0,
) -> dict[str, Any]:
    """svZeroDSolver configuration (JSON as a dict) of one leg, same inputs as :func:`simulate_linear`.

    Blocks: PRESSURE boundary conditions MAP_<seg> (one per inlet; svZeroDSolver connects a boundary
    condition to one vessel) and ABDOMEN; a BloodVessel mv_<seg> (R = Rmv, C = the compliance, which
    svZeroDSolver puts at the vessel's outlet, i.e. the segment's node) and a BloodVessel vein_<seg>
    (R = the valve's forward resistance, C = 0) per segment; NORMAL_JUNCTION J_<seg> joins them.
    Units: mmHg, mL, s throughout (svZeroDSolver is unit-agnostic).

    svZeroDSolver treats time-dependent values as periodic with period t[-1] − t[0], so the last
    time point would wrap to the first value: the configuration runs one step past the horizon,
    holding the last input, and :func:`run_svzerod` drops it. The start is the legflow steady
    state of the first inputs (``steady_initial`` would use the inputs' mean instead).
    """
    change = _changes(arterial_change_mmHg, abdominal_change_mmHg, n_steps + 1, legs.n_legs)
    col = 0 if change.shape[1] == 1 else leg
    one = legs.leg(leg)
    t_s = [dt_s * n for n in range(n_steps + 2)]
    series = {}
    for j, base in (
        (ARTERIAL, float(one.arterial_pressure_mmHg[0])),
        (ABDOMINAL, float(one.abdominal_pressure_mmHg[0])),
    ):
        values = base + change[:, col, j]
        series[j] = [*map(float, values), float(values[-1])]
    bcs = [
        {"bc_name": f"MAP_{s}", "bc_type": "PRESSURE", "bc_values": {"P": series[ARTERIAL], "t": t_s}}
        for s in SEGMENTS
    ]
    bcs.append({"bc_name": "ABDOMEN", "bc_type": "PRESSURE", "bc_values": {"P": series[ABDOMINAL], "t": t_s}})
    vessels: list[dict[str, Any]] = []
    for i, s in enumerate(SEGMENTS):
        for kind, r, c in (
            ("mv", one.microvascular_resistance_mmHg_s_per_mL[0, i], one.compliance_mL_per_mmHg[0, i]),
            ("vein", one.venous_resistance_mmHg_s_per_mL[0, i], 0.0),
        ):
            vessel: dict[str, Any] = {
                "vessel_id": len(vessels),
                "vessel_name": f"{kind}_{s}",
                "zero_d_element_type": "BloodVessel",
                "zero_d_element_values": {"R_poiseuille": float(r), "C": float(c), "L": 0.0},
            }
            if kind == "mv":
                vessel["boundary_conditions"] = {"inlet": f"MAP_{s}"}
            elif i == N_SEG - 1:
                vessel["boundary_conditions"] = {"outlet": "ABDOMEN"}
            vessels.append(vessel)
    ids = {v["vessel_name"]: v["vessel_id"] for v in vessels}
    junctions = [
        {
            "junction_name": f"J_{s}",
            "junction_type": "NORMAL_JUNCTION",
            "inlet_vessels": [ids[f"mv_{s}"]] + ([ids[f"vein_{SEGMENTS[i - 1]}"]] if i > 0 else []),
            "outlet_vessels": [ids[f"vein_{s}"]],
        }
        for i, s in enumerate(SEGMENTS)
    ]
    p0 = steady_state_mmHg(one, series[ARTERIAL][0], series[ABDOMINAL][0])[0]
    initial: dict[str, float] = {}
    for i, s in enumerate(SEGMENTS):
        q_in = (series[ARTERIAL][0] - p0[i]) / float(one.microvascular_resistance_mmHg_s_per_mL[0, i])
        down = p0[i + 1] if i + 1 < N_SEG else series[ABDOMINAL][0]
        q_out = (p0[i] - down) / float(one.venous_resistance_mmHg_s_per_mL[0, i])
        initial |= {
            f"pressure:MAP_{s}:mv_{s}": series[ARTERIAL][0],
            f"flow:MAP_{s}:mv_{s}": q_in,
            f"pressure:mv_{s}:J_{s}": float(p0[i]),
            f"flow:mv_{s}:J_{s}": q_in,
            f"pressure:J_{s}:vein_{s}": float(p0[i]),
            f"flow:J_{s}:vein_{s}": q_out,
        }
        if i + 1 < N_SEG:
            nxt = SEGMENTS[i + 1]
            initial |= {f"pressure:vein_{s}:J_{nxt}": float(p0[i + 1]), f"flow:vein_{s}:J_{nxt}": q_out}
        else:
            initial |= {f"pressure:vein_{s}:ABDOMEN": series[ABDOMINAL][0], f"flow:vein_{s}:ABDOMEN": q_out}
    return {
        "simulation_parameters": {
            "number_of_cardiac_cycles": 1,
            "number_of_time_pts_per_cardiac_cycle": n_steps + 2,
            "output_all_cycles": True,
            "steady_initial": False,
        },
        "boundary_conditions": bcs,
        "vessels": vessels,
        "junctions": junctions,
        "initial_condition": initial,
    }


@dataclass(frozen=True)
class SvZeroDResult:
    """svZeroDSolver's answer on the legflow grid: [n_points, N_SEG] (the compartments)."""

    t_s: np.ndarray
    venous_pressure_mmHg: np.ndarray
    valve_flow_mL_per_s: np.ndarray


def run_svzerod(config: dict[str, Any]) -> SvZeroDResult:
    """Run a :func:`svzerod_config` with svZeroDSolver's Python API (PyPI ``svzerod``, tested with 3.2).

    Reads the segment pressures (the mv_<seg> → J_<seg> nodes) and valve flows (J_<seg> → vein_<seg>).
    """
    try:
        import svzerod
    except ModuleNotFoundError as exc:  # pragma: no cover - depends on the environment
        raise ModuleNotFoundError("the svZeroDSolver backend needs `pip install svzerod`") from exc
    solver = svzerod.Solver(config)
    solver.run()
    n = config["simulation_parameters"]["number_of_time_pts_per_cardiac_cycle"] - 1  # drop the extra step
    pressure = np.empty((n, N_SEG))
    flow = np.empty((n, N_SEG))
    for i, s in enumerate(SEGMENTS):
        pressure[:, i] = np.ravel(solver.get_single_result(f"pressure:mv_{s}:J_{s}"))[:n]
        flow[:, i] = np.ravel(solver.get_single_result(f"flow:J_{s}:vein_{s}"))[:n]
    return SvZeroDResult(np.asarray(solver.get_times())[:n], pressure, flow)

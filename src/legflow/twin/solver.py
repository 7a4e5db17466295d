"""Time integration of a batch of legs: one compiled kernel, and a NumPy right-hand side for scipy.

Method: ROS2, the two-stage L-stable Rosenbrock method of Verwer, Spee, Blom & Hundsdorfer
(SIAM J Sci Comput 1999;20:1456), γ = 1 + 1/√2::

    (I − γhJ)·k1 = f(y)
    (I − γhJ)·k2 = f(y + h·k1) − 2·k1
    y⁺ = y + 3/2·h·k1 + 1/2·h·k2,        error estimate  e = y⁺ − (y + h·k1) = ½·h·(k1 + k2)

Linearly implicit, so the stiff parts (collapsed veins under high pressure have time constants
R·C ≈ 0.05 s; the valve switch is steep) need no Newton iteration; it is of order 2 for any
approximation of J (a W-method), so a forward-difference Jacobian is enough, and one Jacobian serves
the sub-steps of a schedule step until a step is rejected (then it is recomputed). Each schedule step
``dt_s`` (external pressures constant over it) is covered by error-controlled sub-steps, per leg,
so legs in a batch never wait on each other; a trial state outside the tube law's range (V ≤ 0 or
V ≥ V0 + Vmax) is rejected like a step with too large an error. The batch loop runs in parallel
over legs (numba ``prange``); each leg's 8 × 8 system is solved by LU with partial pivoting.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from legflow.twin import model as m
from legflow.twin.model import N_OBS, N_SEG, N_STATES, Posture, leg_rhs, pack
from legflow.twin.subject import Subject

_GAMMA = 1.0 + 1.0 / math.sqrt(2.0)
_N_DYN = 6  # the cumulative states 6, 7 feed nothing back: their Jacobian columns are zero


@njit(cache=True)
def _lu_factor(a: np.ndarray, piv: np.ndarray) -> None:
    n = a.shape[0]
    for k in range(n):
        p = k
        for i in range(k + 1, n):
            if abs(a[i, k]) > abs(a[p, k]):
                p = i
        piv[k] = p
        if p != k:
            for j in range(n):
                a[k, j], a[p, j] = a[p, j], a[k, j]
        for i in range(k + 1, n):
            a[i, k] /= a[k, k]
            for j in range(k + 1, n):
                a[i, j] -= a[i, k] * a[k, j]


@njit(cache=True)
def _lu_solve(a: np.ndarray, piv: np.ndarray, x: np.ndarray) -> None:
    """Solve in place: x ← A⁻¹x, with A factored by :func:`_lu_factor`."""
    n = a.shape[0]
    for k in range(n):
        p = piv[k]
        if p != k:
            x[k], x[p] = x[p], x[k]
    for i in range(n):
        for j in range(i):
            x[i] -= a[i, j] * x[j]
    for i in range(n - 1, -1, -1):
        for j in range(i + 1, n):
            x[i] -= a[i, j] * x[j]
        x[i] /= a[i, i]


@njit(cache=True)
def _in_range(y: np.ndarray, prm: np.ndarray) -> bool:
    for i in range(N_SEG):
        v = y[m.VEIN + i]
        if not (0.0 < v < prm[m.V0 + i] + prm[m.VMAX + i]):
            return False
    for i in range(N_STATES):  # noqa: SIM110 - numba compiles no generator expressions
        if not math.isfinite(y[i]):
            return False
    return True


@njit(cache=True)
def _cover_interval(y, p_ext, prm, dt, h, rtol, atol, w_f, w_k1, w_k2, w_y, w_jac, w_m, piv, obs):
    """Advance one leg's ``y`` in place over ``dt`` at constant ``p_ext``; returns the next step size.

    Returns −1.0 if the step size collapses (the state is then left where it failed)."""
    t = 0.0
    # The Jacobian is computed at the start of the interval and again wherever a step computed with
    # an older one is rejected; otherwise reused (ROS2 keeps its order with any Jacobian).
    stale = True
    while t < dt * (1.0 - 1e-12):
        leg_rhs(y, p_ext, prm, w_f, obs)
        jac_here = stale
        if stale:
            stale = False
            for j in range(N_STATES):
                for i in range(N_STATES):
                    w_jac[i, j] = 0.0
            for j in range(_N_DYN):
                delta = 1e-7 * max(abs(y[j]), 1.0)
                w_y[:] = y
                w_y[j] += delta
                leg_rhs(w_y, p_ext, prm, w_k2, obs)
                for i in range(N_STATES):
                    w_jac[i, j] = (w_k2[i] - w_f[i]) / delta
        while True:
            h_try = min(h, dt - t)
            for i in range(N_STATES):
                for j in range(N_STATES):
                    w_m[i, j] = -_GAMMA * h_try * w_jac[i, j]
                w_m[i, i] += 1.0
            _lu_factor(w_m, piv)
            w_k1[:] = w_f
            _lu_solve(w_m, piv, w_k1)
            for i in range(N_STATES):
                w_y[i] = y[i] + h_try * w_k1[i]
            err = math.inf
            if _in_range(w_y, prm):
                leg_rhs(w_y, p_ext, prm, w_k2, obs)
                for i in range(N_STATES):
                    w_k2[i] -= 2.0 * w_k1[i]
                _lu_solve(w_m, piv, w_k2)
                err = 0.0
                for i in range(N_STATES):
                    w_y[i] = y[i] + 1.5 * h_try * w_k1[i] + 0.5 * h_try * w_k2[i]
                    scale = atol + rtol * max(abs(y[i]), abs(w_y[i]))
                    e = 0.5 * h_try * (w_k1[i] + w_k2[i]) / scale
                    err += e * e
                err = math.sqrt(err / N_STATES)
                if not _in_range(w_y, prm):
                    err = math.inf
            if err <= 1.0:
                t += h_try
                y[:] = w_y
                grown = h_try * min(5.0, 0.9 / math.sqrt(max(err, 1e-10)))
                h = max(grown, h) if h_try < h else grown
                break
            h = h_try * (0.25 if not math.isfinite(err) or err > 16.0 else max(0.25, 0.9 / math.sqrt(err)))
            if h < 1e-10:
                return -1.0
            if not jac_here:  # retry with a Jacobian at this state
                stale = True
                break
    return h


@njit(parallel=True, cache=True)
def _advance_batch(prm, y0, p_ext, dt, record_every, rtol, atol, out, status):
    n_steps, n_legs = p_ext.shape[0], p_ext.shape[1]
    for leg in prange(n_legs):
        y = y0[leg].copy()
        w_f = np.empty(N_STATES)
        w_k1 = np.empty(N_STATES)
        w_k2 = np.empty(N_STATES)
        w_y = np.empty(N_STATES)
        w_jac = np.empty((N_STATES, N_STATES))
        w_m = np.empty((N_STATES, N_STATES))
        piv = np.empty(N_STATES, dtype=np.int64)
        obs = np.empty(N_OBS)
        out[0, leg, :] = y
        h = dt
        status[leg] = 0
        for n in range(n_steps):
            h = _cover_interval(
                y, p_ext[n, leg], prm[leg], dt, h, rtol, atol, w_f, w_k1, w_k2, w_y, w_jac, w_m, piv, obs
            )
            if h < 0.0:
                status[leg] = n + 1
                h = dt
            if (n + 1) % record_every == 0:
                out[(n + 1) // record_every, leg, :] = y


#: The same kernel without threads: for a few legs (a session's two) starting the thread pool costs
#: more than the work.
_advance_serial = njit(cache=True)(_advance_batch.py_func)
PARALLEL_MIN_LEGS = 8


def step_in_place(
    params: np.ndarray, y: np.ndarray, external_mmHg: np.ndarray, dt_s: float, rtol: float = 1e-6
) -> None:
    """Advance a few legs (float64, C-contiguous: params [n, N_PARAMS], y [n, N_STATES], external
    [n, 3]) by one step of ``dt_s``, in place, without threads or checks: for a session's loop."""
    n_legs = y.shape[0]
    out = np.empty((2, n_legs, N_STATES))
    status = np.zeros(n_legs, dtype=np.int64)
    _advance_serial(params, y, external_mmHg[None], dt_s, 1, rtol, rtol, out, status)
    if np.any(status):
        raise RuntimeError(f"leg {int(np.flatnonzero(status)[0])}: step size collapsed")
    y[:] = out[1]


def advance(
    params: np.ndarray,
    y0: np.ndarray,
    external_mmHg: np.ndarray,
    dt_s: float,
    record_every: int = 1,
    rtol: float = 1e-6,
    atol: float = 1e-6,
) -> np.ndarray:
    """Advance a batch: params [n_legs, N_PARAMS], y0 [n_legs, N_STATES], external [n_steps, n_legs, 3].

    ``external_mmHg[n]`` is the tissue pressure on each segment, constant from ``n·dt_s`` to
    ``(n+1)·dt_s``. Returns states [n_steps // record_every + 1, n_legs, N_STATES], row 0 = y0.
    Raises RuntimeError naming the first leg whose step size collapsed.
    """
    params = np.ascontiguousarray(params, dtype=np.float64)
    y0 = np.ascontiguousarray(y0, dtype=np.float64)
    external = np.ascontiguousarray(external_mmHg, dtype=np.float64)
    n_steps, n_legs = external.shape[:2]
    if params.shape[0] != n_legs or y0.shape[0] != n_legs or external.shape[2] != N_SEG:
        raise ValueError("params, y0 and external_mmHg disagree on the number of legs or segments")
    if np.any(external < 0.0) or dt_s <= 0.0:
        raise ValueError("external pressures must be ≥ 0 and dt_s > 0")
    out = np.empty((n_steps // record_every + 1, n_legs, N_STATES))
    status = np.zeros(n_legs, dtype=np.int64)
    kernel = _advance_batch if n_legs >= PARALLEL_MIN_LEGS else _advance_serial
    kernel(params, y0, external, float(dt_s), int(record_every), float(rtol), float(atol), out, status)
    if np.any(status):
        leg = int(np.flatnonzero(status)[0])
        raise RuntimeError(f"leg {leg}: step size collapsed in schedule step {status[leg] - 1}")
    return out


@njit(parallel=True, cache=True)
def _observe_batch(states, p_ext_rec, prm, out):
    n_rec, n_legs = states.shape[0], states.shape[1]
    for leg in prange(n_legs):
        dydt = np.empty(N_STATES)
        for r in range(n_rec):
            leg_rhs(states[r, leg], p_ext_rec[r, leg], prm[leg], dydt, out[r, leg])


_observe_serial = njit(cache=True)(_observe_batch.py_func)


@dataclass(frozen=True)
class Trace:
    """A simulated batch. Arrays are [n_records, n_legs, ...]; ``external_mmHg[r]`` is the pressure
    applied from ``t_s[r]`` on (the last record repeats the last step's pressure)."""

    t_s: np.ndarray
    states: np.ndarray
    external_mmHg: np.ndarray
    observed: np.ndarray
    params: np.ndarray
    tissue_volume_mL: np.ndarray  # [n_legs, 3]

    @property
    def outflow_mL_per_s(self) -> np.ndarray:
        return self.observed[..., m.OBS_OUTFLOW]

    @property
    def lymph_mL_per_s(self) -> np.ndarray:
        return self.observed[..., m.OBS_LYMPH]

    @property
    def venous_pressure_mmHg(self) -> np.ndarray:
        """Local (intravascular) venous pressure of foot, calf, thigh."""
        return self.observed[..., m.OBS_PVEIN : m.OBS_PVEIN + N_SEG]

    @property
    def segment_outflow_mL_per_s(self) -> np.ndarray:
        """Flow out of the veins of foot, calf, thigh through their valves: posterior tibial veins,
        popliteal vein, and the outflow to the abdomen."""
        return self.observed[..., m.OBS_SEG_OUTFLOW : m.OBS_SEG_OUTFLOW + N_SEG]

    @property
    def microvascular_inflow_mL_per_s(self) -> np.ndarray:
        """Flow into the veins of foot, calf, thigh from their microcirculation (net of filtration)."""
        return self.observed[..., m.OBS_MV_INFLOW : m.OBS_MV_INFLOW + N_SEG]

    @property
    def interstitial_oncotic_mmHg(self) -> np.ndarray:
        """Interstitial colloid osmotic pressure of foot, calf, thigh."""
        return self.observed[..., m.OBS_PONC : m.OBS_PONC + N_SEG]

    @property
    def venous_volume_mL(self) -> np.ndarray:
        """Venous volume of the whole leg."""
        return self.states[..., m.VEIN : m.VEIN + N_SEG].sum(axis=-1)

    @property
    def fluid_excess_mL(self) -> np.ndarray:
        return self.states[..., m.FLUID : m.FLUID + N_SEG]

    @property
    def segment_volume_mL(self) -> np.ndarray:
        """Venous plus interstitial excess volume per segment (what a plethysmograph sees)."""
        return self.states[..., m.VEIN : m.VEIN + N_SEG] + self.fluid_excess_mL


def observe(states: np.ndarray, external_rec: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Observables (``model.OBS_*``) of states [n_rec, n_legs, N_STATES] under pressures [n_rec, n_legs, 3]"""
    out = np.empty((*states.shape[:2], N_OBS))
    kernel = _observe_batch if states.shape[1] >= PARALLEL_MIN_LEGS else _observe_serial
    kernel(np.ascontiguousarray(states), np.ascontiguousarray(external_rec), params, out)
    return out


def broadcast_external(external_mmHg: np.ndarray, n_legs: int) -> np.ndarray:
    """[n_steps, 3] (same for every leg) or [n_steps, n_legs, 3] → [n_steps, n_legs, 3]."""
    ext = np.asarray(external_mmHg, dtype=np.float64)
    if ext.ndim == 2:
        ext = np.broadcast_to(ext[:, None, :], (ext.shape[0], n_legs, N_SEG))
    return np.ascontiguousarray(ext)


def simulate(
    subjects: Subject | Sequence[Subject],
    external_mmHg: np.ndarray,
    dt_s: float,
    posture: Posture = "supine",
    record_every: int = 1,
    rtol: float = 1e-6,
    atol: float = 1e-6,
) -> Trace:
    """Simulate legs from rest under a schedule of tissue pressures (see :func:`advance`).

    ``subjects``: one subject (repeated for every leg of a [n_steps, n_legs, 3] schedule) or one per leg.
    """
    ext = np.asarray(external_mmHg, dtype=np.float64)
    if isinstance(subjects, Subject):
        n_legs = ext.shape[1] if ext.ndim == 3 else 1
        subjects = [subjects] * n_legs
    n_legs = len(subjects)
    packed = [pack(s, posture) for s in subjects]
    params = np.array([p for p, _ in packed])
    y0 = np.array([y for _, y in packed])
    ext = broadcast_external(ext, n_legs)
    states = advance(params, y0, ext, dt_s, record_every, rtol, atol)
    idx = np.minimum(np.arange(states.shape[0]) * record_every, ext.shape[0] - 1)
    ext_rec = ext[idx]
    return Trace(
        t_s=np.arange(states.shape[0]) * record_every * dt_s,
        states=states,
        external_mmHg=ext_rec,
        observed=observe(states, ext_rec, params),
        params=params,
        tissue_volume_mL=np.array([[seg.tissue_volume_mL for seg in s.segments] for s in subjects]),
    )


def rhs(t: float, y: np.ndarray, params: np.ndarray, external: np.ndarray) -> np.ndarray:
    """dy/dt of one leg in plain Python/NumPy (no numba), for scipy's ``solve_ivp``.

    Uses the uncompiled block functions (``.py_func``) with its own network assembly, so it checks
    both the compiled integrator and the compiled assembly in :func:`model.leg_rhs`.
    ``external``: tissue pressure on foot, calf, thigh [mmHg], constant during the call.
    """
    prm, ext = params, np.asarray(external, dtype=np.float64)
    seg = np.arange(N_SEG)
    p_loc = (
        np.array(
            [m.vein_transmural_mmHg.py_func(y[i], prm[m.C + i], prm[m.V0 + i], prm[m.VMAX + i]) for i in seg]
        )
        + ext
    )
    p_ref = p_loc - prm[m.HYDRO + seg]
    p_if = np.array(
        [
            m.interstitial_pressure_mmHg.py_func(
                y[m.FLUID + i],
                prm[m.TIS_P0 + i],
                prm[m.TIS_CLOW + i],
                prm[m.TIS_CHIGH + i],
                prm[m.TIS_KNEE + i],
                prm[m.TIS_WIDTH + i],
            )
            for i in seg
        ]
    )
    p_onc = np.array(
        [m.interstitial_oncotic_mmHg.py_func(y[m.FLUID + i], prm[m.VI_NORMAL + i], prm[m.PONC0]) for i in seg]
    )
    p_drain = np.array(
        [m.venular_outlet_mmHg.py_func(p_loc[i], p_if[i] + ext[i], m.WATERFALL_WIDTH) for i in seg]
    )
    j_f = (
        prm[m.KF + seg]
        * (
            prm[m.CAP_RATIO] * (p_drain - prm[m.PLOC_REST + seg])
            - (p_if + ext - prm[m.PIF_REST + seg])
            + prm[m.SIGMA] * (p_onc - prm[m.PONC_REST + seg])
        )
        + prm[m.J_REST + seg]
    )
    j_l = np.array(
        [
            m.lymph_flow_mL_per_s.py_func(
                p_if[i],
                ext[i],
                prm[m.LYMPH0 + i],
                prm[m.TIS_P0 + i],
                prm[m.LYMPH_G_IF],
                prm[m.LYMPH_G_EXT],
                prm[m.LYMPH_MAX],
            )
            for i in seg
        ]
    )
    p_down = np.append(p_ref[1:], prm[m.PABD])
    p_collapse = np.append(ext[1:] - prm[m.HYDRO + seg[1:]], m.NO_COLLAPSE_mmHg)
    drop = [m.waterfall_drop_mmHg.py_func(p_ref[i], p_down[i], p_collapse[i], m.WATERFALL_WIDTH) for i in seg]
    q = np.array(
        [m.valve_flow_mL_per_s.py_func(drop[i], prm[m.R + i], prm[m.RBACK + i], prm[m.VALVE_K]) for i in seg]
    )
    dydt = np.empty(N_STATES)
    inflow = (prm[m.MAP] - (p_drain - prm[m.HYDRO + seg])) / prm[m.RMV + seg] - j_f
    dydt[m.VEIN : m.VEIN + N_SEG] = inflow + np.append(0.0, q[:-1]) - q
    dydt[m.FLUID : m.FLUID + N_SEG] = j_f - j_l
    dydt[m.CUM_OUTFLOW] = q[-1]
    dydt[m.CUM_LYMPH] = j_l.sum()
    return dydt

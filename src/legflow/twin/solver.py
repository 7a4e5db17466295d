"""Time integration of a batch of legs: one compiled kernel, and a NumPy right-hand side for scipy.

Method: RODAS4, the six-stage, fourth-order, stiffly accurate and L-stable Rosenbrock method of
Hairer & Wanner (Solving ODEs II, 2nd ed. 1996, §IV.7; their code ``rodas.f``) with its embedded
third-order solution for the error estimate. In Hairer's variables U_i, with W = I/(γh) − J::

    W·U_i = f(y + Σ_j a_ij·U_j) + Σ_j (c_ij/h)·U_j,   i = 1 … 6 (γ = 1/4)
    y⁺ = y + Σ_j a_6j·U_j + U_6,   error estimate U_6

Linearly implicit, so the stiff parts (collapsed veins under high pressure have time constants
R·C ≈ 0.05 s; the valve switch is steep) need no Newton iteration; one exact Jacobian
(:func:`model.leg_jacobian`, analytic, with f(y) from the same pass) and one LU per step. Order 4
takes ≈ 30× fewer steps than the second-order ROS2 (Verwer et al. 1999) at rtol 1e-6; ROS2 serves
the short steps of a session (:func:`step_in_place`), where one step of 0.1 s is usually accepted
and its two stages cost a third of RODAS4's six. A trial state outside the tube law's range
(V ≤ 0 or V ≥ V0 + Vmax), or one whose right-hand side is not finite, is rejected like a step with
too large an error.

Each leg runs over the whole schedule on its own: its own step sizes, which carry over from one
constant-pressure interval to the next; it stops only where the pressures change, and records
falling between its steps come from RODAS4's dense output (order 3, within the tolerance). The
batch runs in parallel over legs (numba ``prange``, in chunks of ``PARALLEL_CHUNK_LEGS`` so that
slow legs do not hold up one thread); the serial and parallel kernels are separate functions,
since numba's disk cache keys a kernel by its function and would hand one the other's code. The
cumulative states feed nothing back, so each stage solves an ``N_DYNAMIC`` × ``N_DYNAMIC`` system
(8 × 8: LU with partial pivoting) and the two cumulative rows follow from it. The step loop, the
right-hand side and the Jacobian are compiled without numba's reference counting (``_nrt=False``:
they allocate nothing), which otherwise costs an atomic increment and decrement per array argument
per call, shared by all threads on the batch's arrays.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
from numba import njit, prange

from legflow.twin import model as m
from legflow.twin.model import N_OBS, N_SEG, N_STATES, Posture, leg_jacobian, leg_rhs, pack
from legflow.twin.subject import Subject

_N_DYN = m.N_DYNAMIC  # the cumulative states after these feed nothing back (zero Jacobian columns)

# Rosenbrock tableaus in Hairer's form (see the module docstring): γ, a, c, m (new solution),
# e (error estimate), the order that sets the step-size exponent.
RODAS4, ROS2 = 0, 1
_RODAS4_A = np.array(
    [
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        [1.544, 0.0, 0.0, 0.0, 0.0, 0.0],
        [0.9466785280815826, 0.2557011698983284, 0.0, 0.0, 0.0, 0.0],
        [3.314825187068521, 2.896124015972201, 0.9986419139977817, 0.0, 0.0, 0.0],
        [1.221224509226641, 6.019134481288629, 12.53708332932087, -0.6878860361058950, 0.0, 0.0],
        [1.221224509226641, 6.019134481288629, 12.53708332932087, -0.6878860361058950, 1.0, 0.0],
    ]
)
_RODAS4_C = np.array(
    [
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        [-5.6688, 0.0, 0.0, 0.0, 0.0, 0.0],
        [-2.430093356833875, -0.2063599157091915, 0.0, 0.0, 0.0, 0.0],
        [-0.1073529058151375, -9.594562251023355, -20.47028614809616, 0.0, 0.0, 0.0],
        [7.496443313967647, -10.24680431464352, -33.99990352819905, 11.70890893206160, 0.0, 0.0],
        [
            8.083246795921522,
            -7.981132988064893,
            -31.52159432874371,
            16.31930543123136,
            -6.058818238834054,
            0.0,
        ],
    ]
)
_RODAS4_M = np.array([1.221224509226641, 6.019134481288629, 12.53708332932087, -0.6878860361058950, 1.0, 1.0])
_RODAS4_E = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 1.0])
_RODAS4_GAMMA, _RODAS4_ORDER = 0.25, 4.0
# Dense output (Hairer's rodas.f): y(t + θh) = (1 − θ)·y + θ·(y⁺ + (1 − θ)·(Σ d2_j·U_j + θ·Σ d3_j·U_j)).
_RODAS4_D2 = np.array(
    [10.12623508344586, -7.487995877610167, -34.80091861555747, -7.992771707568823, 1.025137723295662]
)
_RODAS4_D3 = np.array(
    [-0.6762803392801253, 6.087714651680015, 16.43084320892478, 24.76722511418386, -6.594389125716872]
)
# ROS2 (Verwer, Spee, Blom & Hundsdorfer, SIAM J Sci Comput 1999;20:1456), γ = 1 + 1/√2.
_G2 = 1.0 + 1.0 / math.sqrt(2.0)
_ROS2_A = np.array([[0.0, 0.0], [1.0 / _G2, 0.0]])
_ROS2_C = np.array([[0.0, 0.0], [-2.0 / _G2, 0.0]])
_ROS2_M = np.array([1.5 / _G2, 0.5 / _G2])
_ROS2_E = np.array([0.5 / _G2, 0.5 / _G2])
_ROS2_ORDER = 2.0
#: Step-size controller: safety factor, and the bounds of h_new / h (Hairer's rodas.f defaults).
_SAFETY, _GROW_MAX, _SHRINK_MIN = 0.9, 6.0, 0.2
#: Legs per chunk of the parallel loop (a leg-hour is milliseconds; threads take chunks as they go).
PARALLEL_CHUNK_LEGS = 16


@njit(cache=True, error_model="numpy")
def _lu_factor(a: np.ndarray, piv: np.ndarray) -> None:
    """LU with partial pivoting, in place; the diagonal holds 1/U_kk (the solves multiply by it)."""
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
        inv_pivot = 1.0 / a[k, k]
        for i in range(k + 1, n):
            a[i, k] *= inv_pivot
            for j in range(k + 1, n):
                a[i, j] -= a[i, k] * a[k, j]
        a[k, k] = inv_pivot


@njit(cache=True, error_model="numpy", inline="always")
def _stage_solve(
    w_m: np.ndarray, piv: np.ndarray, jac: np.ndarray, gamma_h: float, w_u: np.ndarray, row: int
) -> None:
    """w_u[row] ← (I/(γh) − J)⁻¹·w_u[row]: the dynamic states by the LU of :func:`_lu_factor`,
    then the cumulative rows, whose equations read U_k/(γh) − Σ_j J[k, j]·U_j = x_k with j over the
    dynamic states only."""
    for k in range(_N_DYN):
        p = piv[k]
        if p != k:
            w_u[row, k], w_u[row, p] = w_u[row, p], w_u[row, k]
    for i in range(_N_DYN):
        acc = w_u[row, i]
        for j in range(i):
            acc -= w_m[i, j] * w_u[row, j]
        w_u[row, i] = acc
    for i in range(_N_DYN - 1, -1, -1):
        acc = w_u[row, i]
        for j in range(i + 1, _N_DYN):
            acc -= w_m[i, j] * w_u[row, j]
        w_u[row, i] = acc * w_m[i, i]  # the diagonal holds 1/U_ii
    for k in range(_N_DYN, N_STATES):
        acc = w_u[row, k]
        for j in range(_N_DYN):
            acc += jac[k, j] * w_u[row, j]
        w_u[row, k] = gamma_h * acc


@njit(cache=True, inline="always")
def _in_range(y: np.ndarray, prm: Any) -> bool:
    for i in range(N_SEG):
        v = y[m.VEIN + i]
        if not (0.0 < v < prm.venous_unstressed_volume_mL[i] + prm.venous_max_distension_volume_mL[i]):
            return False
    for i in range(N_STATES):  # noqa: SIM110 - numba compiles no generator expressions
        if not math.isfinite(y[i]):
            return False
    return True


@njit(cache=True, _nrt=False, error_model="numpy")  # type: ignore[call-overload]
def _cover_interval(
    y,
    p_ext,
    prm,
    span_s,
    h,
    rtol,
    atol,
    method,
    w_u,
    w_f,
    w_f2,
    w_y,
    w_jac,
    w_m,
    piv,
    obs,
    out,
    leg,
    row,
    n_rows,
    first_s,
    every_s,
):
    """Advance one leg's ``y`` in place over ``span_s`` at constant ``p_ext``; returns the next step
    size, or −1.0 if the step size collapses (the state is then left where it failed).

    Records falling inside the interval are interpolated (RODAS4's dense output, order 3) rather
    than stepped to: ``out[row + k, leg]`` gets the state at ``first_s + k·every_s``, k < ``n_rows``.
    ``w_u`` [stages, N_STATES], the other ``w_*`` and ``piv``, ``obs``: work arrays, overwritten."""
    if method == RODAS4:
        tab_a, tab_c, tab_m, tab_e = _RODAS4_A, _RODAS4_C, _RODAS4_M, _RODAS4_E
        gamma, order = _RODAS4_GAMMA, _RODAS4_ORDER
    else:
        tab_a, tab_c, tab_m, tab_e = _ROS2_A, _ROS2_C, _ROS2_M, _ROS2_E
        gamma, order = _G2, _ROS2_ORDER
    n_stages = tab_m.shape[0]
    t = 0.0
    rejected = False
    while t < span_s * (1.0 - 1e-12):
        leg_jacobian(y, p_ext, prm, w_jac, w_f)  # and f(y)
        while True:
            h_try = min(h, span_s - t)
            gamma_h = gamma * h_try
            inv_h = 1.0 / h_try
            for i in range(_N_DYN):
                for j in range(_N_DYN):
                    w_m[i, j] = -w_jac[i, j]
                w_m[i, i] += 1.0 / gamma_h
            _lu_factor(w_m, piv)
            err = 0.0
            for stage in range(n_stages):
                if stage == 0:
                    for i in range(N_STATES):
                        w_u[0, i] = w_f[i]
                else:
                    for i in range(N_STATES):
                        w_y[i] = y[i]
                    for j in range(stage):  # inner loops over the states: they vectorize
                        coef = tab_a[stage, j]
                        for i in range(N_STATES):
                            w_y[i] += coef * w_u[j, i]
                    if not _in_range(w_y, prm):
                        err = math.inf
                        break
                    leg_rhs(w_y, p_ext, prm, w_f2, obs)
                    for i in range(N_STATES):
                        w_u[stage, i] = w_f2[i]
                    for j in range(stage):
                        coef = tab_c[stage, j] * inv_h
                        for i in range(N_STATES):
                            w_u[stage, i] += coef * w_u[j, i]
                _stage_solve(w_m, piv, w_jac, gamma_h, w_u, stage)
            if err == 0.0:
                for i in range(N_STATES):
                    w_y[i] = y[i]
                    w_f2[i] = 0.0  # the error estimate
                for j in range(n_stages):
                    coef_m, coef_e = tab_m[j], tab_e[j]
                    for i in range(N_STATES):
                        w_y[i] += coef_m * w_u[j, i]
                        w_f2[i] += coef_e * w_u[j, i]
                for i in range(N_STATES):
                    scale = atol + rtol * max(abs(y[i]), abs(w_y[i]))
                    err += (w_f2[i] / scale) ** 2
                err = math.sqrt(err / N_STATES)
                if not _in_range(w_y, prm):
                    err = math.inf
            if err <= 1.0:
                while n_rows > 0 and first_s <= t + h_try:  # records inside this step (RODAS4 only)
                    theta = (first_s - t) / h_try
                    for i in range(N_STATES):
                        d2 = 0.0
                        d3 = 0.0
                        for j in range(5):
                            d2 += _RODAS4_D2[j] * w_u[j, i]
                            d3 += _RODAS4_D3[j] * w_u[j, i]
                        out[row, leg, i] = (1.0 - theta) * y[i] + theta * (
                            w_y[i] + (1.0 - theta) * (d2 + theta * d3)
                        )
                    row += 1
                    n_rows -= 1
                    first_s += every_s
                t += h_try
                for i in range(N_STATES):
                    y[i] = w_y[i]
                grown = h_try * min(_GROW_MAX, _SAFETY * max(err, 1e-12) ** (-1.0 / order))
                if rejected:  # no growth right after a rejection
                    grown = min(grown, h_try)
                rejected = False
                h = max(grown, h) if h_try < h else grown  # a step cut short by span_s keeps h
                break
            rejected = True
            shrink = _SHRINK_MIN if not math.isfinite(err) else _SAFETY * err ** (-1.0 / order)
            h = h_try * max(_SHRINK_MIN, shrink)
            if h < 1e-10:
                return -1.0
    return h


@njit(cache=True, inline="always")
def _same_pressure(p_ext: np.ndarray, a: int, b: int) -> bool:
    for k in range(N_SEG):  # noqa: SIM110 - numba compiles no generator expressions
        if p_ext[a, k] != p_ext[b, k]:
            return False
    return True


@njit(cache=True)
def _workspace(n_stages):
    """Scratch arrays of one leg's Rosenbrock integration: stage vectors, right-hand sides, a
    state, the Jacobian, the LU of the dynamic block with its pivots, and the observables."""
    return (
        np.empty((n_stages, N_STATES)),
        np.empty(N_STATES),
        np.empty(N_STATES),
        np.empty(N_STATES),
        np.empty((N_STATES, N_STATES)),
        np.empty((_N_DYN, _N_DYN)),
        np.empty(_N_DYN, dtype=np.int64),
        np.empty(N_OBS),
    )


@njit(cache=True)
def _run_leg(prm, y, p_ext, dt, record_every, rtol, atol, out, leg):
    """One leg over the whole schedule ``p_ext`` [n_steps, N_SEG], in place on ``y``, recording into
    ``out[:, leg]``. Returns 0, or 1 + the schedule step where its step size collapsed."""
    w_u, w_f, w_f2, w_y, w_jac, w_m, piv, obs = _workspace(6)
    p_here = np.empty(N_SEG)
    out[0, leg, :] = y
    n_steps = p_ext.shape[0]
    h = dt
    n = 0
    while n < n_steps:
        end = n + 1  # cover schedule steps n … end − 1 in one go: the pressures stay the same
        while end < n_steps and _same_pressure(p_ext, n, end):
            end += 1
        row = n // record_every + 1  # records strictly inside the interval: rows row … last
        last = (end - 1) // record_every
        for k in range(N_SEG):
            p_here[k] = p_ext[n, k]
        h = _cover_interval(
            y,
            p_here,
            prm,
            (end - n) * dt,
            h,
            rtol,
            atol,
            RODAS4,
            w_u,
            w_f,
            w_f2,
            w_y,
            w_jac,
            w_m,
            piv,
            obs,
            out,
            leg,
            row,
            max(last - row + 1, 0),
            (row * record_every - n) * dt,
            record_every * dt,
        )
        if h < 0.0:
            return n + 1
        if end % record_every == 0:
            out[end // record_every, leg, :] = y
        n = end
    return 0


@njit(parallel=True, cache=True)
def _advance_parallel(prm, y0, p_ext, dt, record_every, rtol, atol, out, status):
    for leg in prange(y0.shape[0]):
        y = y0[leg].copy()
        status[leg] = _run_leg(prm[leg], y, p_ext[:, leg], dt, record_every, rtol, atol, out, leg)


@njit(cache=True)
def _advance_serial(prm, y0, p_ext, dt, record_every, rtol, atol, out, status):
    """:func:`_advance_parallel` without threads: for a few legs starting the thread pool costs
    more than the work. (A separate function, not ``njit(_advance_parallel.py_func)``: numba's disk
    cache keys a kernel by its function, so the two variants would load each other's code.)"""
    for leg in range(y0.shape[0]):
        y = y0[leg].copy()
        status[leg] = _run_leg(prm[leg], y, p_ext[:, leg], dt, record_every, rtol, atol, out, leg)


@njit(cache=True)
def _step_legs(prm, y, p_ext, dt, rtol, atol, method):
    """Advance each leg's ``y`` in place by ``dt``; returns −1, or the first leg whose step size
    collapsed. No records and no copies: this is the session's inner loop."""
    w_u, w_f, w_f2, w_y, w_jac, w_m, piv, obs = _workspace(6 if method == RODAS4 else 2)
    for leg in range(y.shape[0]):
        h = _cover_interval(
            y[leg],
            p_ext[leg],
            prm[leg],
            dt,
            dt,
            rtol,
            atol,
            method,
            w_u,
            w_f,
            w_f2,
            w_y,
            w_jac,
            w_m,
            piv,
            obs,
            w_u[None],
            0,
            0,
            0,
            0.0,
            0.0,
        )
        if h < 0.0:
            return leg
    return -1


PARALLEL_MIN_LEGS = 8
#: The session's method: at rtol 1e-4 one ROS2 step usually covers a 0.1-s step (two stages).
SESSION_METHOD = ROS2


def step_in_place(
    params: np.ndarray, y: np.ndarray, external_mmHg: np.ndarray, dt_s: float, rtol: float = 1e-6
) -> None:
    """Advance a few legs (C-contiguous: params [n] of ``model.LEG_PARAMS``, y [n, N_STATES] and
    external [n, N_SEG] float64) by one step of ``dt_s``, in place, without threads or checks: for a
    session's loop."""
    failed = _step_legs(params, y, external_mmHg, dt_s, rtol, rtol, SESSION_METHOD)
    if failed >= 0:
        raise RuntimeError(f"leg {failed}: step size collapsed")


def advance(
    params: np.ndarray,
    y0: np.ndarray,
    external_mmHg: np.ndarray,
    dt_s: float,
    record_every: int = 1,
    rtol: float = 1e-6,
    atol: float = 1e-6,
) -> np.ndarray:
    """Advance a batch: params [n_legs] (``model.LEG_PARAMS`` records, see :func:`model.pack`),
    y0 [n_legs, N_STATES], external [n_steps, n_legs, N_SEG].

    ``external_mmHg[n]`` is the tissue pressure on each segment, constant from ``n·dt_s`` to
    ``(n+1)·dt_s``. Returns states [n_steps // record_every + 1, n_legs, N_STATES], row 0 = y0.
    Raises RuntimeError naming the first leg whose step size collapsed.
    """
    params = _leg_params(params)
    y0 = np.ascontiguousarray(y0, dtype=np.float64)
    external = np.ascontiguousarray(external_mmHg, dtype=np.float64)
    n_steps, n_legs = external.shape[:2]
    if params.shape != (n_legs,) or y0.shape[0] != n_legs or external.shape[2] != N_SEG:
        raise ValueError("params, y0 and external_mmHg disagree on the number of legs or segments")
    if np.any(external < 0.0) or dt_s <= 0.0:
        raise ValueError("external pressures must be ≥ 0 and dt_s > 0")
    out = np.empty((n_steps // record_every + 1, n_legs, N_STATES))
    status = np.zeros(n_legs, dtype=np.int64)
    args = (
        params,
        y0,
        external,
        float(dt_s),
        int(record_every),
        float(rtol),
        float(atol),
        out,
        status,
    )
    if n_legs >= PARALLEL_MIN_LEGS:
        with numba.parallel_chunksize(PARALLEL_CHUNK_LEGS):
            _advance_parallel(*args)
    else:
        _advance_serial(*args)
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


@njit(cache=True)
def _observe_serial(states, p_ext_rec, prm, out):
    """:func:`_observe_batch` without threads (a separate function: see :func:`_advance_serial`)."""
    dydt = np.empty(N_STATES)
    for leg in range(states.shape[1]):
        for r in range(states.shape[0]):
            leg_rhs(states[r, leg], p_ext_rec[r, leg], prm[leg], dydt, out[r, leg])


@dataclass(frozen=True)
class Trace:
    """A simulated batch. Arrays are [n_records, n_legs, ...]; ``external_mmHg[r]`` is the pressure
    applied from ``t_s[r]`` on (the last record repeats the last step's pressure)."""

    t_s: np.ndarray
    states: np.ndarray
    external_mmHg: np.ndarray
    observed: np.ndarray
    params: np.ndarray  # [n_legs] of model.LEG_PARAMS
    tissue_volume_mL: np.ndarray  # [n_legs, N_SEG]

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
    """Observables (``model.OBS_*``) of states [n_rec, n_legs, N_STATES] under pressures
    [n_rec, n_legs, N_SEG] with params [n_legs] of ``model.LEG_PARAMS``."""
    out = np.empty((*states.shape[:2], N_OBS))
    kernel = _observe_batch if states.shape[1] >= PARALLEL_MIN_LEGS else _observe_serial
    kernel(np.ascontiguousarray(states), np.ascontiguousarray(external_rec), _leg_params(params), out)
    return out


def _leg_params(params: np.ndarray) -> np.ndarray:
    """``params`` as the kernels take it: a C-contiguous 1-D array of ``model.LEG_PARAMS`` records."""
    params = np.ascontiguousarray(params)
    if params.dtype != m.LEG_PARAMS or params.ndim != 1:
        raise ValueError("params must be a 1-D array of model.LEG_PARAMS records (one per leg)")
    return params


def broadcast_external(external_mmHg: np.ndarray, n_legs: int) -> np.ndarray:
    """[n_steps, N_SEG] (same for every leg) or [n_steps, n_legs, N_SEG] → [n_steps, n_legs, N_SEG]."""
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

    ``subjects``: one subject (repeated for every leg of a [n_steps, n_legs, N_SEG] schedule) or one per leg.
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
        tissue_volume_mL=np.array([[seg.tissue_volume_mL for seg in s.compartments] for s in subjects]),
    )


def rhs(t: float, y: np.ndarray, params: np.void, external: np.ndarray) -> np.ndarray:
    """dy/dt of one leg in plain Python/NumPy (no numba), for scipy's ``solve_ivp``.

    Uses the uncompiled block functions (``.py_func``) with its own network assembly, so it checks
    both the compiled integrator and the compiled assembly in :func:`model.leg_rhs`.
    ``params``: one leg's ``model.LEG_PARAMS`` record (from :func:`model.pack`); ``external``: tissue
    pressure on foot, calf, thigh [mmHg], constant during the call.
    """
    prm, ext = params, np.asarray(external, dtype=np.float64)
    seg = np.arange(N_SEG)
    hydro = prm["hydrostatic_mmHg"]
    c, v0, vmax = (
        prm["venous_compliance_mL_per_mmHg"],
        prm["venous_unstressed_volume_mL"],
        prm["venous_max_distension_volume_mL"],
    )
    tis_p0, c_low, c_high, knee, width = (
        prm["interstitial_pressure_at_zero_excess_mmHg"],
        prm["interstitial_compliance_low_mL_per_mmHg"],
        prm["interstitial_compliance_high_mL_per_mmHg"],
        prm["interstitial_knee_excess_mL"],
        prm["interstitial_knee_width_mL"],
    )
    v_normal, ponc0 = prm["interstitial_fluid_volume_mL"], prm["interstitial_oncotic_at_zero_excess_mmHg"]
    lymph0, g_if, g_ext, lymph_max = (
        prm["lymph_flow_at_zero_excess_mL_per_s"],
        prm["lymph_gain_interstitial_per_mmHg"],
        prm["lymph_gain_external_per_mmHg"],
        prm["lymph_max_ratio"],
    )
    r, r_back, valve_k = (
        prm["venous_resistance_mmHg_s_per_mL"],
        prm["valve_backflow_resistance_mmHg_s_per_mL"],
        prm["valve_steepness_per_mmHg"],
    )
    p_loc = np.array([m.vein_transmural_mmHg.py_func(y[i], c[i], v0[i], vmax[i]) for i in seg]) + ext
    p_ref = p_loc - hydro
    p_if = np.array(
        [
            m.interstitial_pressure_mmHg.py_func(
                y[m.FLUID + i], tis_p0[i], c_low[i], c_high[i], knee[i], width[i]
            )
            for i in seg
        ]
    )
    p_onc = np.array([m.interstitial_oncotic_mmHg.py_func(y[m.FLUID + i], v_normal[i], ponc0) for i in seg])
    p_drain = np.array(
        [m.venular_outlet_mmHg.py_func(p_loc[i], p_if[i] + ext[i], m.WATERFALL_WIDTH) for i in seg]
    )
    j_f = (
        prm["filtration_coefficient_mL_per_s_per_mmHg"]
        * (
            prm["capillary_venous_pressure_ratio"] * (p_drain - prm["local_venous_pressure_at_rest_mmHg"])
            - (p_if + ext - prm["interstitial_pressure_at_rest_mmHg"])
            + prm["capillary_protein_reflection_coefficient"]
            * (p_onc - prm["interstitial_oncotic_at_rest_mmHg"])
        )
        + prm["filtration_at_rest_mL_per_s"]
    )
    j_l = np.array(
        [
            m.lymph_flow_mL_per_s.py_func(p_if[i], ext[i], lymph0[i], tis_p0[i], g_if, g_ext, lymph_max)
            for i in seg
        ]
    )
    p_down = np.append(p_ref[1:], prm["abdominal_venous_pressure_mmHg"])
    p_collapse = np.append(ext[1:] - hydro[1:], m.NO_COLLAPSE_mmHg)
    drop = [m.waterfall_drop_mmHg.py_func(p_ref[i], p_down[i], p_collapse[i], m.WATERFALL_WIDTH) for i in seg]
    q = np.array([m.valve_flow_mL_per_s.py_func(drop[i], r[i], r_back[i], valve_k) for i in seg])
    dydt = np.empty(N_STATES)
    inflow = (prm["mean_arterial_pressure_mmHg"] - (p_drain - hydro)) / prm[
        "microvascular_resistance_mmHg_s_per_mL"
    ] - j_f
    dydt[m.VEIN : m.VEIN + N_SEG] = inflow + np.append(0.0, q[:-1]) - q
    dydt[m.FLUID : m.FLUID + N_SEG] = j_f - j_l
    dydt[m.CUM_OUTFLOW] = q[-1]
    dydt[m.CUM_LYMPH] = j_l.sum()
    return dydt

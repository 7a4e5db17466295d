"""The leg twin's equations: one leg = four segments (foot, distal calf, proximal calf, thigh),
distal to proximal (`Subject.compartments`: the calf's sources measure it whole, the model splits it
into halves by length so that a squeeze can travel along it).

Network (pressures referenced to heart level, so hydrostatic columns cancel in the flows)::

    MAP ─Rmv0─┐        MAP ─Rmv1─┐            MAP ─Rmv2─┐              MAP ─Rmv3─┐
              foot ─R0+valve─▶ distal calf ─R1+valve─▶ proximal calf ─R2+valve─▶ thigh ─R3+valve─▶ abdomen
              │ Starling       │ Starling              │ Starling                │ Starling
              tissue ─▶ lymph  tissue ─▶ lymph          tissue ─▶ lymph           tissue ─▶ lymph

State of one leg (``N_STATES`` = 2·``N_SEG`` + 2 = 10), units mL:
    ``y[VEIN + i]``   venous volume of segment i
    ``y[FLUID + i]``  interstitial fluid excess of segment i (0 = normal hydration)
    ``y[CUM_OUTFLOW]`` cumulative venous outflow to the abdomen (makes the mean outflow exact)
    ``y[CUM_LYMPH]``  cumulative lymph flow of all segments

External (tissue) pressure on each segment, mmHg: ``p_ext[0:N_SEG]`` (already × transmission ratio).
It raises the segment's venous pressure (tube law on p − p_ext), its tissue pressure (Starling,
lymph), and the pressure that blood from the segment below must overcome to enter it (waterfall).

Interstitial protein is conserved by mass over a session, so the interstitial oncotic pressure
rises as compression squeezes fluid out and falls as fluid accumulates (:func:`interstitial_oncotic_mmHg`);
this limits how much fluid a hold can return to the capillaries.

Not modelled: collapsing-tube resistance (kept constant; physiology.md notes that it nearly cancels
the nonlinear compliance in outflow curves), plasma oncotic pressure changes, protein transport
(filtration and lymph move ≈ 1 % of the interstitial protein per hour, see
:func:`interstitial_oncotic_mmHg`), muscle pump, reflexes (venoarteriolar), arterial pulsatility,
distributed pressure within one segment: a segment is one compliance at one pressure, so a calf
half's deep axial veins and its muscle sinuses share one node, and cells over one segment act only
through their mean pressure (a gradient or sequence acts between the calf's halves, not within one).

Each block below is a numba function whose docstring gives its equation, units and source; the
parameters of one leg are a record of :data:`LEG_PARAMS` (a numpy structured dtype, read by field
name in the kernels: ``prm.venous_compliance_mL_per_mmHg[i]`` is the compliance of segment i), built
from a :class:`Subject` by :func:`pack`; a batch of legs is a 1-D array of such records.
The blocks use NumPy's error model: a solver's trial state that divides by zero yields inf, and the
step is rejected, instead of raising. :func:`leg_jacobian` gives the analytic Jacobian the solver needs.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from numba import njit

from legflow.twin.subject import COMPARTMENT_NAMES, Subject

Posture = Literal["supine", "seated", "standing"]
POSTURES: tuple[str, ...] = ("supine", "seated", "standing")

N_SEG = len(COMPARTMENT_NAMES)
N_STATES = 2 * N_SEG + 2
VEIN, FLUID, CUM_OUTFLOW, CUM_LYMPH = 0, N_SEG, 2 * N_SEG, 2 * N_SEG + 1
#: The states that feed back (venous volumes, fluid excesses): the cumulative ones after them
#: feed nothing back, so their Jacobian columns are zero and a solver may step them apart.
N_DYNAMIC = 2 * N_SEG

#: One leg's parameters (built by :func:`pack`). Per-segment fields hold foot, distal calf, proximal
#: calf, thigh (the state order) for the whole segment (the subject's per-100-mL values times its tissue
#: volume); pressures in mmHg, referenced to heart level unless "local" (intravascular). The kernels
#: read a record's fields as attributes (``prm.hydrostatic_mmHg[i]``) and type it ``Any``, since
#: numpy's stubs do not know them; Python code reads them by key (``prm["hydrostatic_mmHg"]``).
LEG_PARAMS = np.dtype(
    [
        # veins: tube law (vein_volume_mL), resistances, valve
        ("venous_compliance_mL_per_mmHg", "f8", (N_SEG,)),  # C: tube-law slope at zero transmural pressure
        ("venous_unstressed_volume_mL", "f8", (N_SEG,)),  # V0: volume at zero transmural pressure
        ("venous_max_distension_volume_mL", "f8", (N_SEG,)),  # Vmax: volume above V0 at full distension
        ("venous_resistance_mmHg_s_per_mL", "f8", (N_SEG,)),  # R: forward, segment's veins to the next
        ("microvascular_resistance_mmHg_s_per_mL", "f8", (N_SEG,)),  # Rmv: arteries to the venules
        ("valve_backflow_resistance_mmHg_s_per_mL", "f8", (N_SEG,)),  # R_back: added to R against reflux
        ("hydrostatic_mmHg", "f8", (N_SEG,)),  # ρg·depth of the segment below the heart in the posture
        ("filtration_coefficient_mL_per_s_per_mmHg", "f8", (N_SEG,)),  # K_f of the segment's capillaries
        # interstitium: pressure-volume curve (interstitial_pressure_mmHg), lymph (lymph_flow_mL_per_s)
        ("interstitial_pressure_at_zero_excess_mmHg", "f8", (N_SEG,)),  # P0: free-fluid pressure, F = 0
        ("interstitial_compliance_low_mL_per_mmHg", "f8", (N_SEG,)),  # C_low: normally hydrated
        ("interstitial_compliance_high_mL_per_mmHg", "f8", (N_SEG,)),  # C_high: past the knee (oedema)
        ("interstitial_knee_excess_mL", "f8", (N_SEG,)),  # V_k: fluid excess at the knee of the curve
        ("interstitial_knee_width_mL", "f8", (N_SEG,)),  # w: width over which the compliance rises
        ("lymph_flow_at_zero_excess_mL_per_s", "f8", (N_SEG,)),  # J0: lymph flow at normal hydration
        # supine rest without compression (pack solves it)
        ("local_venous_pressure_at_rest_mmHg", "f8", (N_SEG,)),  # p_v,rest: intravascular, supine
        ("interstitial_pressure_at_rest_mmHg", "f8", (N_SEG,)),  # P_if,rest
        ("filtration_at_rest_mL_per_s", "f8", (N_SEG,)),  # J_rest: equals the lymph flow at rest
        ("fluid_excess_at_rest_mL", "f8", (N_SEG,)),  # F at rest (0 = normal hydration)
        # whole leg
        ("mean_arterial_pressure_mmHg", "f8"),  # MAP: drives the inflow through Rmv
        ("abdominal_venous_pressure_mmHg", "f8"),  # p_abd: the thigh veins' outlet
        ("valve_steepness_per_mmHg", "f8"),  # k: how sharply a valve opens with its pressure drop
        ("capillary_venous_pressure_ratio", "f8"),  # κ: share of a venous pressure rise reaching capillaries
        ("lymph_gain_interstitial_per_mmHg", "f8"),  # g_if: lymph rise per mmHg of P_if above P0
        ("lymph_gain_external_per_mmHg", "f8"),  # g_ext: lymph rise per mmHg of external pressure
        ("lymph_max_ratio", "f8"),  # r_max: lymph flow saturates at r_max·J0 (dimensionless)
        # interstitial protein (interstitial_oncotic_mmHg)
        ("interstitial_fluid_volume_mL", "f8", (N_SEG,)),  # V_n: normal interstitial fluid volume
        ("interstitial_oncotic_at_rest_mmHg", "f8", (N_SEG,)),  # π_i,rest: at the resting fluid excess
        ("interstitial_oncotic_at_zero_excess_mmHg", "f8"),  # π_i0: at normal hydration
        ("capillary_protein_reflection_coefficient", "f8"),  # σ: to plasma protein (dimensionless)
        # derived, for speed only: sp(−V_k/w) of interstitial_pressure_mmHg (sp = softplus)
        ("interstitial_softplus_at_zero_excess", "f8", (N_SEG,)),
    ],
    align=True,
)

#: Observables written by :func:`leg_rhs`: outflow to the abdomen, lymph; per segment (N_SEG each):
#: local venous pressure, interstitial pressure, flow out of the segment's veins through its valve
#: (foot → calf: posterior tibial veins; within the calf: its deep axial veins; calf → thigh:
#: popliteal vein; thigh → abdomen = outflow),
#: interstitial oncotic pressure, and inflow from the microcirculation net of filtration.
OBS_OUTFLOW, OBS_LYMPH = 0, 1
OBS_PVEIN, OBS_PIF, OBS_SEG_OUTFLOW, OBS_PONC, OBS_MV_INFLOW = (2 + k * N_SEG for k in range(5))
N_OBS = 2 + 5 * N_SEG

#: Rounding of the waterfall's max/min [mmHg] (numerical, assumed).
WATERFALL_WIDTH = 0.25
NO_COLLAPSE_mmHg = -1.0e6  # the abdominal veins are never compressed

#: e^-37 < 1e-16: beyond this argument softplus, logistic and smooth_max equal their limits to
#: double precision, so they skip their exp/log calls (numerical, not physiological).
_NEGLIGIBLE = 37.0
_HALF_PI = 0.5 * math.pi
_U_MAX = _HALF_PI * (1.0 - 1e-9)


#: Beyond this gap e^-gap < 1e-4 and log(1 + e) = e − e²/2 + e³/3 − e⁴/4 to a relative 2e-17.
_SERIES_GAP = 9.2


@njit(cache=True, error_model="numpy", inline="always")
def _log1p_exp_neg(gap: float) -> float:
    """log(1 + e^−gap) for gap ≥ 0, to double precision; past ``_SERIES_GAP`` by its series, which
    saves a log1p call (the most frequent case in the right-hand side: lymph, venules, valves)."""
    if gap > _SERIES_GAP:
        e = math.exp(-gap)
        return e * (1.0 - e * (0.5 - e * (1.0 / 3.0 - 0.25 * e)))
    return math.log1p(math.exp(-gap))


@njit(cache=True, error_model="numpy")
def softplus(x: float) -> float:
    """log(1 + e^x), overflow-safe; beyond |x| = ``_NEGLIGIBLE`` it equals x or e^x to double
    precision, which those return with fewer libm calls (e^x stays > 0: a floor is never 0)."""
    if x > _NEGLIGIBLE:
        return x
    if x < -_NEGLIGIBLE:
        return math.exp(x)
    return _log1p_exp_neg(abs(x)) + max(x, 0.0)


@njit(cache=True, error_model="numpy")
def vein_volume_mL(transmural_mmHg: float, c: float, v0: float, vmax: float) -> float:
    """Venous tube law (Heldt, Shim, Kamm, Mark, J Appl Physiol 2002;92:1239).

    V = V0 + (2·S/π)·atan(π·C·Ptm / (2·S)),  Ptm = p − p_ext  [mmHg], V [mL], C [mL/mmHg]
    with S = Vmax for Ptm ≥ 0 (Heldt's distension branch) and S = V0 for Ptm < 0. The collapse
    branch is our choice: same slope C at Ptm = 0 (C¹), and V → 0 as Ptm → −∞ instead of Heldt's
    linear branch, which would give negative volumes under 50-200 mmHg external pressure.
    """
    span = vmax if transmural_mmHg >= 0.0 else v0
    return v0 + 2.0 * span / math.pi * math.atan(math.pi * c * transmural_mmHg / (2.0 * span))


@njit(cache=True, error_model="numpy")
def vein_transmural_mmHg(volume_mL: float, c: float, v0: float, vmax: float) -> float:
    """Inverse tube law: Ptm = (2·S/(π·C))·tan(π·(V − V0)/(2·S)) [mmHg]; S as in :func:`vein_volume_mL`.

    The tangent's argument is clipped just inside ±π/2, so an overshooting trial state gives a huge
    but finite pressure (the solver rejects such a step) rather than a wrap-around.
    """
    span = vmax if volume_mL >= v0 else v0
    u = min(max(_HALF_PI * (volume_mL - v0) / span, -_U_MAX), _U_MAX)
    return 2.0 * span / (math.pi * c) * math.tan(u)


@njit(cache=True, error_model="numpy")
def smooth_max(a: float, b: float, width: float) -> float:
    """max(a, b) rounded over ``width``: max + w·log(1 + e^(−|a − b|/w)) (exact to e^-20 beyond 20 w).

    Beyond ``_NEGLIGIBLE`` widths the rounding (< w·1e-16 mmHg) is skipped: it is below the double
    precision of pressures, and it saves two of the right-hand side's many exp/log calls (e^x would
    also underflow far out, as at the abdominal outlet's NO_COLLAPSE_mmHg, where libm is slow)."""
    gap = abs(a - b) / width
    if gap > _NEGLIGIBLE:
        return max(a, b)
    return max(a, b) + width * _log1p_exp_neg(gap)


@njit(cache=True, error_model="numpy")
def waterfall_drop_mmHg(p_up: float, p_down: float, p_collapse: float, width: float) -> float:
    """Driving pressure of flow into a compressed segment: the vascular waterfall (Starling resistor).

    Δp = p_up − max(p_down, min(p_collapse, p_up))   [mmHg], rounded over ``width`` (WATERFALL_WIDTH)
    Blood from upstream must open the veins under a cell before it can pass them, so flow into a
    segment under external pressure p_ext is driven by p_up − p_ext once p_ext exceeds the segment's
    own pressure (Holt 1941; Permutt & Riley, J Appl Physiol 1963;18:924). This is what lets a thigh
    cuff occlude the calf veins (venous occlusion plethysmography). The squeezed segment's own
    outflow is not choked: its outlet lies at the cell's edge, where the tissue pressure falls away.
    Without compression p_collapse is far below p_down and Δp = p_up − p_down; backflow
    (p_down > p_up) is left as it is. Pressures are referenced to heart level, so
    p_collapse = p_ext − ρg·depth of the downstream segment.
    """
    return p_up - smooth_max(p_down, -smooth_max(-p_collapse, -p_up, width), width)


@njit(cache=True, error_model="numpy")
def venular_outlet_mmHg(p_vein_local: float, p_tissue: float, width: float) -> float:
    """Pressure the microcirculation drains against: max(p_v, P_t), rounded over ``width`` [mmHg].

    Venules lie in the tissue and collapse when their pressure falls below the tissue pressure
    P_t = P_if + p_ext, so they act as a Starling resistor (the waterfall of
    :func:`waterfall_drop_mmHg`, Holt 1941; Permutt & Riley 1963): the capillaries see the vein's
    pressure while it exceeds the tissue pressure, and the tissue pressure once the vein is below it.
    At rest p_v ≫ P_t and this is p_v. It matters under and after compression: veins squeezed by a
    cell, or emptied by it and not yet refilled, have transmural pressures far below zero on the tube
    law's collapse branch, which would otherwise pass straight into the capillary pressure (and into
    the arterial inflow) as tens of mmHg of spurious suction.
    """
    return smooth_max(p_vein_local, p_tissue, width)


@njit(cache=True, error_model="numpy")
def valve_flow_mL_per_s(dp_mmHg: float, r_forward: float, r_backflow: float, steepness: float) -> float:
    """Vein segment in series with a one-way valve (after svZeroDSolver's ValveTanh).

    Q = Δp·[G_b + (G_f − G_b)·½(1 + tanh(k·Δp))],  G_f = 1/R, G_b = 1/(R + R_back)
    Δp = p_upstream − p_downstream [mmHg], R, R_back [mmHg·s/mL], k [1/mmHg], Q [mL/s].
    ValveTanh blends resistances; we blend conductances so that the large backflow resistance
    does not leak into forward flow at the 1-2 mmHg gradients of resting leg veins.
    Competent valve: R_back ≫ R; incompetent: R_back ≈ R (reflux meets 2× the forward resistance).
    Computed as ½(1 + tanh x) = 1/(1 + e^−2x) (:func:`logistic`): one exp instead of tanh's expm1.
    """
    g_f = 1.0 / r_forward
    g_b = 1.0 / (r_forward + r_backflow)
    return dp_mmHg * (g_b + (g_f - g_b) * logistic(2.0 * steepness * dp_mmHg))


@njit(cache=True, error_model="numpy")
def interstitial_pressure_mmHg(
    excess_mL: float, p0: float, c_low: float, c_high: float, knee_mL: float, width_mL: float
) -> float:
    """Interstitial free-fluid pressure from the fluid excess (shape of Guyton's 1965 P–V curve).

    P = P0 + E_l·V − (E_l − E_h)·w·[sp((V − V_k)/w) − sp(−V_k/w)],  E = 1/C,  sp = softplus
    Stiff (compliance C_low) while the interstitium is normally hydrated; once the excess V passes
    the knee V_k, compliance rises steeply to C_high (free fluid, oedema). V, V_k, w [mL]; C [mL/mmHg].
    """
    return _interstitial_pressure(
        excess_mL, p0, c_low, c_high, knee_mL, width_mL, softplus(-knee_mL / width_mL)
    )


@njit(cache=True, error_model="numpy", inline="always")
def _interstitial_pressure(
    excess_mL: float, p0: float, c_low: float, c_high: float, knee_mL: float, width_mL: float, sp0: float
) -> float:
    """:func:`interstitial_pressure_mmHg` with its constant ``sp0`` = sp(−V_k/w) given (the field
    ``interstitial_softplus_at_zero_excess``): the right-hand side saves an exp and a log per segment."""
    e_low = 1.0 / c_low
    e_high = 1.0 / c_high
    bend = softplus((excess_mL - knee_mL) / width_mL) - sp0
    return p0 + e_low * excess_mL - (e_low - e_high) * width_mL * bend


@njit(cache=True, error_model="numpy")
def lymph_flow_mL_per_s(
    p_if_mmHg: float, p_ext_mmHg: float, j0: float, p0: float, g_if: float, g_ext: float, ratio_max: float
) -> float:
    """Lymph outflow rising with interstitial pressure and with external compression.

    r = 1 + g_if·(P_if − P0) + g_ext·p_ext, floored smoothly at 0;  J_L = J0·r_max·tanh(r / r_max)
    J0 [mL/s] is the flow at normal hydration (r = 1 → J ≈ J0), g [1/mmHg]; saturates at r_max·J0.
    Baseline from 1.84 mL/h per lower-leg collector (physiology.md); gains are assumptions.
    """
    r = 1.0 + g_if * (p_if_mmHg - p0) + g_ext * p_ext_mmHg
    r = 0.05 * softplus(r / 0.05)
    return j0 * ratio_max * math.tanh(r / ratio_max)


@njit(cache=True, error_model="numpy")
def interstitial_oncotic_mmHg(excess_mL: float, normal_volume_mL: float, oncotic_normal_mmHg: float) -> float:
    """Interstitial colloid osmotic pressure with the interstitial protein mass conserved.

    π_i = π_i0 · V_n / (V_n + F)   [mmHg];  V_n [mL] normal interstitial fluid volume, F [mL] excess
    The protein stays while water moves, so its concentration, and (van 't Hoff, linear) its oncotic
    pressure, scale with 1/volume: squeezing fluid out raises π_i and opposes further reabsorption;
    oedema fluid dilutes it (the "protein dilution" oedema safety factor). Reed & Wiig (Acta Physiol
    Scand 1981;113:297) use this assumption for muscle: IFV 10 mL/100 g, π_i 9 mmHg. Conserving the
    mass over a session is justified by time scales: lymph carries protein away at the interstitial
    concentration, ≈ J_L / V_i ≈ 3.7 mL/h / 300 mL ≈ 1 %/h of the calf's protein at rest, and
    capillary filtrate brings some back, so sessions of up to an hour change the mass by a few %.
    The nonlinear Landis–Pappenheimer curve would make π_i steeper still (not used). V_n + F is
    floored smoothly at 1 % of V_n, so a trial state of the solver never divides by zero.
    """
    width = 0.01 * normal_volume_mL
    volume = width * softplus((normal_volume_mL + excess_mL) / width)
    return oncotic_normal_mmHg * normal_volume_mL / volume


@njit(cache=True, error_model="numpy")
def filtration_mL_per_s(
    kf: float,
    cap_ratio: float,
    p_vein_local: float,
    p_vein_local_rest: float,
    p_tissue: float,
    p_tissue_rest: float,
    sigma: float,
    p_oncotic: float,
    p_oncotic_rest: float,
    j_rest: float,
) -> float:
    """Starling filtration from capillaries into the interstitium, as a deviation from rest.

    J_f = K_f·[ΔP_c − ΔP_t + σ·Δπ_i] + J_rest,  ΔP_c = κ·(p_v − p_v,rest),
    ΔP_t = (P_if + p_ext) − P_if,rest,  Δπ_i = π_i − π_i,rest
    from J_f = K_f·[(P_c − P_t) − σ·(π_p − π_i)] with the plasma oncotic pressure π_p constant.
    K_f [mL/s/mmHg] from 0.0026 mL/min/100 g/mmHg; κ ≈ 0.8, the classical Pappenheimer–Soto-Rivera
    share of a venous pressure rise reaching the capillaries; σ the capillary reflection coefficient
    to plasma protein; π_i from :func:`interstitial_oncotic_mmHg`. At supine rest filtration equals
    lymph flow (J_rest).
    """
    starling = cap_ratio * (p_vein_local - p_vein_local_rest) - (p_tissue - p_tissue_rest)
    return kf * (starling + sigma * (p_oncotic - p_oncotic_rest)) + j_rest


@njit(cache=True, _nrt=False, error_model="numpy")  # type: ignore[call-overload]
def leg_rhs(y: np.ndarray, p_ext: np.ndarray, prm: Any, dydt: np.ndarray, obs: np.ndarray) -> None:
    """dy/dt of one leg, and its observables (``OBS_*``), written into ``dydt`` and ``obs``.

    Per segment i: p_loc = Ptm(V_i) + p_ext,i (local venous pressure), p_i = p_loc − ρg·depth_i,
    p_mv = max(p_loc, P_if + p_ext,i) the venular outlet pressure (:func:`venular_outlet_mmHg`),
    inflow Q_in,i = (MAP − (p_mv − ρg·depth_i))/Rmv_i − J_f,i, with J_f,i driven by p_mv;
    Q_i = valve flow from segment i to i+1 (abdomen for the last, i = N_SEG − 1),
    driven by the waterfall drop with p_collapse = p_ext,i+1 − ρg·depth_i+1 (none into the abdomen)
    dV_i/dt = Q_in,i + Q_{i−1} − Q_i;  dF_i/dt = J_f,i − J_L,i;
    d(cum outflow)/dt = Q_{N_SEG−1};  d(cum lymph)/dt = ΣJ_L
    J_f,i uses the interstitial oncotic pressure π_i(F_i) (:func:`interstitial_oncotic_mmHg`).
    """
    lymph_total = 0.0
    for i in range(N_SEG):
        p_loc = (
            vein_transmural_mmHg(
                y[VEIN + i],
                prm.venous_compliance_mL_per_mmHg[i],
                prm.venous_unstressed_volume_mL[i],
                prm.venous_max_distension_volume_mL[i],
            )
            + p_ext[i]
        )
        p_if = _interstitial_pressure(
            y[FLUID + i],
            prm.interstitial_pressure_at_zero_excess_mmHg[i],
            prm.interstitial_compliance_low_mL_per_mmHg[i],
            prm.interstitial_compliance_high_mL_per_mmHg[i],
            prm.interstitial_knee_excess_mL[i],
            prm.interstitial_knee_width_mL[i],
            prm.interstitial_softplus_at_zero_excess[i],
        )
        p_onc = interstitial_oncotic_mmHg(
            y[FLUID + i], prm.interstitial_fluid_volume_mL[i], prm.interstitial_oncotic_at_zero_excess_mmHg
        )
        p_drain = venular_outlet_mmHg(p_loc, p_if + p_ext[i], WATERFALL_WIDTH)
        j_f = filtration_mL_per_s(
            prm.filtration_coefficient_mL_per_s_per_mmHg[i],
            prm.capillary_venous_pressure_ratio,
            p_drain,
            prm.local_venous_pressure_at_rest_mmHg[i],
            p_if + p_ext[i],
            prm.interstitial_pressure_at_rest_mmHg[i],
            prm.capillary_protein_reflection_coefficient,
            p_onc,
            prm.interstitial_oncotic_at_rest_mmHg[i],
            prm.filtration_at_rest_mL_per_s[i],
        )
        j_l = lymph_flow_mL_per_s(
            p_if,
            p_ext[i],
            prm.lymph_flow_at_zero_excess_mL_per_s[i],
            prm.interstitial_pressure_at_zero_excess_mmHg[i],
            prm.lymph_gain_interstitial_per_mmHg,
            prm.lymph_gain_external_per_mmHg,
            prm.lymph_max_ratio,
        )
        inflow = (
            prm.mean_arterial_pressure_mmHg - (p_drain - prm.hydrostatic_mmHg[i])
        ) / prm.microvascular_resistance_mmHg_s_per_mL[i] - j_f
        dydt[VEIN + i] = inflow
        dydt[FLUID + i] = j_f - j_l
        lymph_total += j_l
        obs[OBS_PVEIN + i] = p_loc
        obs[OBS_PIF + i] = p_if
        obs[OBS_PONC + i] = p_onc
        obs[OBS_MV_INFLOW + i] = inflow
    for i in range(N_SEG):
        p_up = obs[OBS_PVEIN + i] - prm.hydrostatic_mmHg[i]
        if i + 1 < N_SEG:
            p_down = obs[OBS_PVEIN + i + 1] - prm.hydrostatic_mmHg[i + 1]
            p_collapse = p_ext[i + 1] - prm.hydrostatic_mmHg[i + 1]
        else:
            p_down, p_collapse = prm.abdominal_venous_pressure_mmHg, NO_COLLAPSE_mmHg
        drop = waterfall_drop_mmHg(p_up, p_down, p_collapse, WATERFALL_WIDTH)
        q = valve_flow_mL_per_s(
            drop,
            prm.venous_resistance_mmHg_s_per_mL[i],
            prm.valve_backflow_resistance_mmHg_s_per_mL[i],
            prm.valve_steepness_per_mmHg,
        )
        dydt[VEIN + i] -= q
        obs[OBS_SEG_OUTFLOW + i] = q
        if i + 1 < N_SEG:
            dydt[VEIN + i + 1] += q
        else:
            dydt[CUM_OUTFLOW] = q
    dydt[CUM_LYMPH] = lymph_total
    obs[OBS_OUTFLOW] = dydt[CUM_OUTFLOW]
    obs[OBS_LYMPH] = lymph_total


@njit(cache=True, error_model="numpy")
def logistic(x: float) -> float:
    """1 / (1 + e^−x), overflow-safe: the derivative of :func:`softplus`, and of
    :func:`smooth_max` with respect to its first argument (at ``x = (a − b)/width``)."""
    if x > _NEGLIGIBLE:
        return 1.0
    if x < -_NEGLIGIBLE:
        return math.exp(x) if x > -700.0 else 0.0  # e^x/(1 + e^x) = e^x here; no underflow path
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@njit(cache=True, _nrt=False, error_model="numpy")  # type: ignore[call-overload]
def leg_jacobian(y: np.ndarray, p_ext: np.ndarray, prm: Any, jac: np.ndarray, dydt: np.ndarray) -> None:
    """∂(dy/dt)/∂y of :func:`leg_rhs`, written into ``jac`` [N_STATES, N_STATES] (analytic), and dy/dt
    itself into ``dydt`` (the same expressions in the same order as :func:`leg_rhs`, so the same bits).

    The solver needs both at every step; by finite differences the Jacobian would cost six right-hand
    sides and be accurate to only ~1e-7; by hand, sharing the right-hand side's work, about one.
    Chain rule through the blocks, per segment:
    dPtm/dV = (1 + tan²u)/C (tube law), dP_if/dF = E_l − (E_l − E_h)·σ((F − V_k)/w),
    dπ_i/dF = −π_i·σ((V_n + F)/w_n)/(w_n·softplus(…)), σ = :func:`logistic`; a rounded max passes
    σ((a − b)/w) of a change in a and the rest of a change in b. Columns of the cumulative states
    are zero (they feed nothing back). tests/test_twin.py checks it against finite differences.
    """
    for i in range(N_STATES):
        for j in range(N_STATES):
            jac[i, j] = 0.0
    prev_dv = prev_ref = 0.0  # dp_loc/dV and referenced pressure of the segment below
    lymph_total = 0.0
    for i in range(N_SEG):
        c, v0, vmax = (
            prm.venous_compliance_mL_per_mmHg[i],
            prm.venous_unstressed_volume_mL[i],
            prm.venous_max_distension_volume_mL[i],
        )
        span = vmax if y[VEIN + i] >= v0 else v0
        u_raw = _HALF_PI * (y[VEIN + i] - v0) / span
        u = min(max(u_raw, -_U_MAX), _U_MAX)
        tan_u = math.tan(u)
        p_loc = 2.0 * span / (math.pi * c) * tan_u + p_ext[i]
        dploc_dv = (1.0 + tan_u * tan_u) / c if u == u_raw else 0.0
        p_ref = p_loc - prm.hydrostatic_mmHg[i]

        f = y[FLUID + i]
        c_low, c_high = (
            prm.interstitial_compliance_low_mL_per_mmHg[i],
            prm.interstitial_compliance_high_mL_per_mmHg[i],
        )
        knee, width = prm.interstitial_knee_excess_mL[i], prm.interstitial_knee_width_mL[i]
        p_if = _interstitial_pressure(
            f,
            prm.interstitial_pressure_at_zero_excess_mmHg[i],
            c_low,
            c_high,
            knee,
            width,
            prm.interstitial_softplus_at_zero_excess[i],
        )
        e_low, e_high = 1.0 / c_low, 1.0 / c_high
        dpif_df = e_low - (e_low - e_high) * logistic((f - knee) / width)
        v_n = prm.interstitial_fluid_volume_mL[i]
        w_n = 0.01 * v_n
        volume = w_n * softplus((v_n + f) / w_n)
        dponc_df = (
            -prm.interstitial_oncotic_at_zero_excess_mmHg
            * v_n
            / (volume * volume)
            * logistic((v_n + f) / w_n)
        )

        p_tissue = p_if + p_ext[i]
        s_vein = logistic((p_loc - p_tissue) / WATERFALL_WIDTH)  # ∂p_drain/∂p_loc
        ddrain_dv = s_vein * dploc_dv
        ddrain_df = (1.0 - s_vein) * dpif_df
        kf, kappa = prm.filtration_coefficient_mL_per_s_per_mmHg[i], prm.capillary_venous_pressure_ratio
        djf_dv = kf * kappa * ddrain_dv
        djf_df = kf * (kappa * ddrain_df - dpif_df + prm.capillary_protein_reflection_coefficient * dponc_df)

        r_raw = (
            1.0
            + prm.lymph_gain_interstitial_per_mmHg * (p_if - prm.interstitial_pressure_at_zero_excess_mmHg[i])
            + prm.lymph_gain_external_per_mmHg * p_ext[i]
        )
        r = 0.05 * softplus(r_raw / 0.05)
        th = math.tanh(r / prm.lymph_max_ratio)
        djl_df = (
            prm.lymph_flow_at_zero_excess_mL_per_s[i]
            * (1.0 - th * th)
            * logistic(r_raw / 0.05)
            * prm.lymph_gain_interstitial_per_mmHg
            * dpif_df
        )

        p_onc = interstitial_oncotic_mmHg(f, v_n, prm.interstitial_oncotic_at_zero_excess_mmHg)
        p_drain = venular_outlet_mmHg(p_loc, p_tissue, WATERFALL_WIDTH)
        j_f = filtration_mL_per_s(
            kf,
            kappa,
            p_drain,
            prm.local_venous_pressure_at_rest_mmHg[i],
            p_tissue,
            prm.interstitial_pressure_at_rest_mmHg[i],
            prm.capillary_protein_reflection_coefficient,
            p_onc,
            prm.interstitial_oncotic_at_rest_mmHg[i],
            prm.filtration_at_rest_mL_per_s[i],
        )
        j_l = prm.lymph_flow_at_zero_excess_mL_per_s[i] * prm.lymph_max_ratio * th  # lymph_flow_mL_per_s
        dydt[VEIN + i] = (
            prm.mean_arterial_pressure_mmHg - (p_drain - prm.hydrostatic_mmHg[i])
        ) / prm.microvascular_resistance_mmHg_s_per_mL[i] - j_f
        dydt[FLUID + i] = j_f - j_l
        lymph_total += j_l

        rmv = prm.microvascular_resistance_mmHg_s_per_mL[i]
        jac[VEIN + i, VEIN + i] += -ddrain_dv / rmv - djf_dv
        jac[VEIN + i, FLUID + i] += -ddrain_df / rmv - djf_df
        jac[FLUID + i, VEIN + i] += djf_dv
        jac[FLUID + i, FLUID + i] += djf_df - djl_df
        jac[CUM_LYMPH, FLUID + i] += djl_df
        if i > 0:  # the valve from the segment below into this one
            q = _valve_jacobian(
                jac, prm, i - 1, prev_ref, p_ref, p_ext[i] - prm.hydrostatic_mmHg[i], prev_dv, dploc_dv
            )
            dydt[VEIN + i - 1] -= q
            dydt[VEIN + i] += q
        prev_dv, prev_ref = dploc_dv, p_ref
    q = _valve_jacobian(
        jac, prm, N_SEG - 1, prev_ref, prm.abdominal_venous_pressure_mmHg, NO_COLLAPSE_mmHg, prev_dv, 0.0
    )
    dydt[VEIN + N_SEG - 1] -= q
    dydt[CUM_OUTFLOW] = q
    dydt[CUM_LYMPH] = lymph_total


@njit(cache=True, error_model="numpy", inline="always")
def _valve_jacobian(
    jac: np.ndarray,
    prm: Any,
    i: int,
    p_up: float,
    p_down: float,
    p_collapse: float,
    dup_dv: float,
    ddown_dv: float,
) -> float:
    """Adds valve i's terms to ``jac`` and returns its flow q (:func:`valve_flow_mL_per_s`), which
    leaves segment i and enters segment i + 1 (the cumulative outflow for the last valve);
    ``dup_dv``, ``ddown_dv``: dp/dV of both ends.
    drop = p_up − smooth_max(p_down, −m1), m1 = smooth_max(−p_collapse, −p_up) (waterfall_drop_mmHg)."""
    w = WATERFALL_WIDTH
    m1 = smooth_max(-p_collapse, -p_up, w)
    s_down = logistic((p_down + m1) / w)  # ∂(outer max)/∂p_down
    s_up = 1.0 - logistic((p_up - p_collapse) / w)  # −∂m1/∂p_up
    drop = p_up - smooth_max(p_down, -m1, w)
    g_f = 1.0 / prm.venous_resistance_mmHg_s_per_mL[i]
    g_b = 1.0 / (prm.venous_resistance_mmHg_s_per_mL[i] + prm.valve_backflow_resistance_mmHg_s_per_mL[i])
    k = prm.valve_steepness_per_mmHg
    open_share = logistic(2.0 * k * drop)  # ½(1 + tanh(k·drop)); its derivative is 2k·σ(1 − σ)
    dq = g_b + (g_f - g_b) * open_share + drop * (g_f - g_b) * 2.0 * k * open_share * (1.0 - open_share)
    dq_dup = dq * (1.0 - (1.0 - s_down) * s_up) * dup_dv
    jac[VEIN + i, VEIN + i] -= dq_dup
    row = VEIN + i + 1 if i + 1 < N_SEG else CUM_OUTFLOW
    jac[row, VEIN + i] += dq_dup
    if i + 1 < N_SEG:
        dq_ddown = -dq * s_down * ddown_dv
        jac[VEIN + i, VEIN + i + 1] -= dq_ddown
        jac[VEIN + i + 1, VEIN + i + 1] += dq_ddown
    return drop * (g_b + (g_f - g_b) * open_share)


def pack(subject: Subject, posture: Posture = "supine") -> tuple[np.void, np.ndarray]:
    """The parameters (a :data:`LEG_PARAMS` record) and resting state (``N_STATES``) of one leg in a posture.

    Rest is supine with no compression: filtration balances lymph in every segment (at the resting
    interstitial oncotic pressure, the normal protein mass in the resting fluid volume), and the venous
    pressures solve the steady network (Newton). Referenced pressures, hence flows, do not depend on
    posture; posture only shifts the transmural pressure, so its resting volumes follow from the tube
    law. Filtration stays referenced to the supine rest, so standing raises capillary pressure.
    """
    if posture not in POSTURES:
        raise ValueError(f"unknown posture {posture!r}; one of {POSTURES}")
    circ, tis = subject.circulation, subject.tissue
    prm = np.zeros(1, LEG_PARAMS)[0]  # a record viewing its one-element array: fields are written through
    segments = subject.compartments
    per100 = [s.tissue_volume_mL / 100.0 for s in segments]
    gradient = circ.blood_hydrostatic_gradient_mmHg_per_cm
    for i, seg in enumerate(segments):
        prm["venous_compliance_mL_per_mmHg"][i] = seg.venous_compliance_mL_per_mmHg
        prm["venous_unstressed_volume_mL"][i] = seg.venous_unstressed_volume_mL
        prm["venous_max_distension_volume_mL"][i] = seg.venous_max_distension_volume_mL
        prm["venous_resistance_mmHg_s_per_mL"][i] = seg.venous_resistance_mmHg_s_per_mL
        prm["microvascular_resistance_mmHg_s_per_mL"][i] = seg.microvascular_resistance_mmHg_s_per_mL
        prm["valve_backflow_resistance_mmHg_s_per_mL"][i] = seg.valve_backflow_resistance_mmHg_s_per_mL
        prm["hydrostatic_mmHg"][i] = gradient * getattr(seg, f"depth_{posture}_cm")
        mass_per_100g = per100[i] * tis.tissue_density_g_per_mL
        prm["filtration_coefficient_mL_per_s_per_mmHg"][i] = (
            tis.filtration_coefficient_mL_per_min_per_100g_per_mmHg * mass_per_100g / 60.0
        )
        prm["interstitial_pressure_at_zero_excess_mmHg"][i] = tis.interstitial_pressure_at_zero_excess_mmHg
        prm["interstitial_compliance_low_mL_per_mmHg"][i] = (
            tis.interstitial_compliance_low_mL_per_mmHg_per_100mL * per100[i]
        )
        prm["interstitial_compliance_high_mL_per_mmHg"][i] = (
            tis.interstitial_compliance_high_mL_per_mmHg_per_100mL * per100[i]
        )
        prm["interstitial_knee_excess_mL"][i] = tis.interstitial_knee_excess_mL_per_100mL * per100[i]
        prm["interstitial_knee_width_mL"][i] = tis.interstitial_knee_width_mL_per_100mL * per100[i]
        prm["lymph_flow_at_zero_excess_mL_per_s"][i] = (
            tis.lymph_flow_at_zero_excess_mL_per_h_per_100mL * per100[i] / 3600.0
        )
        prm["fluid_excess_at_rest_mL"][i] = seg.fluid_excess_at_rest_mL_per_100mL * per100[i]
        prm["interstitial_fluid_volume_mL"][i] = tis.interstitial_fluid_volume_mL_per_100mL * per100[i]
        prm["interstitial_softplus_at_zero_excess"][i] = softplus(
            -prm["interstitial_knee_excess_mL"][i] / prm["interstitial_knee_width_mL"][i]
        )
    prm["mean_arterial_pressure_mmHg"] = circ.mean_arterial_pressure_mmHg
    prm["abdominal_venous_pressure_mmHg"] = circ.abdominal_venous_pressure_mmHg
    prm["valve_steepness_per_mmHg"] = circ.valve_steepness_per_mmHg
    prm["capillary_venous_pressure_ratio"] = circ.capillary_venous_pressure_ratio
    prm["lymph_gain_interstitial_per_mmHg"] = tis.lymph_gain_interstitial_per_mmHg
    prm["lymph_gain_external_per_mmHg"] = tis.lymph_gain_external_per_mmHg
    prm["lymph_max_ratio"] = tis.lymph_max_ratio
    prm["interstitial_oncotic_at_zero_excess_mmHg"] = tis.interstitial_oncotic_pressure_at_zero_excess_mmHg
    prm["capillary_protein_reflection_coefficient"] = tis.capillary_protein_reflection_coefficient

    for i in range(N_SEG):
        p_if = interstitial_pressure_mmHg(
            prm["fluid_excess_at_rest_mL"][i],
            prm["interstitial_pressure_at_zero_excess_mmHg"][i],
            prm["interstitial_compliance_low_mL_per_mmHg"][i],
            prm["interstitial_compliance_high_mL_per_mmHg"][i],
            prm["interstitial_knee_excess_mL"][i],
            prm["interstitial_knee_width_mL"][i],
        )
        prm["interstitial_pressure_at_rest_mmHg"][i] = p_if
        prm["interstitial_oncotic_at_rest_mmHg"][i] = interstitial_oncotic_mmHg(
            prm["fluid_excess_at_rest_mL"][i],
            prm["interstitial_fluid_volume_mL"][i],
            prm["interstitial_oncotic_at_zero_excess_mmHg"],
        )
        prm["filtration_at_rest_mL_per_s"][i] = lymph_flow_mL_per_s(
            p_if,
            0.0,
            prm["lymph_flow_at_zero_excess_mL_per_s"][i],
            prm["interstitial_pressure_at_zero_excess_mmHg"][i],
            prm["lymph_gain_interstitial_per_mmHg"],
            prm["lymph_gain_external_per_mmHg"],
            prm["lymph_max_ratio"],
        )
    p_rest = _resting_venous_pressures(prm)
    hydro_supine = gradient * np.array([s.depth_supine_cm for s in segments])
    y0 = np.zeros(N_STATES)
    for i in range(N_SEG):
        prm["local_venous_pressure_at_rest_mmHg"][i] = p_rest[i] + hydro_supine[i]
        y0[VEIN + i] = vein_volume_mL(
            p_rest[i] + prm["hydrostatic_mmHg"][i],
            prm["venous_compliance_mL_per_mmHg"][i],
            prm["venous_unstressed_volume_mL"][i],
            prm["venous_max_distension_volume_mL"][i],
        )
        y0[FLUID + i] = prm["fluid_excess_at_rest_mL"][i]
    return prm, y0


def _resting_venous_pressures(prm: np.void) -> np.ndarray:
    """Newton solve of the resting venous network for the heart-referenced pressures [mmHg]."""
    r, r_back, k = (
        prm["venous_resistance_mmHg_s_per_mL"],
        prm["valve_backflow_resistance_mmHg_s_per_mL"],
        prm["valve_steepness_per_mmHg"],
    )
    p_abd = prm["abdominal_venous_pressure_mmHg"]

    def residual(p: np.ndarray) -> np.ndarray:
        q_in = (prm["mean_arterial_pressure_mmHg"] - p) / prm["microvascular_resistance_mmHg_s_per_mL"] - prm[
            "filtration_at_rest_mL_per_s"
        ]
        p_down = np.append(p[1:], p_abd)
        q = np.array([valve_flow_mL_per_s(p[i] - p_down[i], r[i], r_back[i], k) for i in range(N_SEG)])
        return q_in + np.concatenate(([0.0], q[:-1])) - q  # no compression at rest: no waterfall

    p = p_abd + np.arange(N_SEG, 0, -1, dtype=np.float64)
    for _ in range(50):
        f = residual(p)
        jac = np.empty((N_SEG, N_SEG))
        for j in range(N_SEG):
            dp = np.zeros(N_SEG)
            dp[j] = 1e-6
            jac[:, j] = (residual(p + dp) - f) / 1e-6
        step = np.linalg.solve(jac, -f)
        p = p + step
        if np.max(np.abs(step)) < 1e-12:
            break
    if np.max(np.abs(residual(p))) > 1e-9:
        raise RuntimeError("resting venous network did not converge")
    return p

"""The numba kernel of the simulated massager: every leg's pneumatics, heater, motors and sensors.

Sketch of one leg (every leg is the same and independent)::

    air ─► PUMP ─► manifold (V_m) ─┬─► inlet valve i (NC) ─► cell i ─┬─► exhaust valve i (NO) ─► air
                    │  back-leak   ├─► ...                           └─► seam leak (and a `leak` hole)
                    └──► air       └─► ...

Gas is tracked as its volume at atmospheric pressure, ``N = (P_atm + p) V(p) / P_atm`` (isothermal
ideal gas), so every flow is a "standard" volumetric flow and gas is conserved exactly.

- Pump: ``Q = Q_free (w - p_m / p_shut)``, clamped at 0 (its reed valves stop back-flow); ``w`` is
  the motor speed 0..1, first order towards 1 when powered.
- Orifice (valve, leak, hole): ``Q = Cd A sqrt(2 Δp / ρ) sqrt(P_up / P_atm)``, regularised to
  ``Q = Cd A sqrt(2/ρ) Δp / (Δp² + p_lin²)^¼`` so that it is linear (laminar) near Δp = 0.
  Valve opening moves linearly between 0 and 1 over the switching time.
- Cell gas volume: ``V(p) = V_res + V_conf (1 - exp(-p / p_conf)) + C_t p - ΔV_limb``, linear below
  p = 0, floored smoothly (softplus) at the tube dead volume.
- Step: per leg, the orifice flows and the cell capacitances ``dN/dp`` are linearised at the start
  of the substep and the star network (manifold + its cells) is solved by backward Euler exactly
  (eliminate the cells, one scalar equation for the manifold): unconditionally stable however stiff
  the valves are. The gas amounts are then updated with those flows (conservative) and each cell
  pressure is recovered from its gas amount by Newton's method. Where that pressure is far from
  the one the linear solve predicted (a cell crossing the knee of its volume floor, where dN/dp
  changes a thousandfold), each cell's N(p) is re-linearised where its step landed and the step
  solved again: Newton's method on the implicit step. A quiet leg (valves settled, inlets closed,
  pump stopped: it only holds or vents) takes each call in one such step.
- Heater: its current is its power over the supply voltage (the duty's average); pad and skin
  layer, two thermal masses (pad → skin → core, pad → room), explicit Euler
  (stable while the substep is far below C/G ~ 100 s).
- Motors: DC motor ``I = (V - k w)/R``, ``J dw/dt = k I - b w - load``, semi-implicit; a load above
  the stall torque keeps it stalled at ``I = V/R``.
- Sensors: first-order lag in the kernel; offset, Gaussian noise, range clip and quantisation at
  sampling. The noise comes from a per-device xorshift64* generator (seeded, reproducible).
"""

from __future__ import annotations

import numpy as np
from numba import njit

# --- cell state columns -----------------------------------------------------------------------------
CX_N = 0  # gas amount, m³ at atmospheric pressure
CX_P = 1  # gauge pressure, Pa
CX_IN = 2  # inlet valve opening 0..1
CX_EX = 3  # exhaust valve opening 0..1
CX_SENS = 4  # sensor element after its lag, Pa
CX_OFF = 5  # sensor offset, Pa (drifts under `sensor_drift`)
CX_CAP = 6  # capacitance dN/dp at the last pressure, m³/Pa (for the next linearised step)
CX_PEAK = 7  # highest gauge pressure so far, Pa (the truth a safety claim is checked against)
NCX = 8
# --- cell parameter columns (physical constants, fault changes and the latched commands) -----------
CP_VFLOOR = 0  # m³
CP_VRES = 1  # m³
CP_VCONF = 2  # m³
CP_PCONF = 3  # Pa
CP_CT = 4  # m³/Pa
CP_DVLIMB = 5  # m³ taken from the gas by the limb under the cell
CP_KIN = 6  # Cd·A of the inlet path, m²
CP_KEX = 7  # Cd·A of the exhaust path, m²
CP_KLEAK = 8  # Cd·A of leaks, m²
CP_INMODE = 9  # inlet valve: 0 works, 1 stuck closed, 2 stuck open
CP_DRIFT = 10  # sensor offset drift, Pa/s
CP_STUCK = 11  # 1: the sensor output is frozen
CP_CMD_IN = 12  # latched command: inlet open (1/0)
CP_CMD_EX = 13  # latched command: exhaust open (1/0)
CP_SOFT = 14  # softplus width of the volume floor, m³
CP_DVLIMB_RATE = 15  # m³/s: the limb's volume change, spread over its step (it moves, it does not jump)
NCP = 16
# --- leg state columns ------------------------------------------------------------------------------
LX_N = 0  # manifold gas, m³ at atmospheric pressure
LX_P = 1  # manifold gauge pressure, Pa
LX_W = 2  # pump speed 0..1
LX_TPAD = 3  # °C
LX_TSKIN = 4  # °C, tissue layer under the pad
LX_WR = 5  # roller motor speed, rad/s
LX_WV = 6  # vibration motor speed, rad/s
LX_SENS = 7  # manifold sensor element, Pa
LX_TSENS = 8  # thermistor element, °C
LX_IP = 9  # pump current, A
LX_IR = 10  # roller current, A
LX_IV = 11  # vibration current, A
LX_TPEAK = 12  # highest skin surface temperature so far, °C
LX_IH = 13  # heater current, A (its duty's average)
NLX = 14
# --- leg parameter columns --------------------------------------------------------------------------
LP_PUMPOK = 0  # 1 pump works, 0 `pump_failure`
LP_RUNAWAY = 1  # 1: heater switch shorted (full power while the relay is closed)
LP_RLOAD = 2  # roller load at the motor shaft, N·m
LP_VLOAD = 3  # vibration load, N·m
LP_OFFM = 4  # manifold sensor offset, Pa
LP_OFFT = 5  # thermistor offset, °C
LP_HEATW = 6  # installed heater power, W (0: no heater)
LP_HASR = 7  # 1: has a roller motor
LP_HASV = 8  # 1: has a vibration motor
LP_CMD_PUMP = 9  # latched duty 0..1
LP_CMD_HEAT = 10  # latched duty 0..1
LP_CMD_ROLL = 11  # latched speed 0..1
LP_CMD_VIB = 12  # latched level as a fraction 0..1
NLP = 13
# --- global constants (SI) ----------------------------------------------------------------------------
G_PATM = 0
G_RHO = 1
G_PLIN = 2
G_QFREE = 3  # m³/s
G_PSHUT = 4  # Pa
G_TPUMP = 5  # s
G_VM = 6  # m³
G_KML = 7  # m²
G_TSW = 8  # s
G_IPF = 9  # A
G_IPS = 10  # A
G_CPAD = 11
G_CSKIN = 12
G_GPS = 13
G_GPA = 14
G_GSC = 15
G_TAMB = 16
G_TCORE = 17
G_VSUP = 18
G_RR = 19
G_RK = 20
G_RB = 21
G_RJ = 22
G_VR = 23
G_VK = 24
G_VB = 25
G_VJ = 26
G_PNOISE = 27  # Pa
G_PLAG = 28  # s
G_PLSB = 29  # Pa
G_PMIN = 30  # Pa
G_PMAX = 31  # Pa
G_TNOISE = 32
G_TLAG = 33
G_TLSB = 34
G_INOISE = 35
G_ILSB = 36
G_QUIET = 37  # 1: quiet legs take one pneumatic step per call (`_quiet`)
NG = 38

#: Layout of the sample buffer: cells, then per leg manifold, temperature, pump, roller, vibration
#: and heater currents.
OUT_BLOCKS = (
    "pressure_mmHg",
    "manifold_mmHg",
    "skin_temp_C",
    "pump_current_A",
    "roller_current_A",
    "vibration_current_A",
    "heater_current_A",
)
_MMHG_Pa = 133.322


@njit(cache=True)
def _uniform(rng):
    """xorshift64* in (0, 1]."""
    x = rng[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    rng[0] = x
    r = (x * np.uint64(2685821657736338717)) >> np.uint64(11)
    return (r + 1.0) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def _normal(rng):
    """Standard normal by Box-Muller."""
    u1 = _uniform(rng)
    u2 = _uniform(rng)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


@njit(cache=True)
def gas_volume(cp, i, p):
    """Gas volume V (m³) of cell i at gauge pressure p (Pa), and dV/dp."""
    vres = cp[i, CP_VRES]
    vconf = cp[i, CP_VCONF]
    pconf = cp[i, CP_PCONF]
    ct = cp[i, CP_CT]
    if p >= 0.0:
        e = np.exp(-p / pconf)
        vs = vres + vconf * (1.0 - e) + ct * p
        dvs = vconf / pconf * e + ct
    else:
        dvs = vconf / pconf + ct
        vs = vres + dvs * p
    w = cp[i, CP_SOFT]
    u = (vs - cp[i, CP_DVLIMB] - cp[i, CP_VFLOOR]) / w
    if u > 15.0:  # far above the floor: softplus(u) = u to 3e-7 relative
        return cp[i, CP_VFLOOR] + u * w, dvs
    eu = np.exp(u)
    return cp[i, CP_VFLOOR] + w * np.log1p(eu), dvs * eu / (1.0 + eu)


@njit(cache=True)
def gas_amount(cp, i, p, patm):
    """Gas of cell i at gauge pressure p, m³ at atmospheric pressure, and its capacitance dN/dp."""
    v, dv = gas_volume(cp, i, p)
    return (patm + p) * v / patm, (v + (patm + p) * dv) / patm


#: `cell_pressure` stops once its Newton step is under this.
NEWTON_LAST_STEP_Pa = 1.0
#: An unpowered pump below this speed (of full) has stopped: dry friction stops a rotor in finite
#: time, where the first-order spin-down alone would only approach zero.
PUMP_STOPPED_SPEED = 1e-6
#: A cell's implicit step is re-linearised while flows at its landing pressure would move it further
#: than this (0.04 mmHg: half a sensor LSB).
CELL_STEP_TOL_Pa = 5.0
#: At most this many linearisations of a cell's gas law per step (it settles in 2 to 4 at its floor).
CELL_STEP_ITERATIONS = 8
#: A leg is `_quiet` with its pump below this speed (of full).
QUIET_PUMP_SPEED = 1e-3


@njit(cache=True)
def cell_pressure(cp, i, n, guess, patm):
    """Gauge pressure of cell i holding gas n, and the capacitance dN/dp there.

    N(p) is strictly increasing, so Newton's method from `guess` is safeguarded by a bracket that
    every evaluation narrows (bisection whenever a Newton step leaves it)."""
    lo = -0.95 * patm
    hi = np.inf
    p = min(max(guess, lo), 100.0 * patm)
    cap = 1e-12
    for _ in range(60):
        v, dv = gas_volume(cp, i, p)
        f = (patm + p) * v - n * patm
        fp = v + (patm + p) * dv
        cap = fp / patm
        if f > 0.0:
            hi = p
        else:
            lo = p
        step = f / fp
        # a last step under 1 Pa (0.0075 mmHg) leaves an error of its square's order (quadratic
        # convergence); the gas n is conserved outside, so no error accumulates over substeps
        if abs(step) < NEWTON_LAST_STEP_Pa:
            return p - step, cap
        p_new = p - step
        if p_new < lo or p_new > hi:
            p_new = 0.5 * (lo + hi) if hi < np.inf else p + 2.0 * (p - lo) + patm
        p = p_new
    return p, cap


@njit(cache=True)
def resolve_pressures(cx, cp, g):
    """Recompute every cell pressure from its gas after a change of its volume law."""
    for i in range(cx.shape[0]):
        cx[i, CX_P], cx[i, CX_CAP] = cell_pressure(cp, i, cx[i, CX_N], cx[i, CX_P], g[G_PATM])


@njit(cache=True)
def _orifice(k, p_from, p_to, g):
    """Standard flow p_from → p_to through Cd·A = k, and its slope d Q / d(p_from - p_to)."""
    if k <= 0.0:
        return 0.0, 0.0
    dp = p_from - p_to
    plin = g[G_PLIN]
    s2 = dp * dp + plin * plin
    s = np.sqrt(np.sqrt(s2))
    p_up = p_from if dp >= 0.0 else p_to
    c = k * np.sqrt(2.0 / g[G_RHO]) * np.sqrt(max(g[G_PATM] + p_up, 1.0) / g[G_PATM])
    return c * dp / s, c * (0.5 * dp * dp + plin * plin) / (s2 * s)


@njit(cache=True)
def _motor(w, volts, load, r, k, b, j, h):
    """One semi-implicit step of a DC motor; returns the new speed and the current."""
    if volts <= 0.0:  # unpowered: the driver is off, no current; friction and load stop it
        w_new = (w - h / j * load) / (1.0 + h / j * b)
        return max(w_new, 0.0), 0.0
    w_new = (w + h / j * (k * volts / r - load)) / (1.0 + h / j * (b + k * k / r))
    w_new = max(w_new, 0.0)  # a load above the stall torque holds it still
    return w_new, (volts - k * w_new) / r


@njit(cache=True)
def _valve_targets(relay_closed, cp, i):
    """Where cell i's inlet and exhaust valves are going (unpowered: inlet closed, exhaust open)."""
    mode = cp[i, CP_INMODE]
    if mode == 2.0:
        inlet = 1.0
    elif mode == 1.0:
        inlet = 0.0
    else:
        inlet = 1.0 if (relay_closed and cp[i, CP_CMD_IN] > 0.5) else 0.0
    exhaust = 1.0 if (not relay_closed or cp[i, CP_CMD_EX] > 0.5) else 0.0
    return inlet, exhaust


@njit(cache=True)
def _quiet(relay_closed, cx, cp, lx, lp, leg, n_per):
    """A leg whose pneumatics change smoothly: every valve settled, every inlet closed and the pump
    stopped. Its cells only hold (leaks, the limb moving) or vent, each on its own through a fixed
    orifice, so one linearised step covers a whole tick about as well as many small ones; what
    needs substeps is a valve's stroke and the manifold's fast exchange with an open cell."""
    if lx[leg, LX_W] > QUIET_PUMP_SPEED or (relay_closed and lp[leg, LP_CMD_PUMP] > 0.0):
        return False
    for i in range(leg * n_per, (leg + 1) * n_per):
        inlet, exhaust = _valve_targets(relay_closed, cp, i)
        if inlet > 0.0 or cx[i, CX_IN] != 0.0 or cx[i, CX_EX] != exhaust:
            return False
    return True


@njit(cache=True)
def _substep(h, relay_closed, cx, cp, lx, lp, g, scratch, a_pump, a_p, a_t, pneumatic, thermal):
    """One substep of length h: the valves, pump, manifold and cells of the legs marked in
    ``pneumatic``, and every leg's heater and motors if ``thermal``. ``a_*`` are the first-order
    lag factors of the pump speed, the pressure sensors and the thermistor for h."""
    n_legs = lx.shape[0]
    n_per = cx.shape[0] // n_legs
    patm = g[G_PATM]
    stroke = h / g[G_TSW]
    for leg in range(n_legs):
        if pneumatic[leg]:
            first = leg * n_per
            # valves follow their targets over the switching time
            for i in range(first, first + n_per):
                target_in, target_ex = _valve_targets(relay_closed, cp, i)
                x = cx[i, CX_IN]
                cx[i, CX_IN] = min(target_in, x + stroke) if target_in > x else max(target_in, x - stroke)
                x = cx[i, CX_EX]
                cx[i, CX_EX] = min(target_ex, x + stroke) if target_ex > x else max(target_ex, x - stroke)
            # pump motor
            powered = relay_closed and lp[leg, LP_PUMPOK] > 0.5
            lx[leg, LX_W] += ((lp[leg, LP_CMD_PUMP] if powered else 0.0) - lx[leg, LX_W]) * a_pump
            if not powered and lx[leg, LX_W] < PUMP_STOPPED_SPEED:
                lx[leg, LX_W] = 0.0
            w = lx[leg, LX_W]
            # pneumatics: linearised backward Euler on the star network manifold + cells. The orifice
            # flows are linearised once, at the start; a cell's gas law N(p) is linearised at its
            # pressure and re-linearised where the step lands (Newton on the implicit step) while
            # flows at the landing pressure would move the cell by more than `CELL_STEP_TOL_Pa`:
            # near the volume floor (a limb that has filled the bladder) dN/dp drops a thousandfold
            # within a fraction of a mmHg, and one linearisation vents far more gas than the cell
            # holds there (a vented cell thrown to -40 mmHg and back, tick after tick)
            pm = lx[leg, LX_P]
            q_free = g[G_QFREE] * lp[leg, LP_PUMPOK]
            qp = q_free * (w - pm / g[G_PSHUT])
            gp = -q_free / g[G_PSHUT]
            if qp <= 0.0 or w <= 0.0:  # a stopped rotor displaces no gas
                qp = 0.0
                gp = 0.0
            qml, gml = _orifice(g[G_KML], pm, 0.0, g)
            for j in range(n_per):
                i = first + j
                p = cx[i, CX_P]
                cp[i, CP_DVLIMB] += h * cp[i, CP_DVLIMB_RATE]  # the gas law at the end of the step
                scratch[j, 0], scratch[j, 1] = _orifice(cx[i, CX_IN] * cp[i, CP_KIN], pm, p, g)
                # exhaust and leaks are orifices in parallel across the same drop: their Cd·A add
                k_out = cx[i, CX_EX] * cp[i, CP_KEX] + cp[i, CP_KLEAK]
                scratch[j, 2], scratch[j, 3] = _orifice(k_out, p, 0.0, g)
                scratch[j, 4] = cx[i, CX_CAP]  # dN/dp of the linearisation
                scratch[j, 5] = 0.0  # gas per second the linearisation leaves out (N at its point)
            for it in range(CELL_STEP_ITERATIONS):
                lhs = g[G_VM] / patm / h - gp + gml
                rhs = qp - qml
                for j in range(n_per):
                    fin = scratch[j, 0]
                    gin = scratch[j, 1]
                    d = scratch[j, 4] / h + gin + scratch[j, 3]
                    r = fin - scratch[j, 2] - scratch[j, 5]
                    scratch[j, 6] = d
                    scratch[j, 7] = r
                    lhs += gin * (1.0 - gin / d)
                    rhs += -fin + gin * r / d
                dm = rhs / lhs
                settled = True
                for j in range(n_per):
                    i = first + j
                    p = cx[i, CX_P]
                    gin = scratch[j, 1]
                    gout = scratch[j, 3]
                    di = (scratch[j, 7] + gin * dm) / scratch[j, 6]
                    q_in = scratch[j, 0] + gin * (dm - di)
                    q_out = scratch[j, 2] + gout * di
                    n_new = max(cx[i, CX_N] + h * (q_in - q_out), 1e-12)
                    p_new, cap_new = cell_pressure(cp, i, n_new, p + di, patm)
                    # the Newton step of the implicit equation from here: the flow error times h
                    # over the cell's stiffness (capacitance plus the orifices' hold on it)
                    hg = h * (gin + gout)
                    if hg * abs(p_new - p - di) > CELL_STEP_TOL_Pa * (cap_new + hg):
                        settled = False
                    scratch[j, 8] = di
                    scratch[j, 9] = q_in
                    scratch[j, 10] = n_new
                    scratch[j, 11] = p_new
                    scratch[j, 12] = cap_new
                if settled or it == CELL_STEP_ITERATIONS - 1:
                    break
                for j in range(n_per):  # re-linearise every cell's gas law where its step landed
                    i = first + j
                    di = scratch[j, 8]
                    n_lin, cap_lin = gas_amount(cp, i, cx[i, CX_P] + di, patm)
                    scratch[j, 4] = cap_lin
                    scratch[j, 5] = (n_lin - cx[i, CX_N] - cap_lin * di) / h
            q_in_total = 0.0
            for j in range(n_per):
                i = first + j
                q_in_total += scratch[j, 9]
                cx[i, CX_N] = scratch[j, 10]
                cx[i, CX_P] = scratch[j, 11]
                cx[i, CX_CAP] = scratch[j, 12]
                cx[i, CX_PEAK] = max(cx[i, CX_PEAK], cx[i, CX_P])
                cx[i, CX_SENS] += (cx[i, CX_P] - cx[i, CX_SENS]) * a_p
                cx[i, CX_OFF] += cp[i, CP_DRIFT] * h
            qp_new = max(qp + gp * dm, 0.0)
            lx[leg, LX_N] = max(lx[leg, LX_N] + h * (qp_new - q_in_total - (qml + gml * dm)), 1e-12)
            lx[leg, LX_P] = lx[leg, LX_N] * patm / g[G_VM] - patm
            lx[leg, LX_SENS] += (lx[leg, LX_P] - lx[leg, LX_SENS]) * a_p
            ratio = min(max(lx[leg, LX_P] / g[G_PSHUT], 0.0), 1.0)
            lx[leg, LX_IP] = w * (g[G_IPF] + (g[G_IPS] - g[G_IPF]) * ratio) if powered else 0.0
        if thermal:
            # heater pad against the skin (a shorted switch heats fully until the relay opens)
            duty = 1.0 if lp[leg, LP_RUNAWAY] > 0.5 else lp[leg, LP_CMD_HEAT]
            heat_w = lp[leg, LP_HEATW] * duty if relay_closed else 0.0
            lx[leg, LX_IH] = heat_w / g[G_VSUP]
            tpad = lx[leg, LX_TPAD]
            tskin = lx[leg, LX_TSKIN]
            q_ps = g[G_GPS] * (tpad - tskin)
            lx[leg, LX_TPAD] = tpad + h / g[G_CPAD] * (heat_w - q_ps - g[G_GPA] * (tpad - g[G_TAMB]))
            lx[leg, LX_TSKIN] = tskin + h / g[G_CSKIN] * (q_ps - g[G_GSC] * (tskin - g[G_TCORE]))
            surface = 0.5 * (lx[leg, LX_TPAD] + lx[leg, LX_TSKIN])
            lx[leg, LX_TPEAK] = max(lx[leg, LX_TPEAK], surface)
            lx[leg, LX_TSENS] += (surface - lx[leg, LX_TSENS]) * a_t
            # motors
            on = 1.0 if relay_closed else 0.0
            volts = g[G_VSUP] * on * lp[leg, LP_HASR] * lp[leg, LP_CMD_ROLL]
            wr, ir = _motor(lx[leg, LX_WR], volts, lp[leg, LP_RLOAD], g[G_RR], g[G_RK], g[G_RB], g[G_RJ], h)
            lx[leg, LX_WR] = wr
            lx[leg, LX_IR] = ir
            volts = g[G_VSUP] * on * lp[leg, LP_HASV] * lp[leg, LP_CMD_VIB]
            wv, iv = _motor(lx[leg, LX_WV], volts, lp[leg, LP_VLOAD], g[G_VR], g[G_VK], g[G_VB], g[G_VJ], h)
            lx[leg, LX_WV] = wv
            lx[leg, LX_IV] = iv


@njit(cache=True)
def _adc(value, noise_sd, lsb, lo, hi, rng):
    v = value + noise_sd * _normal(rng)
    v = min(max(v, lo), hi)
    return np.floor(v / lsb + 0.5) * lsb


@njit(cache=True)
def _sample(cx, cp, lx, lp, g, rng, out):
    nc = cx.shape[0]
    nl = lx.shape[0]
    for i in range(nc):
        if cp[i, CP_STUCK] < 0.5:  # a stuck sensor keeps its last output
            v = _adc(cx[i, CX_SENS] + cx[i, CX_OFF], g[G_PNOISE], g[G_PLSB], g[G_PMIN], g[G_PMAX], rng)
            out[i] = v / _MMHG_Pa
    for leg in range(nl):
        v = _adc(lx[leg, LX_SENS] + lp[leg, LP_OFFM], g[G_PNOISE], g[G_PLSB], g[G_PMIN], g[G_PMAX], rng)
        out[nc + leg] = v / _MMHG_Pa
        out[nc + nl + leg] = _adc(
            lx[leg, LX_TSENS] + lp[leg, LP_OFFT], g[G_TNOISE], g[G_TLSB], -20.0, 120.0, rng
        )
        for k in range(3):
            out[nc + (2 + k) * nl + leg] = _adc(lx[leg, LX_IP + k], g[G_INOISE], g[G_ILSB], 0.0, 20.0, rng)
        out[nc + 5 * nl + leg] = _adc(lx[leg, LX_IH], g[G_INOISE], g[G_ILSB], 0.0, 20.0, rng)


@njit(cache=True)
def _lag_factors(h, g):
    """How far the pump speed, the pressure sensors and the thermistor move towards their
    targets in h seconds (exact first-order lags)."""
    return 1.0 - np.exp(-h / g[G_TPUMP]), 1.0 - np.exp(-h / g[G_PLAG]), 1.0 - np.exp(-h / g[G_TLAG])


@njit(cache=True)
def advance(t0, t1, dt, relay_closed, sample, cx, cp, lx, lp, g, rng, out, trip_Pa):
    """Integrate every leg from t0 to t1 in substeps of dt (the last one shorter), then sample.

    The pneumatics of a `_quiet` leg take the whole span in one step (heater and motors keep the
    substeps), unless the relay opens on the way. The device's own over-pressure switch is checked
    after every substep: a cell above its ``trip_Pa`` opens the relay at once. Returns the time it
    tripped, or -1.

    The flags handed to `_substep` are ``np.bool_``: numba compiles a function once more for each
    literal ``True`` or ``False`` it is called with, and `_substep` takes seconds to compile.
    """
    tripped_at = -1.0
    yes, no = np.bool_(True), np.bool_(False)
    span = t1 - t0
    n_legs = lx.shape[0]
    n_per = cx.shape[0] // n_legs
    if span > 0.0:
        n = int(np.ceil(span / dt - 1e-9))
        n = max(n, 1)
        scratch = np.empty((n_per, 13))
        busy = np.empty(n_legs, np.bool_)
        for leg in range(n_legs):
            busy[leg] = g[G_QUIET] == 0.0 or not _quiet(relay_closed, cx, cp, lx, lp, leg, n_per)
        pending = not busy.all()  # quiet legs wait for one step at the end
        lags = _lag_factors(dt, g)
        t = t0
        for s in range(n):
            h = dt if s < n - 1 else span - dt * (n - 1)
            if h > 0.0:
                a_pump, a_p, a_t = lags if h == dt else _lag_factors(h, g)
                _substep(h, relay_closed, cx, cp, lx, lp, g, scratch, a_pump, a_p, a_t, busy, yes)
                t += h
            if relay_closed:
                for i in range(cx.shape[0]):
                    if cx[i, CX_P] > trip_Pa[i]:
                        relay_closed = False
                        tripped_at = t
                        break
                if pending and not relay_closed:  # quiet legs catch up, then their valves move
                    a_pump, a_p, a_t = _lag_factors(t - t0, g)
                    _substep(t - t0, yes, cx, cp, lx, lp, g, scratch, a_pump, a_p, a_t, ~busy, no)
                    busy[:] = True
                    pending = False
        if pending:
            a_pump, a_p, a_t = _lag_factors(span, g)
            _substep(span, relay_closed, cx, cp, lx, lp, g, scratch, a_pump, a_p, a_t, ~busy, no)
    if sample:
        _sample(cx, cp, lx, lp, g, rng, out)
    return tripped_at


@njit(cache=True)
def _clamp(x, hi):
    """x limited to 0..hi; NaN (a broken command) counts as 0."""
    x = float(x)
    if not x > 0.0:
        return 0.0
    return min(x, hi)


@njit(cache=True)
def latch(cp, lp, inlet_open, exhaust_open, pump_duty, heater_power, roller_speed, vibration_level, vib_max):
    """Copy one tick's commands into the parameter arrays, clamped to what the hardware can do."""
    for i in range(cp.shape[0]):
        cp[i, CP_CMD_IN] = 1.0 if inlet_open[i] else 0.0
        cp[i, CP_CMD_EX] = 1.0 if exhaust_open[i] else 0.0
    for leg in range(lp.shape[0]):
        lp[leg, LP_CMD_PUMP] = _clamp(pump_duty[leg], 1.0)
        lp[leg, LP_CMD_HEAT] = _clamp(heater_power[leg], 1.0)
        lp[leg, LP_CMD_ROLL] = _clamp(roller_speed[leg], 1.0)
        lp[leg, LP_CMD_VIB] = _clamp(vibration_level[leg], vib_max) / 5.0

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

State, parameters and latched commands are records (numpy structured dtypes, read and written by
field name in the kernels): one `CELL` per cell, one `LEG` per leg (its pump, manifold, heater and
motors) and one `CONSTANTS` for the whole device, in SI units (each name says its unit).
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np
from numba import njit


class InletValve(IntEnum):
    """What a cell's inlet valve does (`CELL` ``inlet_valve``)."""

    WORKS = 0
    STUCK_CLOSED = 1
    STUCK_OPEN = 2


#: One cell: its state, its physical constants (some changed by faults) and the latched commands.
CELL = np.dtype(
    [
        # state
        ("gas_m3", "f8"),  # gas amount N, m³ at atmospheric pressure
        ("p_Pa", "f8"),  # gauge pressure
        ("inlet_opening", "f8"),  # inlet valve opening 0..1
        ("exhaust_opening", "f8"),  # exhaust valve opening 0..1
        ("sensor_Pa", "f8"),  # sensor element after its lag
        ("offset_Pa", "f8"),  # sensor offset (drifts under `sensor_drift`)
        ("cap_m3_per_Pa", "f8"),  # capacitance dN/dp at the last pressure (for the next linearised step)
        ("peak_Pa", "f8"),  # highest gauge pressure so far (the truth a safety claim is checked against)
        # gas law: V(p) = V_res + V_conf (1 - exp(-p / p_conf)) + C_t p - ΔV_limb, floored at V_floor
        ("floor_m3", "f8"),  # V_floor: tube dead volume, the least gas volume the cell ever has
        ("soft_m3", "f8"),  # softplus width of the volume floor
        ("residual_m3", "f8"),  # V_res: what the deflated bladder still holds
        ("conform_m3", "f8"),  # V_conf: slack taken up until the bladder conforms to the limb
        ("conform_Pa", "f8"),  # p_conf: pressure scale of that slack
        ("tissue_m3_per_Pa", "f8"),  # C_t: compliance of the limb under the cell
        ("limb_m3", "f8"),  # ΔV_limb: volume taken from the gas by the limb under the cell
        (
            "limb_rate_m3_per_s",
            "f8",
        ),  # the limb's volume change, spread over its step (it moves, it does not jump)
        # orifices, Cd·A
        ("inlet_m2", "f8"),  # inlet path
        ("exhaust_m2", "f8"),  # exhaust path
        ("leak_m2", "f8"),  # leaks (seams, a `leak` hole)
        ("inlet_valve", "i8"),  # an `InletValve`: works, stuck closed or stuck open
        ("drift_Pa_per_s", "f8"),  # sensor offset drift
        ("sensor_stuck", "?"),  # the sensor output is frozen
        ("trip_Pa", "f8"),  # the device's own over-pressure switch opens the relay above this
        # latched commands
        ("cmd_inlet", "?"),  # inlet open
        ("cmd_exhaust", "?"),  # exhaust open
    ],
    align=True,
)

#: One leg: its pump, manifold, heater pad and motors (state, constants, faults, latched commands).
LEG = np.dtype(
    [
        # state
        ("manifold_gas_m3", "f8"),  # manifold gas, m³ at atmospheric pressure
        ("manifold_Pa", "f8"),  # manifold gauge pressure
        ("pump_speed", "f8"),  # pump motor speed, fraction of full 0..1
        ("pad_C", "f8"),  # heater pad temperature
        ("skin_C", "f8"),  # tissue layer under the pad
        ("roller_rad_per_s", "f8"),  # roller motor speed
        ("vibration_rad_per_s", "f8"),  # vibration motor speed
        ("manifold_sensor_Pa", "f8"),  # manifold sensor element after its lag
        ("thermistor_C", "f8"),  # thermistor element after its lag
        ("pump_A", "f8"),  # pump current
        ("roller_A", "f8"),  # roller current
        ("vibration_A", "f8"),  # vibration current
        ("heater_A", "f8"),  # heater current (its duty's average)
        ("peak_surface_C", "f8"),  # highest skin surface temperature so far
        # constants and faults
        ("pump_works", "?"),  # False: `pump_failure`
        ("heater_shorted", "?"),  # heater switch shorted: full power while the relay is closed
        ("heater_W", "f8"),  # installed heater power (0: no heater)
        ("has_roller", "?"),  # has a roller motor
        ("has_vibration", "?"),  # has a vibration motor
        ("roller_load_N_m", "f8"),  # roller load at the motor shaft
        ("vibration_load_N_m", "f8"),  # vibration motor load
        ("manifold_offset_Pa", "f8"),  # manifold sensor offset
        ("thermistor_offset_C", "f8"),  # thermistor offset
        # latched commands
        ("cmd_pump", "f8"),  # pump duty 0..1
        ("cmd_heater", "f8"),  # heater duty 0..1
        ("cmd_roller", "f8"),  # roller speed 0..1
        ("cmd_vibration", "f8"),  # vibration level as a fraction 0..1
    ],
    align=True,
)

#: A DC motor: ``I = (V - k w) / R``, ``J dw/dt = k I - b w - load``.
MOTOR = np.dtype(
    [
        ("resistance_ohm", "f8"),  # R
        ("k_V_s_per_rad", "f8"),  # k: back-EMF and torque constant
        ("friction_N_m_s_per_rad", "f8"),  # b
        ("inertia_kg_m2", "f8"),  # J
    ],
    align=True,
)

#: The device's constants, the same for every leg and cell (SI).
CONSTANTS = np.dtype(
    [
        ("p_atm_Pa", "f8"),  # atmospheric pressure
        ("air_density_kg_per_m3", "f8"),  # ρ
        ("laminar_below_Pa", "f8"),  # p_lin: an orifice is linear (laminar) below about this drop
        ("pump_free_flow_m3_per_s", "f8"),  # Q_free: the pump's delivery against no pressure
        ("pump_shutoff_Pa", "f8"),  # p_shut: the pressure it stops delivering at
        ("pump_spinup_s", "f8"),  # time constant of the pump motor's speed
        ("manifold_m3", "f8"),  # V_m: gas volume of the manifold
        ("manifold_leak_m2", "f8"),  # Cd·A of the back-leak through the pump's reed valves
        ("valve_switching_s", "f8"),  # stroke time of a valve
        ("pump_free_A", "f8"),  # pump current at free flow
        ("pump_shutoff_A", "f8"),  # pump current at shut-off
        ("pad_J_per_K", "f8"),  # heat capacity of the heater pad
        ("skin_J_per_K", "f8"),  # heat capacity of the skin layer under it
        ("pad_to_skin_W_per_K", "f8"),  # conductance pad → skin
        ("pad_to_ambient_W_per_K", "f8"),  # conductance pad → room
        ("skin_to_core_W_per_K", "f8"),  # conductance skin → body core
        ("ambient_C", "f8"),  # room temperature
        ("core_C", "f8"),  # body core temperature
        ("supply_V", "f8"),  # motor and heater supply
        ("roller", MOTOR),  # roller gear motor
        ("vibration", MOTOR),  # vibration (eccentric mass) motor
        ("pressure_noise_Pa", "f8"),  # pressure sensors: noise standard deviation ...
        ("pressure_lag_s", "f8"),  # ... time constant ...
        ("pressure_lsb_Pa", "f8"),  # ... resolution ...
        ("pressure_min_Pa", "f8"),  # ... and range
        ("pressure_max_Pa", "f8"),
        ("temp_noise_C", "f8"),  # thermistor: noise standard deviation ...
        ("temp_lag_s", "f8"),  # ... time constant ...
        ("temp_lsb_C", "f8"),  # ... and resolution
        ("current_noise_A", "f8"),  # current sensors: noise standard deviation ...
        ("current_lsb_A", "f8"),  # ... and resolution
        ("quiet_legs", "?"),  # quiet legs take one pneumatic step per call (`_quiet`)
    ],
    align=True,
)

#: One cell's part of the implicit pneumatic step (`_substep`).
CELL_STEP = np.dtype(
    [
        ("q_in_m3_per_s", "f8"),  # inlet flow at the start of the step ...
        ("g_in_m3_per_s_Pa", "f8"),  # ... and its slope in the drop manifold → cell
        ("q_out_m3_per_s", "f8"),  # exhaust and leak flow at the start ...
        ("g_out_m3_per_s_Pa", "f8"),  # ... and its slope in the cell's pressure
        ("cap_m3_per_Pa", "f8"),  # dN/dp of the linearisation of the gas law
        ("missed_m3_per_s", "f8"),  # gas per second the linearisation leaves out (N at its point)
        ("diag_m3_per_s_Pa", "f8"),  # the cell's row of the eliminated system: its diagonal ...
        ("rhs_m3_per_s", "f8"),  # ... and its right-hand side
        ("dp_Pa", "f8"),  # where the step took the cell: the change of its pressure ...
        ("q_in_step_m3_per_s", "f8"),  # ... the inlet flow over the step ...
        ("gas_m3", "f8"),  # ... its new gas ...
        ("p_Pa", "f8"),  # ... the pressure that gas has ...
        ("cap_new_m3_per_Pa", "f8"),  # ... and the capacitance there
    ],
    align=True,
)

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
def gas_volume(cell, p):
    """Gas volume V (m³) of a `CELL` at gauge pressure p (Pa), and dV/dp."""
    vres = cell.residual_m3
    vconf = cell.conform_m3
    pconf = cell.conform_Pa
    ct = cell.tissue_m3_per_Pa
    if p >= 0.0:
        e = np.exp(-p / pconf)
        vs = vres + vconf * (1.0 - e) + ct * p
        dvs = vconf / pconf * e + ct
    else:
        dvs = vconf / pconf + ct
        vs = vres + dvs * p
    w = cell.soft_m3
    u = (vs - cell.limb_m3 - cell.floor_m3) / w
    if u > 15.0:  # far above the floor: softplus(u) = u to 3e-7 relative
        return cell.floor_m3 + u * w, dvs
    eu = np.exp(u)
    return cell.floor_m3 + w * np.log1p(eu), dvs * eu / (1.0 + eu)


@njit(cache=True)
def gas_amount(cell, p, patm):
    """Gas of a `CELL` at gauge pressure p, m³ at atmospheric pressure, and its capacitance dN/dp."""
    v, dv = gas_volume(cell, p)
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
def cell_pressure(cell, n, guess, patm):
    """Gauge pressure of a `CELL` holding gas n, and the capacitance dN/dp there.

    N(p) is strictly increasing, so Newton's method from `guess` is safeguarded by a bracket that
    every evaluation narrows (bisection whenever a Newton step leaves it)."""
    lo = -0.95 * patm
    hi = np.inf
    p = min(max(guess, lo), 100.0 * patm)
    cap = 1e-12
    for _ in range(60):
        v, dv = gas_volume(cell, p)
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
def resolve_pressures(cells, constants):
    """Recompute every cell pressure from its gas after a change of its volume law."""
    patm = constants[0].p_atm_Pa
    for i in range(cells.shape[0]):
        c = cells[i]
        c.p_Pa, c.cap_m3_per_Pa = cell_pressure(c, c.gas_m3, c.p_Pa, patm)


@njit(cache=True)
def _orifice(k, p_from, p_to, g):
    """Standard flow p_from → p_to through Cd·A = k, and its slope d Q / d(p_from - p_to)."""
    if k <= 0.0:
        return 0.0, 0.0
    dp = p_from - p_to
    plin = g.laminar_below_Pa
    s2 = dp * dp + plin * plin
    s = np.sqrt(np.sqrt(s2))
    p_up = p_from if dp >= 0.0 else p_to
    c = k * np.sqrt(2.0 / g.air_density_kg_per_m3) * np.sqrt(max(g.p_atm_Pa + p_up, 1.0) / g.p_atm_Pa)
    return c * dp / s, c * (0.5 * dp * dp + plin * plin) / (s2 * s)


@njit(cache=True)
def _motor(w, volts, load, motor, h):
    """One semi-implicit step of a DC `MOTOR`; returns the new speed and the current."""
    r = motor.resistance_ohm
    k = motor.k_V_s_per_rad
    b = motor.friction_N_m_s_per_rad
    j = motor.inertia_kg_m2
    if volts <= 0.0:  # unpowered: the driver is off, no current; friction and load stop it
        w_new = (w - h / j * load) / (1.0 + h / j * b)
        return max(w_new, 0.0), 0.0
    w_new = (w + h / j * (k * volts / r - load)) / (1.0 + h / j * (b + k * k / r))
    w_new = max(w_new, 0.0)  # a load above the stall torque holds it still
    return w_new, (volts - k * w_new) / r


@njit(cache=True)
def _valve_targets(relay_closed, cell):
    """Where a cell's inlet and exhaust valves are going (unpowered: inlet closed, exhaust open)."""
    if cell.inlet_valve == InletValve.STUCK_OPEN:
        inlet = 1.0
    elif cell.inlet_valve == InletValve.STUCK_CLOSED:
        inlet = 0.0
    else:
        inlet = 1.0 if (relay_closed and cell.cmd_inlet) else 0.0
    exhaust = 1.0 if (not relay_closed or cell.cmd_exhaust) else 0.0
    return inlet, exhaust


@njit(cache=True)
def _quiet(relay_closed, leg, leg_cells):
    """A leg whose pneumatics change smoothly: every valve settled, every inlet closed and the pump
    stopped. Its cells only hold (leaks, the limb moving) or vent, each on its own through a fixed
    orifice, so one linearised step covers a whole tick about as well as many small ones; what
    needs substeps is a valve's stroke and the manifold's fast exchange with an open cell."""
    if leg.pump_speed > QUIET_PUMP_SPEED or (relay_closed and leg.cmd_pump > 0.0):
        return False
    for j in range(leg_cells.shape[0]):
        c = leg_cells[j]
        inlet, exhaust = _valve_targets(relay_closed, c)
        if inlet > 0.0 or c.inlet_opening != 0.0 or c.exhaust_opening != exhaust:
            return False
    return True


@njit(cache=True)
def _substep(h, relay_closed, cells, legs, g, step, lags, pneumatic, thermal):
    """One substep of length h: the valves, pump, manifold and cells of the legs marked in
    ``pneumatic``, and every leg's heater and motors if ``thermal``. ``lags`` are the first-order
    lag factors of the pump speed, the pressure sensors and the thermistor for h; ``step`` holds
    one `CELL_STEP` per cell of a leg."""
    a_pump, a_p, a_t = lags
    n_legs = legs.shape[0]
    n_per = cells.shape[0] // n_legs
    patm = g.p_atm_Pa
    stroke = h / g.valve_switching_s
    for k in range(n_legs):
        leg = legs[k]
        if pneumatic[k]:
            leg_cells = cells[k * n_per : (k + 1) * n_per]
            # valves follow their targets over the switching time
            for j in range(n_per):
                c = leg_cells[j]
                target_in, target_ex = _valve_targets(relay_closed, c)
                x = c.inlet_opening
                c.inlet_opening = min(target_in, x + stroke) if target_in > x else max(target_in, x - stroke)
                x = c.exhaust_opening
                c.exhaust_opening = (
                    min(target_ex, x + stroke) if target_ex > x else max(target_ex, x - stroke)
                )
            # pump motor
            powered = relay_closed and leg.pump_works
            leg.pump_speed += ((leg.cmd_pump if powered else 0.0) - leg.pump_speed) * a_pump
            if not powered and leg.pump_speed < PUMP_STOPPED_SPEED:
                leg.pump_speed = 0.0
            w = leg.pump_speed
            # pneumatics: linearised backward Euler on the star network manifold + cells. The orifice
            # flows are linearised once, at the start; a cell's gas law N(p) is linearised at its
            # pressure and re-linearised where the step lands (Newton on the implicit step) while
            # flows at the landing pressure would move the cell by more than `CELL_STEP_TOL_Pa`:
            # near the volume floor (a limb that has filled the bladder) dN/dp drops a thousandfold
            # within a fraction of a mmHg, and one linearisation vents far more gas than the cell
            # holds there (a vented cell thrown to -40 mmHg and back, tick after tick)
            pm = leg.manifold_Pa
            q_free = g.pump_free_flow_m3_per_s if leg.pump_works else 0.0
            qp = q_free * (w - pm / g.pump_shutoff_Pa)
            gp = -q_free / g.pump_shutoff_Pa
            if qp <= 0.0 or w <= 0.0:  # a stopped rotor displaces no gas
                qp = 0.0
                gp = 0.0
            qml, gml = _orifice(g.manifold_leak_m2, pm, 0.0, g)
            for j in range(n_per):
                c = leg_cells[j]
                s = step[j]
                p = c.p_Pa
                c.limb_m3 += h * c.limb_rate_m3_per_s  # the gas law at the end of the step
                s.q_in_m3_per_s, s.g_in_m3_per_s_Pa = _orifice(c.inlet_opening * c.inlet_m2, pm, p, g)
                # exhaust and leaks are orifices in parallel across the same drop: their Cd·A add
                k_out = c.exhaust_opening * c.exhaust_m2 + c.leak_m2
                s.q_out_m3_per_s, s.g_out_m3_per_s_Pa = _orifice(k_out, p, 0.0, g)
                s.cap_m3_per_Pa = c.cap_m3_per_Pa  # dN/dp of the linearisation
                s.missed_m3_per_s = 0.0
            for it in range(CELL_STEP_ITERATIONS):
                lhs = g.manifold_m3 / patm / h - gp + gml
                rhs = qp - qml
                for j in range(n_per):
                    s = step[j]
                    fin = s.q_in_m3_per_s
                    gin = s.g_in_m3_per_s_Pa
                    d = s.cap_m3_per_Pa / h + gin + s.g_out_m3_per_s_Pa
                    r = fin - s.q_out_m3_per_s - s.missed_m3_per_s
                    s.diag_m3_per_s_Pa = d
                    s.rhs_m3_per_s = r
                    lhs += gin * (1.0 - gin / d)
                    rhs += -fin + gin * r / d
                dm = rhs / lhs
                settled = True
                for j in range(n_per):
                    c = leg_cells[j]
                    s = step[j]
                    p = c.p_Pa
                    gin = s.g_in_m3_per_s_Pa
                    gout = s.g_out_m3_per_s_Pa
                    di = (s.rhs_m3_per_s + gin * dm) / s.diag_m3_per_s_Pa
                    q_in = s.q_in_m3_per_s + gin * (dm - di)
                    q_out = s.q_out_m3_per_s + gout * di
                    n_new = max(c.gas_m3 + h * (q_in - q_out), 1e-12)
                    p_new, cap_new = cell_pressure(c, n_new, p + di, patm)
                    # the Newton step of the implicit equation from here: the flow error times h
                    # over the cell's stiffness (capacitance plus the orifices' hold on it)
                    hg = h * (gin + gout)
                    if hg * abs(p_new - p - di) > CELL_STEP_TOL_Pa * (cap_new + hg):
                        settled = False
                    s.dp_Pa = di
                    s.q_in_step_m3_per_s = q_in
                    s.gas_m3 = n_new
                    s.p_Pa = p_new
                    s.cap_new_m3_per_Pa = cap_new
                if settled or it == CELL_STEP_ITERATIONS - 1:
                    break
                for j in range(n_per):  # re-linearise every cell's gas law where its step landed
                    c = leg_cells[j]
                    s = step[j]
                    di = s.dp_Pa
                    n_lin, cap_lin = gas_amount(c, c.p_Pa + di, patm)
                    s.cap_m3_per_Pa = cap_lin
                    s.missed_m3_per_s = (n_lin - c.gas_m3 - cap_lin * di) / h
            q_in_total = 0.0
            for j in range(n_per):
                c = leg_cells[j]
                s = step[j]
                q_in_total += s.q_in_step_m3_per_s
                c.gas_m3 = s.gas_m3
                c.p_Pa = s.p_Pa
                c.cap_m3_per_Pa = s.cap_new_m3_per_Pa
                c.peak_Pa = max(c.peak_Pa, c.p_Pa)
                c.sensor_Pa += (c.p_Pa - c.sensor_Pa) * a_p
                c.offset_Pa += c.drift_Pa_per_s * h
            qp_new = max(qp + gp * dm, 0.0)
            leg.manifold_gas_m3 = max(
                leg.manifold_gas_m3 + h * (qp_new - q_in_total - (qml + gml * dm)), 1e-12
            )
            leg.manifold_Pa = leg.manifold_gas_m3 * patm / g.manifold_m3 - patm
            leg.manifold_sensor_Pa += (leg.manifold_Pa - leg.manifold_sensor_Pa) * a_p
            ratio = min(max(leg.manifold_Pa / g.pump_shutoff_Pa, 0.0), 1.0)
            leg.pump_A = w * (g.pump_free_A + (g.pump_shutoff_A - g.pump_free_A) * ratio) if powered else 0.0
        if thermal:
            # heater pad against the skin (a shorted switch heats fully until the relay opens)
            duty = 1.0 if leg.heater_shorted else leg.cmd_heater
            heat_w = leg.heater_W * duty if relay_closed else 0.0
            leg.heater_A = heat_w / g.supply_V
            tpad = leg.pad_C
            tskin = leg.skin_C
            q_ps = g.pad_to_skin_W_per_K * (tpad - tskin)
            leg.pad_C = tpad + h / g.pad_J_per_K * (
                heat_w - q_ps - g.pad_to_ambient_W_per_K * (tpad - g.ambient_C)
            )
            leg.skin_C = tskin + h / g.skin_J_per_K * (q_ps - g.skin_to_core_W_per_K * (tskin - g.core_C))
            surface = 0.5 * (leg.pad_C + leg.skin_C)
            leg.peak_surface_C = max(leg.peak_surface_C, surface)
            leg.thermistor_C += (surface - leg.thermistor_C) * a_t
            # motors
            volts = g.supply_V * leg.cmd_roller if (relay_closed and leg.has_roller) else 0.0
            leg.roller_rad_per_s, leg.roller_A = _motor(
                leg.roller_rad_per_s, volts, leg.roller_load_N_m, g.roller, h
            )
            volts = g.supply_V * leg.cmd_vibration if (relay_closed and leg.has_vibration) else 0.0
            leg.vibration_rad_per_s, leg.vibration_A = _motor(
                leg.vibration_rad_per_s, volts, leg.vibration_load_N_m, g.vibration, h
            )


@njit(cache=True)
def _adc(value, noise_sd, lsb, lo, hi, rng):
    v = value + noise_sd * _normal(rng)
    v = min(max(v, lo), hi)
    return np.floor(v / lsb + 0.5) * lsb


@njit(cache=True)
def _pressure_adc(value, g, rng):
    """A pressure sensor's output, Pa, for its element (plus offset) at ``value``."""
    return _adc(value, g.pressure_noise_Pa, g.pressure_lsb_Pa, g.pressure_min_Pa, g.pressure_max_Pa, rng)


@njit(cache=True)
def _current_adc(value, g, rng):
    """A current sensor's output, A."""
    return _adc(value, g.current_noise_A, g.current_lsb_A, 0.0, 20.0, rng)


@njit(cache=True)
def _sample(cells, legs, g, rng, out):
    nc = cells.shape[0]
    nl = legs.shape[0]
    for i in range(nc):
        c = cells[i]
        if not c.sensor_stuck:  # a stuck sensor keeps its last output
            out[i] = _pressure_adc(c.sensor_Pa + c.offset_Pa, g, rng) / _MMHG_Pa
    for k in range(nl):
        leg = legs[k]
        out[nc + k] = _pressure_adc(leg.manifold_sensor_Pa + leg.manifold_offset_Pa, g, rng) / _MMHG_Pa
        out[nc + nl + k] = _adc(
            leg.thermistor_C + leg.thermistor_offset_C, g.temp_noise_C, g.temp_lsb_C, -20.0, 120.0, rng
        )
        out[nc + 2 * nl + k] = _current_adc(leg.pump_A, g, rng)
        out[nc + 3 * nl + k] = _current_adc(leg.roller_A, g, rng)
        out[nc + 4 * nl + k] = _current_adc(leg.vibration_A, g, rng)
        out[nc + 5 * nl + k] = _current_adc(leg.heater_A, g, rng)


@njit(cache=True)
def _lag_factors(h, g):
    """How far the pump speed, the pressure sensors and the thermistor move towards their
    targets in h seconds (exact first-order lags)."""
    return (
        1.0 - np.exp(-h / g.pump_spinup_s),
        1.0 - np.exp(-h / g.pressure_lag_s),
        1.0 - np.exp(-h / g.temp_lag_s),
    )


@njit(cache=True)
def advance(t0, t1, dt, relay_closed, sample, cells, legs, constants, rng, out):
    """Integrate every leg from t0 to t1 in substeps of dt (the last one shorter), then sample.

    ``cells``: one `CELL` per cell, leg by leg; ``legs``: one `LEG` per leg; ``constants``: one
    `CONSTANTS` (an array of one record: numba takes an array faster than a record).

    The pneumatics of a `_quiet` leg take the whole span in one step (heater and motors keep the
    substeps), unless the relay opens on the way. The device's own over-pressure switch is checked
    after every substep: a cell above its ``trip_Pa`` opens the relay at once. Returns the time it
    tripped, or -1.

    The flags handed to `_substep` are ``np.bool_``: numba compiles a function once more for each
    literal ``True`` or ``False`` it is called with, and `_substep` takes seconds to compile.
    """
    g = constants[0]
    tripped_at = -1.0
    yes, no = np.bool_(True), np.bool_(False)
    span = t1 - t0
    n_legs = legs.shape[0]
    n_per = cells.shape[0] // n_legs
    if span > 0.0:
        n = int(np.ceil(span / dt - 1e-9))
        n = max(n, 1)
        step = np.empty(n_per, CELL_STEP)
        busy = np.empty(n_legs, np.bool_)
        for k in range(n_legs):
            busy[k] = not g.quiet_legs or not _quiet(
                relay_closed, legs[k], cells[k * n_per : (k + 1) * n_per]
            )
        pending = not busy.all()  # quiet legs wait for one step at the end
        lags = _lag_factors(dt, g)
        t = t0
        for s in range(n):
            h = dt if s < n - 1 else span - dt * (n - 1)
            if h > 0.0:
                _substep(
                    h, relay_closed, cells, legs, g, step, lags if h == dt else _lag_factors(h, g), busy, yes
                )
                t += h
            if relay_closed:
                for i in range(cells.shape[0]):
                    if cells[i].p_Pa > cells[i].trip_Pa:
                        relay_closed = False
                        tripped_at = t
                        break
                if pending and not relay_closed:  # quiet legs catch up, then their valves move
                    _substep(t - t0, yes, cells, legs, g, step, _lag_factors(t - t0, g), ~busy, no)
                    busy[:] = True
                    pending = False
        if pending:
            _substep(span, relay_closed, cells, legs, g, step, _lag_factors(span, g), ~busy, no)
    if sample:
        _sample(cells, legs, g, rng, out)
    return tripped_at


@njit(cache=True)
def _clamp(x, hi):
    """x limited to 0..hi; NaN (a broken command) counts as 0."""
    x = float(x)
    if not x > 0.0:
        return 0.0
    return min(x, hi)


@njit(cache=True)
def latch(
    cells, legs, inlet_open, exhaust_open, pump_duty, heater_power, roller_speed, vibration_level, vib_max
):
    """Copy one tick's commands into the records, clamped to what the hardware can do."""
    for i in range(cells.shape[0]):
        c = cells[i]
        c.cmd_inlet = bool(inlet_open[i])
        c.cmd_exhaust = bool(exhaust_open[i])
    for k in range(legs.shape[0]):
        leg = legs[k]
        leg.cmd_pump = _clamp(pump_duty[k], 1.0)
        leg.cmd_heater = _clamp(heater_power[k], 1.0)
        leg.cmd_roller = _clamp(roller_speed[k], 1.0)
        leg.cmd_vibration = _clamp(vibration_level[k], vib_max) / 5.0

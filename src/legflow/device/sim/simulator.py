"""`SimulatedMassager`: a full `Massager` backend whose sensors come from physics (see `physics`).

What it models: per leg a diaphragm pump, manifold, per cell an inlet (normally closed) and exhaust
(normally open) solenoid valve with orifice flow and a stroke time, an isothermal gas cell whose
volume follows the bladder and the limb under it, leaks, pressure sensors (lag, offset, noise,
quantisation), a heater pad on the skin, roller and vibration DC motors, the master relay and the
device-side heartbeat failsafe. Faults (`FaultSpec`) change that physics at their time.

A `Limb` (the leg twin) may sit inside the cells: every `limb.step_s` it feels the cells' true
pressures and its volume under each cell feeds back into that cell's gas volume.

What it does not model: gas temperature changes (isothermal), tube dynamics between valve block and
cell (except a kink), cross-talk between cells through the limb other than the limb's own volume,
pump pulsation, a heater pad lifting off the skin when the garment comes off, motor inductance and
gearbox backlash.

Times: `Sensors.t_s` and `failsafe_at_s` are clock times; `FaultSpec.at_s` counts from creation,
then from the program's start once `start_program` is called.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from legflow.clock import Clock
from legflow.device.faults import CELL_FAULTS, FIT_KINDS, INJECTABLE, FaultSpec
from legflow.device.massager import ROLLER_ZONES, Commands, HEARTBEAT_TIMEOUT_s, Massager, Sensors
from legflow.device.profile import DeviceProfile
from legflow.device.sim import physics as ph
from legflow.device.sim.parameters import (
    AIR_DENSITY_kg_per_m3,
    ATMOSPHERE_Pa,
    MMHG_Pa,
    SimParameters,
    orifice_area_m2,
)
from legflow.errors import DeviceError

_mL = 1e-6  # m³


class Limb(Protocol):
    """The legs inside the cells (the leg twin): stepped with the cells' pressures, it says how much
    the limb under each cell has grown or emptied."""

    step_s: float

    def step(self, cell_mmHg: np.ndarray) -> None: ...

    def limb_volume_change_mL(self) -> np.ndarray: ...


class SimulatedMassager(Massager):
    """A simulated massager for `profile`, on `clock`, with `faults` injected; `seed` fixes noise."""

    def __init__(
        self,
        profile: DeviceProfile,
        clock: Clock,
        faults: Sequence[FaultSpec] = (),
        seed: int = 0,
        *,
        params: SimParameters | None = None,
        limb: Limb | None = None,
    ):
        self.profile = profile
        self.limb = limb
        self.params = params or SimParameters()
        self._clock = clock
        self.created_at_s = clock.now()
        self._t = self.created_at_s
        nl, nc = self.n_legs, self.n_cells
        self._n_legs = nl  # the read path needs it every tick
        if nl == 0 or nc == 0:
            raise DeviceError(f"profile '{profile.name}' has no cells to simulate")
        self._names = profile.cell_names()
        self._leg_of_cell = np.repeat(np.arange(nl), len(profile.cells))
        if profile.pump_free_flow_L_per_min is None or profile.pump_shutoff_mmHg is None:
            raise DeviceError(
                f"profile '{profile.name}' gives no pump curve (pump_free_flow_L_per_min, "
                "pump_shutoff_mmHg): the simulator needs one"
            )
        #: The kernel's records: one `physics.CONSTANTS` (an array of one), a `physics.CELL` per
        #: cell (leg by leg) and a `physics.LEG` per leg.
        self._constants = _constants(self.params, profile.pump_free_flow_L_per_min, profile.pump_shutoff_mmHg)
        cells = self._cells = _cell_params(profile, self.params)
        ratings = np.array([c.max_pressure_mmHg for c in profile.cells] * len(profile.legs))
        cells["trip_Pa"] = (ratings + self.params.trip_margin_mmHg) * MMHG_Pa
        legs = self._legs = np.zeros(nl, ph.LEG)
        rng = np.random.default_rng(seed)
        self._rng = np.array([rng.integers(1, 2**63, dtype=np.int64)], dtype=np.uint64)
        p = self.params
        legs["pump_works"] = True
        legs["roller_load_N_m"] = p.roller_load_N_m
        legs["vibration_load_N_m"] = p.vibration_load_N_m
        legs["manifold_offset_Pa"] = rng.normal(0.0, p.pressure_offset_sd_mmHg, nl) * MMHG_Pa
        legs["thermistor_offset_C"] = rng.normal(0.0, p.temp_offset_sd_C, nl)
        legs["heater_W"] = p.heater_power_W if profile.heater_max_C is not None else 0.0
        legs["has_roller"] = profile.rollers is not None
        legs["has_vibration"] = profile.vibration_max_level > 0
        cells["exhaust_opening"] = 1.0  # unpowered: exhausts open
        cells["offset_Pa"] = rng.normal(0.0, p.pressure_offset_sd_mmHg, nc) * MMHG_Pa
        for i in range(nc):
            cells["gas_m3"][i], cells["cap_m3_per_Pa"][i] = ph.gas_amount(cells[i], 0.0, ATMOSPHERE_Pa)
        legs["manifold_gas_m3"] = p.manifold_volume_mL * _mL
        tpad, tskin = _thermal_rest(p)
        legs["pad_C"] = tpad
        legs["skin_C"] = tskin
        legs["thermistor_C"] = 0.5 * (tpad + tskin)
        legs["peak_surface_C"] = 0.5 * (tpad + tskin)
        self._out = np.zeros(nc + 6 * nl)
        self._cmd = Commands.idle(nl, nc)
        self._latch(self._cmd)
        self._relay_open = False
        self._armed = False  # the heartbeat watchdog arms with the first command
        self._last_heartbeat_s = self.created_at_s
        self.failsafe_at_s: float | None = None
        #: Why the device opened its relay by itself (watchdog, pressure switch), for the host.
        self.failsafe_reason: str | None = None
        self._link_lost = False
        self._worn = np.ones(nc)  # 1 where the garment is on a leg, 0 where it was taken off
        self._limb_change_m3 = np.zeros(nc)
        self._next_limb_s = self.created_at_s + limb.step_s if limb is not None else math.inf
        #: Where an injected fault's `at_s` counts from: the massager's creation, then the program's
        #: start (`start_program`).
        self._fault_origin_s = self.created_at_s
        self._faults = sorted(
            ((self.created_at_s + f.at_s, f.kind, self._where(f)) for f in faults), key=lambda e: e[0]
        )
        self.applied_faults: list[tuple[float, FaultSpec]] = []
        self._seq = 0
        self._kernel(self._t, True)
        #: The last sample's `_sensors` arguments, repeated while the link is lost.
        self._last: tuple[float, int, np.ndarray, bool, int, str | None]
        self._last = (self._t, self._seq, self._out.copy(), self._relay_open, nl, None)
        self._advance(self._t, sample=False)  # faults at 0 s

    # --- the Massager interface ------------------------------------------------------------------
    def read(self) -> Sensors:
        now = self._clock.now()
        if self._link_lost:  # the physics goes on; the host hears nothing new
            self._advance(now, sample=False)
            return _sensors(*self._last)
        self._advance(now, sample=True)
        self._seq += 1
        # no copy: `_sensors` cuts its own, and after a link loss `_out` is never sampled again
        self._last = (self._t, self._seq, self._out, self._relay_open, self._n_legs, self.failsafe_reason)
        return _sensors(*self._last)

    def apply(self, commands: Commands) -> None:
        self._advance(self._clock.now(), sample=False)
        if self._link_lost:
            return
        self._latch(commands)
        self._last_heartbeat_s = self._t
        self._armed = True

    def safe_state(self, fault: bool = False, cell: int | None = None) -> None:
        """Open the master relay now: nothing downstream of it is powered (valves fall to their
        unpowered positions over their stroke time). The latched commands are cleared. Over a lost
        link the request never arrives: the device's own heartbeat failsafe opens the relay. (A
        host's fault changes nothing here: the simulator lives for one session; the emulator
        around it keeps the latch.)"""
        self._advance(self._clock.now(), sample=False)
        if not self._link_lost:
            self._open_relay()

    def reset(self) -> None:
        """A user reset: close the relay again, with idle commands; the watchdog re-arms with the
        next command. A shorted heater switch heats again once the relay closes."""
        self._advance(self._clock.now(), sample=False)
        if self._link_lost:
            return
        self._relay_open = False
        self._armed = False
        self.failsafe_at_s = self.failsafe_reason = None

    def start_program(self) -> None:
        """Faults still to come count from now: ``@60`` is a minute into the program, however long
        the user took to start it. Those already injected (``@0``, worn from the start) stay."""
        now = self._clock.now()
        shift, self._fault_origin_s = now - self._fault_origin_s, now
        self._faults = [(t_s + shift, kind, k) for t_s, kind, k in self._faults]

    def true_maxima(self) -> tuple[np.ndarray, np.ndarray]:
        self._sync()
        return self._cells["peak_Pa"] / MMHG_Pa, self._legs["peak_surface_C"].copy()

    # --- true state (not sensed), for tests and the twin -----------------------------------------
    @property
    def relay_open(self) -> bool:
        self._sync()
        return self._relay_open

    @property
    def time_s(self) -> float:
        """The time the physics has reached (clock time)."""
        return self._t

    @property
    def true_pressure_mmHg(self) -> np.ndarray:
        self._sync()
        return self._cells["p_Pa"] / MMHG_Pa

    @property
    def true_manifold_mmHg(self) -> np.ndarray:
        self._sync()
        return self._legs["manifold_Pa"] / MMHG_Pa

    @property
    def true_pump_flow_L_per_min(self) -> np.ndarray:
        """Each pump's delivery now, at atmospheric pressure (its linear pressure–flow curve)."""
        self._sync()
        free, shutoff = self.profile.pump_free_flow_L_per_min, self.profile.pump_shutoff_mmHg
        assert free is not None and shutoff is not None  # the constructor refuses a profile without
        speed = self._legs["pump_speed"] * self._legs["pump_works"]
        ratio = self._legs["manifold_Pa"] / (shutoff * MMHG_Pa)
        return free * np.where(speed > 0.0, np.maximum(speed - ratio, 0.0), 0.0)

    @property
    def true_cell_volume_mL(self) -> np.ndarray:
        """Gas volume of every cell now."""
        self._sync()
        return np.array([ph.gas_volume(cell, cell["p_Pa"])[0] for cell in self._cells]) / _mL

    @property
    def true_skin_temp_C(self) -> np.ndarray:
        """Skin surface under the pad (the contact between pad and skin), per leg."""
        self._sync()
        surface: np.ndarray = 0.5 * (self._legs["pad_C"] + self._legs["skin_C"])
        return surface

    @property
    def true_pad_temp_C(self) -> np.ndarray:
        self._sync()
        return self._legs["pad_C"].copy()

    @property
    def true_valve_opening(self) -> tuple[np.ndarray, np.ndarray]:
        """(inlet, exhaust) opening 0..1 per cell."""
        self._sync()
        return self._cells["inlet_opening"].copy(), self._cells["exhaust_opening"].copy()

    @property
    def true_roller_work(self) -> tuple[np.ndarray, np.ndarray]:
        """(bool per leg and sole zone in `ROLLER_ZONES` order, bool per leg: deep) where the rollers
        work now: the zones the last command named within their reach (all they reach when it named
        none); nothing while they stand still or the relay is open."""
        self._sync()
        reach = self.profile.rollers.zones if self.profile.rollers is not None else ()
        spinning = (self._legs["cmd_roller"] > 0.0) & (not self._relay_open)
        named = self._roller_zones.any(axis=1, keepdims=True)
        zones = np.array([z in reach for z in ROLLER_ZONES]) & (self._roller_zones | ~named)
        return zones & spinning[:, None], self._roller_deep & spinning

    @property
    def heater_power_W(self) -> np.ndarray:
        """Electrical power into each heater pad now."""
        self._sync()
        legs = self._legs
        duty = np.where(legs["heater_shorted"], 1.0, legs["cmd_heater"])
        return np.zeros(self.n_legs) if self._relay_open else legs["heater_W"] * duty

    # --- hooks -----------------------------------------------------------------------------------
    def set_limb_volume_change_mL(self, change_mL: np.ndarray | Sequence[float]) -> None:
        """The limb under each cell grew (positive) or emptied (negative) by this much since the start:
        it takes (or gives back) that volume from the cell's gas. A twin calls this."""
        change = np.asarray(change_mL, float)
        if change.shape != (self.n_cells,):
            raise ValueError(f"need one volume change per cell ({self.n_cells}), got shape {change.shape}")
        self._advance(self._clock.now(), sample=False)
        self._limb_change_m3 = change * _mL
        self._cells["limb_m3"] = self._limb_change_m3 * self._worn
        self._cells["limb_rate_m3_per_s"] = 0.0
        ph.resolve_pressures(self._cells, self._constants)

    def set_roller_load_N_m(self, load_N_m: np.ndarray | Sequence[float]) -> None:
        """Load torque on each leg's roller motor shaft (a foot pressing down; a jam stalls it)."""
        self._advance(self._clock.now(), sample=False)
        self._legs["roller_load_N_m"] = np.asarray(load_N_m, float)

    def set_vibration_load_N_m(self, load_N_m: np.ndarray | Sequence[float]) -> None:
        self._advance(self._clock.now(), sample=False)
        self._legs["vibration_load_N_m"] = np.asarray(load_N_m, float)

    # --- internals -------------------------------------------------------------------------------
    def _sync(self) -> None:
        self._advance(self._clock.now(), sample=False)

    def _kernel(self, t1: float, sample: bool) -> None:
        tripped_at = ph.advance(
            self._t,
            t1,
            self.params.substep_s,
            not self._relay_open,
            sample,
            self._cells,
            self._legs,
            self._constants,
            self._rng,
            self._out,
        )
        if tripped_at >= 0.0:  # the device's own over-pressure switch
            if self.failsafe_at_s is None:
                self.failsafe_at_s = tripped_at
                cells = self._cells
                over = int(np.argmax(cells["p_Pa"] - cells["trip_Pa"]))
                trip = cells["trip_Pa"][over] / MMHG_Pa
                self.failsafe_reason = f"pressure switch: {self._names[over]} over {trip:.0f} mmHg"
            self._open_relay()
        self._t = max(self._t, t1)

    def _advance(self, t: float, sample: bool) -> None:
        """Integrate to t, stopping at each fault and at the heartbeat deadline on the way."""
        while True:
            deadline = self._last_heartbeat_s + HEARTBEAT_TIMEOUT_s
            if not self._armed or self._relay_open:
                deadline = math.inf
            t_fault = self._faults[0][0] if self._faults else math.inf
            t_event = min(deadline, t_fault, self._next_limb_s)
            if t_event > t:
                break
            self._kernel(max(t_event, self._t), False)
            if self._next_limb_s <= min(deadline, t_fault):
                self._step_limb()
            elif t_fault <= deadline:
                self._inject(*self._faults.pop(0))
            else:
                self.failsafe_at_s = deadline
                self.failsafe_reason = "heartbeat watchdog: no command for 500 ms"
                self._open_relay()
        if t > self._t or sample:
            self._kernel(t, sample)

    def _step_limb(self) -> None:
        """The limb feels the cells' true pressures (none where the garment is off) over its step,
        then its volume under each cell takes back (or gives) that much of the cell's gas."""
        assert self.limb is not None
        worn = self._worn
        self.limb.step(self._cells["p_Pa"] * (worn / MMHG_Pa))
        self._next_limb_s += self.limb.step_s
        self._limb_change_m3 = self.limb.limb_volume_change_mL() * _mL
        # the limb reaches its new volume over the step it was computed for, so the gas feels a
        # ramp (as a real leg moves) that the controller can follow, not a jump at each step
        target = self._limb_change_m3 * worn
        self._cells["limb_rate_m3_per_s"] = (target - self._cells["limb_m3"]) / self.limb.step_s

    def _open_relay(self) -> None:
        self._relay_open = True
        self._latch(Commands.idle(self.n_legs, self.n_cells))

    def _latch(self, c: Commands) -> None:
        ph.latch(
            self._cells,
            self._legs,
            c.inlet_open,
            c.exhaust_open,
            c.pump_duty,
            c.heater_power,
            c.roller_speed,
            c.vibration_level,
            float(self.profile.vibration_max_level),
        )
        # where the rollers work and how deep: the motor load does not depend on it (not modelled)
        self._roller_zones = c.roller_zones.copy()
        self._roller_deep = c.roller_deep.copy()

    def _where(self, f: FaultSpec) -> int:
        """The cell (cell faults) or leg (pump, heater, garment) index a fault names."""
        if f.kind not in INJECTABLE:
            raise DeviceError(f"unknown fault kind '{f.kind}'")
        legs = list(self.profile.legs)
        if f.kind == "link_loss":
            return -1
        if f.kind in FIT_KINDS and f.where in self._names:
            return self._names.index(f.where)
        if f.kind in FIT_KINDS:  # a leg: every cell of it, numbered past the cells
            where = f.where or legs[0]
            if where not in legs:
                raise DeviceError(f"'{f}': no cell or leg '{where}' (cells: {', '.join(self._names)})")
            return self.n_cells + legs.index(where)
        if f.kind in CELL_FAULTS:
            if f.where is None or f.where in legs:
                leg = legs.index(f.where) if f.where else 0
                zones = [c.zone for c in self.profile.cells]
                j = zones.index("calf") if "calf" in zones else 0
                return leg * len(zones) + j
            if f.where in self._names:
                return self._names.index(f.where)
            raise DeviceError(f"fault '{f}': no cell '{f.where}' (cells: {', '.join(self._names)})")
        where = (f.where or legs[0]).split(".")[0]
        if where not in legs:
            raise DeviceError(f"fault '{f}': no leg '{where}' (legs: {', '.join(legs)})")
        return legs.index(where)

    def _inject(self, t_s: float, kind: str, k: int) -> None:
        """Make the physical change of one fault (cell index or leg index k)."""
        p, cells, legs = self.params, self._cells, self._legs
        if kind == "leak":
            cells["leak_m2"][k] += orifice_area_m2(p.fault_leak_diameter_mm, p.orifice_discharge_coefficient)
        elif kind == "valve_stuck_closed":
            cells["inlet_valve"][k] = ph.InletValve.STUCK_CLOSED
        elif kind == "valve_stuck_open":
            cells["inlet_valve"][k] = ph.InletValve.STUCK_OPEN
        elif kind == "sensor_stuck":
            cells["sensor_stuck"][k] = True
        elif kind == "sensor_drift":
            cells["drift_Pa_per_s"][k] = p.fault_drift_mmHg_per_s * MMHG_Pa
        elif kind == "kinked_tube":  # the kink is an orifice in series with both valves
            f = p.fault_kink_area_fraction
            left = f / math.sqrt(1.0 + f * f)
            cells["inlet_m2"][k] *= left
            cells["exhaust_m2"][k] *= left
        elif kind == "pump_failure":
            legs["pump_works"][k] = False
        elif kind == "heater_runaway":
            legs["heater_shorted"][k] = True
        elif kind == "garment_off":
            on_leg = self._leg_of_cell == k
            self._worn[on_leg] = 0.0
            cells["conform_m3"][on_leg] *= p.garment_off_conform_factor
            cells["conform_Pa"][on_leg] *= p.garment_off_conform_pressure_factor
            cells["tissue_m3_per_Pa"][on_leg] *= p.garment_off_tissue_factor
            cells["limb_m3"][on_leg] = 0.0
            cells["limb_rate_m3_per_s"][on_leg] = 0.0
            ph.resolve_pressures(cells, self._constants)
        elif kind == "link_loss":
            self._link_lost = True
        elif kind in FIT_KINDS:
            factor = (
                p.garment_loose_conform_factor if kind == "garment_loose" else p.garment_tight_conform_factor
            )
            which = (
                self._leg_of_cell == k - self.n_cells if k >= self.n_cells else np.arange(self.n_cells) == k
            )
            cells["conform_m3"][which] *= factor
            ph.resolve_pressures(cells, self._constants)
        if kind in FIT_KINDS:
            where = self._names[k] if k < self.n_cells else self.profile.legs[k - self.n_cells]
        else:
            where = "" if k < 0 else self._names[k] if kind in CELL_FAULTS else self.profile.legs[k]
        self.applied_faults.append((t_s, FaultSpec(kind, t_s - self._fault_origin_s, where or None)))


def _sensors(
    t_s: float, seq: int, buf: np.ndarray, relay_open: bool, n_legs: int, device_fault: str | None
) -> Sensors:
    """A `Sensors` with its own arrays, cut from a sample buffer (layout: `physics.OUT_BLOCKS`)."""
    o = buf.copy()
    nl = n_legs
    nc = len(o) - 6 * nl
    return Sensors(
        t_s,
        seq,
        o[:nc],
        o[nc : nc + nl],
        o[nc + nl : nc + 2 * nl],
        o[nc + 2 * nl : nc + 3 * nl],
        o[nc + 3 * nl : nc + 4 * nl],
        o[nc + 4 * nl : nc + 5 * nl],
        relay_open,
        device_fault=device_fault,
        heater_current_A=o[nc + 5 * nl :],
    )


def _constants(p: SimParameters, pump_free_flow_L_per_min: float, pump_shutoff_mmHg: float) -> np.ndarray:
    """The kernel's `physics.CONSTANTS` (an array of one record): the simulator's physics and the
    device's pump curve."""
    constants = np.zeros(1, ph.CONSTANTS)
    g = constants[0]
    g["p_atm_Pa"] = ATMOSPHERE_Pa
    g["air_density_kg_per_m3"] = AIR_DENSITY_kg_per_m3
    g["laminar_below_Pa"] = p.orifice_linear_below_mmHg * MMHG_Pa
    g["pump_free_flow_m3_per_s"] = pump_free_flow_L_per_min * 1e-3 / 60.0
    g["pump_shutoff_Pa"] = pump_shutoff_mmHg * MMHG_Pa
    g["pump_spinup_s"] = p.pump_spinup_s
    g["manifold_m3"] = p.manifold_volume_mL * _mL
    g["manifold_leak_m2"] = orifice_area_m2(p.manifold_leak_diameter_mm, p.orifice_discharge_coefficient)
    g["valve_switching_s"] = p.valve_switching_s
    g["pump_free_A"] = p.pump_free_current_A
    g["pump_shutoff_A"] = p.pump_shutoff_current_A
    g["pad_J_per_K"] = p.pad_heat_capacity_J_per_K
    g["skin_J_per_K"] = p.skin_heat_capacity_J_per_K
    g["pad_to_skin_W_per_K"] = p.pad_to_skin_W_per_K
    g["pad_to_ambient_W_per_K"] = p.pad_to_ambient_W_per_K
    g["skin_to_core_W_per_K"] = p.skin_to_core_W_per_K
    g["ambient_C"] = p.ambient_C
    g["core_C"] = p.core_C
    g["supply_V"] = p.motor_supply_V
    g["roller"] = (
        p.roller_resistance_ohm,
        p.roller_k_V_s_per_rad,
        p.roller_friction_N_m_s_per_rad,
        p.roller_inertia_kg_m2,
    )
    g["vibration"] = (
        p.vibration_resistance_ohm,
        p.vibration_k_V_s_per_rad,
        p.vibration_friction_N_m_s_per_rad,
        p.vibration_inertia_kg_m2,
    )
    g["pressure_noise_Pa"] = p.pressure_noise_sd_mmHg * MMHG_Pa
    g["pressure_lag_s"] = p.pressure_lag_s
    g["pressure_lsb_Pa"] = p.pressure_lsb_mmHg * MMHG_Pa
    g["pressure_min_Pa"] = p.pressure_range_mmHg[0] * MMHG_Pa
    g["pressure_max_Pa"] = p.pressure_range_mmHg[1] * MMHG_Pa
    g["temp_noise_C"] = p.temp_noise_sd_C
    g["temp_lag_s"] = p.temp_lag_s
    g["temp_lsb_C"] = p.temp_lsb_C
    g["current_noise_A"] = p.current_noise_sd_A
    g["current_lsb_A"] = p.current_lsb_A
    g["quiet_legs"] = p.quiet_legs_one_step
    return constants


def cell_air_mL(volume_mL: float, pressure_mmHg: float, params: SimParameters | None = None) -> float:
    """Air (mL at atmospheric pressure) a cell of ``volume_mL`` holds at a gauge pressure, by the
    kernel's own gas law, off the limb (no limb yielding under it): the one owner of a cell's gas
    for the program check's pump capacity and for the simulation."""
    cells = _cell_rows(np.array([volume_mL]), params or SimParameters())
    gas_m3, _ = ph.gas_amount(cells[0], pressure_mmHg * MMHG_Pa, ATMOSPHERE_Pa)
    return float(gas_m3 / _mL)


def _cell_params(profile: DeviceProfile, p: SimParameters) -> np.ndarray:
    return _cell_rows(np.array([c.volume_mL for _ in profile.legs for c in profile.cells]), p)


def _cell_rows(volumes_mL: np.ndarray, p: SimParameters) -> np.ndarray:
    """`physics.CELL` records of cells of these volumes: their gas law and orifices set, the rest
    (state, faults, commands) zero."""
    vols = volumes_mL * _mL
    cells = np.zeros(len(vols), ph.CELL)
    cells["floor_m3"] = p.cell_dead_volume_mL * _mL
    cells["soft_m3"] = 0.25 * p.cell_dead_volume_mL * _mL
    cells["residual_m3"] = p.cell_residual_fraction * vols
    cells["conform_m3"] = p.cell_conform_fraction * vols
    cells["conform_Pa"] = p.cell_conform_pressure_mmHg * MMHG_Pa
    cells["tissue_m3_per_Pa"] = p.cell_tissue_fraction_per_mmHg * vols / MMHG_Pa
    cd = p.orifice_discharge_coefficient
    cells["inlet_m2"] = orifice_area_m2(p.inlet_orifice_diameter_mm, cd)
    cells["exhaust_m2"] = orifice_area_m2(p.exhaust_orifice_diameter_mm, cd)
    cells["leak_m2"] = orifice_area_m2(p.cell_leak_diameter_mm, cd)
    return cells


def _thermal_rest(p: SimParameters) -> tuple[float, float]:
    """Pad and skin temperatures at rest with the heater off (steady state of the two nodes)."""
    a = np.array(
        [
            [p.pad_to_skin_W_per_K + p.pad_to_ambient_W_per_K, -p.pad_to_skin_W_per_K],
            [-p.pad_to_skin_W_per_K, p.pad_to_skin_W_per_K + p.skin_to_core_W_per_K],
        ]
    )
    b = np.array([p.pad_to_ambient_W_per_K * p.ambient_C, p.skin_to_core_W_per_K * p.core_C])
    tpad, tskin = np.linalg.solve(a, b)
    return float(tpad), float(tskin)

"""The safety supervisor: wraps the massager so that no program, bug or API call gets past it.

The engine is only ever handed a `Supervisor`. Each sample goes through the fault detectors first;
each command is clamped to the limits before it reaches the actuators. On a fault, a time limit
or an emergency stop it latches the safe state (pump off, every exhaust open, heater and motors off,
by opening the massager's master relay) and holds it until the user resets.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import pairwise

import numpy as np
from numba import njit

from legflow.clock import Clock
from legflow.device.massager import ROLLER_ZONES, Commands, HEARTBEAT_TIMEOUT_s, Massager, Sensors
from legflow.device.profile import CellSpec
from legflow.safety.detectors import (
    CELL_DETECTORS,
    LEG_DETECTORS,
    SECOND_LEAK_SHARE,
    CellFinding,
    LINK_TIMEOUT_s,
    VentFollower,
    cell_memory,
    check_cells,
    check_heaters,
    heater_memory,
    leak_evidence,
    leg_memory,
)
from legflow.safety.limits import Limits

#: Findings that, on several cells of one leg at the same moment, mean the garment came off.
SHARED_LOSS = {"pressure_decay", "no_pressure_rise", "garment_off"}


#: Seconds past the session limit that a program's last tick may still come (it is due at the
#: limit itself; a real clock's tick runs a little late): far below any exposure that matters.
TIME_LIMIT_GRACE_s = 0.5

#: Trips that are no fault: the user's stops and the session's time limit.
STOPS = frozenset({"emergency_stop", "stop", "time_limit"})


@dataclass
class Trip:
    """Why the safe state was entered, and when: seconds on the massager's clock from the
    program's start (`Supervisor.start_program`), pauses included."""

    detector: str  # over_pressure, no_pressure_rise, ..., emergency_stop, time_limit
    where: str | None  # a cell or a leg
    message: str
    detected_s: float
    safe_at_s: float

    @property
    def is_fault(self) -> bool:
        return self.detector not in STOPS


class Supervisor(Massager):
    """A massager behind the limits. Thread-safe: an emergency stop may come from any thread."""

    def __init__(self, massager: Massager, limits: Limits, clock: Clock):
        self._massager = massager
        self.profile = massager.profile
        self.limits = limits
        self._clock = clock
        self._lock = threading.RLock()
        #: Where its times and the session limit count from: its creation, then the program's start.
        self.start_s = clock.now()
        self._program_started = False
        self.trip: Trip | None = None
        self.trips: list[Trip] = []
        self.cell_names = self.profile.cell_names()
        n_legs, n_cells = self.n_legs, self.n_cells
        cells = list(self.profile.cells) * n_legs
        self.cell_leg = np.repeat(np.arange(n_legs), len(self.profile.cells))
        self.cell_limit_mmHg = np.array([self._cell_limit(c) for c in cells])
        # the device's own data: each cell's volume and the pump's curve, for the no-rise check
        self._cell_volume_mL = np.array([c.volume_mL for c in cells])
        free = self.profile.pump_free_flow_L_per_min
        self._pump_mL_per_s = 0.0 if free is None else free * 1000.0 / 60.0
        self._pump_shutoff_mmHg = self.profile.pump_shutoff_mmHg or 1.0
        self._set_detectors()
        self._commands = Commands.idle(n_legs, n_cells)  # the commands in force
        self._last_seq = -1
        self._last_fresh_s = clock.now()
        self._last_sample_s: float | None = None
        self._last_heartbeat_s = clock.now()
        #: When each heater was first switched on (clock seconds, NaN: never): its auto-off counts
        #: wall time from then, whatever duty it ran at, and a user's reset does not restart it.
        self._heater_first_on_s = np.full(n_legs, np.nan)
        self._skin_C = np.full(n_legs, np.nan)
        self._clamped = Commands.idle(n_legs, n_cells)  # reused: the massager copies what it is sent
        #: The skin temperature the heater must never pass (when heat is refused, the default).
        self._heat_limit_C = min(
            (x for x in (limits.heat_C, self.profile.heater_max_C) if x is not None), default=42.0
        )
        self._session_limit_s = limits.session_min * 60
        # what the limits and the device allow never changes while the supervisor lives
        self._heat_ok = limits.heat_C is not None and self.profile.heater_max_C is not None
        self._heat_on_limit_s = limits.heat_on_min * 60
        self._rollers_ok = limits.rollers_allowed and self.profile.rollers is not None
        reach = self.profile.rollers.zones if self.profile.rollers is not None else ()
        self._roller_reach = np.array([z in reach for z in ROLLER_ZONES])
        blocked = limits.blocked_zones
        self._roller_zone_ok = np.array([z not in blocked and "foot" not in blocked for z in ROLLER_ZONES])
        self._deep_ok = limits.deep_rollers_allowed
        self._roller_select = massager.selects_roller_zones  # else its rollers work their whole reach
        self._vibration_max = self.profile.vibration_max_level if limits.vibration_allowed else 0
        #: What the limits keep an actuator from doing, noted once as it starts (`take_overrides`).
        self._overrides: list[str] = []
        self._overriding: set[tuple[str, int]] = set()

    def _cell_limit(self, cell: CellSpec) -> float:
        """0 for a cell over a part screening blocks (any part of it: `CellSpec.parts_pressed`),
        else the tighter of the zone's limit and the cell's rating."""
        if cell.parts_pressed() & self.limits.blocked_zones:
            return 0.0
        limit, _ = self.limits.pressure_limit_mmHg(cell.zone)
        return min(limit, cell.max_pressure_mmHg)

    def _set_detectors(self) -> None:
        """Fresh detector memory (at the start, and after a user's reset)."""
        self._cell_memory = cell_memory(self.n_cells)
        self._last_reading = self._cell_memory["previous"]  # a view: the clamp's latest readings
        self._heater_memory = heater_memory(self.n_legs)
        self._leg_memory = leg_memory(self.n_legs)
        self._found = np.zeros(self.n_cells, np.int64)
        self._vent_follower: VentFollower | None = None  # names a stuck-open inlet as cells vent
        self._last_manifold = np.full(self.n_legs, np.nan)  # the clamp's second pressure signal

    @property
    def latched(self) -> bool:
        return self.trip is not None

    # -- the Massager interface -------------------------------------------------------------
    def read(self) -> Sensors:
        with self._lock:
            sensors = self._massager.read()
            now = self._clock.now()
            if sensors.seq != self._last_seq:
                self._last_seq, self._last_fresh_s = sensors.seq, now
            elif now - self._last_fresh_s > LINK_TIMEOUT_s and not self.latched:
                # the device stops itself HEARTBEAT_TIMEOUT_s after the last command it heard
                self._latch(
                    "link_lost",
                    None,
                    "no sensor data from the massager",
                    now,
                    safe_at=self._last_heartbeat_s + HEARTBEAT_TIMEOUT_s,
                )
                return sensors
            if sensors.relay_open and not self.latched:
                # the device put itself in its safe state (watchdog, pressure switch, over-temperature):
                # a fault like our own, with the device's reason
                why = sensors.device_fault or "the massager opened its relay by itself"
                self._latch("device", self._named_in(why), why, now)
            elif not self.latched:
                self._detect(sensors, now)
            elif self._vent_follower is not None:
                self._follow_vent(sensors)
            return sensors

    def start_program(self) -> None:
        """The program starts now: the session limit and the trips' times count from here (a fit
        check or a prompt before it does not use up the limit). Only the first call counts, so
        nothing can move the start later and stretch the limit."""
        with self._lock:
            if self._program_started:
                return
            self._program_started = True
            now = self._clock.now()
            # a trip before the start (a fit check on hardware) keeps its moment: before the program
            shift = now - self.start_s
            latched = None if self.trip is None else self.trips.index(self.trip)
            self.trips = [
                replace(t, detected_s=t.detected_s - shift, safe_at_s=t.safe_at_s - shift) for t in self.trips
            ]
            self.trip = None if latched is None else self.trips[latched]
            self.start_s = now
            self._massager.start_program()

    def apply(self, commands: Commands) -> None:
        with self._lock:
            now = self._clock.now()
            if not self.latched and self._over_time(now, commands):
                self._time_up(now)
            if self.latched:
                safe = Commands.idle(self.n_legs, self.n_cells)
                safe.heartbeat = commands.heartbeat
                self._massager.apply(safe)
            else:
                self._commands = self._clamp(commands)
                self._note_overrides(commands, self._commands)
                self._massager.apply(self._commands)
            self._last_heartbeat_s = self._clock.now()  # once sent: the device's watchdog counts from here

    def take_overrides(self) -> list[str]:
        """What the limits kept an actuator from doing since the last call, one line each (``rollers
        on the left leg refused: deep pressure refused (anticoagulants)``), for the session's events."""
        with self._lock:
            taken, self._overrides = self._overrides, []
            return taken

    def safe_state(self, fault: bool = False, cell: int | None = None) -> None:
        """A graceful stop: latched like any other trip (a caller's stop, never a fault)."""
        self.stop("stop", "stopped by the user")

    def reset(self) -> None:
        """The user's reset: leave the safe state (the trip history stays)."""
        with self._lock:
            self._massager.reset()
            self.trip = None
            self._set_detectors()

    def close(self) -> None:
        with self._lock:
            self._massager.close()

    def true_maxima(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The massager's true maxima (simulation only), read-only: see `Massager.true_maxima`."""
        with self._lock:
            return self._massager.true_maxima()

    # -- stops -------------------------------------------------------------------------------
    def emergency_stop(self) -> None:
        """From any state and any thread: the safe state now, not at the next tick."""
        self.stop("emergency_stop", "emergency stop")

    def stop(self, detector: str, message: str) -> None:
        with self._lock:
            if not self.latched:
                self._latch(detector, None, message, self._clock.now())

    def _latch(
        self,
        detector: str,
        where: str | None,
        message: str,
        now: float,
        safe_at: float | None = None,
        also: Sequence[tuple[str, str | None, str]] = (),
    ) -> None:
        """Enter the safe state for one finding; ``also``: other findings of the same moment
        (detector, where, message), recorded beside it so that every fault present is reported."""
        # a fault found here latches the device too (where it can), as its own faults do: the next
        # session on it starts only after a user's reset
        cell = self.cell_names.index(where) if where in self.cell_names else None
        self._massager.safe_state(fault=detector not in STOPS, cell=cell)
        self._commands = Commands.idle(self.n_legs, self.n_cells)
        reached = self._clock.now() if safe_at is None else safe_at
        self.trip = Trip(detector, where, message, now - self.start_s, reached - self.start_s)
        self.trips.append(self.trip)
        for other in also:
            self.trips.append(Trip(*other, now - self.start_s, reached - self.start_s))

    # -- detection and clamping --------------------------------------------------------------
    def _detect(self, sensors: Sensors, now: float) -> None:
        dt = 0.0 if self._last_sample_s is None else max(0.0, sensors.t_s - self._last_sample_s)
        self._last_sample_s = sensors.t_s
        c = self._commands
        self._last_manifold[:] = sensors.manifold_mmHg
        found = check_cells(
            sensors.t_s,
            dt,
            sensors.pressure_mmHg,
            sensors.manifold_mmHg,
            c.inlet_open,
            c.exhaust_open,
            c.pump_duty,
            sensors.pump_current_A,
            sensors.relay_open,
            self.cell_leg,
            self.cell_limit_mmHg,
            self._cell_volume_mL,
            self._pump_mL_per_s,
            self._pump_shutoff_mmHg,
            self._cell_memory,
            self._leg_memory,
            self._found,
        )
        if found:
            findings = self._cell_findings(sensors)
            self._latch(*findings[0], now, also=findings[1:])
            self._watch_the_vent(*findings[0][:2], sensors.t_s)
            return
        self._skin_C = sensors.skin_temp_C
        found = check_heaters(
            sensors.t_s,
            dt,
            sensors.skin_temp_C,
            c.heater_power,
            self._heat_limit_C,
            self._heater_memory,
            sensors.heater_current_A,
        )
        if found:
            name, leg, message = found
            self._latch(name, self.profile.legs[leg], message, now)
            return
        if self._over_time(now, self._commands):  # also an engine that went quiet with a cell held
            self._time_up(now)

    def _over_time(self, now: float, commands: Commands) -> bool:
        """The session limit: elapsed time from the program's start, pauses included. Past it, only
        venting is allowed, so a program as long as the limit ends as it vents. TIME_LIMIT_GRACE_s
        takes its last tick (at the limit itself, late by the real clock's scheduling)."""
        over_s = now - self.start_s - self._session_limit_s
        return over_s > TIME_LIMIT_GRACE_s and not commands.is_idle()

    def _time_up(self, now: float) -> None:
        self._latch("time_limit", None, f"session limit of {self.limits.session_min:g} min reached", now)

    def _watch_the_vent(self, detector: str, where: str | None, t_s: float) -> None:
        """Start naming a stuck-open inlet by the vent (`VentFollower`) where the latched finding
        may hide one: a stuck-open inlet found on one of the cells held alike (which one?), or a
        garment off (an inlet stuck open in another cell of the leg takes a fill's gas too, and the
        fill seems to press less; a real garment off leaves no cell joined to the manifold)."""
        if detector == "valve_stuck_open":
            named = self.cell_names.index(str(where))
            leg = int(self.cell_leg[named])
            joined = VentFollower.joined_cells(self._cell_memory, self.cell_leg, leg)
            if named in joined and len(joined) > 1:
                self._vent_follower = VentFollower(leg, joined, t_s)
        elif detector == "garment_off":
            leg = self.profile.legs.index(str(where))
            self._vent_follower = VentFollower(leg, np.flatnonzero(self.cell_leg == leg), t_s)

    def _follow_vent(self, sensors: Sensors) -> None:
        """While the safe state vents, name the stuck-open inlet by the cell its manifold follows
        (`VentFollower`), where that is another cell than the one the latch named."""
        follower = self._vent_follower
        assert follower is not None and self.trip is not None
        if not follower.add(sensors.t_s, float(sensors.manifold_mmHg[follower.leg]), sensors.pressure_mmHg):
            return
        self._vent_follower = None
        latched = self.cell_names.index(self.trip.where) if self.trip.where in self.cell_names else None
        cell = follower.cell(latched)
        if cell is None or self.cell_names[cell] == self.trip.where:
            return
        where = self.cell_names[cell]
        leg = self.profile.legs[follower.leg]
        message = f"valve stuck open: the {leg} leg's manifold followed {where} as the cells vented"
        named = replace(self.trip, detector="valve_stuck_open", where=where, message=message)
        self.trips[self.trips.index(self.trip)] = named
        self.trip = named

    def _named_in(self, reason: str) -> str | None:
        """The cell a device's reason names (``left.calf``), else the leg (``the right leg``: its
        heater, its pump), as the summary's place of the fault, as the host's own detectors name it."""
        words = reason.replace(",", " ").replace(";", " ").replace(":", " ").split()
        cell = next((w for w in words if w in self.cell_names), None)
        legs = (w for w, after in pairwise(words) if w in self.profile.legs and after == "leg")
        return cell or next(legs, None)

    def _cell_findings(self, sensors: Sensors) -> list[tuple[str, str | None, str]]:
        """(detector, where, message) for every cell the detectors flagged this sample; a finding
        that belongs to a leg (its pump, its garment) is reported once, on the leg."""
        findings: list[tuple[str, str | None, str]] = []
        # another held cell already close to a hole's loss: a second hole of the same instant
        evidence = leak_evidence(self._cell_memory, sensors.pressure_mmHg, self._cell_volume_mL)
        second = (self._found == 0) & (evidence >= SECOND_LEAK_SHARE)
        self._found[second] = CellFinding.PRESSURE_DECAY
        flagged = np.flatnonzero(self._found)
        for cell in flagged:
            name = CELL_DETECTORS[int(self._found[cell])]
            # several cells of one leg losing their pressure at once: not one hole each, the
            # garment around them has come off
            if name in SHARED_LOSS and np.count_nonzero(self.cell_leg[flagged] == self.cell_leg[cell]) > 1:
                name = "garment_off"
            if name in LEG_DETECTORS:
                where: str = self.profile.legs[int(self.cell_leg[cell])]
                message = f"{name.replace('_', ' ')} on the {where} leg"
            else:
                where = self.cell_names[cell]
                message = f"{name.replace('_', ' ')} at {sensors.pressure_mmHg[cell]:.1f} mmHg"
                if second[cell]:
                    message += f" ({evidence[cell]:.2f} of a hole's loss as another fault latched)"
            if all(f[:2] != (name, where) for f in findings):
                findings.append((name, where, message))
        return findings

    def _note_overrides(self, wanted: Commands, done: Commands) -> None:
        """Note each actuator whose request the clamp refused for a lasting reason (a limit, the
        device, the heater's auto-off), once as the refusal starts; not the moment-to-moment
        holds of the pressure and temperature limits, which the controllers expect."""
        now = self._clock.now()
        for leg, name in enumerate(self.profile.legs):
            # (asked, refused) per actuator; what is not asked changes nothing
            requests = {
                "rollers": (wanted.roller_speed[leg] > 0, done.roller_speed[leg] == 0),
                "vibration": (
                    wanted.vibration_level[leg] > 0,
                    wanted.vibration_level[leg] > done.vibration_level[leg],
                ),
                "heat": (wanted.heater_power[leg] > 0, done.heater_power[leg] == 0),
            }
            for actuator, (asked, off) in requests.items():
                if not asked:
                    continue
                why = None
                if off and actuator == "rollers":
                    why = self._roller_refusal(wanted, leg)
                elif off and actuator == "vibration":
                    why = self._vibration_refusal()
                elif off:
                    why = self._heat_refusal(leg, now)
                key = (actuator, leg)
                if why is None:
                    self._overriding.discard(key)
                elif key not in self._overriding:
                    self._overriding.add(key)
                    self._overrides.append(f"{actuator} on the {name} leg refused: {why}")

    def _roller_refusal(self, wanted: Commands, leg: int) -> str | None:
        limits = self.limits
        if self.profile.rollers is None:
            return "the device has no rollers"
        if not limits.rollers_allowed:
            return f"rollers are refused ({limits.reason('rollers_allowed')})"
        if wanted.roller_deep[leg] and not self._deep_ok:
            return f"deep pressure is refused ({limits.reason('deep_rollers_allowed')})"
        named = wanted.roller_zones[leg].any() and self._roller_select
        for z, zone in enumerate(ROLLER_ZONES):
            worked = self._roller_reach[z] and (wanted.roller_zones[leg, z] or not named)
            if worked and not self._roller_zone_ok[z]:
                place = zone if zone in limits.blocked_zones else "foot"
                return f"they would work {zone}, which is blocked ({limits.zone_reason(place)})"
        return "none of the zones asked is within their reach"

    def _vibration_refusal(self) -> str:
        if not self.limits.vibration_allowed:
            return f"vibration is refused ({self.limits.reason('vibration_allowed')})"
        return f"the device's highest level is {self.profile.vibration_max_level}"

    def _heat_refusal(self, leg: int, now: float) -> str | None:
        limits = self.limits
        if limits.heat_C is None:
            return f"heat is refused ({limits.reason('heat_C')})"
        if self.profile.heater_max_C is None:
            return "the device has no heater"
        first_on = self._heater_first_on_s[leg]
        if not np.isnan(first_on) and now - first_on >= self._heat_on_limit_s:
            return f"the heater's auto-off after {limits.heat_on_min:g} min ({limits.reason('heat_on_min')})"
        return None  # the skin at its limit: a moment's hold, not a refusal

    def _clamp(self, wanted: Commands) -> Commands:
        """The commands made safe: no gas into a cell at or over its limit (or blocked), no heat
        past its limits or its auto-off, no vibration or rollers the limits refuse, no rollers on a
        zone screening blocks or deep where deep is refused."""
        c = self._clamped
        clamp_commands(
            wanted.pump_duty,
            wanted.inlet_open,
            wanted.exhaust_open,
            wanted.heater_power,
            wanted.roller_speed,
            wanted.vibration_level,
            wanted.roller_zones,
            wanted.roller_deep,
            self._last_reading,
            self.cell_limit_mmHg,
            self.cell_leg,
            self._skin_C,
            self._heat_limit_C,
            self._heat_ok,
            self._clock.now(),
            self._heater_first_on_s,
            self._heat_on_limit_s,
            self._rollers_ok,
            self._roller_reach,
            self._roller_select,
            self._roller_zone_ok,
            self._deep_ok,
            self._vibration_max,
            c.pump_duty,
            c.inlet_open,
            c.exhaust_open,
            c.heater_power,
            c.roller_speed,
            c.vibration_level,
            c.roller_zones,
            c.roller_deep,
        )
        guard_manifold(
            c.pump_duty,
            c.inlet_open,
            c.exhaust_open,
            self._last_manifold,
            self.cell_limit_mmHg,
            self.cell_leg,
        )
        c.heartbeat = wanted.heartbeat
        return c


@njit(cache=True)
def clamp_commands(  # type: ignore[no-untyped-def]
    duty,
    inlet,
    exhaust,
    heat,
    rollers,
    vibration,
    roller_zones,
    roller_deep,
    reading,
    limit,
    cell_leg,
    skin_C,
    heat_limit_C,
    heat_ok,
    now_s,
    heater_first_on_s,
    heat_on_limit_s,
    rollers_ok,
    roller_reach,
    roller_select,
    roller_zone_ok,
    deep_ok,
    vibration_max,
    out_duty,
    out_inlet,
    out_exhaust,
    out_heat,
    out_rollers,
    out_vibration,
    out_roller_zones,
    out_roller_deep,
):
    """Copy the wanted commands into ``out_*``, made safe. A missing (NaN) reading counts as over
    the limit, so no gas goes into a cell before its sensor has spoken.

    Heat: ``heat_on_limit_s`` after a heater was first switched on (``heater_first_on_s``, set
    here at ``now_s``) it stays off (auto-off), however low its duty ran.

    Rollers work the zones ``roller_zones`` names within the device's ``roller_reach`` (every zone
    they reach when none is named, or when the device cannot choose: ``roller_select`` false). A
    leg's rollers stop altogether, rather than drop a zone, when any zone they would work is not in
    ``roller_zone_ok`` or they are asked deep where ``deep_ok`` is false: a roller bed presses its
    neighbouring zones too, and the program check refuses such a program before it starts, so
    this only catches what got past it."""
    for leg in range(duty.shape[0]):
        out_duty[leg] = 0.0
    for c in range(inlet.shape[0]):
        full = not (reading[c] < limit[c])
        out_inlet[c] = inlet[c] and not full
        out_exhaust[c] = exhaust[c] or reading[c] > limit[c] + 5.0
        if out_inlet[c]:
            leg = cell_leg[c]
            out_duty[leg] = min(1.0, max(0.0, duty[leg]))
    for leg in range(duty.shape[0]):
        warm = not (skin_C[leg] < heat_limit_C)
        first_on = heater_first_on_s[leg]
        auto_off = first_on == first_on and now_s - first_on >= heat_on_limit_s  # NaN: never on
        out_heat[leg] = min(1.0, max(0.0, heat[leg])) if heat_ok and not auto_off and not warm else 0.0
        if out_heat[leg] > 0.0 and first_on != first_on:
            heater_first_on_s[leg] = now_s
        named = False
        for z in range(roller_reach.shape[0]):
            named = named or roller_zones[leg, z]
        whole_reach = not named or not roller_select
        speed = min(1.0, max(0.0, rollers[leg])) if rollers_ok else 0.0
        refused = roller_deep[leg] and not deep_ok
        works = False
        for z in range(roller_reach.shape[0]):
            out_roller_zones[leg, z] = roller_reach[z] and (roller_zones[leg, z] or whole_reach)
            works = works or out_roller_zones[leg, z]
            refused = refused or (out_roller_zones[leg, z] and not roller_zone_ok[z])
        if refused or not works:
            speed = 0.0
        out_rollers[leg] = speed
        for z in range(roller_reach.shape[0]):
            out_roller_zones[leg, z] = out_roller_zones[leg, z] and speed > 0.0
        out_roller_deep[leg] = roller_deep[leg] and speed > 0.0
        out_vibration[leg] = min(max(vibration[leg], 0), vibration_max)


#: The manifold's sensor is the second signal of every cell it feeds: while the pump runs, the gas
#: flows from the manifold into the open cells, so none of them is above it. Stopping the pump once
#: the manifold reaches an open cell's limit + this keeps that cell under it even when the cell's
#: own sensor reads low (a drift, a frozen element).
MANIFOLD_MARGIN_mmHg = 5.0


@njit(cache=True)
def guard_manifold(out_duty, inlet, exhaust, manifold, limit, cell_leg):  # type: ignore[no-untyped-def]
    """No pumping on a leg whose sensed manifold is at the limit (+ margin) of a cell open to it;
    a NaN manifold reading (none yet) stops nothing, the cells' own readings already guard."""
    for c in range(inlet.shape[0]):
        leg = cell_leg[c]
        if inlet[c] and not exhaust[c] and manifold[leg] >= limit[c] + MANIFOLD_MARGIN_mmHg:
            out_duty[leg] = 0.0

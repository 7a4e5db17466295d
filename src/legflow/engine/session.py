"""The session runner: one loop, on a real or a virtual clock, from program to summary.

Each tick (50 Hz by default): read the sensors through the supervisor, look up every cell's
setpoint in the timeline, let the controllers decide pump, valves and heater, hand the commands to
the supervisor (which clamps them or holds the safe state), and record a sample each second.
The engine never sees the raw massager, and builds nothing it talks to: the apps hand it the
supervisor, and the leg twin and the history as a `Limb` and a `Recorder` (`engine.interfaces`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
from numba import njit

from legflow.clock import Clock, wall_s
from legflow.device.faults import FAULT_KINDS, FaultSpec
from legflow.device.massager import ROLLER_ZONES, Commands, Sensors
from legflow.engine.adaptive import AdaptiveCycle
from legflow.engine.controller import ControllerSettings, HeaterController, PressureController
from legflow.engine.intensity import (
    LEVELS,
    Intensity,
    IntensityInForce,
    shares_in_force,
    zone_peaks_mmHg,
)
from legflow.engine.interfaces import Limb, Recorder
from legflow.engine.refill import measuring_cells
from legflow.engine.summary import (
    AdaptiveSummary,
    CellSummary,
    FaultSummary,
    IntensitySummary,
    SessionSummary,
    TwinSummary,
)
from legflow.engine.timebase import SessionTime
from legflow.errors import UsageError
from legflow.plan import guide_line, hands_on_notes
from legflow.programs.model import Phase, Program
from legflow.programs.timeline import Timeline
from legflow.safety.detectors import fault_kind
from legflow.safety.supervisor import Supervisor, Trip

ROLLER_SPEED = {"slow": 0.3, "medium": 0.6, "fast": 1.0}
#: Whenever a session ends (its program's end, a stop, the safe state) it goes on reading the cells
#: until every one reads below VENTED_BELOW_mmHg, for at most VENT_MAX_s.
VENTED_BELOW_mmHg = 3.0
VENT_MAX_s = 5.0
TICK_HZ = 50
RefillFrom = Literal["auto", "twin", "sensor"]
#: History is committed at most this often in wall time (so every session second in real time)...
COMMIT_EVERY_s = 0.25
#: ...and at least this often in session time, so that a power loss during a fast (simulated)
#: session costs at most this much of it, however fast the machine runs.
COMMIT_EVERY_SESSION_s = 10.0


@dataclass
class LiveState:
    """What a display shows; refreshed while the session runs."""

    t_s: float
    duration_s: float
    phase: str
    phase_left_s: float
    cells: list[str]
    pressure_mmHg: np.ndarray
    setpoint_mmHg: np.ndarray
    skin_temp_C: np.ndarray
    heat_target_C: float | None
    rollers: str | None
    vibration_level: int
    guide: str | None
    paused: bool
    trip: Trip | None
    #: running | stopping (a graceful stop venting the cells) | completed | stopped | fault
    status: str = "running"
    #: The leg twin's signals per leg (``Limb.signals``), when a twin runs.
    twin: dict[str, list[float]] | None = None
    #: The session has ended (or is stopping) and waits for the cells to empty.
    venting: bool = False
    #: Every cell reads below VENTED_BELOW_mmHg now.
    vented: bool = False
    #: Seconds since the session started on its clock, pauses and the final vent included.
    clock_s: float = 0.0
    #: What the user asked of the intensity (`legflow.engine.intensity`).
    intensity: Intensity = field(default_factory=Intensity)


class SessionControl:
    """Requests from outside the loop (keys, signals, the web API); safe from any thread."""

    def __init__(self, supervisor: Supervisor):
        self._supervisor = supervisor
        self._lock = threading.Lock()
        self.paused = False
        self.stop_requested = False
        self._zones = tuple(dict.fromkeys(c.zone for c in supervisor.profile.cells))
        self._intensity = Intensity()
        self._said: list[str] = []  # intensity changes not yet recorded as events
        #: False once the program has ended: what it ended at is recorded, and teaches comfort
        self.takes_intensity = True

    # -- intensity (`legflow.engine.intensity`) ------------------------------------------------
    @property
    def intensity(self) -> Intensity:
        return self._intensity

    def set_level(self, level: int) -> Intensity:
        """The level, -2..+2 (a level outside is a `UsageError`)."""
        return self.ask(level=level)

    def ask(
        self, level: int | None = None, boost: str | None = None, paused: Collection[str] | None = None
    ) -> Intensity:
        """Several changes as one (None: leave it as it is; boost "": none): all of them, or, when
        one is out of range (a `UsageError`), none. Refused once the program has ended (its final
        vent): a change then would be recorded nowhere, yet learned as the user's comfort."""
        if not self.takes_intensity:
            raise UsageError("the session has ended: its intensity stays as it ended")
        low, high = LEVELS
        if level is not None and not low <= level <= high:
            raise UsageError(f"level {level} is out of {low:+d}..{high:+d}")
        wanted = self._intensity
        if level is not None:
            wanted = replace(wanted, level=level)
        if boost is not None:
            wanted = replace(wanted, boost=self._zone(boost) if boost else None)
        if paused is not None:
            wanted = replace(wanted, paused=frozenset(self._zone(zone) for zone in paused))
        return self._change(wanted)

    def set_boost(self, zone: str | None) -> Intensity:
        """Boost one zone (None: no boost)."""
        return self.ask(boost=zone or "")

    def pause_zone(self, zone: str, paused: bool = True) -> Intensity:
        """Pause one zone (vented at once), or resume it at its next cycle."""
        held = set(self._intensity.paused) - {self._zone(zone)}
        return self.ask(paused=held | ({zone} if paused else set()))

    def _zone(self, zone: str) -> str:
        if zone not in self._zones:
            raise UsageError(f"no zone '{zone}' on this device (it has: {', '.join(self._zones)})")
        return zone

    def _change(self, wanted: Intensity) -> Intensity:
        with self._lock:
            if wanted != self._intensity:
                self._intensity = wanted
                self._said.append(wanted.describe())
            return wanted

    def take_changes(self) -> list[str]:
        """The intensity changes asked since the last call, in words (the loop records them)."""
        with self._lock:
            said, self._said = self._said, []
            return said

    def pause(self) -> None:
        with self._lock:
            self.paused = True

    def resume(self) -> None:
        with self._lock:
            self.paused = False

    def stop(self) -> None:
        """A graceful stop: vent and end the session."""
        with self._lock:
            self.stop_requested = True

    def emergency_stop(self) -> None:
        """The safe state at once, from this thread, without waiting for the loop."""
        self._supervisor.emergency_stop()


@dataclass
class Session:
    program: Program
    program_label: str
    supervisor: Supervisor
    clock: Clock
    #: Where the session is recorded (the SQLite history, `legflow.store.History`).
    history: Recorder | None = None
    #: Whose session it is (the screening profile's name): their record counts it.
    user: str = "default"
    injected: Sequence[FaultSpec] = ()
    tick_hz: float = TICK_HZ
    #: Lateness of each tick against its schedule, when a benchmark asks for it.
    lateness_log: list[float] | None = None
    #: The leg twin. A simulated massager steps it with the cells' true pressures; set
    #: ``drive_twin`` where no simulated limb does (hardware): the engine steps it with the sensed ones.
    twin: Limb | None = None
    drive_twin: bool = False
    #: Follow the program's ``[adaptive]`` table; off rests as programmed (to compare the two).
    adaptive_rest: bool = True
    #: Where adaptive rest reads refill: the twin's venous volume, or a sealed cell's pressure
    #: (`legflow.engine.refill`). "auto" takes the sensor where the twin only follows the sensors.
    refill_from: RefillFrom = "auto"
    #: What adapting the program to this device changed (`legflow.plan.adapt`): stored as events at
    #: the start and listed in the summary.
    adaptations: Sequence[str] = ()
    #: The fit check before the session (`legflow.engine.fit`), each cell's verdict and advice:
    #: stored as events at the start, the verdicts listed in the summary.
    fit: dict[str, tuple[str, str]] | None = None
    #: Per zone, the comfort scaling the user accepted for this session (`legflow comfort`).
    comfort: dict[str, float] = field(default_factory=dict)
    #: Per zone, a clinician's pressure range from the user's plan (`legflow.records.plan`):
    #: comfort and intensity move a zone's pressure only inside it.
    bounds_mmHg: dict[str, tuple[float, float]] = field(default_factory=dict)
    #: What the program gives the leg at per-zone shares of its pressures (the apps' twin,
    #: `legflow.apps.limb.intensity_cost`), for the summary's intensity block.
    cost: Callable[[dict[str, float]], dict[str, float]] | None = None
    #: Whether the user ever changed the intensity.
    intensity_changed: bool = field(default=False, init=False)
    control: SessionControl = field(init=False)

    def __post_init__(self) -> None:
        self.control = SessionControl(self.supervisor)
        profile = self.supervisor.profile
        self.cells = profile.cell_names()
        self.timeline = Timeline(self.program)
        legs = [name.split(".")[0] for name in self.cells]
        zones: list[str] = [c.zone for _ in profile.legs for c in profile.cells]
        self.dt_s = 1.0 / self.tick_hz
        self.table = self.timeline.setpoint_table(legs, zones, self.dt_s)
        self.phase_of_tick = (
            np.searchsorted(self.timeline.starts_s, np.arange(len(self.table)) * self.dt_s, side="right") - 1
        )
        settings = ControllerSettings.for_profile(profile)
        leg_of_cell = self.supervisor.cell_leg
        self.pressure_ctl = PressureController(len(self.cells), leg_of_cell, len(profile.legs), settings)
        self.intensity = self._intensity_in_force(zones)
        self.heater_ctl = HeaterController()
        self.adaptive = self._adaptive_cycles(legs, zones)
        self.max_pressure = np.zeros(len(self.cells))
        self.vented = np.zeros(len(self.cells))  # the setpoints while paused or stopping
        self._motors_for: tuple[int, bool] | None = None  # (phase, paused) the motor commands are for
        #: What the user's limits add to each hands-on guide step ("gentle pressure only", ...).
        self.guide_notes = hands_on_notes(self.supervisor.limits)
        self.max_skin_C = np.full(len(profile.legs), -np.inf)
        self.status = "running"
        self.t_s = 0.0
        self.session_id: int | None = None  # its row in the history, once it runs
        self.started_s = 0.0  # the clock when it started
        #: Session seconds (as t_s, on from the end) when every cell read empty after the end.
        self.vented_at_s: float | None = None
        self.session_time = SessionTime()  # the massager's clock → session seconds (pauses)
        self._twin_at_end: TwinSummary | None = None

    # -- the loop ----------------------------------------------------------------------------
    def run(
        self, on_update: Callable[[LiveState], None] | None = None, update_every_s: float = 0.2
    ) -> dict[str, Any]:
        """Run to the end (or a stop or fault); ``on_update`` gets the live state every
        ``update_every_s`` of session time. Returns the session summary as JSON-ready Python
        (`SessionSummary.as_json`; the typed summary is ``self.summary``).

        Each tick is the same named steps of a `_Run`, the state of this one run."""
        run = _Run(self, on_update, update_every_s)
        try:
            while run.tick < run.n_ticks:
                run.wait_for_tick()
                run.sense()
                if run.must_end():  # the safe state, or a stop
                    break
                run.follow_pause()
                run.enter_tick()  # program time, phase and guide events
                run.choose_setpoints()
                run.actuate()
                run.step_twin()
                run.record()
                run.show()
                run.advance()
            self.control.takes_intensity = False  # as it ended: recorded above, learned from it
            self._twin_block()  # the twin's metrics cover the program, not the vent after it
            run.vent_out()
        finally:
            self._finish(run.sensors, run.commands, run.session_id, run.tick >= run.n_ticks)
        # the phase it ended in: its last, or where it stopped
        self.last_state = self._live(run.sensors, self.vented, run.phase, run.t_in, False)
        if on_update is not None:
            on_update(self.last_state)
        return self.summary.as_json()

    def _intensity_block(self) -> IntensitySummary | None:
        """The summary's intensity block, when the user changed it or applied their comfort."""
        asked = self.control.intensity
        if not self.comfort and not self.intensity_changed:
            return None
        costs = (self.cost({}), self.cost(self.shares_run(asked))) if self.cost is not None else (None, None)
        return IntensitySummary(
            level=asked.level,
            boost=asked.boost,
            paused=sorted(asked.paused),
            comfort=self.comfort,
            as_written=costs[0],
            as_run=costs[1],
        )

    def shares_run(self, asked: Intensity) -> dict[str, float]:
        """Per zone, the share of the program's pressures the session runs at for what the user
        asked: their comfort and level, held inside their plan's bounds."""
        return shares_in_force(zone_peaks_mmHg(self.program), self.comfort, asked, self.bounds_mmHg)

    def use_comfort(self, comfort: dict[str, float]) -> None:
        """Scale each zone's pressures by the user's accepted comfort from the start (before
        `run`), within the cells' limits; recorded as an event."""
        self.comfort = dict(comfort)
        self.intensity = self._intensity_in_force(self.intensity.zones.tolist())

    def _intensity_in_force(self, cell_zones: list[str]) -> IntensityInForce:
        return IntensityInForce(
            cell_zones,
            self.supervisor.cell_limit_mmHg,
            self.comfort,
            self.bounds_mmHg,
            zone_peaks_mmHg(self.program),
        )

    def _twin_block(self) -> TwinSummary | None:
        """The summary's twin block, taken once, as the program ends."""
        if self._twin_at_end is None and self.twin is not None:
            self._twin_at_end = TwinSummary.of(self.twin.subject_name, self.twin.posture, self.twin.metrics())
        return self._twin_at_end

    def _ending_status(self, stopping: bool) -> str:
        trip = self.supervisor.trip
        if trip is not None:
            return "fault" if trip.is_fault else "stopped"
        return "stopping" if stopping else "completed"

    def _actuate(
        self,
        phase: Phase,
        index: int,
        paused: bool,
        setpoint: np.ndarray,
        sensors: Sensors,
        commands: Commands,
        sealed: np.ndarray | None,
        settling: np.ndarray | None = None,
    ) -> None:
        """This tick's commands: valves and pump from the pressures, heater from the skin
        temperature; rollers and vibration change only with the phase (or a pause)."""
        self.pressure_ctl.update(
            setpoint, sensors.pressure_mmHg, self.dt_s, commands, sealed, sensors.manifold_mmHg, settling
        )
        heat = None if paused or phase.heat is None else phase.heat.target_C
        commands.heater_power = self.heater_ctl.power(heat, sensors.skin_temp_C, commands.heater_power)
        if (index, paused) != self._motors_for:
            self._motors_for = (index, paused)
            rollers = None if paused else phase.rollers
            commands.roller_speed[:] = ROLLER_SPEED[rollers.speed] if rollers else 0.0
            # where and how deep, so the supervisor can refuse a zone or a depth screening forbids
            commands.roller_zones[:] = [z in rollers.zones for z in ROLLER_ZONES] if rollers else False
            commands.roller_deep[:] = rollers is not None and rollers.depth == "deep"
            commands.vibration_level[:] = phase.vibration.level if phase.vibration and not paused else 0

    def _adaptive_cycles(self, legs: list[str], zones: list[str]) -> dict[int, AdaptiveCycle]:
        """A cycle clock for each compression phase whose rests follow the refill (with a twin)."""
        adaptive = self.program.adaptive
        if adaptive is None or not adaptive.refill or not self.adaptive_rest:
            return {}
        sensor = self.refill_from == "sensor" or (
            self.refill_from == "auto" and (self.drive_twin or not self.twin)
        )
        names = self.supervisor.profile.legs
        cell_legs = [names.index(leg) for leg in legs]
        baseline = self.twin.rest_venous_mL if self.twin is not None else np.zeros(len(names))
        cycles = {}
        for i, phase in enumerate(self.program.phases):
            c = phase.compression
            if not phase.squeezes or c is None or c.pattern == "hold":
                continue
            sensor_cells = measuring_cells(zones, cell_legs, list(c.zones), len(names)) if sensor else None
            cycles[i] = AdaptiveCycle(phase, zones, cell_legs, names, baseline, sensor_cells, self.dt_s)
        return cycles

    # -- bookkeeping -------------------------------------------------------------------------
    def _track(self, sensors: Sensors) -> None:
        _track_peaks(self.max_pressure, sensors.pressure_mmHg, self.max_skin_C, sensors.skin_temp_C)

    def _event(self, session_id: int | None, kind: str, detail: str) -> None:
        if self.history is not None and session_id is not None:
            self.history.add_event(session_id, self.t_s, kind, detail)

    def _finish(self, sensors: Sensors, commands: Commands, session_id: int | None, completed: bool) -> None:
        sup = self.supervisor
        self.end_pressure = sensors.pressure_mmHg.copy()  # as sensed when the session ends
        trip = sup.trip
        if completed and trip is None:
            self.status = "completed"
            vent = Commands.idle(sup.n_legs, sup.n_cells)
            vent.heartbeat = commands.heartbeat + 1
            sup.apply(vent)
        else:
            self.status = "fault" if trip is not None and trip.is_fault else "stopped"
            if trip is None:  # the loop ended for another reason (an exception): be safe
                sup.stop("stop", "session ended early")
        for t in sup.trips:
            self._event(
                session_id, "fault" if t.is_fault else "stop", f"{t.detector} {t.where or ''}: {t.message}"
            )
        self.summary = self._summary()
        if self.history is not None and session_id is not None:
            self._event(session_id, "end", self.status)
            self.history.commit(session_id, self.t_s)
            self.history.finish(session_id, self.summary.as_json())  # stored without its id
            self.summary.id = session_id

    def _summary(self) -> SessionSummary:
        """The session summary, contract v1 (DESIGN.md)."""
        hottest = float(self.max_skin_C.max())
        truth = self.supervisor.true_maxima()  # simulation only: the physics, not the sensors
        true_max: list[float | None] = [None] * len(self.cells) if truth is None else list(truth[0])
        cells = {
            name: CellSummary.of(p, end, true_p)
            for name, p, end, true_p in zip(
                self.cells, self.max_pressure, self.end_pressure, true_max, strict=True
            )
        }
        return SessionSummary(
            program=self.program_label,
            status=self.status,  # type: ignore[arg-type]  # completed, stopped or fault by now
            duration_s=round(self.t_s, 2),
            cells=cells,
            max_skin_temp_C=round(hottest, 2) if np.isfinite(hottest) else None,
            true_max_skin_C=round(float(truth[1].max()), 2) if truth is not None else None,
            faults=self._faults(),
            vented_at_s=self.vented_at_s,
            twin=self._twin_block(),
            adaptive=self._adaptive_summary() if self.adaptive else None,
            adapted=list(self.adaptations) or None,
            intensity=self._intensity_block(),
            fit={cell: verdict for cell, (verdict, _) in self.fit.items()} if self.fit is not None else None,
        )

    def _adaptive_summary(self) -> AdaptiveSummary:
        """What adaptive rest did: the rests it chose against the ones programmed."""
        cycles = self.adaptive.values()
        rests = [r for cycle in cycles for r in cycle.rests_s]
        programmed = [c.phase.compression.rest_s for c in cycles if c.phase.compression]
        sensor = any(c.sensor_cells is not None for c in cycles)
        return AdaptiveSummary(
            refill_from="sensor" if sensor else "twin",
            rests=len(rests),
            mean_rest_s=round(float(np.mean(rests)), 2) if rests else None,
            programmed_rest_s=round(float(np.mean(programmed)), 2),
            artefacts_rejected=sum(c.artefacts for c in cycles) if sensor else None,
            rests_unmeasured=sum(c.unmeasured for c in cycles) if sensor else None,
        )

    def _faults(self) -> list[FaultSummary]:
        """Each detected fault, matched to the injected fault that caused it where there is one,
        then each injected fault that was never detected (it came after the end, or was missed).
        Their times are matched on the massager's clock, and reported in session time."""
        faults: list[FaultSummary] = []
        at = self.session_time.of
        # (a garment worn loose or tight is how it is worn, for the fit check: no fault to find)
        unmatched = sorted((f for f in self.injected if f.kind in FAULT_KINDS), key=lambda f: f.at_s)
        for trip in (t for t in self.supervisor.trips if t.is_fault):
            cause = _cause(trip, unmatched)
            if cause is not None:
                unmatched.remove(cause)
            faults.append(
                FaultSummary(
                    kind=cause.kind if cause else fault_kind(trip.detector),
                    # where the supervisor found it (never the injection's label: a test of the
                    # detectors compares the two)
                    cell=trip.where,
                    at_s=round(at(cause.at_s if cause else trip.detected_s), 3),
                    detected_s=round(at(trip.detected_s), 3),
                    safe_at_s=round(at(trip.safe_at_s), 3),
                    detector=trip.detector,
                    message=trip.message,
                )
            )
        for f in unmatched:
            faults.append(
                FaultSummary(
                    kind=f.kind,
                    cell=f.where,
                    at_s=round(at(f.at_s), 3),
                    detected_s=None,
                    safe_at_s=None,
                    detector=None,
                    message="not detected before the session ended",
                )
            )
        return faults

    def _live(
        self,
        sensors: Sensors,
        setpoint: np.ndarray,
        phase: Phase,
        t_in: float,
        paused: bool,
        venting: bool = False,
    ) -> LiveState:
        guide = None
        for step in phase.guide:
            if step.at_s <= t_in:
                guide = guide_line(step, phase, self.guide_notes)
        r = phase.rollers
        return LiveState(
            t_s=self.t_s,
            duration_s=self.timeline.duration_s,
            phase=phase.name,
            phase_left_s=max(0.0, phase.duration_s - t_in),
            cells=self.cells,
            pressure_mmHg=sensors.pressure_mmHg.copy(),
            setpoint_mmHg=np.asarray(setpoint).copy(),
            skin_temp_C=sensors.skin_temp_C.copy(),
            heat_target_C=phase.heat.target_C if phase.heat else None,
            rollers=f"{', '.join(r.zones)} ({r.speed})" if r else None,
            vibration_level=phase.vibration.level if phase.vibration else 0,
            guide=guide,
            paused=paused,
            trip=self.supervisor.trip,
            status=self.status,
            twin=self.twin.signals() if self.twin is not None else None,
            intensity=self.control.intensity,
            venting=venting,
            vented=bool(np.max(sensors.pressure_mmHg) < VENTED_BELOW_mmHg),
            clock_s=self.clock.now() - self.started_s,
        )


class _Run:
    """One run of a session: where its loop is (tick, phase, pause, the last reading and
    setpoints, what was recorded and shown) and each step of a tick, in the order `Session.run`
    takes them."""

    def __init__(
        self, session: Session, on_update: Callable[[LiveState], None] | None, update_every_s: float
    ) -> None:
        self.session = s = session
        self.sup, self.clock = sup, clock = s.supervisor, s.clock
        self.on_update = on_update
        self.commands = Commands.idle(sup.n_legs, sup.n_cells)
        history = s.history
        self.session_id = (
            history.start(s.program_label, sup.profile.name, s.cells, s.user) if history else None
        )
        s.session_id = self.session_id
        for change in s.adaptations:
            s._event(self.session_id, "adapted", change)
        if s.comfort:
            scaled = ", ".join(f"{zone} {share:.0%}" for zone, share in s.comfort.items())
            s._event(self.session_id, "comfort", f"your comfort scaling: {scaled}")
        for zone, (low, high) in s.bounds_mmHg.items():
            s._event(self.session_id, "bounds", f"{zone} held to {low:g}-{high:g} mmHg (your plan's bounds)")
        if s.fit is not None:
            unfit = [
                f"{cell} {verdict}: {advice}" for cell, (verdict, advice) in s.fit.items() if verdict != "ok"
            ]
            for line in unfit or [f"every cell fits ({len(s.fit)})"]:
                s._event(self.session_id, "fit", line)
        sup.start_program()  # the session limit and the faults count from here
        s.started_s = self.next_tick = clock.now()
        self.tick = 0  # program ticks done (a paused tick does not count)
        self.n_ticks = len(s.table)
        self.phase_of_tick: list[int] = (
            s.phase_of_tick.tolist()
        )  # plain ints: indexing numpy per tick is slow
        # each phase's guide steps by time, and how many of the current phase's have been shown
        self.guides = [sorted(phase.guide, key=lambda step: step.at_s) for phase in s.program.phases]
        self.shown = 0
        self.phase_index = -1  # the phase whose start was recorded
        self.index, self.t_in = 0, 0.0  # where in the program the session is
        self.phase = s.program.phases[0]
        self.paused = False
        self.setpoint: np.ndarray = s.vented
        self.sealed: np.ndarray | None = None
        self.settling: np.ndarray | None = None
        self.last_sample_s = -1.0
        self.last_commit_wall_s = -COMMIT_EVERY_s
        self.last_commit_s = 0.0
        self.update_every = max(1, round(update_every_s * s.tick_hz))
        self.loops = 0  # ticks of the loop, paused ones included
        self.sensors = sup.read()

    # -- the steps of a tick -----------------------------------------------------------------
    def wait_for_tick(self) -> None:
        """Scheduling: sleep until this tick is due; a late tick moves the schedule on."""
        clock, s = self.clock, self.session
        clock.sleep_until(self.next_tick)
        now = clock.now()
        if s.lateness_log is not None:
            s.lateness_log.append(now - self.next_tick)
        if now - self.next_tick > s.dt_s:  # a stall: the program's clock stood still meanwhile
            origin = self.sup.start_s
            s.session_time.stall(self.next_tick - origin, now - origin, self.tick * s.dt_s, self.paused)
        self.next_tick = max(self.next_tick + s.dt_s, now)

    def sense(self) -> None:
        """Read the sensors through the supervisor, and track their peaks."""
        self.sensors = self.sup.read()
        self.session._track(self.sensors)

    def must_end(self) -> bool:
        """The safe state latched, or a stop was asked for."""
        return self.sup.latched or self.session.control.stop_requested

    def follow_pause(self) -> None:
        """A pause or a resume asked for since the last tick: record it and vent every cell."""
        s = self.session
        if s.control.paused != self.paused:
            self.paused = s.control.paused
            s._event(self.session_id, "pause" if self.paused else "resume", "")
            s.session_time.mark(self.clock.now() - self.sup.start_s, self.tick * s.dt_s, self.paused)
            s.pressure_ctl.vent_all()

    def enter_tick(self) -> None:
        """Program time and phase; record a new phase's start and each guide step that is due."""
        s = self.session
        s.t_s = self.tick * s.dt_s
        self.index = index = self.phase_of_tick[self.tick]
        self.phase = phase = s.program.phases[index]
        if index != self.phase_index:
            self.phase_index, self.shown = index, 0
            s._event(self.session_id, "phase", phase.name)
        self.t_in = s.t_s - s.timeline.starts_s[index]
        steps = self.guides[index]
        while self.shown < len(steps) and steps[self.shown].at_s <= self.t_in:
            step = steps[self.shown]
            self.shown += 1
            s._event(self.session_id, "guide", guide_line(step, phase, s.guide_notes))

    def choose_setpoints(self) -> None:
        """Every cell's setpoint: vented while paused, the adaptive cycle's where rests follow the
        refill (the cycle then moves on a tick), else the timeline's."""
        s = self.session
        cycle = s.adaptive.get(self.index)
        self.sealed = self.settling = None
        if self.paused:
            self.setpoint = s.vented
        elif cycle is not None:
            mode = s.program.program.legs
            self.setpoint = cycle.setpoints(mode)
            venous = s.twin.venous_volume_mL() if cycle.sensor_cells is None else None  # type: ignore[union-attr]
            cycle.advance(s.dt_s, venous, mode, self.sensors.pressure_mmHg)
            self.sealed, self.settling = cycle.sealed, cycle.settling
        else:
            self.setpoint = s.table[self.tick]
        for change in s.control.take_changes():
            s.intensity_changed = True
            s._event(self.session_id, "intensity", change)
        if not self.paused:
            self.setpoint = s.intensity.apply(self.setpoint, s.control.intensity)

    def actuate(self) -> None:
        """The controllers' commands, through the supervisor (which records what it overrode)."""
        s, commands = self.session, self.commands
        s._actuate(
            self.phase,
            self.index,
            self.paused,
            self.setpoint,
            self.sensors,
            commands,
            self.sealed,
            self.settling,
        )
        commands.heartbeat += 1
        self.sup.apply(commands)
        for line in self.sup.take_overrides():
            s._event(self.session_id, "override", line)

    def step_twin(self) -> None:
        """On hardware, step the leg twin up to now with the sensed pressures."""
        s = self.session
        twin = s.twin
        if s.drive_twin and twin is not None:
            while twin.t_s + twin.step_s <= s.t_s + 1e-9:
                twin.step(self.sensors.pressure_mmHg)

    def record(self) -> None:
        """A history sample each session second; a commit every COMMIT_EVERY_s of wall time or
        COMMIT_EVERY_SESSION_s of session time, whichever comes first."""
        s = self.session
        if s.history is not None and self.session_id is not None and not self.paused:
            s.history.add_tick(self.session_id, s.t_s, self.sensors.pressure_mmHg, self.setpoint)
        if s.t_s - self.last_sample_s >= 1.0 and s.history is not None and self.session_id is not None:
            self.last_sample_s = s.t_s
            twin = s.twin.signals() if s.twin is not None else None
            sensors = self.sensors
            s.history.add_sample(
                self.session_id, s.t_s, sensors.pressure_mmHg, self.setpoint, sensors.skin_temp_C, twin
            )
            waited_s = wall_s() - self.last_commit_wall_s
            if waited_s >= COMMIT_EVERY_s or s.t_s - self.last_commit_s >= COMMIT_EVERY_SESSION_s:
                self.last_commit_wall_s, self.last_commit_s = wall_s(), s.t_s
                s.history.commit(self.session_id, s.t_s)

    def show(self) -> None:
        """The live state to ``on_update``, every ``update_every`` ticks of the loop."""
        self.loops += 1
        if self.on_update is not None and self.loops % self.update_every == 0:
            self.on_update(
                self.session._live(self.sensors, self.setpoint, self.phase, self.t_in, self.paused)
            )

    def advance(self) -> None:
        """The program's clock moves on a tick, unless paused."""
        if not self.paused:
            self.tick += 1

    # -- after the loop ----------------------------------------------------------------------
    def vent_out(self) -> None:
        """After the program's end, a stop or the safe state: vent every cell (the safe state
        vents by itself) and go on reading and showing the sensed pressures until every cell reads
        below VENTED_BELOW_mmHg (`vented_at_s`), or for VENT_MAX_s. A graceful stop (a second
        Ctrl-C meanwhile is an emergency stop) then latches the safe state."""
        s, sup, clock, commands = self.session, self.sup, self.clock, self.commands
        stopping = s.control.stop_requested and not sup.latched
        phase, index = self.phase, self.index
        s.pressure_ctl.vent_all()
        next_tick = clock.now()
        for k in range(round(VENT_MAX_s * s.tick_hz) + 1):  # ticks since the end
            if k > 0:
                next_tick += s.dt_s
                clock.sleep_until(next_tick)
                self.sensors = sup.read()
                s._track(self.sensors)
                s._actuate(phase, index, True, s.vented, self.sensors, commands, None)
                commands.heartbeat += 1
                sup.apply(commands)  # in the safe state the supervisor sends its own: all vented
            if float(np.max(self.sensors.pressure_mmHg)) < VENTED_BELOW_mmHg:
                s.vented_at_s = round(s.t_s + k * s.dt_s, 2)  # session seconds, on from the end
                break
            s.status = s._ending_status(stopping)
            if self.on_update is not None and k % self.update_every == 0:
                self.on_update(s._live(self.sensors, s.vented, phase, self.t_in, False, venting=True))
        if stopping:
            sup.stop("stop", "stopped by the user")


def _cause(trip: Trip, injected: list[FaultSpec]) -> FaultSpec | None:
    """The injected fault (sorted by time) behind a trip: of those injected before it was found,
    the latest one at the place it was found (its cell, or that cell's leg), else the latest."""
    before = [f for f in injected if f.at_s <= trip.detected_s]
    if not before:
        return None
    where = trip.where or ""
    here = [
        f
        for f in before
        if f.where
        and (f.where == where or where.startswith(f"{f.where}.") or f.where.startswith(f"{where}."))
    ]
    return (here or before)[-1]


@njit(cache=True)
def _track_peaks(max_pressure, pressure, max_skin, skin):  # type: ignore[no-untyped-def]
    """The highest pressure and skin temperature so far, in place (one compiled call per tick);
    a NaN reading is no maximum."""
    for i in range(pressure.shape[0]):
        if pressure[i] > max_pressure[i]:
            max_pressure[i] = pressure[i]
    for i in range(skin.shape[0]):
        if skin[i] > max_skin[i]:
            max_skin[i] = skin[i]

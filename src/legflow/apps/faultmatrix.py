"""The single-fault proof harness: one fault of one kind, at a chosen moment of a cell's cycle, in a
real session (simulated massager with the leg twin inside its cells, supervisor, engine) on a
virtual clock, with the *true* physical state watched at every tick.

Used by tests/test_fault_matrix.py, tests/test_safety_soak.py and benchmarks/fault_latency.py, so
that the tests and the benchmark measure the same thing. The targets (`missed_targets`):

- true pressure: no cell above its limit + 10 mmHg for more than 0.5 s, never above limit + 25;
- true skin temperature: never above the heat limit (42 °C, 40 °C with reduced sensation);
- safe state within 5 s of the fault taking effect (pneumatic faults and a frozen sensor), within
  60 s and before the skin passes its limit (heater runaway), within 1 s (link loss), and before the
  true pressure breaks its rule (sensor drift);
- the summary names the cell (or, for a pump, heater or garment, the leg) where the fault is.

The session is told only the kind and time of the injected fault, as ``--inject KIND@S`` does, never
its cell: the cell in the summary is then the supervisor's own finding, not an echo of the input.
The simulated massager is told the cell, and `SimulatedMassager.applied_faults` says where it went.

Latencies count from the moment a fault *takes effect*: when it first makes the device behave
otherwise than a sound one, from the commands the device receives (`fault_matters`). A hole, a
garment off, a frozen or drifting sensor and a lost link act at once; an inlet stuck closed only once
the inlet is commanded open; an inlet stuck open once it is commanded closed; a kinked tube once gas
should pass it (inlet open, or exhaust open on a cell under pressure); a dead pump once the pump is
commanded on; a shorted heater switch once the heater is commanded below full power. No detector can
see a fault before then (a sealed, holding cell looks the same with its inlet stuck closed). In the
"idle" timing a fault waits at least for its cell's (or leg's) next inflation start, read from the
timeline's setpoints: a fault in a vented cell is judged from that cell's next fill.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np

from legflow.anatomy import COMPRESSION_ZONES
from legflow.apps.limb import leg_twin
from legflow.clock import VirtualClock
from legflow.device.faults import CELL_FAULTS, FAULT_KINDS, FaultSpec
from legflow.device.massager import Commands, Sensors
from legflow.device.profile import DeviceProfile, load_profile, profile_names
from legflow.device.sim import SimulatedMassager
from legflow.engine.session import TICK_HZ, Session
from legflow.plan import device_findings
from legflow.programs.model import Program
from legflow.programs.timeline import Timeline
from legflow.safety.limits import DEFAULT_LIMITS, Limits
from legflow.safety.supervisor import Supervisor
from legflow.twin.model import Posture

Timing = Literal["inflating", "holding", "idle"]
TIMINGS: tuple[Timing, ...] = get_args(Timing)

#: From docs/safety.md: the over-pressure rule on the *true* cell pressure.
OVER_SUSTAINED_mmHg = 10.0
OVER_SUSTAINED_s = 0.5
OVER_AT_ONCE_mmHg = 25.0
#: Safe state after the fault takes effect, per kind (sensor drift: before the pressure rule breaks).
PNEUMATIC = ("leak", "valve_stuck_closed", "valve_stuck_open", "kinked_tube", "pump_failure", "garment_off")
SAFE_WITHIN_s: dict[str, float] = {
    **dict.fromkeys((*PNEUMATIC, "sensor_stuck"), 5.0),
    "heater_runaway": 60.0,
    "link_loss": 1.0,
}
#: Faults whose place is a leg (the summary names the leg, e.g. "left"); link loss has no place.
LEG_FAULTS = frozenset({"pump_failure", "heater_runaway", "garment_off"})
#: Faults that need gas moving in their cell (or leg) to show: in a vented cell they wait for its fill.
WAIT_FOR_FILL = frozenset(CELL_FAULTS | {"pump_failure", "garment_off"})

PRESSURE_mmHg = 60.0
#: Near the limit (leg cells: 100 mmHg): a sensor drifting low lets the true pressure pass
#: limit + 10 in about 15 s instead of 50 s.
NEAR_LIMIT_mmHg = 96.0
HEAT_TARGET_C = 36.0  # reached in about 3 minutes from the skin's resting 33.5 °C
REDUCED_SENSATION = DEFAULT_LIMITS.tighten("reduced sensation (diabetes or neuropathy)", heat_C=40.0)
#: Programs: 3 min (about three cycles: the fault comes in the second, with 100 s left to watch);
#: with heat 6 min, since a pad takes about 3 min to reach its target.
MINUTES = 3.0
HEATER_MINUTES = 6.0
#: Heater runaway injection times: while the pad warms at full power, and once it cycles at its target.
HEATER_WARMING_AT_s = 60.0
HEATER_HOLDING_AT_s = 240.0
HOLD_INTO_s = 8.0  # into the hold of the faulted cell
AFTER_s = 2.0  # the true state is watched this long after the session ends


@dataclass(frozen=True)
class FaultCase:
    """One cell of the matrix. ``kind`` None: no fault (a false-alarm check)."""

    profile: str
    kind: str | None
    timing: Timing = "holding"
    pressure_mmHg: float = PRESSURE_mmHg
    #: Cell (cell faults) or leg (pump, heater, garment); None: the right leg's (upper) calf cell.
    where: str | None = None
    reduced_sensation: bool = False
    seed: int = 0
    #: The leg of the default place (None: the right leg, or the profile's only one).
    leg: str | None = None
    #: The leg twin inside the cells: a parameter set (`legflow.twin`) and a posture.
    subject: str = "adult"
    posture: Posture = "supine"

    @property
    def label(self) -> str:
        extra = f"@{self.pressure_mmHg:g}" if self.pressure_mmHg != PRESSURE_mmHg else ""
        extra += "-reduced-sensation" if self.reduced_sensation else ""
        extra += f"-{self.leg}" if self.leg else ""
        extra += f"-{self.subject}" if self.subject != "adult" else ""
        extra += f"-{self.posture}" if self.posture != "supine" else ""
        return f"{self.profile}-{self.kind or 'no_fault'}-{self.timing}{extra}"

    def place(self, profile: DeviceProfile) -> str | None:
        """Where the fault goes: ``where``, else the default place on the case's leg."""
        return self.where or default_where(profile, self.kind or "leak", self.leg)


@dataclass
class Watch:
    """The true state of the simulated massager, sampled at every tick (and after the session)."""

    names: list[str]
    limit_mmHg: np.ndarray
    skin_limit_C: float
    dt_s: float
    #: Longest continuous time above limit + 10 per cell (samples above × tick).
    longest_over_s: np.ndarray = field(init=False)
    #: Highest true pressure per cell, at the ticks (the summary's true maximum sees between them).
    peak_mmHg: np.ndarray = field(init=False)
    peak_skin_C: float = -math.inf
    #: When the pressure rule first broke (over + 10 for more than 0.5 s, or over + 25), and the cell.
    rule_broken_s: float | None = None
    rule_broken_cell: str | None = None
    skin_over_s: float | None = None
    relay_open_s: float | None = None
    _since: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        n = len(self.names)
        self.longest_over_s = np.zeros(n)
        self.peak_mmHg = np.full(n, -math.inf)
        self._since = np.full(n, math.nan)

    def sample(self, t_s: float, pressure: np.ndarray, skin_C: np.ndarray, relay_open: bool) -> None:
        np.maximum(self.peak_mmHg, pressure, out=self.peak_mmHg)
        over = pressure - self.limit_mmHg
        above = over > OVER_SUSTAINED_mmHg
        if above.any() or not np.isnan(self._since).all():
            self._since[~above] = math.nan
            start = above & np.isnan(self._since)
            self._since[start] = t_s
            length = np.where(above, t_s - self._since + self.dt_s, 0.0)
            np.maximum(self.longest_over_s, length, out=self.longest_over_s)
            broken = (length > OVER_SUSTAINED_s + 1e-9) | (over > OVER_AT_ONCE_mmHg)
            if broken.any() and self.rule_broken_s is None:
                self.rule_broken_s = t_s
                self.rule_broken_cell = self.names[int(np.argmax(np.where(broken, over, -np.inf)))]
        hottest = float(skin_C.max()) if skin_C.size else -math.inf
        self.peak_skin_C = max(self.peak_skin_C, hottest)
        if hottest > self.skin_limit_C and self.skin_over_s is None:
            self.skin_over_s = t_s
        if relay_open and self.relay_open_s is None:
            self.relay_open_s = t_s


@dataclass
class Watched:
    """A finished session with what its true state did."""

    summary: dict[str, Any]
    sim: SimulatedMassager
    supervisor: Supervisor
    watch: Watch
    #: When each fault (in the order given) first mattered: `fault_matters` held for the commands
    #: in force at or after its time (session seconds); None where it never did.
    matters_s: list[float | None]


def skin_limit_C(limits: Limits) -> float:
    """The true skin temperature no session may pass (42 °C; 40 °C with reduced sensation)."""
    return 42.0 if limits.heat_C is None else float(limits.heat_C)


def run_watched(
    profile: DeviceProfile,
    program: Program,
    faults: Sequence[FaultSpec] = (),
    *,
    limits: Limits = DEFAULT_LIMITS,
    seed: int = 0,
    session_faults: Sequence[FaultSpec] | None = None,
    after_s: float = AFTER_s,
    subject: str = "adult",
    posture: Posture = "supine",
) -> Watched:
    """Run ``program`` with ``faults`` injected into the simulated massager (the leg twin inside its
    cells), watching the true cell pressures and skin temperatures at every tick and for ``after_s``
    after the session ends. ``session_faults``: what the session is told (default: ``faults``
    without their cells, so the summary's cells are what the supervisor found); ``subject`` and
    ``posture``: the leg twin inside the cells."""
    clock = VirtualClock()
    twin = leg_twin(profile, subject, posture)
    sim = SimulatedMassager(profile, clock, faults=list(faults), limb=twin, seed=seed)
    sup = Supervisor(sim, limits, clock)
    dt = 1.0 / TICK_HZ
    watch = Watch(sup.cell_names, sup.cell_limit_mmHg.copy(), skin_limit_C(limits), dt)
    start = clock.now()
    places = [fault_place(profile, f) for f in faults]
    matters: list[float | None] = [None] * len(faults)
    # the commands the device acts on, since when, and whether its relay was closed to act on them
    in_force: list[Any] = [Commands.idle(sim.n_legs, sim.n_cells), 0.0, True]

    def look() -> None:
        watch.sample(clock.now() - start, sim.true_pressure_mmHg, sim.true_skin_temp_C, sim.relay_open)

    def check_matters(t: float) -> None:
        """Did the commands in force since the last apply make a fault matter?"""
        commands, since, acting = in_force
        relay_opened = math.inf if watch.relay_open_s is None else watch.relay_open_s
        for i, f in enumerate(faults):
            if matters[i] is None and acting and since <= relay_opened and f.at_s < min(t, relay_opened):
                cell, leg = places[i]
                pressure = float(sim.true_pressure_mmHg[cell]) if cell is not None else 0.0
                if fault_matters(f.kind, cell, leg, commands, pressure):
                    matters[i] = max(f.at_s, since)

    read, apply = sup.read, sim.apply

    def watched_read() -> Sensors:
        sensors = read()
        look()
        return sensors

    def watched_apply(commands: Commands) -> None:
        t = clock.now() - start
        check_matters(t)
        in_force[:] = [commands.copy(), t, not sim.relay_open]
        apply(commands)

    sup.read = watched_read  # type: ignore[method-assign]
    sim.apply = watched_apply  # type: ignore[method-assign]
    told = [FaultSpec(f.kind, f.at_s) for f in faults] if session_faults is None else list(session_faults)
    summary = Session(program, "fault-matrix", sup, clock, injected=told, twin=twin).run()
    check_matters(clock.now() - start)
    for _ in range(round(after_s / dt)):  # the device goes on (venting, its own watchdog)
        clock.advance(dt)
        look()
    return Watched(summary, sim, sup, watch, matters)


def fault_place(profile: DeviceProfile, fault: FaultSpec) -> tuple[int | None, int | None]:
    """(cell index, leg index) of a fault as the simulator places it (`SimulatedMassager._where`):
    a cell fault's cell and its leg; a leg fault's leg; (None, None) for a lost link."""
    if fault.kind == "link_loss":
        return None, None
    legs: list[str] = list(profile.legs)
    cells = profile.cell_names()
    if fault.kind in CELL_FAULTS:
        where = fault.where
        if where is None or where in legs:  # the simulator's choice: that leg's calf (or first) cell
            zones = [c.zone for c in profile.cells]
            first = zones.index("calf") if "calf" in zones else 0
            where = f"{where or legs[0]}.{profile.cells[first].name}"
        cell = cells.index(where)
        return cell, cell // len(profile.cells)
    return None, legs.index((fault.where or legs[0]).split(".")[0])


#: A kinked tube matters on a cell that holds more than this while its exhaust is open.
KINK_VENTING_mmHg = 3.0


def fault_matters(
    kind: str, cell: int | None, leg: int | None, commands: Commands, pressure_mmHg: float
) -> bool:
    """Whether a fault makes the device behave otherwise than a sound one under these commands."""
    if kind == "valve_stuck_closed":
        return bool(commands.inlet_open[cell])
    if kind == "valve_stuck_open":
        return not commands.inlet_open[cell]
    if kind == "kinked_tube":
        venting = commands.exhaust_open[cell] and pressure_mmHg > KINK_VENTING_mmHg
        return bool(commands.inlet_open[cell] or venting)
    if kind == "pump_failure":
        return bool(commands.pump_duty[leg] > 0.0)
    if kind == "heater_runaway":
        return bool(commands.heater_power[leg] < 1.0)
    return True  # a hole, a garment off, a frozen or drifting sensor, a lost link: at once


# --- programs and timings -----------------------------------------------------------------------
def exercise_program(
    profile: DeviceProfile,
    minutes: float = 4.0,
    pressure_mmHg: float = 60.0,
    *,
    hold_s: float = 10.0,
    rest_s: float = 10.0,
    heat_C: float | None = 39.0,
    name: str | None = None,
) -> Program:
    """Sequential squeezes over every zone of the device, with its rollers, vibration and heat
    (``heat_C``; None: none): a program that exercises everything a profile has (the fault matrix,
    the soak, the controller benchmark)."""
    zones = [z for z in COMPRESSION_ZONES if z in profile.zones]
    phase: dict[str, Any] = {
        "name": "exercise",
        "duration_min": minutes,
        "compression": {
            "pattern": "sequential",
            "zones": zones,
            "pressure_mmHg": pressure_mmHg,
            "inflate_s": 3.0,
            "delay_s": 0.5,
            "hold_s": hold_s,
            "release_s": 3.0,
            "rest_s": rest_s,
        },
    }
    if profile.rollers is not None:
        phase["rollers"] = {"zones": list(profile.rollers.zones), "speed": "medium"}
    if profile.vibration_max_level:
        phase["vibration"] = {"level": min(2, profile.vibration_max_level)}
    if heat_C is not None and profile.heater_max_C is not None:
        phase["heat"] = {"target_C": heat_C}
    head = {"name": name or f"exercise {profile.name}", "goal": "custom", "legs": "both"}
    return Program.model_validate({"program": head, "phase": [phase]})


def matrix_program(
    profile: DeviceProfile,
    pressure_mmHg: float = PRESSURE_mmHg,
    heat_C: float | None = None,
    minutes: float = MINUTES,
) -> Program:
    """Sequential squeezes over every zone of the device with a long hold (about 30 s full, so a
    fault can come while a cell holds), its rollers and vibration, and heat if asked."""
    program = exercise_program(
        profile,
        minutes,
        pressure_mmHg,
        hold_s=25.0,
        rest_s=12.0,
        heat_C=heat_C,
        name=f"fault matrix {profile.name}",
    )
    found = device_findings(program, profile, DEFAULT_LIMITS)
    if found:
        raise ValueError(f"the matrix program does not pass the device check for {profile.name}: {found}")
    return program


def default_where(profile: DeviceProfile, kind: str, leg: str | None = None) -> str | None:
    """The right leg's (or ``leg``'s) upper calf cell for a cell fault, that leg for a leg fault."""
    leg = leg or ("right" if "right" in profile.legs else profile.legs[0])
    if kind == "link_loss":
        return None
    if kind not in CELL_FAULTS:
        return leg
    calves = [c.name for c in profile.cells if c.zone == "calf"] or [profile.cells[0].name]
    return f"{leg}.{calves[-1]}"


def _fills(setpoint: np.ndarray) -> np.ndarray:
    """Ticks where a setpoint leaves zero (an inflation starts)."""
    on = setpoint > 1e-9
    return np.nonzero(on[1:] & ~on[:-1])[0] + 1


@dataclass(frozen=True)
class Schedule:
    """When to inject a fault, and the earliest it can take effect (the next fill, when idle)."""

    program: Program
    inject_s: float
    effect_s: float
    limits: Limits


def schedule(case: FaultCase) -> Schedule:
    """The program of a case and the moment to inject its fault, from the timeline's setpoints:
    inflating (halfway up the cell's second fill), holding (8 s into that fill's hold), idle (halfway
    through the rest before it: the fault then takes effect when the cell, or leg, fills again)."""
    profile = load_profile(case.profile)
    limits = REDUCED_SENSATION if case.reduced_sensation else DEFAULT_LIMITS
    kind = case.kind or "leak"
    if kind == "heater_runaway":
        heat = None if case.timing == "idle" else HEAT_TARGET_C
        program = matrix_program(profile, case.pressure_mmHg, heat, HEATER_MINUTES)
        at = HEATER_HOLDING_AT_s if case.timing == "holding" else HEATER_WARMING_AT_s
        return Schedule(program, at, at, limits)
    # with no fault and a heater, long enough to hold the pad at its target for minutes too
    heated = case.kind is None and profile.heater_max_C is not None
    minutes = HEATER_MINUTES if heated else MINUTES
    program = matrix_program(profile, case.pressure_mmHg, HEAT_TARGET_C, minutes)
    if case.kind is None:
        return Schedule(program, 0.0, 0.0, limits)
    dt = 1.0 / TICK_HZ
    cells = profile.cell_names()
    zones = [c.zone for c in profile.cells] * len(profile.legs)
    table = Timeline(program).setpoint_table([c.split(".")[0] for c in cells], zones, dt)
    where = case.place(profile)
    # the cell whose cycle sets the moment: the faulted cell, or the calf of the faulted leg
    cell = cells.index(where if where in cells else default_where(profile, "leak", where))  # type: ignore[arg-type]
    own = table[:, cell]
    leg = cells[cell].split(".")[0]
    # a leg fault waits for any cell of its leg; a cell fault for its own cell
    waits_on = table[:, [i for i, c in enumerate(cells) if c.startswith(f"{leg}.")]].max(axis=1)
    if kind in CELL_FAULTS:
        waits_on = own
    fill = _fills(own)[1]  # the second fill: the first one teaches the detectors the cell
    full = fill + int(np.argmax(own[fill:] >= own[fill:].max() - 1e-6))
    if case.timing == "inflating":
        at = dt * (fill + full) / 2
    elif case.timing == "holding":
        released = full + int(np.argmax(own[full:] < own[full] - 1e-6))
        at = dt * min(full + HOLD_INTO_s / dt, (full + released) / 2)
    else:
        start = int(_fills(waits_on)[1])
        before = np.nonzero(waits_on[:start] > 1e-9)[0]
        vented_from = int(before[-1]) + 1 if before.size else 0
        at = dt * (vented_from + start) / 2
        effect = start * dt if kind in WAIT_FOR_FILL else at
        return Schedule(program, round(float(at), 2), float(effect), limits)
    return Schedule(program, round(float(at), 2), round(float(at), 2), limits)


# --- one case -------------------------------------------------------------------------------------
@dataclass
class FaultRun:
    """What one case did, against the targets."""

    case: FaultCase
    status: str
    #: Where the fault really went (`applied_faults`): a cell, a leg, or None (link loss, no fault).
    where: str | None
    inject_s: float | None
    effect_s: float | None
    at_s: float | None  # the summary's time of the fault (the injection time)
    detected_s: float | None
    safe_at_s: float | None
    reported: str | None  # the cell or leg the summary names for the fault
    detector: str | None
    #: Faults in the summary that are not the injected one (false alarms, or a mismatched trip).
    others: list[dict[str, Any]]
    #: max over cells of (true maximum − cell limit), from the summary's true maxima.
    over_limit_mmHg: float
    worst_cell: str
    longest_over_s: float  # longest continuous time above limit + 10, any cell
    rule_broken_s: float | None
    true_max_skin_C: float
    skin_limit_C: float
    skin_over_s: float | None
    summary: dict[str, Any]

    @property
    def detect_latency_s(self) -> float | None:
        if self.detected_s is None or self.effect_s is None:
            return None
        return self.detected_s - self.effect_s

    @property
    def safe_latency_s(self) -> float | None:
        if self.safe_at_s is None or self.effect_s is None:
            return None
        return self.safe_at_s - self.effect_s

    @property
    def location_ok(self) -> bool:
        return self.reported == self.where

    def missed_targets(self) -> list[str]:
        """Each target this run missed, in words with the numbers; empty when all are met."""
        missed = pressure_and_skin_breaches(
            self.over_limit_mmHg,
            self.worst_cell,
            self.longest_over_s,
            self.true_max_skin_C,
            self.skin_limit_C,
        )
        kind = self.case.kind
        if kind is None:
            if self.status != "completed" or self.others:
                missed.append(f"false alarm: status {self.status}, faults {_brief(self.others)}")
            return missed
        for other in self.others:
            if other["at_s"] is not None and other["detected_s"] is not None:
                missed.append(f"another fault in the summary: {_brief([other])}")
        if self.effect_s is None:
            missed.append("the fault never took effect during the session (scenario too short)")
            return missed
        if self.safe_at_s is None:
            missed.append(f"not detected (effect at {self.effect_s:.2f} s, session {self.status})")
            return missed
        if self.at_s is None or abs(self.at_s - (self.inject_s or 0.0)) > 1e-3:
            missed.append(f"summary at_s {self.at_s}, the fault came at {self.inject_s} s")
        if not self.location_ok:
            missed.append(f"summary names {self.reported!r}, the fault is at {self.where!r}")
        latency = self.safe_at_s - self.effect_s
        if kind == "sensor_drift":
            if self.rule_broken_s is not None and self.safe_at_s >= self.rule_broken_s:
                missed.append(
                    f"safe at {self.safe_at_s:.2f} s, after the true pressure broke its rule at "
                    f"{self.rule_broken_s:.2f} s"
                )
        elif latency > SAFE_WITHIN_s[kind] + 1e-9:
            target = SAFE_WITHIN_s[kind]
            missed.append(f"safe {latency:.2f} s after the fault took effect (target ≤ {target:g} s)")
        if kind == "heater_runaway" and self.skin_over_s is not None and self.safe_at_s >= self.skin_over_s:
            missed.append(
                f"safe at {self.safe_at_s:.1f} s, after the skin passed its limit at {self.skin_over_s:.1f} s"
            )
        return missed


def pressure_and_skin_breaches(
    over_limit_mmHg: float, worst_cell: str, longest_over_s: float, skin_C: float, skin_limit: float
) -> list[str]:
    """The true-pressure and skin rules, in words where broken."""
    found = []
    if over_limit_mmHg > OVER_AT_ONCE_mmHg:
        found.append(f"true pressure {over_limit_mmHg:.1f} mmHg over its limit ({worst_cell}; rule: ≤ 25)")
    if longest_over_s > OVER_SUSTAINED_s + 1e-9:
        found.append(f"true pressure over limit + 10 mmHg for {longest_over_s:.2f} s (rule: ≤ 0.5 s)")
    if skin_C > skin_limit:
        found.append(f"true skin {skin_C:.2f} °C over its limit of {skin_limit:g} °C")
    return found


def _brief(faults: list[dict[str, Any]]) -> str:
    return ", ".join(f"{f['kind']}@{f['cell']} ({f['detector']}, {f['detected_s']} s)" for f in faults)


def true_over_limit(watched: Watched) -> tuple[float, str]:
    """Max over cells of the true maximum pressure minus the cell's limit (the summary's true
    maxima, which see between ticks, and the watch's, which sees after the session), and the cell."""
    summary_max = np.array(
        [watched.summary["cells"][n].get("true_max_pressure_mmHg", -math.inf) for n in watched.watch.names]
    )
    over = np.maximum(summary_max, watched.watch.peak_mmHg) - watched.watch.limit_mmHg
    worst = int(np.argmax(over))
    return float(over[worst]), watched.watch.names[worst]


def true_max_skin(watched: Watched) -> float:
    return max(float(watched.summary.get("true_max_skin_C", -math.inf)), watched.watch.peak_skin_C)


def run_case(case: FaultCase) -> FaultRun:
    """Run one case of the matrix and measure it."""
    profile = load_profile(case.profile)
    plan = schedule(case)
    faults = []
    if case.kind is not None:
        faults = [FaultSpec(case.kind, plan.inject_s, case.place(profile))]
    watched = run_watched(
        profile,
        plan.program,
        faults,
        limits=plan.limits,
        seed=case.seed,
        subject=case.subject,
        posture=case.posture,
    )
    summary, sim = watched.summary, watched.sim
    where = sim.applied_faults[0][1].where if sim.applied_faults else None
    matters = watched.matters_s[0] if faults else None
    effect = None if matters is None else max(plan.effect_s, matters)
    mine = next((f for f in summary["faults"] if f["kind"] == case.kind), None)
    others = [f for f in summary["faults"] if f is not mine]
    over, worst = true_over_limit(watched)
    return FaultRun(
        case=case,
        status=summary["status"],
        where=where,
        inject_s=faults[0].at_s if faults else None,
        effect_s=effect,
        at_s=mine["at_s"] if mine else None,
        detected_s=mine["detected_s"] if mine else None,
        safe_at_s=mine["safe_at_s"] if mine else None,
        reported=mine["cell"] if mine else None,
        detector=mine["detector"] if mine else None,
        others=others,
        over_limit_mmHg=over,
        worst_cell=worst,
        longest_over_s=float(watched.watch.longest_over_s.max()),
        rule_broken_s=watched.watch.rule_broken_s,
        true_max_skin_C=true_max_skin(watched),
        skin_limit_C=watched.watch.skin_limit_C,
        skin_over_s=watched.watch.skin_over_s,
        summary=summary,
    )


def matrix_cases(
    profiles: Sequence[str] | None = None,
    kinds: Sequence[str] = FAULT_KINDS,
    both_legs: bool = True,
    subject: str = "adult",
    posture: Posture = "supine",
) -> list[FaultCase]:
    """Every fault kind × every profile (heater runaway only with a heater) × every timing; sensor
    drift also near the limit; heater runaway also with reduced sensation (heat limit 40 °C). With
    ``both_legs``, each again on the left leg (a link has no leg): a fault is found, and named,
    wherever it is. ``subject``, ``posture``: the leg inside the cells."""
    cases = []
    leg_model: dict[str, Any] = {"subject": subject, "posture": posture}
    for name in profiles or profile_names():
        device = load_profile(name)
        others = [leg for leg in device.legs if leg != "right"] if both_legs else []
        for kind in kinds:
            if kind == "heater_runaway" and device.heater_max_C is None:
                continue
            for leg in [None, *(others if kind != "link_loss" else [])]:
                for timing in TIMINGS:
                    cases.append(FaultCase(name, kind, timing, leg=leg, **leg_model))
                    if kind == "sensor_drift":
                        cases.append(FaultCase(name, kind, timing, NEAR_LIMIT_mmHg, leg=leg, **leg_model))
                if kind == "heater_runaway":
                    cases.append(
                        FaultCase(name, kind, "holding", reduced_sensation=True, leg=leg, **leg_model)
                    )
    return cases


def healthy_cases(
    profiles: Sequence[str] | None = None, subject: str = "adult", posture: Posture = "supine"
) -> list[FaultCase]:
    """The matrix's programs with no fault: each must complete without a fault."""
    return [
        FaultCase(name, None, "holding", pressure, subject=subject, posture=posture)
        for name in profiles or profile_names()
        for pressure in (PRESSURE_mmHg, NEAR_LIMIT_mmHg)
    ]

"""Per-cell pressure control for on/off valves and a PWM pump (bang-bang with look-ahead).

Budget massagers have solenoid valves, not proportional ones, so each tick the controller puts
every cell in one of three states: filling (inlet open, pump running), venting (exhaust open) or
holding (both closed). Three things keep the overshoot small:
- it stops filling when the *predicted* pressure (reading + rate × look-ahead, covering sensor lag,
  valve stroke and pump spin-down) reaches the setpoint;
- the pump's duty falls as the cell nears its setpoint, so a strong pump does not overshoot a
  small cell;
- a fill ends in steps: the pump stops while the inlet stays open for its spin-down, so the gas it
  still delivers goes into the cell, not into the closed manifold where it would burst into the
  next cell to open.
Cells of one leg share the manifold: only cells close in pressure to the emptiest one that wants gas
fill together, or a full cell would empty itself into the manifold and its neighbour.
On a rising setpoint a cell aims where the setpoint will be, and restarts as soon as it falls behind
(no band), its duty floor climbing while it trails; the duty adds what holds the pump against the
cell's pressure, and a cell that catches up coasts with its inlet open rather than stopping (below
22 mmHg it is filled firmly instead, so the supervisor's garment-off detector sees real inflow);
a cell on a release ramp is never refilled, so the pump stays free for the cell that is filling.
A held cell is topped up within a band; one that creeps over its setpoint (the limb under it
refilling) bleeds a little gas back into its idle manifold, as the exhaust's shortest pulse is far
too coarse for a small cell. A cell about to be sealed to measure refill is vented down to its
setpoint within the band instead, and never bled: it must be sealed at the measuring pressure.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from numba import njit

from legflow.device.massager import Commands
from legflow.device.profile import DeviceProfile


class Inlet(IntEnum):
    """What a cell's inlet is doing; the timed states count their ticks in `CONTROL_MEMORY`."""

    CLOSED = 0
    #: Inlet open, the pump running for this cell.
    FILLING = 1
    #: The end of a fill: the inlet stays open with the pump off for FINISH_TICKS ticks (its
    #: spin-down, ~50 ms), so the gas it still delivers goes into the cell, not the closed manifold.
    FINISHING = 2
    #: Inlet open for one tick with the pump off, so a held cell over its setpoint lets a little gas
    #: back into the (lower) manifold.
    BLEEDING = 3
    #: Inlet open on a rising setpoint with the pump off (at a holding duty the supervisor would see
    #: a fill that does not rise): a ramping cell that has caught up waits for the setpoint this
    #: way, so its next push starts at once instead of after a spin-down, a valve stroke and a
    #: spin-up (~90 ms, 2-3 mmHg of a 27 mmHg/s ramp) that an on/off stop costs. It yields the
    #: manifold to any other cell of its leg once its pump has spun down (coasted as many ticks as a
    #: finishing fill lasts).
    COASTING = 4


#: Ticks a finishing fill keeps its inlet open with the pump off: the pump's spin-down (~50 ms).
FINISH_TICKS = 3
#: The last tick of a finish, and the tick from which a coasting cell's pump has spun down.
LAST_TICK = FINISH_TICKS - 1

#: Per-cell memory of the controller, one record per cell, updated in place by the compiled tick.
CONTROL_MEMORY = np.dtype(
    [
        ("inlet", "i8"),  # an `Inlet` state ...
        ("ticks", "i8"),  # ... and the ticks spent in it (finishing, coasting)
        ("exhaust", "?"),  # the exhaust valve is open
        ("duty", "f8"),  # the pump duty this cell asks for
        ("last_setpoint", "f8"),  # the setpoint at the last tick
        ("previous", "f8"),  # the reading at the last tick (NaN before the first)
        ("rate", "f8"),  # the reading's smoothed rate of change, mmHg/s
        ("gain", "f8"),  # learned rise rate at full duty, mmHg/s
        ("floor", "f8"),  # the duty's floor while filling
        ("fed", "f8"),  # ticks fed by the pump without a break
        ("pushed", "f8"),  # smoothed push (duty above holding) the cell got
    ],
    align=True,
)

#: The controller's settings as one record for the compiled tick (`ControllerSettings`).
_TUNED = (
    "lookahead_s",
    "rate_smoothing",
    "band_mmHg",
    "rising_band_mmHg",
    "track_s",
    "min_duty",
    "gain_learning",
    "manifold_spread_mmHg",
    "pump_shutoff_mmHg",
)
TUNING = np.dtype([(name, "f8") for name in _TUNED], align=True)
#: Below this setpoint a cell is vented rather than held.
VENT_BELOW_mmHg = 1.0
TOP_UP_GAP_mmHg = 5.0  # a holding cell this close to its setpoint is topped up gently
DUTY_STEP = 0.05  # per tick, while a filling cell rises slower than asked
#: ... once it has been fed this many ticks in a row: valve stroke (15 ms) and pump spin-up (25 ms)
#: pass before its reading can rise.
FED_TICKS_BEFORE_CLIMB = 2
#: A held cell is vented only this far above its setpoint. The exhaust's shortest pulse (one tick,
#: with the valve's stroke either side) lets out ~14 mL at 60 mmHg: 35 mmHg from a 120 mL cell. A
#: smaller overshoot vented would become a deeper undershoot, refilled with a new overshoot (a limit
#: cycle); left alone it sags as the limb under the cell empties.
HOLD_VENT_ABOVE_mmHg = 8.0
#: A held cell creeps up as the limb under it refills. Above this it bleeds into its leg's manifold
#: instead: one tick of open inlet moves at most the manifold's 15 mL × Δp / 760 mmHg (~1 mL, a
#: mmHg or two even in a small cell), a step fine enough to hold a cell within the tolerance.
BLEED_ABOVE_mmHg = 2.5
#: ... when the sensed manifold is at least this far below the cell (else the bleed moves nothing;
#: the manifold sags through the pump's reed valves within a second of the pump stopping).
BLEED_MIN_DROP_mmHg = 10.0
#: A fill teaches the cell's gain only while the pump is this far above its holding duty: nearer,
#: noise in the rise is divided by a small number.
LEARN_ABOVE_HOLD_DUTY = 0.1
#: On a ramp the duty floor, above the holding duty, is at most this many times the push the gain
#: asks for.
FLOOR_OVER_ASKED = 2.0
#: Below this a ramping cell is filled firmly: at FIRM_FILL_DUTY, finishing and closing when it
#: catches up instead of coasting. This rule exists so that the safety supervisor can watch the
#: fill: its garment-off detector learns each cell's rise per inflow, ∫√(manifold − cell) dt while
#: the pump runs, on fills from vented above 15 mmHg, and a fill that only follows its ramp (the
#: manifold within noise of the cell, the pump off while it coasts) gives it too little inflow to
#: learn from, so a garment taken off later would go unseen. Here the cell is still taking up its
#: bladder's slack, below the lowest setpoint of the built-in programs (30 mmHg), so running ahead
#: of the ramp costs nothing at the ramp's end; higher, the bursts would overshoot a low setpoint.
FIRM_FILL_BELOW_mmHg = 22.0
FIRM_FILL_DUTY = 1.0


@dataclass(frozen=True)
class ControllerSettings:
    lookahead_s: float = 0.06  # sensor lag + valve stroke + pump spin-down, about half of each
    rate_smoothing: float = 0.6  # weight of the previous rate estimate (a derivative filter)
    band_mmHg: float = 1.5  # a holding cell acts again only outside ± this band
    rising_band_mmHg: float = 4.0  # above a rising setpoint, wait for it rather than vent
    track_s: float = 0.3  # a filling cell aims to close its gap to the setpoint in this time
    min_duty: float = 0.2  # the pump never runs slower than this while filling
    initial_gain_mmHg_per_s: float = 100.0  # rise rate at full duty, before it is learned
    gain_learning: float = 0.2  # weight of each new observation of a cell's gain
    manifold_spread_mmHg: float = 3.0  # cells fill together only within this of the emptiest
    #: A diaphragm pump's flow falls about linearly with back-pressure to none at its shut-off
    #: pressure, at a speed in proportion to the duty: the duty p / this only holds a manifold at
    #: p, and a fill gets the duty above it. The device profile's value (`for_profile`); where a
    #: profile gives no pump curve, an assumed 400 mmHg, low in the 300-600 mmHg of typical 12 V
    #: pumps, which errs towards a coasting cell creeping up with its ramp rather than sagging.
    pump_shutoff_mmHg: float = 400.0

    @classmethod
    def for_profile(cls, profile: DeviceProfile) -> ControllerSettings:
        """The default settings with the device's own pump curve, where its profile gives one."""
        if profile.pump_shutoff_mmHg is None:
            return cls()
        return cls(pump_shutoff_mmHg=profile.pump_shutoff_mmHg)


@njit(cache=True)
def _decide(setpoint, reading, manifold, cell_leg, sealed, settling, dt, memory, tuning):  # type: ignore[no-untyped-def]
    """Update each cell's inlet state, exhaust and wanted pump duty (``memory``, `CONTROL_MEMORY`
    records) in place for one tick, with the settings ``tuning`` (a `TUNING` record).

    The duty asks for the rise rate the cell needs (the setpoint's own rate plus the gap closed in
    ``track_s`` seconds) divided by the cell's gain: the rise per second at full duty, learned while
    it fills, since a 120 mL ankle cell fills several times faster than a 700 mL thigh cell.
    A sealed cell keeps both valves closed whatever it reads (it is measuring refill); a settling
    cell (about to be sealed) is vented whenever it is over its setpoint by more than the band, as a
    held cell is only when far over, and never bleeds, so it is sealed at its setpoint.
    """
    smoothing = tuning.rate_smoothing
    for c in range(setpoint.shape[0]):
        m = memory[c]
        sp, p = setpoint[c], reading[c]
        if sealed[c]:
            m.inlet, m.exhaust, m.duty = Inlet.CLOSED, False, 0.0
            m.previous, m.last_setpoint, m.rate = p, sp, 0.0
            continue
        # the duty at which the pump only holds the pressure it pushes against (the cell's, once
        # its inlet is open)
        hold_duty = min(1.0, max(0.0, p) / tuning.pump_shutoff_mmHg)
        open_to_pump = m.inlet == Inlet.FILLING or m.inlet == Inlet.COASTING
        if dt > 0.0 and np.isfinite(m.previous):
            observed = (p - m.previous) / dt
            m.rate = smoothing * m.rate + (1.0 - smoothing) * observed
            # the push (duty above holding) the cell got, smoothed as its rate is, so the two lag
            # alike and their ratio is the gain even over fills of a tick or two
            push = max(0.0, m.duty - hold_duty) if open_to_pump else 0.0
            m.pushed = smoothing * m.pushed + (1.0 - smoothing) * push
            # (once the inlet has been open a while: the first ticks after it opens move what the
            # manifold held, not what the pump gives)
            settled = m.fed >= FED_TICKS_BEFORE_CLIMB
            if open_to_pump and settled and m.pushed >= LEARN_ABOVE_HOLD_DUTY and m.rate > 0.0:
                m.gain += tuning.gain_learning * (m.rate / m.pushed - m.gain)
        m.previous = p
        predicted = p + m.rate * tuning.lookahead_s
        sp_rate = max(0.0, sp - m.last_setpoint) / dt if dt > 0.0 else 0.0
        falling = sp < m.last_setpoint  # a release ramp
        m.last_setpoint = sp
        # on a rising setpoint, aim where it will be when this tick's command takes effect
        ahead = sp + sp_rate * tuning.lookahead_s
        # ticks fed without a break (a coasting cell's inlet stays open to the pump)
        m.fed = m.fed + 1.0 if open_to_pump else 0.0
        if sp < VENT_BELOW_mmHg:
            m.inlet, m.exhaust = Inlet.CLOSED, True
        elif m.inlet == Inlet.BLEEDING:
            m.inlet = Inlet.CLOSED
        elif m.inlet == Inlet.FINISHING:
            if m.ticks >= LAST_TICK:
                m.inlet = Inlet.CLOSED
            else:
                m.ticks += 1
        elif open_to_pump:
            spun_down = m.inlet == Inlet.COASTING and m.ticks >= LAST_TICK
            if predicted < ahead:
                m.inlet = Inlet.FILLING
            elif sp_rate > 0.0 and p <= sp + tuning.rising_band_mmHg and p >= FIRM_FILL_BELOW_mmHg:
                # caught up with the ramp: wait for it with the inlet open (not while filled
                # firmly: the manifold's charge would follow into the cell)
                if m.inlet == Inlet.FILLING:
                    m.inlet, m.ticks = Inlet.COASTING, 0
                else:
                    m.ticks = min(LAST_TICK, m.ticks + 1)
            elif spun_down:
                m.inlet = Inlet.CLOSED
            else:
                m.inlet, m.ticks = Inlet.FINISHING, 0
        elif m.exhaust:
            if predicted <= sp:
                m.exhaust = False
        elif p < ahead - (0.0 if sp_rate > 0.0 else tuning.band_mmHg) and not falling:
            # a ramp is followed closely, a hold within its band; a releasing cell that runs
            # ahead of its falling setpoint is not refilled (it would take the manifold from a
            # cell that is filling, only to be let out again)
            m.inlet = Inlet.FILLING
        elif p > sp + (
            tuning.rising_band_mmHg
            if sp_rate > 0.0
            else tuning.band_mmHg
            if settling[c]
            else HOLD_VENT_ABOVE_mmHg
        ):
            m.exhaust = True
        elif (
            sp_rate == 0.0
            and not settling[c]
            and p > sp + BLEED_ABOVE_mmHg
            and manifold[cell_leg[c]] < p - BLEED_MIN_DROP_mmHg
        ):
            m.inlet = Inlet.BLEEDING
        if m.inlet == Inlet.FILLING:
            needed = sp_rate + max(0.0, ahead - predicted) / tuning.track_s
            # a pump at low duty may not beat the pressure it pushes against: while the cell
            # rises slower than asked, the floor of the duty climbs; only once the cell has been
            # fed long enough for its inlet and the pump to act and the rate to show it (not
            # while the manifold's sharing holds it back), or the floor winds up and the fill
            # meets an open manifold at full pump. On a ramp it also climbs while the cell falls
            # behind it: the duty asked is a rate over a gain, blind to the back-pressure the
            # pump must beat first, so without this the cell would trail the ramp for good
            behind = sp_rate > 0.0 and p < sp and m.rate < sp_rate
            if m.fed >= FED_TICKS_BEFORE_CLIMB and (m.rate < 0.3 * needed or behind):
                m.floor = min(1.0, m.floor + DUTY_STEP)
            asked = needed / m.gain
            # the floor is there for a pump that does not beat its back-pressure, which the holding
            # duty now covers: on a ramp, above it, it may not push more than a few times what the
            # gain asks. A top-up of a held cell keeps the whole floor: its ask is a breath, and
            # the holding duty (a guess at the pump's shut-off, blind to the gas the manifold leaks
            # back through the pump) may leave it at the back-pressure, the inlet open and nothing
            # flowing while the limb empties under the cell
            ceiling = FLOOR_OVER_ASKED * asked if sp_rate > 0.0 else 1.0
            m.duty = min(1.0, hold_duty + max(min(m.floor, ceiling), asked))
            if sp_rate > 0.0 and p < FIRM_FILL_BELOW_mmHg:
                m.duty = max(m.duty, FIRM_FILL_DUTY)
            if sp_rate == 0.0 and sp - p < TOP_UP_GAP_mmHg:
                # a top-up needs a breath of gas, not a burst: a push above holding, raised only
                # by the floor that climbs while the cell, fed, does not rise
                m.duty = min(m.duty, hold_duty + m.floor)
        else:  # closed, finishing, coasting or bleeding: the pump is off for this cell
            m.duty = 0.0
            m.floor = tuning.min_duty


@njit(cache=True)
def _share_manifold(reading, cell_leg, n_legs, memory, spread):  # type: ignore[no-untyped-def]
    """One manifold per leg: hold back fills that would disturb another cell of the same leg.

    While a cell finishes its fill (inlet open, pump spinning down) nothing else fills on that leg,
    or it would get the next cell's gas; and only cells close in pressure to the emptiest one fill
    together, or the fuller one would empty itself into the manifold. A bleed waits for a leg whose
    manifold is idle (no inlet open for a fill), and only one cell bleeds at a time.
    """
    lowest = np.full(n_legs, np.inf)
    finishing = np.zeros(n_legs, np.bool_)
    coasting = np.zeros(n_legs, np.bool_)
    busy = np.zeros(n_legs, np.bool_)
    for c in range(reading.shape[0]):
        m = memory[c]
        spun_down = m.inlet == Inlet.COASTING and m.ticks >= LAST_TICK
        if m.inlet == Inlet.FINISHING or (m.inlet == Inlet.COASTING and not spun_down):
            finishing[cell_leg[c]] = True  # its pump still spinning down
        elif spun_down:
            coasting[cell_leg[c]] = True
        elif m.inlet == Inlet.FILLING and reading[c] < lowest[cell_leg[c]]:
            lowest[cell_leg[c]] = reading[c]
    for c in range(reading.shape[0]):
        m = memory[c]
        leg = cell_leg[c]
        spun_down = m.inlet == Inlet.COASTING and m.ticks >= LAST_TICK
        # a coasting cell wants no gas: it closes for any fill or finish of its leg, and the fill
        # waits the tick its inlet takes to close, or the manifold would charge it
        if m.inlet == Inlet.FILLING and (
            finishing[leg] or coasting[leg] or reading[c] > lowest[leg] + spread
        ):
            m.inlet = Inlet.CLOSED
            m.duty = 0.0
        elif spun_down and (finishing[leg] or np.isfinite(lowest[leg])):
            # (while its pump spins down a coasting cell keeps the manifold, like a finishing fill)
            m.inlet = Inlet.CLOSED
            m.duty = 0.0
        if m.inlet == Inlet.FILLING or m.inlet == Inlet.FINISHING or m.inlet == Inlet.COASTING:
            busy[leg] = True
    for c in range(reading.shape[0]):
        m = memory[c]
        if m.inlet == Inlet.BLEEDING:
            if busy[cell_leg[c]]:
                m.inlet = Inlet.CLOSED
            busy[cell_leg[c]] = True


@njit(cache=True)
def _control(  # type: ignore[no-untyped-def]
    setpoint,
    reading,
    manifold,
    sealed,
    settling,
    dt,
    memory,
    tuning,
    cell_leg,
    n_legs,
    out_inlet,
    out_exhaust,
    out_duty,
):
    """One tick of control in one compiled call: decide, share the manifold, write the commands
    (the valve commands, and per leg the highest duty any of its cells asks)."""
    _decide(setpoint, reading, manifold, cell_leg, sealed, settling, dt, memory, tuning)
    _share_manifold(reading, cell_leg, n_legs, memory, tuning.manifold_spread_mmHg)
    out_duty[:] = 0.0
    for c in range(memory.shape[0]):
        m = memory[c]
        out_inlet[c] = m.inlet != Inlet.CLOSED
        out_exhaust[c] = m.exhaust
        out_duty[cell_leg[c]] = max(out_duty[cell_leg[c]], m.duty)


class PressureController:
    """Turns per-cell setpoints and sensed pressures into pump and valve commands."""

    def __init__(
        self, n_cells: int, cell_leg: np.ndarray, n_legs: int, settings: ControllerSettings | None = None
    ):
        self.settings = settings or ControllerSettings()
        self.cell_leg = cell_leg
        self.n_legs = n_legs
        self.memory = np.zeros(n_cells, CONTROL_MEMORY)
        self.memory["exhaust"] = True
        self.memory["previous"] = np.nan
        self.memory["gain"] = self.settings.initial_gain_mmHg_per_s
        self.memory["floor"] = self.settings.min_duty
        self._unsealed = np.zeros(n_cells, bool)
        self._no_manifold = np.full(n_legs, np.nan)  # unknown: no cell bleeds into it
        tuning = np.zeros(1, TUNING)
        for name in _TUNED:
            tuning[name] = getattr(self.settings, name)
        self._tuning = tuning[0]

    def update(
        self,
        setpoint_mmHg: np.ndarray,
        reading_mmHg: np.ndarray,
        dt_s: float,
        out: Commands,
        sealed: np.ndarray | None = None,
        manifold_mmHg: np.ndarray | None = None,
        settling: np.ndarray | None = None,
    ) -> None:
        """Write the valve and pump commands for this tick into ``out``; ``sealed`` cells stay closed.

        ``manifold_mmHg``, each leg's sensed manifold, lets a held cell bleed into it when it is over
        its setpoint; without it such a cell is only vented once far over. ``settling`` cells are
        about to be sealed: they are vented down to their setpoint within the band, never bled.
        """
        _control(
            setpoint_mmHg,
            reading_mmHg,
            self._no_manifold if manifold_mmHg is None else manifold_mmHg,
            self._unsealed if sealed is None else sealed,
            self._unsealed if settling is None else settling,
            dt_s,
            self.memory,
            self._tuning,
            self.cell_leg,
            self.n_legs,
            out.inlet_open,
            out.exhaust_open,
            out.pump_duty,
        )

    def vent_all(self) -> None:
        """Forget every fill, so the next update starts from vented cells (after a pause)."""
        self.memory["inlet"] = Inlet.CLOSED
        self.memory["exhaust"] = True


@dataclass
class HeaterController:
    """On/off heater control with a small hysteresis (a pad is slow: full power or none)."""

    hysteresis_C: float = 0.3
    _off: bool = False  # the last power returned was all zero for a phase without heat

    def power(self, target_C: float | None, skin_C: np.ndarray, current: np.ndarray) -> np.ndarray:
        if target_C is None:
            if not self._off:
                self._off = True
                return np.zeros_like(skin_C)
            return current
        self._off = False
        return _heater_power(target_C, self.hysteresis_C, skin_C, current)


@njit(cache=True)
def _heater_power(
    target_C: float, hysteresis_C: float, skin_C: np.ndarray, current: np.ndarray
) -> np.ndarray:
    """Full power below target − hysteresis, off at the target, unchanged in between."""
    out = current.copy()
    for leg in range(skin_C.shape[0]):
        if skin_C[leg] >= target_C:
            out[leg] = 0.0
        elif skin_C[leg] < target_C - hysteresis_C:
            out[leg] = 1.0
    return out

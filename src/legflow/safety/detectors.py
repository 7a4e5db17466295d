"""Fault detectors of the safety supervisor: raw sensors + the commands in force → a fault.

They read only what the massager reports and what was commanded, and the device's own data (each
cell's volume, the pump's curve); nothing a program says. Each finding names a cell, or a leg for a
pump or a garment (`LEG_DETECTORS`). Thresholds follow docs/safety.md and the trusted
systems it lists, and each beside its constant says what normal operation was measured to do:
- over-pressure: above limit + 10 mmHg for 0.5 s, or above limit + 25 mmHg at once; the manifold's
  sensor is a second signal for every cell open to it once the two have equalised;
- two sensors of one gas: with the inlet open and the pump off, cell and manifold must agree, and one
  tick after an inlet opens to a still manifold most of the gap between them must have closed; a
  gap is a blocked path (a valve stuck closed, a kink) or a lying sensor (`inlet_blocked`,
  `sensor_mismatch`), as is a manifold far above a filling cell;
- no rise while inflating: like a surgical tourniquet's leak alarm, pumping for 2 s without 4 mmHg,
  once the pump has given the cell air enough to raise a sound one (its curve, shared by the open
  cells); a commanded pump that draws no current is dead (`pump_failure`);
- leaks: a sealed cell losing pressure fast, in one stretch or over the short sealed spells between
  top-ups (open to a still manifold with the pump off counts as sealed); a held cell whose inlet is
  open most of the last 2 s while its pressure stays put (`refill_demand`). A slow fall is not
  judged: a squeezed limb empties under a cell, and a cell left sealed on a release ramp falls with
  it;
- valves: a vented cell that stops emptying above a few mmHg (fed by the manifold: an inlet stuck
  open; not: a blocked exhaust); a sealed cell rising with the manifold while the pump fills another;
  a quiet leg's manifold that keeps a sealed cell's pressure;
- frozen sensor: a bit-identical reading for 0.15 s while a valve moves gas, or for 1 s at rest;
- implausible sensor: non-finite or out of range;
- garment off: a fill from vented that has taken twice the inflow this cell's earlier fills took to
  reach 15 mmHg, and is still under it (a bladder off the leg takes about three times a worn one's
  gas before it presses); while a cell fills from vented, its pressure rises five times less per inflow than
  it did earlier in the session (inflow through its inlet orifice ∝ √(manifold − cell pressure),
  both sensed): the bladder balloons freely instead of pressing on a leg (as the Kendall SCD's
  garment alarms); or a held cell falling by several mmHg in one tick;
- heater (as Marlin and Klipper guard 3D-printer heaters): above its limit; current drawn while
  commanded off (a shorted switch); warming 1.5 °C past where it was switched off (a pad coasts up
  to about 1 °C); or not warming by 0.5 °C in the first 60 s at full power (a pad is slower than a
  printer nozzle: Klipper asks 2 °C in 20 s of those), and once it has warmed, cooling by more than
  1 °C in 60 s at full power (the sensor left the pad). A pad that has settled short of its target
  at full power is a weak heater, not a fault.
Each detector is one small compiled function over a cell's memory record, called in turn by one
compiled kernel (`check_cells`), so a 50 Hz supervisor costs microseconds.
"""

from __future__ import annotations

import math
from enum import IntEnum

import numpy as np
from numba import njit

OVER_SUSTAINED_mmHg = 10.0
OVER_SUSTAINED_s = 0.5
OVER_AT_ONCE_mmHg = 25.0
NO_RISE_WINDOW_s = 1.6  # of recent inflating time (5 s memory): about 2 s of continuous pumping
NO_RISE_MIN_mmHg = 4.0
NO_RISE_MEMORY_s = 5.0
#: ... judged only once the pump (its curve from the device profile, at the sensed manifold
#: pressure, shared by the cells open to it) has given the cell air enough to raise a sound one: a
#: quarter of its volume within the window, and one and a half times its volume since it was vented
#: (a slack bladder takes up ~70 % of its volume before it presses; a big cell filling with four
#: others gets a fifth of the pump; a 250 mL boot ankle filled slowly with all four others read
#: 8 mmHg after its whole volume, found by a 20,000-example soak). Where the profile gives no pump
#: curve, time alone judges.
NO_RISE_AIR_FRACTION = 0.25
NO_RISE_SLACK_FRACTION = 1.5
#: A sealed cell that loses its pressure slowly is not judged: a big cell filled to 95 mmHg and
#: left sealed on a release ramp loses 63 mmHg in 3 s to the limb emptying under it (found by the
#: safety soak), as a slow hole would; a hole that matters is fast (the checks below), and one the
#: controller keeps topping up shows as refill demand.
SMOOTHING_s = 0.1  # the decay check follows a filtered reading, so sensor noise does not add up
DECAY_MIN_PRESSURE_mmHg = 10.0
SETTLE_s = 0.2  # after a valve closes, sensor lag and valve travel still move the reading
#: A sealed cell (valves closed and settled) that loses this much within LEAK_WINDOW_s has a hole:
#: the limb emptying under a held cell lets it sag by at most ~5 mmHg in 0.3 s (measured on every
#: built-in program, profile and twin subject), a 1.2 mm hole empties a 60 mmHg calf at ~60 mmHg/s.
LEAK_DROP_mmHg = 9.0
LEAK_WINDOW_s = 0.3
#: The same loss, added up over the sealed ticks of a held cell that the controller keeps topping
#: up (its sealed spells are a tick or a few long, too short for the window above): what the
#: reading loses from tick to tick while sealed, fading over LEAK_MEMORY_s of sealed time (the
#: top-ups between spells neither add nor wipe out). It settles near the loss rate × 0.3 s: a held
#: cell over an emptying limb loses under ~16 mmHg/s at worst (5 mmHg in 0.3 s; with the noise of
#: its readings ~5 mmHg), a 1.2 mm hole 40-60 mmHg/s (12-18 mmHg).
LEAK_MEMORY_s = 0.3
LEAK_SEALED_LOSS_mmHg = 10.0
#: Both losses (this and the fall within LEAK_WINDOW_s) are also at least this much gas, at
#: atmospheric pressure: a cell's pressure falls by its absolute pressure × the gas lost / its
#: volume, so the same loss, or the same few mL of limb yielding under it, shows over twice as fast
#: in a 200 mL calf-sleeve cell as in a 450 mL calf (for which this is the 10 mmHg above at 60 mmHg).
#: (5.5 mL let a hole in a home foot-and-calf's 400 mL calf, made as it filled standing, go 5.2 s:
#: its controller kept it open, leaving a sealed tick or two per top-up. The false-alarm sweep
#: reports how close a sound session's held cells came to it.)
LEAK_SEALED_LOSS_mL = 5.0
ATMOSPHERE_mmHg = 760.0
#: Both losses are judged against a share of the pressure too (whichever is larger): a hole's flow
#: grows with the pressure, and so does the limb's response under a small cell filled fast to a
#: high pressure (a 130 mmHg foot cell sags ~30 mmHg/s for half a second as the sole's veins empty,
#: found by the safety soak).
LEAK_SHARE_OF_PRESSURE = 0.15
LEAK_SEALED_AFTER_s = 0.04  # valve stroke and sensor lag once a valve closes
#: When the supervisor latches on one cell, another held cell whose loss is already this share of
#: a hole's (`leak_evidence`) is a second hole found in the same instant: two holes made at once
#: are found within a few ticks of each other, and 23 of 24 second holes read 0.79-1.07 of a hole's
#: loss as the first latched; one read 0.59 and is missed (`python -m benchmarks.second_holes`: every
#: profile, filling and holding, three postures). The sides overlap: a sound cell read 0.75-0.83
#: at some tick of each of the false-alarm sweep's seeds 0-9; had a fault latched at that tick,
#: that cell would have been listed as a second hole (at most 9.4e-07 of the sound held cell-ticks
#: of seeds 4-9 were at or over this share).
SECOND_LEAK_SHARE = 0.72
#: The pump draws current while it runs (typical 12 V diaphragm pumps: 0.2-2 A): a commanded pump
#: that draws none for this long is dead (a broken motor, wire or driver).
PUMP_MIN_CURRENT_A = 0.04
PUMP_DEAD_s = 0.1
PUMP_MIN_DUTY = 0.15
#: Once a cell's inlet has been open with its leg's pump off for two ticks, cell and manifold hold
#: one gas at one pressure (the manifold is 15 mL behind a 4 mm orifice): their two sensors then
#: agree within ~3 mmHg (measured). A larger gap is a sensor that lies (drift, a stuck element).
EQUALISED_TICKS = 2
MISMATCH_mmHg = 8.0
MISMATCH_s = 0.04  # two such ticks, which need not follow each other (a bleed opens for one)
#: Even one tick after an inlet opens (pump off) the two agree within ~6.5 mmHg (measured): a
#: larger gap then is an inlet that did not open (a held cell bleeding into a manifold that stays
#: low), a kinked tube, or a lying sensor.
MISMATCH_FIRST_TICK_mmHg = 20.0
#: The first tick also says whether gas passed. A cell at least this far from its manifold when
#: its inlet opens (a held cell bleeding into a manifold 10 mmHg or more below it, the controller's
#: BLEED_MIN_DROP_mmHg) or as its pump stops (the manifold leading a fill) is one gas with it a tick
#: later, bar what the spinning-down pump still pushes. Over the fault matrix's sound sessions on six
#: leg models (2026-12-05) the first tick closed at least 78 % of the gap after 8,885 bleeds and at
#: least 49 % of it after 4,889 ends of a fill; through a kinked tube it closed at most 35 % of a
#: bleed's gap and as little as 21 % of a fill's, through an inlet stuck closed nothing. Less than
#: these shares is a blocked path, counted as a mismatching tick; more clears the count.
FIRST_TICK_GAP_mmHg = 8.0
SEALED_CLOSED_SHARE = 0.5
FILLED_CLOSED_SHARE = 0.35
#: A cell vented this long (exhaust open, inlet closed) has let out most of its gas: a 700 mL thigh
#: empties from 60 mmHg in well under a second through its exhaust, a 900 mL one vented from 33 mmHg
#: reads 7 mmHg after 1 s (a fifth), from 96 mmHg 8 mmHg. One still above VENTED_MAX_mmHg and above
#: VENTED_KEPT_SHARE of what it held when the vent began is fed by the manifold (an inlet stuck
#: open: it sits at about half the manifold's pressure) or held back by a kink.
VENTED_s = 1.0
VENTED_MAX_mmHg = 10.0
VENTED_KEPT_SHARE = 0.4
#: With every inlet of a leg closed and its pump stopped, the manifold empties back through the
#: pump's reed valves: after 2 s it reads under 2 mmHg (measured; 15 mmHg after 1 s). One that still
#: holds a sealed cell's pressure is joined to that cell by an inlet that did not close.
MANIFOLD_SAG_s = 2.0
MANIFOLD_HELD_mmHg = 10.0
MANIFOLD_JOINED_mmHg = 5.0
#: ... and has held it for this long: a manifold pumped to 97 mmHg still reads 18 mmHg 2 s after
#: the pump stopped, and on its way down it passes a sealed cell's 6 mmHg within a fraction of a
#: second (a foot cell taken for stuck open, found by a 20,000-example soak); one joined to the
#: cell stays with it.
MANIFOLD_JOINED_s = 0.5
#: Sooner: a sound manifold sags at once as the leg goes quiet, one joined to a held cell keeps its
#: pressure. A manifold that keeps more than this share of what it read as the leg went quiet, for
#: this long, holds a cell's gas: during a hold the controller's top-ups leave quiet spells of well
#: under 2 s (sitting or standing, as the limb empties under the cells, rarely over 0.3 s; with
#: every cell of a leg topped up in turn, rarely over 0.14 s), and cells held alike give no other
#: sign of an inlet stuck open among them. Judged against the highest reading of the quiet spell (a
#: pump spinning down still pushes for a tick or two). `python -m benchmarks.quiet_spells` measures
#: both sides, per number of quiet ticks (results/quiet_spells.md): after 7 ticks a sound manifold
#: kept at most 0.93 of its highest reading (0.95 after 6, 0.91 after 8); one joined to a held cell
#: by a stuck inlet kept 0.86-1.0 in its spells, and every such inlet on six leg models was found
#: within 2.8 s (`python -m benchmarks.fault_latency`). Judged at the 7th tick: an 8th came too late
#: in a recovery boot's held leg, sitting (its stuck calf found 5.5 s after the fault, against 5 s).
MANIFOLD_KEPT_SHARE = 0.97
MANIFOLD_KEPT_s = 0.13  # judged at the 7th quiet tick of 50 Hz, 0.14 s (summed ticks fall just short)
#: ... and which of them: as the safe state vents every cell (the pump stopped), a manifold joined
#: to a cell empties with it, through that cell's exhaust, while the others empty on their own,
#: faster or slower as their size and pressure make them (one held at the same pressure as the
#: joined cell vents about 1 mmHg apart from it, the manifold's 15 mL slowing the joined one). Over
#: the vent's first VENT_NAMING_s, while the manifold is above VENTED_MAX_mmHg, the cell the
#: manifold reads closest to, on average within MANIFOLD_JOINED_mmHg, is the one stuck open
#: (measured: within 0.5 mmHg for the joined cell, 3-10 mmHg for the next closest).
VENT_NAMING_s = 0.5
VENT_NAMING_MIN_TICKS = 5
#: The vent cannot tell apart two cells the manifold reads about as close to: the calf sleeve's
#: two halves, held alike. Measured over every parameter set, posture, leg, profile and timing
#: (432 stuck-open inlets, 253 vents followed, 2026-12-06): where a detector had named the right
#: cell, the vent chose its twin three times, 0.03-0.22 mmHg closer (root-mean-square gap); where
#: a detector had named a wrong cell, that cell was 5.2-12.5 mmHg further than the closest (145
#: times). Within this margin of the closest, the cell a detector named keeps its name.
VENT_NAMING_TIE_mmHg = 2.0
#: A sealed cell rises while its leg's pump runs for other cells only if its inlet did not close:
#: what it gains in those ticks, added up (decayed over FOLLOW_MEMORY_s), stays near zero for a
#: sound cell (noise, a limb refilling under it) and grows with every top-up of its neighbours for
#: a cell joined to the manifold.
FOLLOW_RISE_mmHg = 4.0
FOLLOW_MEMORY_s = 3.0
#: The gains are taken on a filtered reading: the noise of ticks that do not follow each other
#: would add up as a random walk (0.35 mmHg per tick difference, ~3.5 mmHg over 100 ticks).
FOLLOW_FILTER_s = 0.2
#: ... counted only while the cell is within this of the manifold, as a cell joined to it is.
FOLLOW_GAP_mmHg = 10.0
#: A held cell that is pumped into most of the time while its pressure stays put cannot hold its
#: gas (a hole the controller keeps topping up, like a tourniquet's leak alarm after seconds of
#: pumping). Time on a rising ramp is not refilling, nor is an inlet left open with the pump off
#: (a slow ramp coasts that way, waiting for its setpoint).
DEMAND_MAX = 0.55
DEMAND_MEMORY_s = 2.0
DEMAND_MIN_s = 1.5  # of recent time held after a fill, before the share of refilling is judged
RAMP_RATE_mmHg_per_s = 2.0  # a cell rising faster than this (its trend) is being filled, not held
TREND_s = 2.0  # smoothing of the trend: a ramp rises for seconds, a top-up for a tick or two
FROZEN_s = 0.15  # 8 identical samples: sensor noise makes that near impossible while gas moves
#: A live sensor's noise (0.25 mmHg sd over a 0.07 mmHg step) never repeats one value for a second,
#: even on a cell at rest; a frozen element does.
FROZEN_AT_REST_s = 1.0
MANIFOLD_GAP_mmHg = 30.0  # while filling, the manifold can lead the cell by the inlet's drop only
MANIFOLD_GAP_s = 0.1
#: Once a fill is under way (its second tick on), a sound path keeps the manifold within the
#: inlet's drop of the cell, and steady: over the fault matrix's sound sessions on six leg models
#: in three postures (241,363 fills, 2026-12-06) it led by at most 15.0 mmHg after the first tick,
#: and where it led by over 10 it never climbed more than 4.2 mmHg in a tick; over the false-alarm
#: sweep's seed 0 (every program, 2,357,279 fills, on the twin with a thigh conduit: branch
#: thigh-conduit) at most 15.4 and 7.8 mmHg, and no tick climbed over 10. Behind a kinked tube
#: or a closed inlet the pump pressurises the manifold's few mL instead: it climbs 15-20 mmHg a
#: tick, to 33-41 mmHg by the third. A top-up of a held cell lasts two to four ticks, too short for
#: MANIFOLD_GAP_s: where a held calf does not creep over its setpoint and bleed back (a leg whose
#: calf drains into a thigh conduit), a kink went unseen until a later fill, up to 14 s on.
KINKED_LEAD_mmHg = 15.0
KINKED_CLIMB_mmHg = 10.0  # per tick: a lying sensor's offset leads by as much, but does not climb
SENSOR_RANGE_mmHg = (-20.0, 450.0)
HEATER_OFF_RISE_MAX_C = 1.5  # a warm pad still gives the skin up to about 1 °C once switched off
HEATER_ON_RISE_WINDOW_s = 60.0
HEATER_ON_RISE_MIN_C = 0.5
HEATER_ON_FALL_MAX_C = 1.0  # at full power a pad that has warmed may settle, not cool
HEATER_OVER_LIMIT_C = 0.5
#: A heater commanded off draws no current; more than this for HEATER_SHORT_s is a shorted switch
#: (a 6.5 W pad at 12 V draws ~0.5 A; the current sensor's noise is 0.01 A).
HEATER_OFF_MAX_A = 0.05
HEATER_SHORT_s = 0.2
LINK_TIMEOUT_s = 0.2

GARMENT_MIN_DOSE = 0.3  # of inflow, in √mmHg·s, before a fill's stiffness is judged
GARMENT_MEMORY_s = 3.0
GARMENT_FILL_PAUSE_s = 1.0  # a fill that pauses this long has reached its pressure
GARMENT_MIN_PRESSURE_mmHg = 15.0
GARMENT_BANDS_mmHg = (40.0, 70.0)  # stiffness is compared within a pressure band: below 40, 40-70, above
GARMENT_RATIO = 0.2  # a cell that stiffens 5 times less per pumped gas than it did: nothing to press on
#: Weight of each fresh fill in the learned stiffness. Learned per fill, never within one: a
#: per-tick update would follow a garment coming off (the measure moves over its 3 s memory) and
#: learn it as normal before the ratio ever fell under GARMENT_RATIO.
GARMENT_LEARNING_PER_FILL = 0.3
#: A fill must stay that soft this long: its first ticks past the minimum dose are a transient (the
#: manifold leads, the sensor lags) that can dip under the ratio; a bladder off the leg stays soft.
GARMENT_SOFT_s = 0.2
#: ... and sooner, from the gas it takes to press at all. A fill from vented (from within
#: GARMENT_SLACK_FROM_mmHg of 0, its inlet never closed for GARMENT_FILL_PAUSE_s) that has taken
#: GARMENT_SLACK_RATIO times the inflow this cell's earlier such fills took to reach
#: GARMENT_MIN_PRESSURE_mmHg, and is still under it, has no limb to press on: a bladder off the leg
#: takes about three times a worn one's gas before it reads 15 mmHg (its slack and stretch,
#: `SimParameters.garment_off_*`). Measured (2026-12-05): the fault matrix's sound sessions on six
#: leg models took at most 1.15 times their learned inflow (`python -m benchmarks.false_alarms`
#: reports it for every built-in program); an idle garment off trips it 0.6-0.9 s into the next
#: fill. A fill that has not pressed after GARMENT_SLACK_WITHIN_s is not judged (a slow ramp: the
#: other checks remain).
GARMENT_SLACK_FROM_mmHg = 1.5
#: ... after its exhaust has been open this long: a cell let down for a moment between two fills
#: still holds part of its slack (one refilled from 3 mmHg took half the gas, found by a soak).
GARMENT_SLACK_VENTED_s = 0.5
GARMENT_SLACK_RATIO = 2.0
GARMENT_SLACK_WITHIN_s = 5.0
#: Gas is counted where the manifold leads the cell by this much: each sensor's offset is within
#: ~1 mmHg (0.5 mmHg sd), so a lead of about a mmHg, as a slow ramp's, can read as 0 or as 2 (a
#: random program's 1 s ramp to 97 mmHg read as nothing and taught a calf sleeve's knee cell that
#: it presses at once; its next fast fill then tripped the check). A fill teaches only when most of
#: its gas came in on such leads.
GARMENT_SLACK_LEAD_mmHg = 3.0
GARMENT_SLACK_FIRM_SHARE = 0.8
#: A sealed cell whose pressure falls this much from one tick to the next did not leak (a hole
#: takes a tick to lose a mmHg or two): its bladder suddenly has more room, off the leg.
GARMENT_STEP_mmHg = 6.0


class CellFinding(IntEnum):
    """What a cell's detectors found (0: nothing), as the kernel writes it per cell. Its name in
    lower case is the detector's name in events and session summaries; each names what it found, so
    it says whether the cell or its leg is at fault (`LEG_DETECTORS`)."""

    NONE = 0
    OVER_PRESSURE = 1
    NO_PRESSURE_RISE = 2
    PRESSURE_DECAY = 3
    FROZEN_SENSOR = 4
    IMPLAUSIBLE_SENSOR = 5
    GARMENT_OFF = 6
    SENSOR_MISMATCH = 7
    INLET_BLOCKED = 8
    VALVE_STUCK_OPEN = 9
    PUMP_FAILURE = 10
    EXHAUST_BLOCKED = 11
    REFILL_DEMAND = 12


#: Detector names by code, as reported in events and session summaries.
CELL_DETECTORS = {int(f): f.name.lower() for f in CellFinding if f is not CellFinding.NONE}
#: Detectors whose finding belongs to the whole leg (its pump, its garment), not to one cell.
LEG_DETECTORS = {"pump_failure", "garment_off"}
#: What each detector's finding is, as a fault kind (those of `legflow.device.faults`) where it
#: names one: the detector says how a fault was found, the kind what it is (a sealed cell losing
#: pressure fast is a leak). A finding that fits several kinds (a blocked inlet: a valve stuck
#: closed or a kinked tube; a sensor that disagrees with the manifold) keeps its detector's name.
FAULT_KIND_OF = {
    "pressure_decay": "leak",
    "refill_demand": "leak",
    "frozen_sensor": "sensor_stuck",
    "valve_stuck_open": "valve_stuck_open",
    "pump_failure": "pump_failure",
    "garment_off": "garment_off",
    "thermal_runaway": "heater_runaway",
    "link_lost": "link_loss",
}


def fault_kind(detector: str) -> str:
    """The kind of fault a detector's finding is (see `FAULT_KIND_OF`), else the detector's name."""
    return FAULT_KIND_OF.get(detector, detector)


#: Per-cell memory of the detectors: one record per cell, which the kernel updates in place.
CELL_MEMORY = np.dtype(
    [
        ("over_since", "f8"),  # when the reading went over limit + 10 mmHg (-1: it is not)
        ("inflate_s", "f8"),  # recent inflating time (decayed) ...
        ("inflate_rise", "f8"),  # ... and the rise it gave ...
        ("inflate_air", "f8"),  # ... and the air the pump gave it, mL
        ("fill_air", "f8"),  # air the pump gave it since it was last vented, mL
        ("same_s", "f8"),  # gas-moving time with a bit-identical reading
        ("same_rest_s", "f8"),  # any time with a bit-identical reading
        ("vented_s", "f8"),  # how long the cell has been vented to air ...
        ("vented_from", "f8"),  # ... and its reading when the vent began
        ("previous", "f8"),  # the last reading (NaN before the first)
        ("still_s", "f8"),  # how long both valves have been closed
        ("gap_s", "f8"),  # how long the manifold has led the filling cell too far
        ("smooth", "f8"),  # filtered reading for the decay check
        ("after_fill", "?"),  # the last valve to act was the inlet
        ("dose", "f8"),  # recent inflow into the cell, ∫√(manifold − cell) dt (decayed) ...
        ("dose_rise", "f8"),  # ... and the rise it gave
        # rise per inflow learned on earlier fills, per pressure band (a cell stiffens as it fills)
        ("stiffness", "f8", (len(GARMENT_BANDS_mmHg) + 1,)),  # 0: not learned yet
        ("held_s", "f8"),  # recent time held with gas after a fill (decayed) ...
        ("refilling_s", "f8"),  # ... and of which the inlet was open (not on a ramp)
        ("trend", "f8"),  # the reading's smoothed rate of change, mmHg/s
        ("sealed_loss", "f8"),  # its loss in sealed ticks of a held cell, fading over sealed time
        ("fresh", "?"),  # filling from vented, not yet paused
        ("fill_sum", "f8"),  # the fresh fill's rise per inflow, summed over its judged ticks ...
        ("fill_ticks", "f8"),  # ... how many (0: none yet) ...
        ("fill_band", "i8"),  # ... and their pressure band
        ("soft_s", "f8"),  # how long this fill has been far softer than learned
        ("slack_state", "i8"),  # 0: not measured; 3: venting; 1: vented, ready; 2: filling from vented
        ("slack_intake", "f8"),  # the fill's inflow so far, ∫√(manifold − cell) dt ...
        ("slack_firm", "f8"),  # ... the part of it while the manifold led firmly ...
        ("slack_s", "f8"),  # ... and for how long it has filled (while venting: vented)
        ("slack_learned", "f8"),  # ... and what earlier fills took to press (0: not learned yet)
        ("equalised", "i8"),  # ticks with the inlet open and the leg's pump off
        ("mismatch_s", "f8"),  # how long cell and manifold have disagreed once equalised
        ("gap_before", "f8"),  # manifold − cell at the last tick
        ("window_t", "f8"),  # start of the sealed-loss window ...
        ("window_p", "f8"),  # ... and the filtered reading then (NaN: no window)
        ("follow_rise", "f8"),  # what it gained sealed while its leg pumped (decayed) ...
        ("lowpass", "f8"),  # ... on a reading filtered over FOLLOW_FILTER_s (noise would add up)
        ("joined_s", "f8"),  # how long its leg's manifold has read within MANIFOLD_JOINED_mmHg of it
        ("filling_ticks", "i8"),  # ticks into the fill under way (0: not filling) ...
        ("filling_lead", "f8"),  # ... and manifold − cell at its last tick
    ],
    align=True,
)


#: Per-leg memory of the detectors, one record per leg.
LEG_MEMORY = np.dtype(
    [
        ("dead_s", "f8"),  # how long its commanded pump has drawn no current
        ("quiet_s", "f8"),  # how long it has been quiet: every inlet closed, the pump stopped ...
        ("quiet_from", "f8"),  # ... and its manifold's highest reading since, mmHg
    ],
    align=True,
)


def leg_memory(n_legs: int) -> np.ndarray:
    """Fresh per-leg detector memory for ``n_legs`` legs."""
    return np.zeros(n_legs, LEG_MEMORY)


def cell_memory(n_cells: int) -> np.ndarray:
    """Fresh detector memory for ``n_cells`` cells (at the start, and after a user's reset)."""
    memory = np.zeros(n_cells, CELL_MEMORY)
    memory["over_since"] = -1.0
    memory["slack_state"] = 1  # a session starts with its cells vented (one that is not reads so)
    for name in ("previous", "smooth", "window_p", "lowpass"):
        memory[name] = np.nan
    return memory


@njit(cache=True)
def check_cells(  # type: ignore[no-untyped-def]
    t,
    dt,
    reading,
    leg_manifold,
    inlet,
    exhaust,
    leg_duty,
    leg_current,
    relay_open,
    cell_leg,
    limit,
    volume_mL,
    pump_mL_per_s,
    pump_shutoff_mmHg,
    memory,
    legs,
    found,
):
    """Update the detectors' ``memory`` (`CELL_MEMORY` records) with one sample; write each
    cell's finding (a `CellFinding`, 0: none) into ``found`` and return how many cells have one.

    ``inlet``, ``exhaust``: the valve commands in force during the last ``dt`` seconds;
    ``leg_manifold``, ``leg_duty``, ``leg_current``: each leg's sensed manifold pressure, pump
    duty and pump current; ``cell_leg`` the leg of each cell; ``relay_open``: the device reports
    its relay open; ``limit``: per-cell limit; ``volume_mL``: per-cell volume (the profile's);
    ``pump_mL_per_s``, ``pump_shutoff_mmHg``: the pump's curve (free flow 0: unknown);
    ``legs``: per-leg memory (`LEG_MEMORY` records).
    """
    n_found = 0
    low, high = SENSOR_RANGE_mmHg
    n_legs = leg_manifold.shape[0]
    # a commanded pump that draws no current is dead: the leg's fault, found on its first cell
    dead = np.zeros(n_legs, np.bool_)
    for leg in range(n_legs):
        if leg_duty[leg] >= PUMP_MIN_DUTY and not relay_open and leg_current[leg] < PUMP_MIN_CURRENT_A:
            legs[leg].dead_s += dt
            dead[leg] = legs[leg].dead_s >= PUMP_DEAD_s
        else:
            legs[leg].dead_s = 0.0
        legs[leg].quiet_s = 0.0 if leg_duty[leg] > 0.0 or relay_open else legs[leg].quiet_s + dt
    open_cells = np.zeros(n_legs)
    for c in range(reading.shape[0]):
        if inlet[c]:
            legs[cell_leg[c]].quiet_s = 0.0
            if not exhaust[c]:
                open_cells[cell_leg[c]] += 1.0
    for c in range(reading.shape[0]):
        m = memory[c]
        p = reading[c]
        leg = cell_leg[c]
        code = CellFinding.NONE
        if not math.isfinite(p) or p < low or p > high:
            code = CellFinding.IMPLAUSIBLE_SENSOR
            p = m.previous if math.isfinite(m.previous) else 0.0
        manifold = leg_manifold[leg]
        pumping = leg_duty[leg] > 0.0 and not relay_open
        change = 0.0 if math.isnan(m.previous) else p - m.previous
        filling = inlet[c] and pumping and not exhaust[c]
        sealed = not inlet[c] and not exhaust[c]
        # each detector in turn; a finding already made this tick stands (over-pressure and a dead
        # pump take precedence)
        code = _over_pressure(m, t, p, manifold, limit[c], inlet[c], exhaust[c], pumping, code)
        code = _sensor_mismatch(m, dt, p, manifold, code)
        # air the pump gave the cell this tick, shared by the cells open to it (inf: no pump curve)
        air = math.inf
        if pump_mL_per_s > 0.0:
            speed = min(1.0, leg_duty[leg]) - max(0.0, manifold) / pump_shutoff_mmHg
            air = pump_mL_per_s * max(0.0, speed) * dt / max(1.0, open_cells[leg])
        code = _no_rise(
            m, dt, p, change, manifold, filling, exhaust[c], air, volume_mL[c], leg_current[leg], code
        )
        m.still_s = m.still_s + dt if sealed else 0.0
        if inlet[c] or exhaust[c]:
            m.after_fill = inlet[c]
        code = _leak(m, t, dt, p, change, sealed, exhaust[c], volume_mL[c], code)
        code = _follows_manifold(m, dt, p, manifold, sealed, pumping, code)
        code = _garment_fill(m, dt, p, change, manifold, filling, code)
        code = _garment_slack(m, dt, p, manifold, inlet[c], exhaust[c], code)
        code = _refill_demand(m, dt, p, change, filling, exhaust[c], code)
        code = _manifold_gap(m, dt, p, manifold, filling, code)
        code = _frozen(m, dt, p, change, filling, exhaust[c], code)
        code = _vented(m, dt, p, manifold, inlet[c], exhaust[c], code)
        m.previous = p
        if dead[leg]:
            code = CellFinding.PUMP_FAILURE
            dead[leg] = False
        found[c] = code
    # a quiet leg's manifold still at a sealed cell's pressure: that cell's inlet is open
    for leg in range(n_legs):
        quiet = legs[leg]
        # (the highest reading of the spell: a pump spinning down still pushes for a tick or two)
        if quiet.quiet_s == 0.0 or leg_manifold[leg] > quiet.quiet_from:
            quiet.quiet_from = leg_manifold[leg]
        kept = _kept_share(quiet.quiet_s, quiet.quiet_from, leg_manifold[leg]) > 1.0
        if (quiet.quiet_s < MANIFOLD_SAG_s and not kept) or leg_manifold[leg] < MANIFOLD_HELD_mmHg:
            continue
        # of the sealed cells that have stayed at the manifold's pressure, the one the controller
        # has had to top up most (the manifold leaks its gas back through the pump's reeds)
        joined, demand = -1, -np.inf
        for c in range(reading.shape[0]):
            m = memory[c]
            near = m.joined_s >= MANIFOLD_JOINED_s
            share = m.refilling_s / max(m.held_s, dt) + 1e-3 * m.follow_rise
            if cell_leg[c] == leg and not exhaust[c] and near and share > demand:
                joined, demand = c, share
        if joined >= 0 and found[joined] == CellFinding.NONE:
            found[joined] = CellFinding.VALVE_STUCK_OPEN
    for c in range(reading.shape[0]):
        if found[c] != CellFinding.NONE:
            n_found += 1
    return n_found


@njit(cache=True)
def _over_pressure(m, t, p, manifold, limit, inlet, exhaust, pumping, code):  # type: ignore[no-untyped-def]
    """Over the limit + 25 mmHg at once, or + 10 for 0.5 s by the cell's sensor or, once the two
    have equalised, the manifold's: a second, independent signal for the limit."""
    m.equalised = m.equalised + 1 if inlet and not exhaust and not pumping else 0
    equalised = m.equalised >= EQUALISED_TICKS
    # (sustained only: a manifold far above a cell it cannot reach is a blocked inlet, below)
    worst = max(p, manifold) if equalised else p
    if p > limit + OVER_AT_ONCE_mmHg:
        code = CellFinding.OVER_PRESSURE
    elif worst > limit + OVER_SUSTAINED_mmHg:
        if m.over_since < 0:
            m.over_since = t
        elif t - m.over_since >= OVER_SUSTAINED_s:
            code = CellFinding.OVER_PRESSURE
    else:
        m.over_since = -1.0
    return code


@njit(cache=True)
def _sensor_mismatch(m, dt, p, manifold, code):  # type: ignore[no-untyped-def]
    """The two sensors of one gas disagree: the cell's sensor lies (its leg's other cells agree), or
    the path between them is blocked (the time adds up over interrupted openings, and agreement
    once equalised clears it)."""
    equalised = m.equalised >= EQUALISED_TICKS
    gap = manifold - p
    # the first tick open to a still manifold: did gas pass? (from a sealed cell, or a fill's end)
    first = m.equalised == 1 and abs(m.gap_before) >= FIRST_TICK_GAP_mmHg
    needed = SEALED_CLOSED_SHARE if m.still_s > 0.0 else FILLED_CLOSED_SHARE
    blocked = first and abs(gap) > (1.0 - needed) * abs(m.gap_before)
    m.gap_before = gap
    if first and not blocked:
        m.mismatch_s = 0.0  # gas passed: the path is open
    if (
        blocked
        or (m.equalised >= 1 and abs(gap) > MISMATCH_FIRST_TICK_mmHg)
        or (equalised and abs(gap) > MISMATCH_mmHg)
    ):
        m.mismatch_s += dt
        if m.mismatch_s >= MISMATCH_s - 1e-9 and code == CellFinding.NONE:
            # gas that cannot leave the cell, or cannot reach it, is a blocked path; a cell
            # that rose while fed, then reads under the gas that fed it, has a lying sensor
            code = (
                CellFinding.INLET_BLOCKED
                if gap < 0.0 or m.inflate_rise < NO_RISE_MIN_mmHg
                else CellFinding.SENSOR_MISMATCH
            )
    elif equalised:
        m.mismatch_s = 0.0
    return code


@njit(cache=True)
def _no_rise(m, dt, p, change, manifold, filling, exhaust, air, volume_mL, pump_current, code):  # type: ignore[no-untyped-def]
    """No rise while inflating: the rise over recent inflating time, once the pump has given the
    cell ``air`` (mL this tick) enough to raise a sound one; a pump drawing no current is dead, a
    manifold far above the cell a blocked inlet."""
    keep_inflate = math.exp(-dt / NO_RISE_MEMORY_s)
    m.inflate_s *= keep_inflate
    m.inflate_rise *= keep_inflate
    m.inflate_air *= keep_inflate
    if exhaust:
        m.fill_air = 0.0
    if filling:
        m.inflate_s += dt
        m.inflate_rise += change
        m.inflate_air += air
        m.fill_air += air
        fed = (
            m.inflate_air >= NO_RISE_AIR_FRACTION * volume_mL
            and m.fill_air >= NO_RISE_SLACK_FRACTION * volume_mL
        )
        if (
            m.inflate_s >= NO_RISE_WINDOW_s
            and m.inflate_rise < NO_RISE_MIN_mmHg
            and fed
            and code == CellFinding.NONE
        ):
            if pump_current < PUMP_MIN_CURRENT_A:
                code = CellFinding.PUMP_FAILURE
            elif manifold - p > MANIFOLD_GAP_mmHg:
                code = CellFinding.INLET_BLOCKED
            else:
                code = CellFinding.NO_PRESSURE_RISE
    return code


@njit(cache=True)
def _leak(m, t, dt, p, change, sealed, exhaust, volume_mL, code):  # type: ignore[no-untyped-def]
    """A held cell losing its gas: a one-tick step down (a garment off: its bladder suddenly has
    room), a fast fall within LEAK_WINDOW_s, or a fast loss summed over its sealed ticks between
    the controller's top-ups."""
    # a cell held after a fill must keep its pressure; after a vent step it is being released
    holding = m.after_fill and m.still_s > SETTLE_s and p > DECAY_MIN_PRESSURE_mmHg
    # a one-tick step down in a held, settled cell (judged on where it was held, which may be far
    # above where it fell to)
    was_held = m.after_fill and m.still_s > SETTLE_s and m.previous > DECAY_MIN_PRESSURE_mmHg
    if sealed and was_held and -change > GARMENT_STEP_mmHg and code == CellFinding.NONE:
        code = CellFinding.GARMENT_OFF
    if holding and math.isfinite(m.smooth):
        smoothed = m.smooth + dt / (SMOOTHING_s + dt) * (p - m.smooth)
        if math.isnan(m.window_p) or t - m.window_t >= LEAK_WINDOW_s:
            m.window_t, m.window_p = t, smoothed
        elif (
            m.window_p - smoothed > _leak_threshold(LEAK_DROP_mmHg, p, volume_mL) and code == CellFinding.NONE
        ):
            code = CellFinding.PRESSURE_DECAY
        m.smooth = smoothed
    else:
        m.smooth = p  # the filter starts afresh once the valves have settled
        m.window_p = np.nan
    # a held cell losing gas fast in its sealed ticks, however short the controller's top-ups
    # leave them
    # (only once the valves have settled: what gas did through a closing valve is not counted)
    # (the memory fades over sealed time only: the top-ups between the spells must not wipe out
    # what the spells lost; a vent or a fall under the minimum clears it)
    keep_loss = math.exp(-dt / LEAK_MEMORY_s)
    if exhaust or p <= DECAY_MIN_PRESSURE_mmHg:
        m.sealed_loss = 0.0
    # (open to a still manifold, the pump off, counts as sealed once the two are one gas: nothing
    # feeds them, and the manifold's back-leak through the pump's reeds is about 1 mL/s; a holed
    # cell the controller keeps open, its fills ending in spin-downs, is rarely sealed at all)
    still_gas = (sealed and m.still_s > LEAK_SEALED_AFTER_s) or m.equalised >= EQUALISED_TICKS
    if still_gas and m.after_fill and p > DECAY_MIN_PRESSURE_mmHg:
        m.sealed_loss = m.sealed_loss * keep_loss + max(0.0, -change)
        if m.sealed_loss > _leak_threshold(LEAK_SEALED_LOSS_mmHg, p, volume_mL) and code == CellFinding.NONE:
            code = CellFinding.PRESSURE_DECAY
    return code


@njit(cache=True)
def _leak_threshold(least_mmHg, p, volume_mL):  # type: ignore[no-untyped-def]
    """A held cell's loss that is a hole: at least ``least_mmHg``, a share of its pressure, and
    LEAK_SEALED_LOSS_mL of gas (a small cell over a limb that yields a few mL sags as far as a big
    one over a hole)."""
    as_gas = LEAK_SEALED_LOSS_mL * (ATMOSPHERE_mmHg + p) / volume_mL
    return max(least_mmHg, LEAK_SHARE_OF_PRESSURE * p, as_gas)


@njit(cache=True)
def leak_evidence(memory, reading, volume_mL):  # type: ignore[no-untyped-def]
    """Each cell's loss as a share of what `_leak` judges a hole (1: found), from its window and
    its sealed ticks: read as the supervisor latches on one cell, it shows another cell's hole
    found in the same instant but for the noise of a tick or two."""
    share = np.zeros(reading.shape[0])
    for c in range(reading.shape[0]):
        m, p = memory[c], reading[c]
        if not math.isfinite(p) or not m.after_fill or p <= DECAY_MIN_PRESSURE_mmHg:
            continue
        sealed = m.sealed_loss / _leak_threshold(LEAK_SEALED_LOSS_mmHg, p, volume_mL[c])
        window = 0.0
        if math.isfinite(m.window_p) and math.isfinite(m.smooth):
            window = (m.window_p - m.smooth) / _leak_threshold(LEAK_DROP_mmHg, p, volume_mL[c])
        share[c] = max(sealed, window)
    return share


@njit(cache=True)
def _follows_manifold(m, dt, p, manifold, sealed, pumping, code):  # type: ignore[no-untyped-def]
    """A sealed cell that rises with its leg's manifold while the pump fills another cell: its inlet
    did not close. Also keeps how long the manifold has read the cell's pressure (`joined_s`)."""
    m.follow_rise *= math.exp(-dt / FOLLOW_MEMORY_s)
    # (the filter runs only while the cell is sealed and settled: it must not catch up on a fill)
    settled_seal = sealed and m.still_s > SETTLE_s
    if settled_seal and math.isfinite(m.lowpass):
        lowpass = m.lowpass + (p - m.lowpass) * dt / (FOLLOW_FILTER_s + dt)
    else:
        lowpass = p
    # (a cell joined to the manifold sits at its pressure: one far from it gains from its limb,
    # filling with blood its squeezed neighbours push up)
    joined = abs(manifold - p) < FOLLOW_GAP_mmHg
    if settled_seal and pumping and joined and math.isfinite(m.lowpass):
        m.follow_rise += lowpass - m.lowpass
        if m.follow_rise > FOLLOW_RISE_mmHg and manifold > p and code == CellFinding.NONE:
            code = CellFinding.VALVE_STUCK_OPEN
    m.lowpass = lowpass
    m.joined_s = m.joined_s + dt if abs(manifold - p) < MANIFOLD_JOINED_mmHg else 0.0
    return code


@njit(cache=True)
def _garment_fill(m, dt, p, change, manifold, filling, code):  # type: ignore[no-untyped-def]
    """Garment off: a fresh fill rising far less per pumped gas than this cell's earlier fills."""
    keep_dose = math.exp(-dt / GARMENT_MEMORY_s)
    m.dose *= keep_dose
    m.dose_rise *= keep_dose
    # below the minimum the slack bladder takes up gas; a falling reading is a backflow into a
    # manifold that has not caught up yet, not a measure of the cell
    # only fresh fills (from vented, until the first pause) are judged: a top-up of a held cell
    # races the limb emptying under it, so its rise per inflow says nothing about the garment
    if p < GARMENT_MIN_PRESSURE_mmHg or m.still_s >= GARMENT_FILL_PAUSE_s:
        _learn_fill(m)  # the fresh fill has ended: what it measured teaches the cell's stiffness
    if p < GARMENT_MIN_PRESSURE_mmHg:
        m.fresh = True
    elif m.still_s >= GARMENT_FILL_PAUSE_s:
        m.fresh = False
    if filling and m.fresh and p > GARMENT_MIN_PRESSURE_mmHg and change >= 0.0:
        m.dose += math.sqrt(max(0.0, manifold - p)) * dt
        m.dose_rise += change
        if m.dose >= GARMENT_MIN_DOSE:
            now = m.dose_rise / m.dose
            band = 0
            while band < len(GARMENT_BANDS_mmHg) and p >= GARMENT_BANDS_mmHg[band]:
                band += 1
            if band != m.fill_band:
                _learn_fill(m)  # the fill has left the band it was measured in
            m.fill_band = band
            m.fill_sum += now
            m.fill_ticks += 1.0
            # judged against earlier fills only: what this fill measures is learned once it
            # ends, so a garment coming off during a fill cannot teach itself as normal
            m.soft_s = m.soft_s + dt if 0.0 < now < GARMENT_RATIO * m.stiffness[band] else 0.0
            if m.soft_s >= GARMENT_SOFT_s and code == CellFinding.NONE:
                code = CellFinding.GARMENT_OFF
    return code


@njit(cache=True)
def _garment_slack(m, dt, p, manifold, inlet, exhaust, code):  # type: ignore[no-untyped-def]
    """Garment off: a fill from vented that has taken far more gas than this cell's earlier fills
    took to press (to reach GARMENT_MIN_PRESSURE_mmHg), and still does not press. Gas is counted
    only where the manifold leads the cell by GARMENT_SLACK_LEAD_mmHg or more (`slack_firm`): a
    slow fill that follows its ramp leads by about a mmHg, which the two sensors' offsets swamp.
    ``slack_state``: 0 not measured, 3 venting, 1 vented (ready), 2 filling from vented."""
    if exhaust:
        if m.slack_state == 1 and abs(p) < GARMENT_SLACK_FROM_mmHg:
            return code  # still vented
        if m.slack_state != 3:
            m.slack_state, m.slack_s = 3, 0.0
        m.slack_s += dt
        # vented long enough to read about 0: one that reads far from 0 has a sensor fault (its
        # fill would seem to take too much gas, or too little, to press), found by other checks
        if abs(p) < GARMENT_SLACK_FROM_mmHg and m.slack_s >= GARMENT_SLACK_VENTED_s:
            m.slack_state = 1
        return code
    if not inlet:
        # a vented cell may rest sealed; a fill that pauses before it presses is not measured
        if (
            m.slack_state == 3
            or (m.slack_state == 1 and abs(p) >= GARMENT_SLACK_FROM_mmHg)
            or m.still_s >= GARMENT_FILL_PAUSE_s
        ):
            m.slack_state = 0
        return code
    if m.slack_state == 1 and abs(p) < GARMENT_SLACK_FROM_mmHg:
        m.slack_intake, m.slack_firm, m.slack_s = 0.0, 0.0, 0.0
    elif m.slack_state != 2:
        m.slack_state = 0
        return code
    m.slack_state = 2
    m.slack_s += dt
    lead = manifold - p
    m.slack_intake += math.sqrt(max(0.0, lead)) * dt
    if lead >= GARMENT_SLACK_LEAD_mmHg:
        m.slack_firm += math.sqrt(lead) * dt
    learned = m.slack_learned
    if p >= GARMENT_MIN_PRESSURE_mmHg or m.slack_s > GARMENT_SLACK_WITHIN_s:
        # only a fill measured on firm leads teaches what pressing takes
        if p >= GARMENT_MIN_PRESSURE_mmHg and m.slack_firm >= GARMENT_SLACK_FIRM_SHARE * m.slack_intake:
            step = 1.0 if learned <= 0.0 else GARMENT_LEARNING_PER_FILL
            m.slack_learned = learned + step * (m.slack_firm - learned)
        m.slack_state = 0
    elif learned > 0.0 and m.slack_firm > GARMENT_SLACK_RATIO * learned and code == CellFinding.NONE:
        code = CellFinding.GARMENT_OFF
    return code


@njit(cache=True)
def _kept_share(quiet_s, quiet_from, manifold):  # type: ignore[no-untyped-def]
    """How far a quiet manifold is towards the stuck-open finding: what it kept of its highest
    reading over MANIFOLD_KEPT_SHARE (more than 1 trips), once quiet for MANIFOLD_KEPT_s (0 before)."""
    if quiet_s < MANIFOLD_KEPT_s or quiet_from <= 0.0:
        return 0.0
    return manifold / (MANIFOLD_KEPT_SHARE * quiet_from)


def manifold_kept_share(legs: np.ndarray, manifold_mmHg: np.ndarray) -> np.ndarray:
    """Per leg, `_kept_share` of its manifold now (0 under MANIFOLD_HELD_mmHg, where it is not
    judged), so a sweep of sound sessions can report the margin of the stuck-open finding."""
    return np.array(
        [
            _kept_share(leg["quiet_s"], leg["quiet_from"], now) if now >= MANIFOLD_HELD_mmHg else 0.0
            for leg, now in zip(legs, manifold_mmHg, strict=True)
        ]
    )


def garment_slack_share(memory: np.ndarray) -> np.ndarray:
    """Per cell, how far its fill from vented is towards the `garment_off` slack finding: its
    inflow so far over GARMENT_SLACK_RATIO × what its earlier fills took to press (1 trips; 0 for
    a cell not measured now), so a sweep of sound sessions can report its margin."""
    live = (memory["slack_state"] == 2) & (memory["slack_learned"] > 0.0)
    learned = np.where(live, memory["slack_learned"], 1.0)
    return np.where(live, memory["slack_firm"] / (GARMENT_SLACK_RATIO * learned), 0.0)


@njit(cache=True)
def _refill_demand(m, dt, p, change, filling, exhaust, code):  # type: ignore[no-untyped-def]
    """A held cell pumped into most of the time while its pressure stays put: a hole the controller
    keeps topping up (a rising ramp is not refilling)."""
    if dt > 0.0:
        m.trend += (change / dt - m.trend) * dt / (TREND_s + dt)
    keep_demand = math.exp(-dt / DEMAND_MEMORY_s)
    m.held_s *= keep_demand
    m.refilling_s *= keep_demand
    if m.after_fill and not exhaust and p > DECAY_MIN_PRESSURE_mmHg:
        m.held_s += dt
        if filling and m.trend < RAMP_RATE_mmHg_per_s:
            m.refilling_s += dt
        if m.held_s >= DEMAND_MIN_s and m.refilling_s > DEMAND_MAX * m.held_s and code == CellFinding.NONE:
            code = CellFinding.REFILL_DEMAND
    return code


@njit(cache=True)
def _manifold_gap(m, dt, p, manifold, filling, code):  # type: ignore[no-untyped-def]
    """The manifold far above a filling cell: its path is blocked (a stuck inlet, a kink), or its
    sensor reads low while the gas goes in (then its reading still rises). The time adds up over
    interrupted fills: a controller alternating cells must not hide it. Sooner, in a fill under way,
    a manifold that climbs away from the cell tick by tick past KINKED_LEAD_mmHg is blocked."""
    lead = manifold - p
    if filling:
        m.filling_ticks += 1
        climbing = lead > KINKED_LEAD_mmHg and lead - m.filling_lead > KINKED_CLIMB_mmHg
        if m.filling_ticks >= 2 and climbing and code == CellFinding.NONE:
            code = CellFinding.INLET_BLOCKED
        m.filling_lead = lead
    else:
        m.filling_ticks = 0
    if filling and lead > MANIFOLD_GAP_mmHg:
        m.gap_s += dt
        if m.gap_s >= MANIFOLD_GAP_s and code == CellFinding.NONE:
            code = (
                CellFinding.INLET_BLOCKED
                if m.inflate_rise < NO_RISE_MIN_mmHg
                else CellFinding.SENSOR_MISMATCH
            )
    elif filling:
        m.gap_s = 0.0
    return code


@njit(cache=True)
def _frozen(m, dt, p, change, filling, exhaust, code):  # type: ignore[no-untyped-def]
    """A frozen sensor: bit-identical while gas moves, or for a second at any time (gas-moving time
    adds up until the reading changes, however the valves take turns)."""
    moving = filling or (exhaust and p > DECAY_MIN_PRESSURE_mmHg)
    if change != 0.0:
        m.same_s = 0.0
        m.same_rest_s = 0.0
    else:
        m.same_rest_s += dt
        if moving:
            m.same_s += dt
        if (m.same_s >= FROZEN_s or m.same_rest_s >= FROZEN_AT_REST_s) and code == CellFinding.NONE:
            code = CellFinding.FROZEN_SENSOR
    return code


@njit(cache=True)
def _vented(m, dt, p, manifold, inlet, exhaust, code):  # type: ignore[no-untyped-def]
    """Vented to air for a while, the reading must be near zero: gas still coming in from the
    manifold is an inlet that did not close, gas kept in a blocked exhaust."""
    if exhaust and not inlet:
        if m.vented_s == 0.0:
            m.vented_from = m.previous if math.isfinite(m.previous) else p
        m.vented_s += dt
        kept = p > VENTED_KEPT_SHARE * m.vented_from
        if (
            m.vented_s >= VENTED_s
            and abs(p) > VENTED_MAX_mmHg
            and (kept or p < 0.0)
            and code == CellFinding.NONE
        ):
            if p > 0.0 and manifold > p:
                code = CellFinding.VALVE_STUCK_OPEN
            elif p > 0.0:
                code = CellFinding.EXHAUST_BLOCKED
            else:
                code = CellFinding.IMPLAUSIBLE_SENSOR
    else:
        m.vented_s = 0.0
    return code


@njit(cache=True)
def _learn_fill(m):  # type: ignore[no-untyped-def]
    """Fold a fresh fill's mean rise per inflow in its pressure band (``m.fill_sum`` over
    ``m.fill_ticks``, band ``m.fill_band``) into the cell's learned stiffness, once per fill; a fill
    over twice as stiff as learned is an outlier (a backflow, a knock) and teaches nothing."""
    if m.fill_ticks <= 0.0:
        return
    mean = m.fill_sum / m.fill_ticks
    learned = m.stiffness[m.fill_band]
    if learned <= 0.0:
        m.stiffness[m.fill_band] = mean
    elif mean < 2.0 * learned:
        m.stiffness[m.fill_band] = learned + GARMENT_LEARNING_PER_FILL * (mean - learned)
    m.fill_sum, m.fill_ticks, m.soft_s = 0.0, 0.0, 0.0


#: Per-leg memory of the heater detectors.
HEATER_MEMORY = np.dtype(
    [
        ("off_since", "f8"),  # when the heater was switched off (-1: it is on)
        ("temp_when_off", "f8"),  # ... and the temperature then
        ("full_since", "f8"),  # when full power began below the limit (-1: not at full power)
        ("temp_when_full", "f8"),  # ... and the temperature then
        ("warmed", "?"),  # it has warmed since full power began: the sensor sees the pad
        ("short_s", "f8"),  # how long it has drawn current while commanded off
    ],
    align=True,
)


def heater_memory(n_legs: int) -> np.ndarray:
    """Fresh heater detector memory for ``n_legs`` legs."""
    memory = np.zeros(n_legs, HEATER_MEMORY)
    memory["off_since"] = -1.0
    memory["full_since"] = -1.0
    return memory


class HeaterFinding(IntEnum):
    """What the heater detectors found on a leg (0: nothing); the name in lower case is the
    detector's name, as for `CellFinding`."""

    NONE = 0
    IMPLAUSIBLE_SENSOR = 1
    OVER_TEMPERATURE = 2
    THERMAL_RUNAWAY = 3
    HEATER_FAULT = 4


#: Each heater finding's detector name and message, by code.
HEATER_DETECTORS = {
    int(finding): (finding.name.lower(), message)
    for finding, message in [
        (HeaterFinding.IMPLAUSIBLE_SENSOR, "skin temperature sensor reads nonsense"),
        (HeaterFinding.OVER_TEMPERATURE, "the skin is over its temperature limit"),
        (
            HeaterFinding.THERMAL_RUNAWAY,
            "the pad heats (draws current or keeps warming) with its heater switched off",
        ),
        (HeaterFinding.HEATER_FAULT, "full heater power but the pad does not warm (sensor off the pad?)"),
    ]
}


def check_heaters(
    t: float,
    dt: float,
    temp_C: np.ndarray,
    power: np.ndarray,
    limit_C: float,
    memory: np.ndarray,
    current_A: np.ndarray | None = None,
) -> tuple[str, int, str] | None:
    """Return (detector, leg, message) for the first heater fault, or None; updates ``memory``
    (`HEATER_MEMORY` records). ``current_A``: each heater's current, where the device reports it."""
    if current_A is None:  # the device does not measure it: the temperature checks alone
        current_A = np.full(temp_C.shape[0], np.nan)
    code, leg = _check_heaters(t, dt, temp_C, power, limit_C, memory, current_A)
    if code == HeaterFinding.NONE:
        return None
    name, message = HEATER_DETECTORS[int(code)]
    return name, leg, message


@njit(cache=True)
def _check_heaters(t, dt, temp_C, power, limit_C, memory, current_A):  # type: ignore[no-untyped-def]
    for leg in range(temp_C.shape[0]):
        m = memory[leg]
        temp = temp_C[leg]
        if not math.isfinite(temp):
            return HeaterFinding.IMPLAUSIBLE_SENSOR, leg
        if power[leg] <= 0.0 and current_A[leg] > HEATER_OFF_MAX_A:
            m.short_s += dt
            if m.short_s >= HEATER_SHORT_s:
                return HeaterFinding.THERMAL_RUNAWAY, leg
        else:
            m.short_s = 0.0
        if temp > limit_C + HEATER_OVER_LIMIT_C:
            return HeaterFinding.OVER_TEMPERATURE, leg
        if power[leg] <= 0.0:
            if m.off_since < 0:
                m.off_since, m.temp_when_off = t, temp
            elif temp - m.temp_when_off > HEATER_OFF_RISE_MAX_C:
                return HeaterFinding.THERMAL_RUNAWAY, leg
        else:
            m.off_since = -1.0
        if power[leg] >= 1.0 and temp < limit_C - 4.0:
            if m.full_since < 0:
                m.full_since, m.temp_when_full = t, temp
            elif t - m.full_since >= HEATER_ON_RISE_WINDOW_s:
                rise = temp - m.temp_when_full
                if rise < (-HEATER_ON_FALL_MAX_C if m.warmed else HEATER_ON_RISE_MIN_C):
                    return HeaterFinding.HEATER_FAULT, leg
                m.full_since, m.temp_when_full, m.warmed = t, temp, True
        else:
            m.full_since, m.warmed = -1.0, False
    return HeaterFinding.NONE, -1


class VentFollower:
    """Names the cell whose inlet is stuck open on one leg, by the one its manifold follows as
    the safe state vents every cell (see VENT_NAMING_s): a manifold that keeps held cells'
    pressure says that one of them is open to it, not which when they are held alike.
    ``cells``: those that had stayed at the manifold's pressure (`joined_cells`)."""

    @staticmethod
    def joined_cells(memory: np.ndarray, cell_leg: np.ndarray, leg: int) -> np.ndarray:
        """The cells of ``leg`` its manifold has read within MANIFOLD_JOINED_mmHg of for
        MANIFOLD_JOINED_s: the ones that may be open to it."""
        return np.flatnonzero((cell_leg == leg) & (memory["joined_s"] >= MANIFOLD_JOINED_s))

    def __init__(self, leg: int, cells: np.ndarray, start_s: float):
        self.leg, self.start_s = leg, start_s
        self.cells = cells
        self.gap_sum = np.zeros(cells.shape[0])  # of manifold − cell, mmHg
        self.gap_squares = np.zeros(cells.shape[0])
        self.ticks = 0

    def add(self, t_s: float, manifold_mmHg: float, reading: np.ndarray) -> bool:
        """One sample of the vent; True once the naming window is over."""
        if t_s - self.start_s > VENT_NAMING_s or manifold_mmHg < VENTED_MAX_mmHg:
            return True
        if t_s > self.start_s:
            gap = manifold_mmHg - reading[self.cells]
            self.gap_sum += gap
            self.gap_squares += gap * gap
            self.ticks += 1
        return False

    def cell(self, named: int | None = None) -> int | None:
        """The cell the manifold followed: of those within MANIFOLD_JOINED_mmHg of it on average,
        the one with the smallest root-mean-square gap, both near and steady (a twin of the same
        size held alike vents about 1 mmHg apart, at a gap that first opens, then closes), unless
        the cell a detector ``named`` is within VENT_NAMING_TIE_mmHg of it; None where the vent did
        not show one."""
        if self.ticks < VENT_NAMING_MIN_TICKS:
            return None
        mean = self.gap_sum / self.ticks
        rms = np.sqrt(self.gap_squares / self.ticks)
        rms[np.abs(mean) > MANIFOLD_JOINED_mmHg] = np.inf
        best = int(np.argmin(rms))
        if not np.isfinite(rms[best]):
            return None
        kept = np.flatnonzero(self.cells == named)
        if len(kept) and rms[kept[0]] <= rms[best] + VENT_NAMING_TIE_mmHg:
            return int(self.cells[kept[0]])
        return int(self.cells[best])

"""What one stored session delivered: the time that counts towards a plan, and each cell's
seconds at pressure. The one place that decides it, for adherence, reports and exports alike.

A second of a session counts when it comes before any fault the supervisor latched (from the
fault's onset where the massager knows it), and when every cell's latest squeeze
(started at most `GATE_s` before) reached its pressure: a garment taken off or a cell leaking
stops the count until squeezes reach their pressures again. A program with no squeezes (hands-on)
counts its running seconds. A session that ended in a crash counts what it stored. A cell the fit
check found loose, tight or leaking, in a session the user ran anyway, never counts as at its
pressure: what the cell reads is not what the leg gets. Samples are
taken in session time, which stands still while the user pauses: a pause never counts.

A cell is at pressure in a second whose sensed pressure is within `REACHED_mmHg` of a setpoint of
at least `SQUEEZE_mmHg`; a squeeze (a run of such setpoints) reached its pressure when one of its
seconds did. Samples are one a second, so a squeeze shorter than a second may go unseen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from legflow.device.profile import load_profile
from legflow.errors import LegflowError

#: A setpoint at or above this is a squeeze (the intensity engine's rest is 0.5 mmHg).
SQUEEZE_mmHg = 5.0
#: How far below its setpoint a sensed pressure still counts as reached: the fit check's verdicts
#: and the supervisor's overshoot rules work in steps of this size; a cell filling against a
#: garment off the leg or a hole stays far below.
REACHED_mmHg = 5.0
#: A cell's latest squeeze gates the count for this long after it starts; a zone that squeezed
#: only in an earlier phase stops gating then.
GATE_s = 300.0


@dataclass(frozen=True)
class Dose:
    """What a session delivered."""

    session_id: int
    counted_s: float
    ran_s: float
    squeezes: int
    squeezes_reached: int
    #: Per cell (``left.calf``), the seconds its sensed pressure was at its setpoint.
    at_pressure_s: dict[str, float] = field(default_factory=dict)
    #: Why time did not count, in words, for the report.
    lost: tuple[str, ...] = ()
    #: Per cell, the highest pressure the session aimed it at (after comfort, level and bounds).
    target_mmHg: dict[str, float] = field(default_factory=dict)
    #: The sensed pressure of every cell, averaged over the cells, summed over the counted time.
    pressure_mmHg_min: float = 0.0
    #: Per cell, the zone it squeezes (its device profile's; `cell_zones`).
    zone_of: dict[str, str] = field(default_factory=dict)

    @property
    def counted_min(self) -> float:
        return self.counted_s / 60.0

    def zone_targets_mmHg(self) -> dict[str, float]:
        """Per zone (both legs together), the highest pressure aimed at."""
        zones: dict[str, float] = {}
        for cell, mmHg in self.target_mmHg.items():
            zone = self.zone_of.get(cell, cell.split(".", 1)[-1])
            zones[zone] = max(zones.get(zone, 0.0), mmHg)
        return zones

    def zone_minutes(self) -> dict[str, float]:
        """Per zone (both legs together: the leg with less), minutes at pressure."""
        zones: dict[str, float] = {}
        for cell, seconds in self.at_pressure_s.items():
            zone = self.zone_of.get(cell, cell.split(".", 1)[-1])
            zones[zone] = min(zones.get(zone, np.inf), seconds / 60.0)
        return zones


_UNFIT_EVENT = re.compile(r"^(\S+) (loose|tight|leaking):")


def unfit_cells(summary: dict[str, Any] | None, events: list[dict[str, Any]]) -> dict[str, str]:
    """The cells the fit check before the session found not fitting, with their verdicts: from
    the summary, or from the session's fit events where it never ended."""
    fit = (summary or {}).get("fit")
    if fit:
        return {cell: verdict for cell, verdict in fit.items() if verdict != "ok"}
    found = (_UNFIT_EVENT.match(e["detail"]) for e in events if e["kind"] == "fit")
    return {m[1]: m[2] for m in found if m}


def fault_onset_s(summary: dict[str, Any] | None, events: list[dict[str, Any]]) -> float | None:
    """When the first fault the supervisor latched began: its onset where the massager knows it
    (a simulated fault), else when the supervisor latched. A fault injected in simulation that the
    supervisor never found stops nothing here (its cells' squeezes still decide)."""
    faults = [f for f in (summary or {}).get("faults") or [] if f.get("detected_s") is not None]
    latched = [e["t_s"] for e in events if e["kind"] == "fault"]
    if faults and latched:
        # a summary stored before fault times were in session time has them on the massager's
        # clock (pauses included): the fault event, recorded in session time, places the onset
        first = min(faults, key=lambda f: f["detected_s"])
        onset = first["at_s"] if first.get("at_s") is not None else first["detected_s"]
        return max(0.0, min(latched) - (first["detected_s"] - onset))
    times = [f["at_s"] if f.get("at_s") is not None else f["detected_s"] for f in faults]
    if not times and summary is None:  # a session that never ended: its fault events
        times = latched
    return min(times) if times else None


def session_dose(
    session_id: int,
    cells: list[str],
    samples: list[dict[str, Any]],
    events: list[dict[str, Any]],
    summary: dict[str, Any] | None,
    duration_s: float | None = None,
) -> Dose:
    """The dose of one stored session (see the module); each sample stands for the second after
    it, the last one up to `duration_s`."""
    if not samples:
        return Dose(session_id, 0.0, 0.0, 0, 0, {c: 0.0 for c in cells}, ("nothing stored",))
    t_s = np.array([s["t_s"] for s in samples])
    pressure = np.array([s["pressure_mmHg"] for s in samples], float)
    setpoint = np.array([s["setpoint_mmHg"] for s in samples], float)
    squeezing = setpoint >= SQUEEZE_mmHg
    at_pressure = squeezing & (pressure >= setpoint - REACHED_mmHg)
    unfit = unfit_cells(summary, events)
    for cell in unfit:
        if cell in cells:
            at_pressure[:, cells.index(cell)] = False

    # Each squeeze: a run of squeezing seconds of one cell; did it reach its pressure?
    n, m = squeezing.shape
    gate_ok = np.ones(n, bool)
    squeezes = reached_count = 0
    for c in range(m):
        edges = np.flatnonzero(np.diff(np.concatenate(([0], squeezing[:, c].astype(int), [0]))))
        for start, end in zip(edges[::2], edges[1::2], strict=True):
            reached = bool(at_pressure[start:end, c].any())
            squeezes += 1
            reached_count += reached
            if not reached:  # from its start until the cell's next squeeze, or GATE_s
                later = edges[::2][edges[::2] > start]
                stop_t = t_s[start] + GATE_s
                if len(later):
                    stop_t = min(stop_t, t_s[later[0]])
                gate_ok &= ~((t_s >= t_s[start]) & (t_s < stop_t))

    lost = [f"the fit check found {cell} {verdict}" for cell, verdict in unfit.items()]
    onset = fault_onset_s(summary, events)
    before_fault = np.ones(n, bool) if onset is None else t_s < onset
    if onset is not None:
        lost.append(f"a fault from {onset:.0f} s")
    if (~gate_ok & before_fault).any():
        lost.append(f"{squeezes - reached_count} of {squeezes} squeezes did not reach their pressure")
    counted = before_fault & gate_ok
    end_s = t_s[-1] + 1.0 if duration_s is None else max(duration_s, t_s[-1])
    step_s = np.diff(t_s, append=end_s).clip(0.0, 1.0)
    return Dose(
        session_id,
        counted_s=float(step_s[counted].sum()),
        ran_s=float(step_s.sum()),
        squeezes=squeezes,
        squeezes_reached=reached_count,
        at_pressure_s={c: float(step_s[at_pressure[:, i] & before_fault].sum()) for i, c in enumerate(cells)},
        lost=tuple(lost),
        target_mmHg={c: float(setpoint[:, i].max()) for i, c in enumerate(cells)},
        pressure_mmHg_min=float((pressure.clip(0.0).mean(axis=1) * step_s)[counted].sum() / 60.0),
    )


def cell_zones(profile: str, cells: list[str]) -> dict[str, str]:
    """Each cell's zone, as the device profile the session ran on names it (a calf sleeve's
    ``left.calf_low`` squeezes the calf); a profile no longer known: the cell's own name after the
    leg."""
    try:
        device = load_profile(profile)
    except LegflowError:
        device = None
    known = {} if device is None else dict(zip(device.cell_names(), device.cell_zones(), strict=True))
    return {cell: known.get(cell, cell.split(".", 1)[-1]) for cell in cells}


def stored_dose(history: Any, session_id: int) -> Dose:
    """The dose of a session in the history (`legflow.store.History`)."""
    row = history.session(session_id)
    dose = session_dose(
        session_id,
        row.cells,
        history.samples(session_id),
        history.events(session_id),
        row.summary,
        row.duration_s,
    )
    return replace(dose, zone_of=cell_zones(row.profile, row.cells))

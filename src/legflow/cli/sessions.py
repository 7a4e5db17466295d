"""Running sessions from the command line, and showing the stored ones."""

from __future__ import annotations

import itertools
import json
import signal
import sys
import threading
from contextlib import nullcontext
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.live import Live
from rich.prompt import Confirm
from rich.table import Table
from rich.text import Text

from legflow.anatomy import distal_rank
from legflow.apps.comfort import learn_comfort
from legflow.apps.fitting import fit_before_session
from legflow.apps.launch import Launch, prepare_session
from legflow.cli.keys import IntensityKeys
from legflow.cli.live import render
from legflow.cli.render import fit_table, sparkline
from legflow.cli.text import as_text, markup_safe
from legflow.clock import RealClock
from legflow.engine.intensity import Intensity, scaled, zone_peaks_mmHg
from legflow.engine.session import LiveState, Session
from legflow.errors import LegflowError, UnfitGarment
from legflow.evidence.dose import compare
from legflow.safety.limits import Limits
from legflow.store import History, SessionRow, default_history, history_path, move_aside
from legflow.store.export import export_csv, export_json


def run_session(
    name: str,
    *,
    fast: bool,
    quiet: bool,
    inject: list[str],
    profile: str,
    limits: Limits,
    seed: int,
    console: Console,
    subject: str = "adult",
    posture: str = "supine",
    fixed_rest: bool = False,
    refill_from: str = "auto",
    device: str | None = None,
    reset_device: bool = False,
    user: str = "default",
    fit: str = "check",
    comfort: str = "ask",
) -> dict[str, Any]:
    """Check the program for this device and user, then run it with a live display (on the
    simulated massager, or on the massager at the serial port `device`, reset first if asked).
    ``fit``: ``check`` fits the garment first and proceeds only if every cell fits or the user
    agrees at the prompt; ``anyway`` proceeds whatever it finds; ``skip`` does not check.
    ``comfort``: the user's learned comfort scaling is proposed (``ask``: applied if they agree at
    the prompt), ``apply``-ed or ``skip``-ped; what they end the session at teaches it."""
    history = default_history()
    try:
        launch = prepare_session(
            name,
            limits=limits,
            history=history,
            user=user,
            profile=profile,
            fast=fast,
            inject=inject,
            seed=seed,
            subject=subject,
            posture=posture,  # type: ignore[arg-type]
            fixed_rest=fixed_rest,
            device=device,
            refill_from=refill_from,  # type: ignore[arg-type]
            reset_device=reset_device,
        )
    except BaseException:
        history.close()
        raise
    for warning in limits.warnings:
        console.print(f"[yellow]screening:[/] {markup_safe(warning)}")
    session, source = launch.session, launch.source
    if fit != "skip" and source.program.needs_device:  # a hands-on program inflates nothing
        try:
            _fit_first(launch, user, history, fit, inject, seed, subject, posture, device is None, console)
        except BaseException:
            launch.supervisor.close()
            history.close()
            raise
    if comfort != "skip":
        _propose_comfort(session, history, user, comfort == "apply", console)
    if session.bounds_mmHg:
        spans = ", ".join(
            f"{zone} {low:g}-{high:g} mmHg" for zone, (low, high) in session.bounds_mmHg.items()
        )
        console.print(f"your plan's bounds hold: {spans} (comfort and intensity move inside them)")
    if launch.changes:
        console.print(f"[yellow]adapted to device '{markup_safe(session.supervisor.profile.name)}':[/]")
        for change in launch.changes:
            console.print(f"  - {markup_safe(change)}")

    presses = 0

    def on_interrupt(signum, frame) -> None:  # first Ctrl-C: stop and vent; second: emergency stop
        nonlocal presses
        presses += 1
        if presses == 1:
            session.control.stop()
        else:
            session.control.emergency_stop()

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        with launch:  # leaving it, even on an error, closes the massager in its safe state
            if quiet:
                return learn_comfort(session.run(), session, history, user)
            wall = RealClock()
            shown = [-1.0]
            zones: list[str] = list(dict.fromkeys(c.zone for c in session.supervisor.profile.cells))
            keys = IntensityKeys(session.control, zones) if sys.stdin.isatty() else None
            cost = IntensityCost(session)
            with Live(console=console, auto_refresh=False, transient=False) as live, keys or nullcontext():

                def update(state: LiveState) -> None:
                    if wall.now() - shown[0] >= 0.1 or state.trip is not None:
                        shown[0] = wall.now()
                        lines = "\n".join(x for x in (cost.line(state), keys.help() if keys else None) if x)
                        live.update(render(state, source.program.name, lines or None), refresh=True)

                summary = session.run(on_update=update, update_every_s=0.1)
                live.update(render(session.last_state, source.program.name), refresh=True)
            _print_outcome(summary, console)
            _print_intensity(summary, console)
            return learn_comfort(summary, session, history, user)
    finally:
        signal.signal(signal.SIGINT, previous)
        history.close()


class IntensityCost:
    """What the intensity asked gives the leg against the program as written, for the live
    display: worked out in a thread each time the user changes it (the twin over the whole program
    takes a few tenths of a second; the session's loop never waits for it)."""

    def __init__(self, session: Session):
        self.session = session
        self.asked: Intensity | None = None
        self.text: str | None = None
        self._lock = threading.Lock()

    def line(self, state: LiveState) -> str | None:
        s = self.session
        if s.cost is None:
            return None
        if state.intensity != self.asked:
            self.asked = state.intensity
            if state.intensity != Intensity() or s.comfort:
                threading.Thread(target=self._work, args=(state.intensity,), daemon=True).start()
            else:
                self.text = None
        with self._lock:
            return self.text

    def _work(self, asked: Intensity) -> None:
        s = self.session
        assert s.cost is not None
        written, run = s.cost({}), s.cost(s.shares_run(asked))
        text = cost_text("at this intensity", written, run)
        with self._lock:
            if asked == self.asked:
                self.text = text


def _propose_comfort(session: Session, history: History, user: str, apply: bool, console: Console) -> None:
    """Show the comfort scaling the user's earlier sessions taught for the zones this program
    squeezes, with what it does to the program's evidence dose; apply it if asked (``apply``) or
    if they agree at the prompt."""
    peaks = zone_peaks_mmHg(session.program)
    taught = sorted(history.comfort(user).items(), key=lambda item: distal_rank(item[0]))
    learned = {z: s for z, (s, _) in taught if z in peaks and abs(s - 1.0) >= 0.05}
    if not learned:
        return
    console.print(
        "[cyan]comfort:[/] your last sessions ended at "
        + ", ".join(f"{z} {s:.0%}" for z, s in learned.items())
        + " of the programs' pressures"
    )
    before = {c.benefit.id: c for c in compare(session.program)}
    for after in compare(scaled(session.program, learned)):
        if before[after.benefit.id].matches and after.matches is False:
            console.print(
                f"  [yellow]at that scaling, {markup_safe(after.benefit.id)}:[/] {markup_safe(after.verdict)}"
            )
    if apply or (
        sys.stdin.isatty() and Confirm.ask("Apply your comfort scaling?", default=True, console=console)
    ):
        session.use_comfort(learned)
    else:
        console.print("  (not applied: --comfort apply applies it)")


def _fit_first(
    launch: Launch,
    user: str,
    history: History,
    fit: str,
    inject: list[str],
    seed: int,
    subject: str,
    posture: str,
    simulated: bool,
    console: Console,
) -> None:
    """The fit check before the session (`legflow.apps.fitting`): shown, kept with the session,
    and, where a cell does not fit, the session goes on only with the user's consent."""
    result = fit_before_session(
        launch,
        user,
        history,
        inject=inject,
        seed=seed,
        subject=subject,
        posture=posture,  # type: ignore[arg-type]  # checked by `legflow run`
        simulated=simulated,
    )
    launch.session.fit = {c.cell: (c.verdict, c.advice) for c in result.cells}
    if result.ok:
        console.print(f"[green]fit check:[/] every cell fits ({len(result.cells)})")
        return
    console.print(fit_table(result, launch.supervisor.profile.name))
    if fit == "anyway":
        console.print("[yellow]fit check:[/] going on as asked (--fit-anyway)")
        return
    if (
        result.stopped is None
        and sys.stdin.isatty()
        and Confirm.ask("Some cells do not fit. Start anyway?", console=console)
    ):
        return
    found = "; ".join(f"{c.cell} {c.verdict}: {c.advice}" for c in result.cells if c.verdict != "ok")
    raise UnfitGarment(
        f"fit check: {result.stopped or found}; fix it and run again, "
        "or add --fit-anyway (--no-fit skips the check)"
    )


def cost_text(at: str, written: dict[str, float], run: dict[str, float]) -> str:
    """What an intensity gives the leg against the program as written, in words."""
    return (
        f"{at} the twin gives {run.get('ejected_mL_per_cycle', 0):.0f} mL of blood per cycle and clears "
        f"{run.get('fluid_cleared_mL', 0):.0f} mL of fluid; the program as written "
        f"{written.get('ejected_mL_per_cycle', 0):.0f} mL and {written.get('fluid_cleared_mL', 0):.0f} mL "
        "(a model's prediction)"
    )


def _print_intensity(summary: dict[str, Any], console: Console) -> None:
    """What the intensity the user chose gives the leg, against the program as written."""
    block = summary.get("intensity")
    if block and block.get("as_run"):
        console.print(cost_text("at the intensity you ended at,", block["as_written"], block["as_run"]))


def _print_outcome(summary: dict[str, Any], console: Console) -> None:
    style = {"completed": "bold green", "stopped": "bold yellow", "fault": "bold red"}[summary["status"]]
    sid = summary.get("id", "-")
    console.print(
        f"\n[{style}]{summary['status']}[/] after {summary['duration_s']:.0f} s "
        f"(session {sid}; see: legflow history show {sid})"
    )
    for fault in summary["faults"]:  # a device's message and cell names come from outside: as text
        if fault["detected_s"] is None:
            console.print(as_text(f"  injected {fault['kind']} at {fault['at_s']:g} s: {fault['message']}"))
        else:
            where = markup_safe(f"{fault['cell'] or ''} at {fault['at_s']:g} s")
            console.print(
                f"  [red]{markup_safe(fault['kind'])}[/] {where}: detected at {fault['detected_s']:.2f} s "
                f"({markup_safe(fault['detector'])}), safe state at {fault['safe_at_s']:.2f} s"
            )
            if fault["detector"] == "device":  # the device's own reason: its watchdog, a trip
                console.print(as_text(f"    the device says: {fault['message']}"))


def history_table(rows: list[SessionRow]) -> Table:
    table = Table(title="Sessions", title_justify="left")
    for column in ("id", "started (UTC)", "user", "program", "device", "status", "minutes", "faults"):
        table.add_column(column, justify="right" if column in ("id", "minutes") else "left")
    for row in rows:
        faults = len(row.summary["faults"]) if row.summary else 0
        status = {"fault": "red", "stopped": "yellow", "completed": "green"}.get(row.status, "magenta")
        started = row.started_at.replace("T", " ").removesuffix("+00:00")
        table.add_row(
            str(row.id),
            started,
            as_text(row.user),
            as_text(row.program),
            as_text(row.profile),
            as_text(row.status, status),
            f"{row.duration_s / 60:.1f}",
            str(faults),
        )
    return table


def list_sessions(user: str | None = None) -> list[SessionRow]:
    """The stored sessions (`user`'s only, when given), newest first, read without writing anything."""
    history = default_history(readonly=True)
    try:
        return history.sessions(user)
    finally:
        history.close()


def move_history_aside(console: Console) -> None:
    """Set a damaged history file aside (kept as is) so that the next session starts a new one."""
    path = history_path()
    kept = move_aside(path)
    console.print(
        f"moved the damaged history {path} to {kept} (kept as is); the next session starts a new history",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


def show_session(session_id: int, console: Console) -> None:
    history = default_history(readonly=True)
    row = history.session(session_id)
    samples = history.samples(session_id)
    console.print(history_table([row]))
    if row.summary:
        console.print_json(json.dumps(row.summary))
    for event in history.events(session_id):  # every one stored, as the dashboard lists them
        console.print(as_text(f"  {event['t_s']:7.1f} s  {event['kind']:<6} {event['detail']}"))
    if not samples:
        console.print("no samples stored")
        return
    console.print(pressure_plot(row.cells, samples, width=min(console.width - 30, 100)))
    if samples[0]["twin"]:
        console.print(twin_plot(row.cells, samples, width=min(console.width - 30, 100)))


def pressure_plot(cells: list[str], samples: list[dict[str, Any]], width: int) -> Table:
    """Each cell's pressure over the session as a row of bars (the peak of each time slice)."""
    pressures = np.array([s["pressure_mmHg"] for s in samples])
    edges = np.linspace(0, len(samples), width + 1).astype(int)
    top = max(float(pressures.max()), 1.0)
    table = Table(
        title=f"cell pressure over {samples[-1]['t_s']:.0f} s (bar height: peak of each slice)",
        title_justify="left",
        box=None,
        padding=(0, 1),
    )
    table.add_column("cell")
    table.add_column("pressure", no_wrap=True)
    table.add_column("peak", justify="right")
    for k, name in enumerate(cells):
        peaks = [float(pressures[a:b, k].max()) if b > a else 0.0 for a, b in itertools.pairwise(edges)]
        table.add_row(as_text(name), Text(sparkline(peaks, top), "cyan"), f"{max(peaks):.0f} mmHg")
    return table


def export_session(session_id: int, as_csv: bool) -> str:
    history = default_history(readonly=True)
    try:
        return export_csv(history, session_id) if as_csv else export_json(history, session_id)
    finally:
        history.close()


def export_parquet(
    output: Path,
    session_id: int | None,
    user: str | None,
    first: date | None,
    last: date | None,
    traces: bool = False,
) -> str:
    """Write the per-second samples (`traces`: the full-rate traces) of session `session_id`, or
    of every stored session of `user` started (UTC date) from `first` to `last`, to `output` as
    Parquet; what was written, in a line. No session to write is an error, and no file is written
    then."""
    from legflow.store.export import samples_table, traces_table, write_parquet  # pyarrow: only when asked

    history = default_history(readonly=True)
    try:
        ids = None if session_id is None else [session_id]
        make = traces_table if traces else samples_table
        table = make(history, user=user, first=first, last=last, session_ids=ids)
    finally:
        history.close()
    if table.num_rows == 0:
        if session_id is not None:
            raise LegflowError(f"session {session_id} has no stored samples: nothing written")
        picked = [
            f"{flag} {value}"
            for flag, value in (("--user", user), ("--from", first), ("--to", last))
            if value
        ]
        which = f" matching {' '.join(picked)}" if picked else ""
        raise LegflowError(f"no stored session{which} has samples: nothing written (see: legflow history)")
    write_parquet(table, output)
    sessions = len(table.column("session_id").unique())
    per = "control tick" if traces else "second"
    return f"wrote {output}: {sessions} session(s), {table.num_rows} rows (one per {per} per cell)"


def twin_plot(cells: list[str], samples: list[dict[str, Any]], width: int) -> Table:
    """The leg twin's venous outflow of each leg over the session (the peak of each time slice)."""
    legs = list(dict.fromkeys(c.split(".")[0] for c in cells))
    flows = np.array([s["twin"]["outflow_mL_per_min"] for s in samples])
    edges = np.linspace(0, len(samples), width + 1).astype(int)
    top = max(float(flows.max()), 1.0)
    table = Table(title="leg twin (model): venous outflow to the abdomen, mL/min", title_justify="left")
    for column in ("leg", "outflow", "peak"):
        table.add_column(column)
    for k, leg in enumerate(legs):
        peaks = [float(flows[a:b, k].max()) if b > a else 0.0 for a, b in itertools.pairwise(edges)]
        table.add_row(as_text(leg), Text(sparkline(peaks, top), "green"), f"{max(peaks):.0f}")
    return table

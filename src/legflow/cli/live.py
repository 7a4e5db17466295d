"""The live session display: pressure bars per cell, a picture of the legs, phase and time left,
heat, rollers, vibration and the current guide step."""

from __future__ import annotations

import numpy as np
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from legflow.cli.text import as_text
from legflow.engine.session import LiveState

BAR_mmHg = 130.0  # full scale of the bars: the highest limit (foot)
ZONE_ORDER = ("thigh", "knee", "calf", "ankle", "foot")  # drawn top to bottom


def pressure_style(p: float) -> str:
    if p < 5:
        return "grey37"
    if p < 40:
        return "green"
    if p < 70:
        return "yellow"
    return "red"


def _clock(seconds: float) -> str:
    m, s = divmod(int(max(0.0, seconds)), 60)
    return f"{m:d}:{s:02d}"


def pressure_bars(state: LiveState, width: int = 30) -> Table:
    table = Table.grid(padding=(0, 1))
    for name, p, sp in zip(state.cells, state.pressure_mmHg, state.setpoint_mmHg, strict=True):
        filled = round(min(max(p, 0.0), BAR_mmHg) / BAR_mmHg * width)
        mark = round(min(sp, BAR_mmHg) / BAR_mmHg * width)
        bar = Text()
        for i in range(width):
            if i == mark and sp >= 1:
                bar.append("│", "bold white")
            else:
                bar.append("█" if i < filled else "·", pressure_style(p) if i < filled else "grey23")
        table.add_row(
            Text(f"{name:<14}"), bar, Text(f"{p:5.1f} mmHg", pressure_style(p)), Text(f"→ {sp:4.0f}", "dim")
        )
    return table


def leg_picture(state: LiveState) -> Table:
    """Both legs from thigh to foot; each cell a block coloured by its pressure."""
    by_cell = dict(zip(state.cells, state.pressure_mmHg, strict=True))
    legs = sorted({c.split(".")[0] for c in state.cells}, key=lambda leg: leg != "left")
    table = Table.grid(padding=(0, 2))
    for _ in legs:
        table.add_column(justify="center")
    for zone in ZONE_ORDER:
        row = []
        for leg in legs:
            cells = [
                p
                for name, p in by_cell.items()
                if name.startswith(f"{leg}.") and name.split(".")[1].startswith(zone)
            ]
            if not cells:
                row.append(Text("  ┃┃  ", "grey30"))
            else:
                p = max(cells)
                shape = "▟████▙" if zone == "foot" else " ████ "
                row.append(Text(shape, pressure_style(p)))
        table.add_row(*row)
    table.add_row(*[Text(leg, "dim") for leg in legs])
    return table


def status_word(state: LiveState) -> str:
    """What the session does now; after its end, whether the cells are still venting."""
    if state.status == "stopping":
        return "STOPPING (venting)"
    if state.paused:
        return "PAUSED"
    return f"{state.status} · venting" if state.venting else state.status


def render(state: LiveState, program: str, keys: str | None = None) -> Panel:
    """The live panel; ``keys``: the intensity keys and the zone they act on, where keys work."""
    status = status_word(state)
    if state.trip is not None and state.trip.is_fault:
        status = f"SAFE STATE: {state.trip.detector.replace('_', ' ')} {state.trip.where or ''}"
        if state.trip.detector == "device":  # the device vented by itself: say why, in its words
            status = f"SAFE STATE: device fault: {state.trip.message}"
    header = Text.assemble(  # the program's words and the device's as text (see legflow.cli.text)
        as_text(program, "bold"),
        as_text(f"   phase: {state.phase}   phase left {_clock(state.phase_left_s)}"),
        f"   session {_clock(state.t_s)} / {_clock(state.duration_s)}   ",
        as_text(status, "bold red" if state.trip is not None and state.trip.is_fault else "bold green"),
    )
    skin = ", ".join(f"{t:.1f}" for t in state.skin_temp_C if np.isfinite(t))
    target = f" → {state.heat_target_C:g} °C" if state.heat_target_C else " (off)"
    extras = Text.assemble(
        ("heat ", "dim"),
        f"{skin} °C{target}   ",
        ("rollers ", "dim"),
        f"{state.rollers or 'off'}   ",
        ("vibration ", "dim"),
        f"{state.vibration_level or 'off'}",
    )
    body = Table.grid(padding=(0, 3))
    body.add_row(pressure_bars(state), leg_picture(state))
    parts: list[RenderableType] = [header, body, extras]
    if state.twin is not None:
        parts.append(twin_line(state.twin, list(dict.fromkeys(c.split(".")[0] for c in state.cells))))
    if state.guide:
        parts.append(Text.assemble(("now: ", "bold magenta"), as_text(state.guide, multiline=True)))
    if state.intensity.level or state.intensity.boost or state.intensity.paused or keys:
        parts.append(Text.assemble(("intensity ", "dim"), as_text(state.intensity.describe())))
    if keys:
        parts.append(Text(keys, "dim"))
    parts.append(Text("Ctrl-C: stop and vent · twice: emergency stop", "dim"))
    return Panel(Group(*parts), title="legflow session", title_align="left")


def twin_line(twin: dict[str, list[float]], legs: list[str]) -> Text:
    """The leg twin's reading, per leg: outflow to the abdomen, venous volume moved, fluid cleared."""
    per_leg = "   ".join(
        f"{leg}: {flow:.0f} mL/min, veins {moved:+.0f} mL, fluid cleared {cleared:.1f} mL"
        for leg, flow, moved, cleared in zip(
            legs, twin["outflow_mL_per_min"], twin["venous_change_mL"], twin["fluid_cleared_mL"], strict=True
        )
    )
    return Text.assemble(("leg twin (model) ", "dim"), per_leg)

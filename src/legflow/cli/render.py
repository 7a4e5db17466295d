"""Rich renderings of programs: the library table, one program's phases, timeline and evidence.

Every string a program file supplies (name, summary, dose, phase names, guide steps, the file's
name) goes in as `as_text`: shown literally, never read as markup or sent as control characters.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from legflow.anatomy import COMPRESSION_ZONES
from legflow.cli.text import as_text
from legflow.engine.fit import FitResult
from legflow.evidence import GRADE_MEANING, Benefit, Grading
from legflow.evidence.dose import compare, max_pressure_mmHg, program_grading
from legflow.programs.model import Phase, Program
from legflow.programs.timeline import cycle_s, phase_zone_pressures

BARS = " ▁▂▃▄▅▆▇█"
GRADE_STYLE = {"A": "bold green", "B": "green", "C": "yellow", "D": "red"}


def grade_text(grade: str) -> Text:
    return Text(f"grade {grade}", style=GRADE_STYLE.get(grade, ""))


def benefit_text(b: Benefit) -> Text:
    """A benefit as its grade allows: grade D only as "traditionally used for"."""
    text = Text()
    text.append(f"[{b.grade}] ", style=GRADE_STYLE[b.grade])
    text.append(b.describe())
    return text


def zones_summary(program: Program) -> str:
    """Zones in a few words: a run of neighbouring compression zones as a span, sole zones counted."""
    parts: list[str] = []
    squeeze = program.compression_zones()
    ranks = [COMPRESSION_ZONES.index(z) for z in squeeze]
    if len(squeeze) > 2 and ranks == list(range(ranks[0], ranks[-1] + 1)):
        parts.append(f"{squeeze[0]}–{squeeze[-1]}")
    else:
        parts += squeeze
    soles = program.sole_zones()
    if soles:
        parts.append(f"sole ×{len(soles)}" if len(soles) > 2 else ", ".join(soles))
    if parts:
        return ", ".join(parts)
    areas = {step.area for p in program.phases for step in p.guide}
    return "by hand: " + ", ".join(sorted(areas)) if areas else "-"


def grading_text(grading: Grading) -> Text:
    """A program's grade with, beside it, what the grade does not cover."""
    text = grade_text(grading.grade)
    if grading.note:
        text.append(f" ({grading.note})", style="dim")
    return text


def library_table(programs: dict[str, Program]) -> Table:
    table = Table(title="Built-in programs", title_justify="left")
    table.add_column("name", style="bold", no_wrap=True)
    table.add_column("goal")
    table.add_column("zones")
    table.add_column("min", justify="right")
    table.add_column("evidence")
    for name, program in programs.items():
        table.add_row(
            as_text(name),
            program.program.goal,
            zones_summary(program),
            f"{program.duration_s / 60:g}",
            grading_text(program_grading(program)),
        )
    table.caption = "Evidence grades: " + "; ".join(f"{g}: {m}" for g, m in GRADE_MEANING.items())
    return table


def device_fit_rows(verdicts: dict[str, dict[str, tuple[str, str]]]) -> list[list[str]]:
    """The library on each device profile, a row per program: ``runs``, ``adapted (N changes)``
    or ``refused: why`` per profile (`legflow.plan.device_verdict`)."""
    rows = []
    for name, per_profile in verdicts.items():
        cells = [name]
        for verdict, detail in per_profile.values():
            if verdict == "adapted":
                n = detail.count("; ") + 1
                cells.append(f"adapted ({n} change{'s' if n > 1 else ''})")
            else:
                cells.append(f"refused: {detail}" if verdict == "refused" else verdict)
        rows.append(cells)
    return rows


def device_fit_table(verdicts: dict[str, dict[str, tuple[str, str]]]) -> Table:
    table = Table(title="Built-in programs on each device", title_justify="left")
    table.add_column("program", style="bold", no_wrap=True)
    for profile in next(iter(verdicts.values()), {}):
        table.add_column(profile)
    for row in device_fit_rows(verdicts):
        table.add_row(*map(as_text, row))
    table.caption = "adapted: see the changes with legflow check PROGRAM --profile NAME"
    return table


def device_fit_markdown(verdicts: dict[str, dict[str, tuple[str, str]]]) -> str:
    """The same as a Markdown table (the README's)."""
    profiles = list(next(iter(verdicts.values()), {}))
    lines = ["| program | " + " | ".join(f"`{p}`" for p in profiles) + " |"]
    lines.append("|---" * (len(profiles) + 1) + "|")
    lines += ["| " + " | ".join(row) + " |" for row in device_fit_rows(verdicts)]
    return "\n".join(lines)


def fit_table(result: FitResult, profile: str) -> RenderableType:
    """A fit check: each cell's verdict, the air it took against its reference, what it held."""
    table = Table(title=as_text(f"Fit check on device '{profile}'"), title_justify="left")
    for column in ("cell", "fit", "air to 20 mmHg", "held", "what to do"):
        table.add_column(column)
    colour = {"ok": "green", "loose": "yellow", "tight": "yellow", "leaking": "red"}
    for c in result.cells:
        air = (
            f"{c.fill_mL:.0f} mL ({c.fill_mL / c.reference_mL:.0%} of your usual)"
            if c.reference == "baseline"
            else (f"{c.fill_mL:.0f} mL ({c.fill_mL / c.reference_mL:.0%} of nominal)")
        )
        advice = c.advice if c.drift is None else f"{c.advice}; {c.drift}"
        table.add_row(
            as_text(c.cell), f"[{colour[c.verdict]}]{c.verdict}[/]", air, f"{c.kept:.0%}", as_text(advice)
        )
    notes = [f"not checked: {cell}, {why}" for cell, why in result.skipped]
    if result.stopped:
        notes.append(f"stopped: {result.stopped}")
    table.caption = as_text("; ".join(notes)) if notes else None
    return table


def sparkline(values: list[float], top: float) -> str:
    if top <= 0:
        return " " * len(values)
    return "".join(BARS[min(len(BARS) - 1, round(v / top * (len(BARS) - 1)))] for v in values)


def phase_timeline(phase: Phase, width: int = 56) -> RenderableType | None:
    """One compression cycle of a phase, one sparkline per zone (the whole phase for 'hold')."""
    c = phase.compression
    if c is None or not phase.squeezes:
        return None
    span = phase.duration_s if c.pattern == "hold" else min(cycle_s(c), phase.duration_s)
    times = [span * (i + 0.5) / width for i in range(width)]
    samples = [phase_zone_pressures(phase, t)[0] for t in times]
    top = max(c.zone_pressures().values())
    table = Table.grid(padding=(0, 1))
    for zone in reversed(c.zones):  # proximal on top, as on a standing leg
        peak = c.zone_pressures()[zone]
        line = sparkline([s[zone] for s in samples], top)
        table.add_row(Text(f"{zone:>6}", style="dim"), Text(line, "cyan"), Text(f"{peak:g} mmHg"))
    what = "the whole phase" if c.pattern == "hold" else "one cycle"
    table.add_row("", Text(f"0 s{'':>{width - 12}}{span:g} s", style="dim"), Text(what, style="dim"))
    return table


def phase_panel(index: int, phase: Phase) -> Panel:
    lines: list[RenderableType] = []
    c = phase.compression
    if c is not None and c.pattern != "off":
        timing = (
            f"inflate {c.inflate_s:g} s, delay {c.delay_s:g} s, hold {c.hold_s:g} s, "
            f"release {c.release_s:g} s, rest {c.rest_s:g} s"
        )
        lines.append(Text(f"compression: {c.pattern}, {', '.join(c.zones)}; {timing}"))
    if phase.rollers:
        r = phase.rollers
        lines.append(Text(f"rollers: {', '.join(r.zones)} ({r.speed}, {r.depth})"))
    if phase.vibration and phase.vibration.level:
        lines.append(Text(f"vibration: level {phase.vibration.level}"))
    if phase.heat:
        lines.append(Text(f"heat: {phase.heat.target_C:g} °C"))
    timeline = phase_timeline(phase)
    if timeline is not None:
        lines.append(timeline)
    for step in phase.guide:
        at = Text.assemble((f"at {step.at_s:g} s ", "dim"), (f"[{step.area}] ", "magenta"))
        lines.append(at.append_text(as_text(step.text, multiline=True)))
    title = as_text(f"phase {index + 1}: {phase.name} — {phase.duration_min:g} min")
    return Panel(Group(*lines) if lines else Text("rest", style="dim"), title=title, title_align="left")


def program_view(program: Program, label: str) -> Group:
    info = program.program
    peak = max_pressure_mmHg(program)
    squeeze = f"peak {peak:g} mmHg" if peak else "no compression"
    facts = f"goal {info.goal} · legs {info.legs} · {program.duration_s / 60:g} min · {squeeze}"
    header = Text.assemble(as_text(info.name, "bold"), as_text(f"  ({label})"), "\n", facts, "\n")
    header.append("evidence ").append_text(grading_text(program_grading(program)))
    if info.summary:
        header.append("\n").append_text(as_text(info.summary, multiline=True))
    parts: list[RenderableType] = [header]
    parts += [phase_panel(i, p) for i, p in enumerate(program.phases)]
    evidence = Table(title="Evidence", title_justify="left", show_lines=True)
    evidence.add_column("benefit")
    evidence.add_column("dose the evidence used")
    evidence.add_column("this program's dose")
    evidence.add_column("sources")
    dose = as_text(f"{info.dose}\n" if info.dose else "", multiline=True)
    for item in compare(program):
        mark = {True: ("✓ ", "green"), False: ("≠ ", "yellow"), None: ("- ", "dim")}[item.matches]
        evidence.add_row(
            benefit_text(item.benefit),
            item.benefit.dose or "-",
            Text.assemble(mark, dose, (item.verdict, "dim")),
            Text("\n".join(item.benefit.sources), style="dim"),
        )
    parts.append(evidence)
    return Group(*parts)

"""The `legflow` command line (a contract: see DESIGN.md). Expected errors print one clear line
and exit non-zero; no traceback reaches a user."""

from __future__ import annotations

import json
import os
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.prompt import Confirm, IntPrompt, Prompt
from rich.table import Table

from legflow.anatomy import COMPRESSION_ZONES, distal_rank
from legflow.cli.options import user_name
from legflow.cli.records import register as register_records
from legflow.cli.render import device_fit_markdown, device_fit_table, library_table, program_view
from legflow.cli.text import as_text, printable
from legflow.cli.trials import cohorts_command, optimise_command, trial_command
from legflow.device.profile import DEFAULT_PROFILE, load_profile, profile_names
from legflow.errors import LegflowError, Problem, ProfileError, ProgramError, UsageError
from legflow.plan import check_source, check_text, device_verdict
from legflow.plan.compose import compose
from legflow.programs.library import builtin_names, builtin_source, program_text, resolve
from legflow.programs.loader import dump_program, validate_text
from legflow.safety.limits import DEFAULT_LIMITS, Limits
from legflow.screening import (
    DEFAULT_USER,
    QUESTIONS,
    Answers,
    check_user_name,
    decide,
    load_answers_file,
    parse_answers,
    save_answers,
    user_limits,
)

app = typer.Typer(
    help="Open software for electric leg massagers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
err = Console(stderr=True)


ProfileOpt = Annotated[
    str, typer.Option("--profile", help="Device profile (reference, home-foot-calf, ...).")
]
UserOpt = Annotated[str, typer.Option("--user", help="Whose screening limits apply.", callback=user_name)]
AnswersOpt = Annotated[
    Path | None,
    typer.Option(
        "--answers",
        help="Also apply screening answers from a TOML file (on top of the user's stored screening: "
        "only tighter).",
    ),
]
SubjectOpt = Annotated[
    str, typer.Option("--subject", help="Leg twin parameter set: adult, small_leg, oedema, ...")
]
PostureOpt = Annotated[str, typer.Option("--posture", help="supine, seated or standing.")]


def _limits(user: str, answers: Path | None) -> Limits:
    """The user's limits; answers given on the command line tighten them further, never loosen
    what the user's stored screening set."""
    if answers is None:
        return user_limits(user)
    given = load_answers_file(answers)
    try:
        stored = user_limits(user)
    except ProfileError:  # never screened: the answers given are the whole screening
        stored = DEFAULT_LIMITS
    return decide(given, base=stored)[0]


@app.command()
def programs(
    devices: Annotated[
        bool, typer.Option("--devices", help="Which device profiles each program runs on, adapted or not.")
    ] = False,
    markdown: Annotated[
        bool, typer.Option("--markdown", help="With --devices: as a Markdown table.")
    ] = False,
    user: UserOpt = DEFAULT_USER,
) -> None:
    """Table of the built-in programs: goal, zones, time, evidence grade; with --devices, how
    each runs on each device profile for this user (as `legflow run --profile` would)."""
    if not devices:
        console.print(library_table({name: builtin_source(name).program for name in builtin_names()}))
        return
    limits = user_limits(user)
    verdicts = {
        name: {p: device_verdict(builtin_source(name), load_profile(p), limits) for p in profile_names()}
        for name in builtin_names()
    }
    if markdown:
        print(device_fit_markdown(verdicts))
    else:
        console.print(device_fit_table(verdicts))


@app.command()
def show(program: Annotated[str, typer.Argument(help="Built-in name or program file.")]) -> None:
    """One program: phases, a per-cell timeline, evidence with grades and sources, dose beside dose."""
    source = resolve(program)
    console.print(program_view(source.program, source.filename))


@app.command()
def check(
    programs: Annotated[list[str], typer.Argument(help="Program files or names (built-in or saved).")],
    profile: ProfileOpt = DEFAULT_PROFILE,
    user: UserOpt = DEFAULT_USER,
    answers: AnswersOpt = None,
) -> None:
    """Validate programs for a device and the limits: exit 0, or exit 2 with
    one line per problem, FILE:LINE: field.path: message."""
    device = load_profile(profile)
    limits = _limits(user, answers)
    problems: list[Problem] = []
    for name in programs:
        try:
            text, filename = program_text(name)
            checked = check_text(text, filename, device, limits)
        except ProfileError as exc:  # neither a program's name nor a file: a problem of that argument
            problems.append(Problem(name, 1, "file", str(exc)))
            continue
        except ProgramError as exc:
            problems += exc.problems
            continue
        for w in checked.warnings:
            _say(f"{w.file}:{w.line}: {w.field}: warning: {w.message}")
        for change in checked.changes:
            _say(f"{filename}: on device '{profile}': {change}")
        _say(f"{filename}: ok" + (f", adapted to device '{profile}'" if checked.changes else ""))
    for problem in problems:
        print(printable(problem))
    if problems:
        raise typer.Exit(2)


def _say(line: str) -> None:
    """One line on stderr, shown as text (it holds file names and program text)."""
    err.print(as_text(line), highlight=False, soft_wrap=True)


@app.command(name="compose")
def compose_command(
    goal: Annotated[str, typer.Option(help="circulation, recovery, lymph, pain, pre_sport, stress, ...")],
    zones: Annotated[str, typer.Option(help="Comma-separated zones, e.g. calf,thigh or sole.arch.")],
    intensity: Annotated[int, typer.Option(help="1 (gentle) .. 5 (firm), inside the limits.")] = 3,
    minutes: Annotated[float, typer.Option(help="Length of the program.")] = 20.0,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write to this file.")] = None,
    profile: ProfileOpt = DEFAULT_PROFILE,
    user: UserOpt = DEFAULT_USER,
) -> None:
    """Write a valid program for a goal, zones and intensity, ready to edit."""
    device, limits = load_profile(profile), user_limits(user)
    program = compose(
        goal, [z.strip() for z in zones.split(",") if z.strip()], intensity, minutes, device, limits
    )
    text = dump_program(program)
    name = str(output) if output else "<composed>"
    check_source(validate_text(text, name), device, limits)
    if output is None:
        print(text, end="")
    else:
        output.write_text(text, encoding="utf-8")
        _say(f"wrote {output} ({program.duration_s / 60:g} min); check it with: legflow check {output}")


def _ask(question) -> object:
    if question.kind == "age":
        return IntPrompt.ask(question.ask, console=err)
    yes = Confirm.ask(question.ask, console=err, default=False)
    if question.kind != "zones":
        return yes
    if not yes:
        return []
    picked = Prompt.ask(f"Which zones? ({', '.join(COMPRESSION_ZONES)}, comma-separated)", console=err)
    return [z.strip() for z in picked.split(",") if z.strip()]


@app.command()
def screen(
    answers: Annotated[
        Path | None, typer.Option("--answers", help="Answers as TOML, for scripted use.")
    ] = None,
    user: Annotated[
        str,
        typer.Option(
            "--user",
            "--profile",
            help="Whose screening this is, as every other command's --user (--profile: its old name).",
        ),
    ] = DEFAULT_USER,
) -> None:
    """Health screening: questions → block / limit / warn decisions, stored under the user."""
    check_user_name(user)  # before any question: the answers must have somewhere to go
    if answers is not None:
        given: Answers = load_answers_file(answers)
    else:
        if not sys.stdin.isatty():
            raise LegflowError("screening needs answers: run it in a terminal, or pass --answers FILE.toml")
        given = parse_answers({q.id: _ask(q) for q in QUESTIONS}, "answers")
    limits, decisions = decide(given)
    path = save_answers(given, user)
    table = Table(title=as_text(f"Screening for '{user}'"), title_justify="left")
    table.add_column("decision")
    table.add_column("why and what changes")
    style = {"block": "bold red", "block_zone": "red", "limit": "yellow", "warn": "cyan"}
    for d in decisions:
        table.add_row(as_text(d.action.replace("_", " "), style[d.action]), as_text(d.text))
    if decisions:
        console.print(table)
    if limits.blocks:
        console.print("[bold red]No session can start for this user.[/]")
        if given.dvt_signs:
            console.print("[bold red]Seek medical care now: these can be signs of a deep vein thrombosis.[/]")
    elif not decisions:
        console.print("Nothing in your answers limits a session; the default limits apply.")
    _say(f"saved to {path}")


def _one_of(option: str, value: str, choices: tuple[str, ...]) -> str:
    """``value`` if it is one of ``choices``, else a usage error that lists them."""
    if value not in choices:
        raise UsageError(f"{option} must be {', '.join(choices[:-1])} or {choices[-1]}, not '{value}'")
    return value


@app.command()
def run(
    program: Annotated[str, typer.Argument(help="Built-in name or program file.")],
    fast: Annotated[
        bool, typer.Option("--fast", help="Run on a virtual clock, as fast as the CPU allows.")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the session summary as JSON.")] = False,
    inject: Annotated[
        list[str] | None,
        typer.Option(
            "--inject",
            help="Inject a fault: KIND[:CELL]@SECONDS after the program starts, pauses included "
            "(repeatable).",
        ),
    ] = None,
    profile: ProfileOpt = DEFAULT_PROFILE,
    user: UserOpt = DEFAULT_USER,
    answers: AnswersOpt = None,
    seed: Annotated[int, typer.Option(help="Seed of the simulated sensors' noise.")] = 0,
    subject: SubjectOpt = "adult",
    posture: PostureOpt = "supine",
    fixed_rest: Annotated[
        bool,
        typer.Option("--fixed-rest", help="Ignore the program's \\[adaptive] table: rest as programmed."),
    ] = False,
    device: Annotated[
        str | None, typer.Option("--device", help="Run on the massager at this serial port.")
    ] = None,
    reset_device: Annotated[
        bool,
        typer.Option(
            "--reset-device",
            help="With --device: reset a massager latched in its safe state by its own fault "
            "(watchdog, over-pressure, over-temperature) before the session.",
        ),
    ] = False,
    refill_from: Annotated[
        str,
        typer.Option(
            "--refill-from",
            help="Adaptive rest reads refill from the twin, or from a sealed cell's pressure (sensor); "
            "auto: the twin in simulation, the sensor on --device.",
        ),
    ] = "auto",
    no_fit: Annotated[bool, typer.Option("--no-fit", help="Skip the fit check before the session.")] = False,
    comfort: Annotated[
        str,
        typer.Option("--comfort", help="Your learned comfort scaling: ask (in a terminal), apply or skip."),
    ] = "ask",
    fit_anyway: Annotated[
        bool, typer.Option("--fit-anyway", help="Start even if the fit check finds a cell that does not fit.")
    ] = False,
) -> None:
    """Run a session on the simulated massager, with the leg twin inside its cells, with live
    progress; Ctrl-C stops and vents, twice is an emergency stop. Exit 0 when it completed or was
    stopped, 4 on a fault. With --device PORT the session runs in real time on that massager; one
    latched by its own fault is refused unless --reset-device."""
    from legflow.cli.warmup import preparing

    # a spinner on stderr at once; what can be refused is refused before anything compiles
    with preparing(err, simulated=device is None) as on_compile:
        from legflow.apps.launch import check_request
        from legflow.apps.warmup import warm_up
        from legflow.cli.sessions import run_session
        from legflow.cli.twin import check_posture

        limits = _limits(user, answers)
        refill = _one_of("--refill-from", refill_from, ("auto", "twin", "sensor"))
        _one_of("--comfort", comfort, ("ask", "apply", "skip"))
        checked_posture = check_posture(posture)
        check_request(
            program,
            limits=limits,
            profile=profile,
            fast=fast,
            inject=inject,
            device=device,
            reset_device=reset_device,
        )
        warm_up(simulated=device is None, on_compile=on_compile)
    summary = run_session(
        program,
        fast=fast,
        quiet=json_out,
        inject=inject or [],
        profile=profile,
        limits=limits,
        seed=seed,
        console=err if json_out else console,
        subject=subject,
        posture=checked_posture,
        fixed_rest=fixed_rest,
        device=device,
        refill_from=refill,
        reset_device=reset_device,
        user=user,
        fit="skip" if no_fit else "anyway" if fit_anyway else "check",
        comfort=comfort,
    )
    if json_out:
        print(json.dumps(summary, indent=2))
    if summary["status"] == "fault":
        raise typer.Exit(4)


@app.command()
def fit(
    profile: ProfileOpt = DEFAULT_PROFILE,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    inject: Annotated[
        list[str] | None,
        typer.Option("--inject", help="A fault or a garment worn loose or tight: KIND[:CELL]@SECONDS."),
    ] = None,
    user: UserOpt = DEFAULT_USER,
    seed: Annotated[int, typer.Option(help="Seed of the simulated sensors' noise.")] = 0,
    subject: SubjectOpt = "adult",
) -> None:
    """Fit check: fill each cell to a low test pressure and judge it ok, loose, tight or leaking,
    with what to do; against your own earlier fits on this device once there are some. Exit 0 when
    every cell fits, 5 when one does not."""
    from legflow.apps.fitting import run_fit
    from legflow.cli.render import fit_table
    from legflow.store.history import default_history

    history = default_history()
    try:
        result = run_fit(profile, user, user_limits(user), history, inject=inject, seed=seed, subject=subject)
    finally:
        history.close()
    if json_out:
        print(json.dumps(result.as_json(), indent=2))
    else:
        console.print(fit_table(result, profile))
    if not result.ok:
        raise typer.Exit(5)


@app.command(name="comfort")
def comfort_command(
    user: UserOpt = DEFAULT_USER,
    reset: Annotated[bool, typer.Option("--reset", help="Forget what your sessions taught.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print it as JSON.")] = False,
) -> None:
    """Your comfort per zone, as your last sessions ended (level, boost): the scaling the next
    session proposes."""
    from legflow.store.history import COMFORT_SESSIONS, default_history

    history = default_history(readonly=not reset)
    try:
        if reset:
            gone = history.reset_comfort(user)
            _say(f"forgot {gone} comfort record(s) of user '{user}'")
            return
        learned = dict(sorted(history.comfort(user).items(), key=lambda item: distal_rank(item[0])))
    finally:
        history.close()
    if json_out:
        print(
            json.dumps(
                {"user": user, "zones": {z: {"share": s, "sessions": n} for z, (s, n) in learned.items()}}
            )
        )
        return
    table = Table(title=as_text(f"Comfort of user '{user}'"), title_justify="left")
    for column in ("zone", "share of the programs' pressures", "from sessions"):
        table.add_column(column)
    for zone, (share, n) in learned.items():
        table.add_row(zone, f"{share:.0%}", str(n))
    table.caption = f"the median of your last {COMFORT_SESSIONS} sessions; legflow run proposes it"
    console.print(table if learned else as_text(f"no comfort learned yet for user '{user}'"))


@app.command()
def emulate(
    profile: ProfileOpt = DEFAULT_PROFILE,
    inject: Annotated[
        list[str] | None, typer.Option("--inject", help="Inject a fault: KIND[:CELL]@SECONDS.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the simulated sensors' noise.")] = 0,
    rate: Annotated[int, typer.Option("--rate", help="Sensor samples per second.")] = 100,
    subject: SubjectOpt = "adult",
    posture: PostureOpt = "supine",
) -> None:
    """Emulate a massager on a pseudo-terminal: print the port, then speak the wire protocol there
    (docs/protocol.md) with the device's own failsafe, until Ctrl-C."""
    from legflow.cli.hardware import emulate as serve_emulator
    from legflow.cli.twin import check_posture

    serve_emulator(profile, inject or [], seed, rate, subject, check_posture(posture), err)


history_app = typer.Typer(help="Stored sessions.", no_args_is_help=False, invoke_without_command=True)
app.add_typer(history_app, name="history")


@history_app.callback()
def history(
    ctx: typer.Context,
    json_out: Annotated[bool, typer.Option("--json", help="Print the sessions as JSON.")] = False,
    user: Annotated[
        str | None, typer.Option("--user", help="Only this user's sessions.", callback=user_name)
    ] = None,
) -> None:
    """Stored sessions: a table, or JSON."""
    if ctx.invoked_subcommand is not None:
        return
    from legflow.cli.sessions import history_table, list_sessions

    rows = list_sessions(user)
    if json_out:
        print(json.dumps([row.__dict__ for row in rows], indent=2))
    else:
        console.print(history_table(rows))


@history_app.command("show")
def history_show(session_id: Annotated[int, typer.Argument(help="Session number.")]) -> None:
    """One session: its summary, events and a plot of the cell pressures."""
    from legflow.cli.sessions import show_session

    show_session(session_id, console)


@history_app.command("export")
def history_export(
    session_id: Annotated[
        int | None, typer.Argument(help="Session number; for --format parquet, leave out for every session.")
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format", help="csv (per-second samples), json (summary and events; the default), parquet."
        ),
    ] = None,
    csv_out: Annotated[bool, typer.Option("--csv", help="Same as --format csv.")] = False,
    user: Annotated[
        str | None, typer.Option("--user", help="parquet: only this user's sessions.", callback=user_name)
    ] = None,
    first: Annotated[
        str | None,
        typer.Option("--from", help="parquet: sessions started on or after this UTC date, YYYY-MM-DD."),
    ] = None,
    last: Annotated[
        str | None,
        typer.Option("--to", help="parquet: sessions started on or before this UTC date, YYYY-MM-DD."),
    ] = None,
    traces: Annotated[
        bool, typer.Option("--traces", help="parquet: the full-rate traces (every control tick) instead.")
    ] = False,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write to this file.")] = None,
) -> None:
    """Export a session: per-second samples as CSV, or the summary and events as JSON; or the
    per-second samples (or with --traces the full-rate traces) of one session or of every session
    (--user, --from, --to) as Parquet."""
    from legflow.cli.sessions import export_parquet, export_session

    kind = _export_format(fmt, csv_out)
    if kind == "parquet":
        if output is None:
            raise UsageError("--format parquet writes a binary file: name it with -o FILE")
        if session_id is not None and (user, first, last) != (None, None, None):
            raise UsageError("give a session ID or --user/--from/--to to choose what to export, not both")
        start, end = _export_date("--from", first), _export_date("--to", last)
        if start and end and start > end:
            raise UsageError(f"--from {start} is after --to {end}: no day is in that range")
        _say(export_parquet(output, session_id, user, start, end, traces))
        return
    if traces:
        raise UsageError("--traces exports full-rate traces as Parquet: add --format parquet")
    if session_id is None:
        raise UsageError(f"--format {kind} exports one session: give its ID (see: legflow history)")
    if (user, first, last) != (None, None, None):
        raise UsageError(f"--user, --from and --to choose sessions for --format parquet, not for {kind}")
    text = export_session(session_id, kind == "csv")
    if output is None:
        print(text, end="")
    else:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise LegflowError(f"cannot write {output}: {exc.strerror or exc}") from None
        _say(f"wrote {output}")


EXPORT_FORMATS = ("csv", "json", "parquet")


def _export_format(fmt: str | None, csv_out: bool) -> str:
    """The export's format: --format, or --csv, or JSON; one line when they disagree."""
    if fmt is not None and fmt not in EXPORT_FORMATS:
        raise UsageError(f"unknown export format '{fmt}' (one of: {', '.join(EXPORT_FORMATS)})")
    if csv_out and fmt not in (None, "csv"):
        raise UsageError(f"--csv and --format {fmt} disagree: give one of them")
    return "csv" if csv_out else fmt or "json"


def _export_date(flag: str, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{flag} {value!r} is not a date: give it as YYYY-MM-DD (UTC)") from None


@history_app.command("move-aside")
def history_move_aside() -> None:
    """Set a damaged history file aside, kept as is, so the next session starts a new history."""
    from legflow.cli.sessions import move_history_aside

    move_history_aside(console)


TWIN_ROWS = (
    ("ejected_mL_per_cycle", "blood ejected per cycle, mL"),
    ("peak_flow_augmentation", "peak outflow / resting outflow"),
    ("refill_s", "refill to 90 % after release, s"),
    ("fluid_cleared_mL", "interstitial fluid cleared, mL"),
    ("lymph_mL_per_h", "lymph flow, mL/h"),
    ("cycles", "compression cycles (both legs)"),
)
twin_app = typer.Typer(help="The leg twin: what a program does to the leg (a model, not clinical evidence).")
app.add_typer(twin_app, name="twin")


@twin_app.command("run")
def twin_run(
    program: Annotated[str, typer.Argument(help="Built-in name or program file.")],
    subject: SubjectOpt = "adult",
    posture: PostureOpt = "supine",
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the session summary with its twin block.")
    ] = False,
) -> None:
    """The twin alone under the program's ideal cell pressures (no device limits but the 300 mmHg
    schema range): blood ejected per cycle, flow augmentation, refill time, fluid cleared."""
    from legflow.cli.twin import run_twin
    from legflow.engine.summary import SessionSummary

    source = resolve(program)
    twin = run_twin(source.program, subject, posture)
    label = program.removesuffix(".toml").split("/")[-1]
    if json_out:  # a summary with no device: no cells, faults or skin temperature
        summary = SessionSummary(
            program=label, status="completed", duration_s=source.program.duration_s, twin=twin
        )
        print(json.dumps(summary.as_json(), indent=2))
        return
    title = as_text(f"Leg twin: {source.program.name} ({subject}, {posture})")
    table = Table(title=title, title_justify="left")
    legs = twin.legs or {}
    table.add_column("metric")
    table.add_column("per leg, mean", justify="right")
    for leg, each in legs.items():
        table.add_column(as_text(f"{leg} ({each.subject})"), justify="right")
    number = lambda value: "-" if value is None else f"{value:g}"  # noqa: E731
    for key, label_text in TWIN_ROWS:
        each_leg = [number(getattr(each, key)) for each in legs.values()]
        table.add_row(label_text, number(getattr(twin, key)), *each_leg)
    table.caption = (
        "A model prediction, not clinical evidence: see `legflow twin validate` for where it misses."
    )
    console.print(table)


@twin_app.command("plot")
def twin_plot(
    program: Annotated[str, typer.Argument(help="Built-in name or program file.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Write the figure here: .png or .svg.")],
    subject: SubjectOpt = "adult",
    posture: PostureOpt = "supine",
    leg: Annotated[str, typer.Option(help="Which leg to draw: left or right.")] = "left",
) -> None:
    """A figure of the twin under the program: pressures, venous volumes, outflow, fluid and lymph
    over one representative compression cycle and over the whole session, with `twin run`'s metrics."""
    from legflow.cli.twin import plot_twin

    source = resolve(program)
    plot_twin(source.program, source.program.name, output, subject, posture, leg)
    _say(f"wrote {output}")


@twin_app.command("validate")
def twin_validate(
    json_out: Annotated[
        bool, typer.Option("--json", help="Print each case: measure, published, model, tolerance, pass.")
    ] = False,
    cohort: Annotated[
        str, typer.Option(help="Also run every case on subjects of this cohort (legflow cohorts).")
    ] = "healthy_adults",
    n: Annotated[int, typer.Option("--n", help="Subjects of the cohort; 0: the default adult only.")] = 200,
    seed: Annotated[int, typer.Option(help="Seed of the cohort's sample.")] = 0,
) -> None:
    """Each published measurement the twin must reproduce: published value, model value, tolerance,
    pass or miss, and the share of a cohort's subjects within the tolerance. Misses are reported,
    never tuned away."""
    from legflow.trials.validation import cohort_validation
    from legflow.twin.validate import format_table, run_validation

    if n < 0:
        raise LegflowError(f"--n must be 0 or more, got {n}")
    rows = run_validation()
    verdicts = {v.id: v for v in cohort_validation(cohort, n, seed)} if n else {}
    passed = sum(row.passed for row in rows)
    if json_out:
        cases = [
            {**row.as_dict(), **({"cohort": verdicts[row.id].as_dict()} if verdicts else {})} for row in rows
        ]
        print(
            json.dumps({"cases": cases, "passed": passed, "total": len(rows)}, indent=2, ensure_ascii=False)
        )
        return
    print(format_table(rows, {k: v.text() for k, v in verdicts.items()}))
    print(f"{passed} of {len(rows)} cases within their tolerance")
    if verdicts:
        print(f"cohort: {n} subjects of {cohort} (seed {seed}), each case in its own posture")


@twin_app.command("params")
def twin_params(
    subject: SubjectOpt = "adult",
    cohort: Annotated[
        str, typer.Option(help="Also show the span each parameter takes over this cohort's subjects.")
    ] = "healthy_adults",
    n: Annotated[int, typer.Option("--n", help="Subjects of the cohort; 0: no span.")] = 200,
    seed: Annotated[int, typer.Option(help="Seed of the cohort's sample.")] = 0,
    json_out: Annotated[bool, typer.Option("--json", help="Print every parameter as JSON.")] = False,
) -> None:
    """Every parameter of a leg's set: value, unit, whether its source is cited, derived from cited
    values or assumed, the source itself, and the span a cohort gives it (as `twin validate` and
    trials run it)."""
    from legflow.trials.cohorts import load_cohort
    from legflow.twin.params import kind_counts, parameter_rows, range_kind_counts
    from legflow.twin.subject import load_subject

    if n < 0:
        raise LegflowError(f"--n must be 0 or more, got {n}")
    base = load_subject(subject)
    group = load_cohort(cohort) if n else None
    legs = [each.subject() for each in group.sample(n, seed)] if group else None
    rows = parameter_rows(base, legs)
    counts = kind_counts(rows)
    if json_out:
        spread = {"cohort": cohort, "n": n, "seed": seed, "base": group.base} if group else None
        out = {
            "subject": base.name,
            "counts": counts,
            "range_counts": range_kind_counts(rows),
            "cohort": spread,
            "parameters": [r.as_dict() for r in rows],
        }
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return
    print(f"Leg twin parameters: {base.name} ({base.description})")
    table = ""
    for row in rows:
        name, leaf = row.path.split(".")
        if name != table:
            print(f"\n[{name}]")
            table = name
        span = f"   {cohort}: {row.cohort_low:.4g} – {row.cohort_high:.4g}" if group else ""
        print(f"  {leaf} = {row.value:.5g} {row.unit}   ({row.kind}){span}")
        print(f"      {row.source}")
        if row.low is None:
            print("      range: none given")
        else:
            outside = "" if row.within_range else "   OUTSIDE its range"
            span = f"{row.low:.4g} – {row.high:.4g} {row.unit}"
            print(f"      range {span} ({row.range_kind}){outside}: {row.range_source}")
    summary = ", ".join(f"{count} {kind}" for kind, count in counts.items() if count)
    print(f"\n{len(rows)} parameters: {summary}")
    ranges = range_kind_counts(rows)
    out_of_range = [r.path for r in rows if r.within_range is False]
    print(
        f"ranges: {', '.join(f'{count} {kind}' for kind, count in ranges.items() if count)}; "
        + (
            f"outside their range: {', '.join(out_of_range)}"
            if out_of_range
            else "every value within its range"
        )
    )
    if group:
        print(f"span over {n} subjects of {cohort} (base {group.base}, seed {seed})")


app.command(name="trial")(trial_command)
app.command(name="optimise")(optimise_command)
app.command(name="cohorts")(cohorts_command)


register_records(app)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind; 0.0.0.0 opens it to the network.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="TCP port.")] = 8765,
) -> None:
    """The web dashboard: run, watch and review sessions in a browser. The token comes from
    LEGFLOW_TOKEN or is generated and printed inside a login URL."""
    from legflow.cli.web import serve_dashboard

    serve_dashboard(host, port, err)


def main() -> None:
    """Entry point: run the app, turning expected errors into one line and an exit code."""
    try:
        app()
    except ProgramError as exc:
        for problem in exc.problems:
            print(printable(problem), file=sys.stderr)
        sys.exit(exc.exit_code)
    except LegflowError as exc:
        print(f"error: {printable(exc)}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # the last guard: a bug must still not show a traceback to a user
        if os.environ.get("LEGFLOW_DEBUG"):
            raise
        _say(f"internal error: {type(exc).__name__}: {exc} (set LEGFLOW_DEBUG=1 for details)")
        sys.exit(70)

"""`legflow trial`, `legflow optimise`, `legflow cohorts`: programs on virtual cohorts of the twin.

The commands are registered by ``cli/app.py``; the work is in :mod:`legflow.trials`, imported only
when a command runs (it loads the compiled solver).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from legflow.cli.options import user_name
from legflow.cli.text import as_text
from legflow.device.profile import DEFAULT_PROFILE, load_profile
from legflow.errors import UsageError
from legflow.programs.library import resolve
from legflow.screening import DEFAULT_USER, user_limits

console = Console()
err = Console(stderr=True)

CohortOpt = Annotated[
    str,
    typer.Option(
        "--cohort",
        help="healthy_adults, older_sitters, post_exercise_athletes or oedema (see: legflow cohorts).",
    ),
]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the cohort draw (and of the optimiser).")]
BackendOpt = Annotated[str, typer.Option("--backend", help="local (this machine) or ray (a Ray cluster).")]
AddressOpt = Annotated[
    str | None,
    typer.Option(
        "--address", help="Ray cluster: auto, HEAD:6379 or ray://HEAD:10001 (default: start a local one)."
    ),
]


def _progress(what: str) -> Progress:
    return Progress(
        TextColumn(what),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


def _label(name: str, taken: set[str]) -> str:
    label = name.removesuffix(".toml").split("/")[-1]
    base, k = label, 2
    while label in taken:
        label, k = f"{base} ({k})", k + 1
    taken.add(label)
    return label


def trial_command(
    programs: Annotated[list[str], typer.Argument(help="Built-in names or program files.")],
    cohort: CohortOpt = "healthy_adults",
    n: Annotated[int, typer.Option("--n", help="Virtual subjects.")] = 200,
    backend: BackendOpt = "local",
    address: AddressOpt = None,
    seed: SeedOpt = 0,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="Write the report: .html (figures inside) or .md (+ .png)."),
    ] = Path("trial-report.html"),
    no_report: Annotated[bool, typer.Option("--no-report", help="Write no report file.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    chunk: Annotated[int, typer.Option("--chunk", help="Subjects per chunk (a Ray task).")] = 32,
) -> None:
    """Run programs over a virtual cohort of the leg twin: each metric's spread per program, a
    comparison with confidence intervals, and a report. Twin predictions, not clinical evidence."""
    from legflow.trials.backends import make_backend
    from legflow.trials.cohorts import load_cohort
    from legflow.trials.report import check_report_path, summary_rows, write_report
    from legflow.trials.trial import NOT_EVIDENCE, run_trial

    if n < 1 or chunk < 1:
        raise UsageError("--n and --chunk must be at least 1")
    if report is not None and not no_report:
        check_report_path(report)
    taken: set[str] = set()
    loaded = [(_label(name, taken), resolve(name).program) for name in programs]
    group = load_cohort(cohort)
    runner = make_backend(backend, address)
    try:
        with _progress(f"{group.name}, {n} subjects") as bar:
            task = bar.add_task("trial", total=n, note=f"{backend}")
            result = run_trial(
                loaded,
                group,
                n,
                seed,
                runner,
                chunk,
                progress=lambda done, total: bar.update(task, completed=done),
            )
    finally:
        runner.close()
    if json_out:
        summary = {
            "cohort": result.cohort,
            "n": result.n,
            "seed": result.seed,
            "backend": result.backend,
            "wall_s": round(result.wall_s, 3),
            "leg_hours": round(result.leg_hours, 3),
            "note": NOT_EVIDENCE,
            "evidence": {
                label: dict(zip(("goal", "grade", "text"), (goal, *result.evidence_of(label)), strict=True))
                for label, goal in zip(result.labels, result.goals, strict=True)
            },
            "programs": result.labels,
            "summary": [asdict(r) for r in result.summary()],
        }
        print(json.dumps(summary, indent=2))
    else:
        _print_trial(result, summary_rows(result))
    if report is not None and not no_report:
        written = write_report(result, report)
        err.print(as_text(f"wrote {', '.join(str(p) for p in written)}"), highlight=False)


def _print_trial(result, rows: list[list[str]]) -> None:
    from legflow.trials.report import HEADERS
    from legflow.trials.trial import NOT_EVIDENCE

    table = Table(
        title=f"Virtual trial: {result.cohort} cohort, n = {result.n}, seed {result.seed}",
        title_justify="left",
    )
    keep = (2, 3, 5, 6)  # the report also has the SD
    table.add_column("program (goal, evidence)")
    for k in keep:
        table.add_column(HEADERS[k], justify="left" if k == 2 else "right")
    last = None
    for row in rows:
        if last is not None and row[0] != last:
            table.add_section()
        table.add_row(as_text(f"{row[0]} ({row[1]})"), *(row[k] for k in keep))  # a label from a file name
        last = row[0]
    table.caption = (
        f"{NOT_EVIDENCE} Grades are each program's, as `legflow programs` gives them. "
        f"{result.leg_hours:.1f} leg-hours in {result.wall_s:.1f} s ({result.backend})."
    )
    console.print(table)
    for label, goal in zip(result.labels, result.goals, strict=True):
        grade, text = result.evidence_of(label)
        console.print(as_text(f"{label}, {goal} (grade {grade}): {text}"), highlight=False)


def optimise_command(
    goal: Annotated[str, typer.Option("--goal", help="lymph, circulation or recovery.")],
    cohort: CohortOpt = "healthy_adults",
    zones: Annotated[
        str, typer.Option("--zones", help="Comma-separated compression zones.")
    ] = "foot,calf,thigh",
    minutes: Annotated[float, typer.Option("--minutes", help="Length of the program.")] = 30.0,
    budget: Annotated[int, typer.Option("--budget", help="Candidate programs to simulate.")] = 200,
    n: Annotated[int, typer.Option("--n", help="Virtual subjects every candidate meets.")] = 16,
    seed: SeedOpt = 0,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write the best program here.")
    ] = None,
    backend: BackendOpt = "local",
    address: AddressOpt = None,
    profile: Annotated[str, typer.Option("--profile", help="Device profile the program must fit.")] = (
        DEFAULT_PROFILE
    ),
    user: Annotated[
        str, typer.Option("--user", help="Whose screening limits apply.", callback=user_name)
    ] = DEFAULT_USER,
) -> None:
    """Search a program's pressures, gradient, delay, hold and rest (CMA-ES) inside the limits and
    comfort bounds for the goal's twin metric over a cohort; write the best as a checked program."""
    from legflow.trials.backends import make_backend
    from legflow.trials.chunks import METRICS
    from legflow.trials.cohorts import load_cohort
    from legflow.trials.optimise import GOAL_METRICS, optimise, program_text
    from legflow.trials.trial import NOT_EVIDENCE

    if n < 1:
        raise UsageError("--n must be at least 1")
    target = output or Path(f"optimised-{goal}.toml")
    if not target.parent.is_dir():
        raise UsageError(f"cannot write '{target}': folder '{target.parent}' does not exist")
    device, limits = load_profile(profile), user_limits(user)
    group = load_cohort(cohort)
    runner = make_backend(backend, address)
    try:
        with _progress(f"optimise {goal} on {group.name}") as bar:
            task = bar.add_task("optimise", total=budget, note="")
            result = optimise(
                goal,
                group,
                [z.strip() for z in zones.split(",") if z.strip()],
                minutes,
                budget,
                device,
                limits,
                n=n,
                seed=seed,
                backend=runner,
                progress=lambda done, total, best: bar.update(task, completed=done, note=f"best {best:.3g}"),
            )
    finally:
        runner.close()
    text = program_text(result, device, limits)
    target.write_text(text, encoding="utf-8")
    words, unit = METRICS[result.metric]
    grade, evidence = result.trial.evidence_of("optimised")
    table = Table(title=f"Best of {len(result.history)} programs for {goal} ({group.name}, n = {n})")
    table.add_column("metric, per leg")
    table.add_column("optimised: mean [95 % CI] (5th – 95th pct)", justify="right")
    table.add_column("recipe: mean", justify="right")
    rows = {(r.label, r.metric): r for r in result.trial.summary()}
    for key, (name, metric_unit) in METRICS.items():
        best, recipe = rows.get(("optimised", key)), rows.get(("recipe", key))
        if best is None:
            continue
        table.add_row(
            f"{name} [{metric_unit}]" + (" (objective)" if key == result.metric else ""),
            f"{best.mean:.3g} [{best.ci_low:.3g}, {best.ci_high:.3g}] ({best.p5:.3g} – {best.p95:.3g})",
            "-" if recipe is None else f"{recipe.mean:.3g}",
        )
    table.caption = f"{NOT_EVIDENCE} Goal '{goal}': grade {grade}. Objective: {GOAL_METRICS[goal][1]}."
    console.print(table)
    console.print(f"evidence for {goal} (grade {grade}): {evidence}", highlight=False)
    err.print(
        as_text(
            f"wrote {target} ({words}: {result.best_score:.3g} {unit}); check it with: legflow check {target}"
        ),
        highlight=False,
    )


def cohorts_command(
    name: Annotated[str | None, typer.Argument(help="One cohort: its priors and their sources.")] = None,
) -> None:
    """The built-in virtual cohorts, or one cohort's priors with their sources."""
    from legflow.trials.cohorts import TRAITS, cohort_names, load_cohort, trait_notes

    if name is None:
        table = Table(title="Virtual cohorts (legflow trial --cohort NAME)", title_justify="left")
        table.add_column("cohort")
        table.add_column("base")
        table.add_column("description")
        for cohort in cohort_names():
            c = load_cohort(cohort)
            table.add_row(c.name, c.base, c.description)
        console.print(table)
        return
    c = load_cohort(name)
    notes = trait_notes()
    table = Table(title=f"{c.name}: {c.description} (base: {c.base})", title_justify="left", show_lines=True)
    table.add_column("trait")
    table.add_column("prior")
    table.add_column("source")
    table.add_column("changes in the twin")
    for trait in TRAITS:
        prior = c.priors[trait]
        params = ", ".join(f"{k} {v}" for k, v in prior.params.items())
        table.add_row(
            f"{trait} [{notes[trait]['unit']}]",
            f"{prior.distribution}: {params}",
            prior.source,
            notes[trait]["maps_to"],
        )
    console.print(table)

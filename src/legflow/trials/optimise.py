"""The program optimiser: CMA-ES (optuna) over a program's compression parameters, scored by the
goal's twin metric averaged over a virtual cohort.

Searched: the pressure of the most distal zone, the gradient between neighbouring zones (distal
highest, Kamm et al. 1986: 5–10 mmHg between cells did best), the delay between zones, the hold and
the rest. Pattern (sequential), inflation and release times come from the goal's recipe
(``plan.compose.RECIPES``). The search never leaves the comfort bounds and the limits: each
zone's pressure is capped by the tightest of comfort, the user's limits and the device's rating, and
every candidate must pass the device check (``plan.check_source``) before it is simulated; one that
fails is recorded as failed, never scored.

Every candidate meets the same subjects (one draw of the cohort), so candidates differ by their
program only. A generation of CMA-ES is one trial of several programs, so the solver runs the whole
population as one batch. The first candidate is the goal's recipe itself (the composer's program at
intensity 3), so the result is never worse than the recipe on this cohort.

The objective is a twin prediction on a model cohort: a way to choose parameters to try, not
evidence that a program works.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from legflow.anatomy import distal_rank
from legflow.device.profile import DeviceProfile
from legflow.errors import LegflowError, ProgramError
from legflow.plan import check_source
from legflow.plan.compose import RECIPES, compose
from legflow.programs.loader import dump_program, validate_text
from legflow.programs.model import Program
from legflow.safety.limits import Limits
from legflow.trials.chunks import METRICS, Backend
from legflow.trials.cohorts import Cohort
from legflow.trials.trial import NOT_EVIDENCE, TrialResult, run_on_subjects

#: The twin metric each goal is optimised for, and why it stands for the goal.
GOAL_METRICS: dict[str, tuple[str, str]] = {
    "lymph": ("fluid_cleared_mL", "interstitial fluid cleared from the leg"),
    "circulation": ("ejected_mL_per_min", "venous blood moved out of the leg per minute"),
    "recovery": (
        "ejected_mL_per_min",
        "venous blood moved per minute: a surrogate, the twin has no model of muscle soreness",
    ),
}
#: Comfort bounds of a cell's pressure: the comfort default of docs/safety.md starts at 30 mmHg, and recovery
#: programs reach 80 mmHg; the limits and the device may cap lower.
COMFORT_PRESSURE_mmHg = (30.0, 80.0)
GRADIENT_mmHg_PER_ZONE = (0.0, 10.0)  # Kamm 1986: best 5-10 mmHg between cells; 0 = uniform
DELAY_s = (0.0, 2.0)  # Kamm 1986: onset delay 0-0.5 s did best; up to 2 s explored
HOLD_s = (0.0, 60.0)  # evidence.md, lymph: holds of about 50 s move tissue fluid
REST_s = (5.0, 60.0)  # a few seconds to a minute for the veins to refill (refill ≈ 10-40 s)
PARAMETERS = ("pressure_mmHg", "gradient_mmHg_per_zone", "delay_s", "hold_s", "rest_s")


class OptimiseError(LegflowError):
    """A goal the twin has no metric for, or a search with nothing to search."""


@dataclass(frozen=True)
class SearchSpace:
    """Bounds of each searched parameter, and each zone's pressure cap (comfort, limits, device)."""

    goal: str
    zones: tuple[str, ...]
    minutes: float
    bounds: dict[str, tuple[float, float]]
    cap_mmHg: dict[str, float]
    floor_mmHg: float

    def zone_pressures(self, top_mmHg: float, gradient_mmHg: float) -> list[float]:
        """Distal zone at ``top``, each next zone ``gradient`` less, kept within [floor, cap]."""
        return [
            round(min(max(top_mmHg - gradient_mmHg * i, self.floor_mmHg), self.cap_mmHg[z]), 0)
            for i, z in enumerate(self.zones)
        ]


def search_space(
    goal: str, zones: list[str], minutes: float, profile: DeviceProfile, limits: Limits
) -> SearchSpace:
    if goal not in GOAL_METRICS:
        raise OptimiseError(
            f"the twin has no metric for goal '{goal}'; optimise supports: {', '.join(GOAL_METRICS)}"
        )
    compose(goal, zones, 3, minutes, profile, limits)  # the composer's checks of zones and minutes
    squeezed = tuple(sorted({z for z in zones if not z.startswith("sole.")}, key=distal_rank))
    if not squeezed:
        raise OptimiseError("optimise needs at least one compression zone (foot, ankle, calf, knee, thigh)")
    caps = {}
    for zone in squeezed:
        limit, _ = limits.pressure_limit_mmHg(zone)
        device = min((c.max_pressure_mmHg for c in profile.cells_in_zone(zone)), default=limit)
        caps[zone] = min(COMFORT_PRESSURE_mmHg[1], limit, device)
    floor = min(COMFORT_PRESSURE_mmHg[0], *caps.values())
    top = (floor, max(caps[squeezed[0]], floor))
    bounds = {
        "pressure_mmHg": top,
        "gradient_mmHg_per_zone": GRADIENT_mmHg_PER_ZONE,
        "delay_s": DELAY_s,
        "hold_s": HOLD_s,
        "rest_s": REST_s,
    }
    return SearchSpace(goal, squeezed, minutes, bounds, caps, floor)


def candidate(template: Program, space: SearchSpace, params: dict[str, float], note: str) -> Program:
    """The template program with these compression parameters (rounded to what a person sets)."""
    recipe = RECIPES[space.goal]
    pressures = space.zone_pressures(params["pressure_mmHg"], params["gradient_mmHg_per_zone"])
    hold, rest = round(params["hold_s"], 1), round(params["rest_s"], 1)
    data = template.model_dump(by_alias=True, exclude_none=True)
    phase = data["phase"][0]
    phase["compression"] = {
        "pattern": "sequential",
        "zones": list(space.zones),
        "pressure_mmHg": pressures,
        "inflate_s": recipe.inflate_s,
        "delay_s": round(params["delay_s"], 1),
        "hold_s": hold,
        "release_s": recipe.release_s,
        "rest_s": rest,
    }
    phase["name"] = f"optimised {space.goal.replace('_', ' ')}"
    info = data["program"]
    info["name"] = f"Optimised {space.goal.replace('_', ' ')} program"
    info["summary"] = note[:500]
    info["dose"] = (
        f"{space.minutes:g} min, sequential {min(pressures):g}–{max(pressures):g} mmHg, "
        f"hold {hold:g} s, rest {rest:g} s"
    )
    return Program.model_validate(data)


def recipe_params(space: SearchSpace, template: Program) -> dict[str, float]:
    """The composer's program for the goal, as a point of the search space (the first candidate)."""
    c = template.phases[0].compression
    assert c is not None  # every optimisable goal squeezes
    pressures = list(c.zone_pressures().values())
    gradient = (pressures[0] - pressures[-1]) / (len(pressures) - 1) if len(pressures) > 1 else 0.0
    wanted = {
        "pressure_mmHg": pressures[0],
        "gradient_mmHg_per_zone": gradient,
        "delay_s": c.delay_s,
        "hold_s": c.hold_s,
        "rest_s": c.rest_s,
    }
    return {k: float(np.clip(v, *space.bounds[k])) for k, v in wanted.items()}


def device_checked(program: Program, profile: DeviceProfile, limits: Limits) -> str:
    """The program's TOML text once it passes the device check; raises `ProgramError` if not."""
    text = dump_program(program)
    check_source(validate_text(text, "<candidate>"), profile, limits)
    return text


@dataclass
class OptimiseResult:
    goal: str
    metric: str
    space: SearchSpace
    best_program: Program
    best_params: dict[str, float]
    best_values: np.ndarray  # the goal metric of each subject under the best program
    trial: TrialResult  # every metric of the best and the recipe program on the cohort
    history: list[tuple[dict[str, float], float]]  # every candidate scored: params, cohort mean
    failed: int  # candidates refused by the device check (never scored)

    @property
    def best_score(self) -> float:
        return float(np.nanmean(self.best_values))


def default_popsize(n_params: int = len(PARAMETERS)) -> int:
    """CMA-ES's default population, 4 + ⌊3 ln d⌋ (Hansen): one generation = one batched trial."""
    return 4 + math.floor(3 * math.log(n_params))


def optimise(
    goal: str,
    cohort: Cohort,
    zones: list[str],
    minutes: float,
    budget: int,
    profile: DeviceProfile,
    limits: Limits,
    n: int = 16,
    seed: int = 0,
    backend: Backend | None = None,
    popsize: int | None = None,
    progress: Callable[[int, int, float], None] | None = None,
) -> OptimiseResult:
    """Search ``budget`` candidate programs; ``progress(evaluated, budget, best_so_far)``."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if budget < 1:
        raise OptimiseError(f"the budget must be at least 1 program, got {budget}")
    space = search_space(goal, zones, minutes, profile, limits)
    metric, meaning = GOAL_METRICS[goal]
    template = compose(goal, list(space.zones), 3, minutes, profile, limits)
    start = recipe_params(space, template)
    note = (
        f"Found by legflow optimise: maximises {meaning} in the leg twin over the {cohort.name} cohort "
        f"(n = {n}, seed {seed}). A model prediction, not clinical evidence."
    )
    subjects = cohort.sample(n, seed)
    distributions: dict[str, optuna.distributions.BaseDistribution] = {
        k: optuna.distributions.FloatDistribution(*space.bounds[k]) for k in PARAMETERS
    }
    popsize = popsize or default_popsize()
    sampler = optuna.samplers.CmaEsSampler(
        seed=seed, popsize=popsize, n_startup_trials=1, warn_independent_sampling=False
    )
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.enqueue_trial(start)
    history: list[tuple[dict[str, float], float]] = []
    programs: dict[int, Program] = {}
    failed = evaluated = 0
    best = -math.inf
    while evaluated < budget:
        batch = [study.ask(distributions) for _ in range(min(popsize, budget - evaluated))]
        scored = []
        for t in batch:
            program = candidate(template, space, t.params, note)
            try:
                device_checked(program, profile, limits)
            except ProgramError:
                study.tell(t, state=optuna.trial.TrialState.FAIL)
                failed += 1
                continue
            programs[t.number] = program
            scored.append(t)
        if scored:
            labels = [(f"candidate {t.number}", programs[t.number]) for t in scored]
            result = run_on_subjects(labels, subjects, cohort.name, seed, backend)
            for t in scored:
                values = result.metric(f"candidate {t.number}", metric)
                score = float(np.nanmean(values)) if np.isfinite(values).any() else -math.inf
                study.tell(t, score)
                history.append((dict(t.params), score))
                best = max(best, score)
        evaluated += len(batch)
        if progress is not None:
            progress(evaluated, budget, best)
    if not history:
        raise OptimiseError("no candidate passed the device check: the limits leave nothing to search")
    winner = study.best_trial
    best_program = programs[winner.number]
    recipe_program = programs.get(0, template)
    final = run_on_subjects(
        [("optimised", best_program), ("recipe", recipe_program)], subjects, cohort.name, seed, backend
    )
    return OptimiseResult(
        goal=goal,
        metric=metric,
        space=space,
        best_program=best_program,
        best_params=dict(winner.params),
        best_values=final.metric("optimised", metric),
        trial=final,
        history=history,
        failed=failed,
    )


def program_text(result: OptimiseResult, profile: DeviceProfile, limits: Limits) -> str:
    """The best program as TOML, headed by comments with its predicted metrics and their spread
    over the cohort beside the program's evidence grade; checked against the device before it is
    returned."""
    body = device_checked(result.best_program, profile, limits)
    trial = result.trial
    grade, evidence = trial.evidence_of("optimised")
    lines = [
        f"# Optimised by legflow optimise for '{result.goal}' on the {trial.cohort} cohort "
        f"(n = {trial.n}, seed {trial.seed}, {len(result.history)} programs scored).",
        f"# Objective: {METRICS[result.metric][0]} ({METRICS[result.metric][1]}), cohort mean.",
        f"# Evidence for this program ({result.goal}): grade {grade}. {evidence}",
        f"# {NOT_EVIDENCE}",
        "# Predicted per leg: mean [95 % CI of the mean] (5th-95th percentile over the cohort); recipe mean",
    ]
    rows = {(r.label, r.metric): r for r in trial.summary()}
    for key, (words, unit) in METRICS.items():
        r, base = rows.get(("optimised", key)), rows.get(("recipe", key))
        if r is None:
            continue
        recipe = f"; recipe {base.mean:.3g}" if base is not None else ""
        lines.append(
            f"#   {words}: {r.mean:.3g} [{r.ci_low:.3g}, {r.ci_high:.3g}] "
            f"({r.p5:.3g}-{r.p95:.3g}) {unit}{recipe}"
        )
    return "\n".join(lines) + "\n\n" + body

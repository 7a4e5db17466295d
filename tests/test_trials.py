"""Virtual trials and the optimiser: cohorts, local trials, summaries, the optimiser inside the
limits, and the commands end to end. Tiny cohorts and 1-2 min programs keep it fast."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cli_helpers import run_cli
from legflow.device.profile import load_profile
from legflow.errors import LegflowError
from legflow.evidence.dose import program_grading
from legflow.plan import check_source
from legflow.plan.compose import compose
from legflow.plan.dose_schedule import tissue_pressures
from legflow.programs.library import builtin_source
from legflow.programs.loader import dump_program, validate_text
from legflow.safety.limits import DEFAULT_LIMITS, Limits
from legflow.trials.chunks import METRIC_KEYS
from legflow.trials.cohorts import (
    TRAITS,
    CohortError,
    cohort_names,
    load_cohort,
    trait_notes,
    trait_overrides,
)
from legflow.trials.optimise import (
    PARAMETERS,
    COMFORT_PRESSURE_mmHg,
    OptimiseError,
    candidate,
    optimise,
    program_text,
    search_space,
)
from legflow.trials.trial import TRIAL_RTOL, run_trial
from legflow.twin.live import TWIN_STEP_s
from legflow.twin.metrics import program_metrics
from legflow.twin.model import pack
from legflow.twin.solver import simulate
from legflow.twin.subject import load_subject

PROFILE = load_profile()
ZONES = ["foot", "calf", "thigh"]


def short(goal: str, minutes: float = 1.0, **compression):
    program = compose(goal, ZONES, 3, minutes, PROFILE, DEFAULT_LIMITS)
    if compression:
        data = program.model_dump(by_alias=True, exclude_none=True)
        data["phase"][0]["compression"].update(compression)
        program = type(program).model_validate(data)
    return program


@pytest.fixture
def cli(capsys, monkeypatch):
    return lambda *args: run_cli(capsys, monkeypatch, *args)


# -- cohorts -----------------------------------------------------------------------------------
def test_sampling_is_seeded_reproducible_and_independent_of_cohort_size():
    cohort = load_cohort("oedema")
    first, again = cohort.sample(12, seed=7), cohort.sample(12, seed=7)
    assert [s.traits for s in first] == [s.traits for s in again]
    assert [s.traits for s in cohort.sample(5, seed=7)] == [s.traits for s in first[:5]]
    assert [s.traits for s in cohort.sample(12, seed=8)] != [s.traits for s in first]
    other = load_cohort("healthy_adults").sample(12, seed=7)
    assert [s.traits["leg_volume_scale"] for s in other] != [s.traits["leg_volume_scale"] for s in first]


@pytest.mark.parametrize("name", cohort_names())
def test_every_draw_stays_inside_the_documented_bounds_and_every_prior_has_a_source(name):
    cohort = load_cohort(name)
    subjects = cohort.sample(300, seed=1)
    for trait in TRAITS:
        prior = cohort.priors[trait]
        assert prior.source.strip()
        values = [s.traits[trait] for s in subjects]
        if trait == "posture":
            assert set(values) <= set(prior.params["choices"])
            continue
        low, high = prior.bounds()
        assert low <= min(values) and max(values) <= high, trait
        if prior.distribution in ("uniform", "lognormal"):
            assert max(values) - min(values) > 0.5 * (high - low) * (
                0.3 if trait == "leg_volume_scale" else 1
            )
    for s in subjects[:10]:  # every draw is a subject the twin can start from
        params, rest = pack(s.subject(), s.posture)
        assert all(np.all(np.isfinite(params[f])) for f in params.dtype.names) and np.all(np.isfinite(rest))


def test_traits_map_onto_documented_parameters():
    base = load_subject("adult")
    traits = {"age_y": 80.0, "leg_volume_scale": 1.2, "oedema_mL_per_100mL": 12.0,
              "venous_insufficiency": 1.0, "resting_flow_scale": 2.0, "posture": "seated"}  # fmt: skip
    subject = load_subject("adult", **trait_overrides("adult", traits))
    assert subject.calf.venous_compliance_mL_per_mmHg == pytest.approx(
        base.calf.venous_compliance_mL_per_mmHg * 1.2 * 0.7
    )
    assert subject.thigh.tissue_volume_mL == pytest.approx(base.thigh.tissue_volume_mL * 1.2)
    assert subject.foot.fluid_excess_at_rest_mL_per_100mL == 12.0
    assert subject.thigh.fluid_excess_at_rest_mL_per_100mL == pytest.approx(4.0)
    assert subject.calf.valve_backflow_resistance_mmHg_s_per_mL == pytest.approx(
        subject.calf.venous_resistance_mmHg_s_per_mL
    )
    assert subject.calf.microvascular_resistance_mmHg_s_per_mL == pytest.approx(
        base.calf.microvascular_resistance_mmHg_s_per_mL / 1.2 / 2.0
    )
    young = {**traits, "age_y": 25.0, "venous_insufficiency": 0.0}
    kept = load_subject("adult", **trait_overrides("adult", young))
    assert kept.calf.venous_compliance_mL_per_mmHg == pytest.approx(
        base.calf.venous_compliance_mL_per_mmHg * 1.2
    )
    assert kept.calf.valve_backflow_resistance_mmHg_s_per_mL == pytest.approx(
        base.calf.valve_backflow_resistance_mmHg_s_per_mL / 1.2  # competent: only scaled with the leg
    )


@pytest.mark.parametrize("name", cohort_names())
def test_every_source_is_a_source_or_a_stated_assumption_never_a_placeholder(name):
    priors = [p.source for p in load_cohort(name).priors.values()]
    for source in priors + [t["source"] for t in trait_notes().values()]:
        assert "confirm" not in source.lower(), source


def test_unknown_cohort_and_bad_sizes_are_clear_errors():
    with pytest.raises(CohortError, match=r"unknown cohort 'oedma'.*oedema"):
        load_cohort("oedma")
    with pytest.raises(CohortError, match="at least 1"):
        load_cohort("oedema").sample(0)
    with pytest.raises(CohortError, match="seed"):
        load_cohort("oedema").sample(3, seed=-1)


# -- trials ------------------------------------------------------------------------------------
def test_a_subjects_metrics_are_the_twins_own_metrics_for_that_subject():
    program = short("circulation", 2.0)
    result = run_trial([("c", program)], load_cohort("older_sitters"), 3, seed=2)
    s = result.subjects[1]
    ratio = load_subject("adult").circulation.pressure_transmission_ratio  # as the trial presses the legs
    external = tissue_pressures(program, load_profile().zone_covers(), ratio)
    trace = simulate(s.subject(), external, TWIN_STEP_s, posture=s.posture, rtol=TRIAL_RTOL)
    expected = program_metrics(trace)
    got = dict(zip(METRIC_KEYS, result.values[0, 1], strict=True))
    for key in ("ejected_mL_per_cycle", "peak_flow_augmentation", "fluid_cleared_mL", "lymph_mL_per_h"):
        assert got[key] == pytest.approx(expected[key], abs=0.011), key
    per_leg_cycles = expected["cycles"] / 2
    assert got["ejected_mL_per_min"] == pytest.approx(
        expected["ejected_mL_per_cycle"] * per_leg_cycles / 2.0, rel=1e-3
    )


def test_trials_are_reproducible_and_chunking_changes_nothing():
    programs = [("lymph", short("lymph")), ("circulation", short("circulation"))]
    cohort = load_cohort("healthy_adults")
    a = run_trial(programs, cohort, 10, seed=4, chunk_subjects=3)
    b = run_trial(programs, cohort, 10, seed=4, chunk_subjects=32)
    assert a.values.shape == (2, 10, len(METRIC_KEYS))
    assert np.array_equal(a.values, b.values, equal_nan=True)
    assert a.summary() == b.summary()
    c = run_trial(programs, cohort, 10, seed=5)
    assert not np.array_equal(a.values, c.values, equal_nan=True)


def test_summary_numbers_follow_the_per_subject_values():
    firm = short("circulation")
    softer = short("circulation", pressure_mmHg=[30.0, 25.0, 20.0])
    result = run_trial(
        [("firm", firm), ("same", firm), ("softer", softer)], load_cohort("oedema"), 12, seed=1
    )
    rows = {(r.label, r.metric): r for r in result.summary()}
    v = result.metric("firm", "ejected_mL_per_cycle")
    row = rows["firm", "ejected_mL_per_cycle"]
    assert row.n == 12 and row.mean == pytest.approx(v.mean()) and row.sd == pytest.approx(v.std(ddof=1))
    assert row.ci_low < row.mean < row.ci_high and row.p5 <= row.median <= row.p95
    assert row.diff is None
    same = rows["same", "ejected_mL_per_cycle"]
    assert same.diff == 0.0 and same.diff_low == 0.0 and same.diff_high == 0.0
    soft = rows["softer", "ejected_mL_per_cycle"]
    d = result.metric("softer", "ejected_mL_per_cycle") - v
    assert soft.diff == pytest.approx(d.mean()) and soft.diff_high < 0  # less pressure moves less blood
    assert soft.diff_low < soft.diff < soft.diff_high


def test_one_leg_programs_leave_the_other_leg_alone():
    program = short("circulation")
    data = program.model_dump(by_alias=True, exclude_none=True)
    data["program"]["legs"] = "left"
    left = type(program).model_validate(data)
    result = run_trial([("both", program), ("left", left)], load_cohort("healthy_adults"), 4, seed=0)
    both_leg = result.metric("both", "ejected_mL_per_min")
    one_leg = result.metric("left", "ejected_mL_per_min")
    assert np.allclose(both_leg, one_leg, rtol=0.01)  # per compressed leg: the same squeeze


# -- optimiser ---------------------------------------------------------------------------------
TIGHT = Limits().tighten("test: anticoagulants", leg_pressure_mmHg=40.0, foot_pressure_mmHg=45.0)


@given(
    st.lists(st.floats(0.0, 1.0), min_size=len(PARAMETERS), max_size=len(PARAMETERS)),
    st.sampled_from([DEFAULT_LIMITS, TIGHT]),
)
def test_every_point_of_the_search_space_is_a_program_the_device_check_accepts(unit, limits):
    space = search_space("lymph", ["foot", "ankle", "calf", "knee", "thigh"], 30.0, PROFILE, limits)
    params = {k: lo + u * (hi - lo) for (k, (lo, hi)), u in zip(space.bounds.items(), unit, strict=True)}
    program = candidate(compose("lymph", ZONES, 3, 30.0, PROFILE, limits), space, params, "test")
    check_source(validate_text(dump_program(program)), PROFILE, limits)
    for zone, pressure in program.phases[0].compression.zone_pressures().items():
        assert pressure <= min(limits.pressure_limit_mmHg(zone)[0], COMFORT_PRESSURE_mmHg[1])


@pytest.mark.slow
def test_optimiser_stays_inside_tight_limits_and_its_program_passes_the_check():
    seen = []
    result = optimise(
        "lymph", load_cohort("oedema"), ZONES, 1.0, 10, PROFILE, TIGHT, n=4, seed=3, popsize=5,
        progress=lambda done, total, best: seen.append((done, total)),
    )  # fmt: skip
    assert seen[-1] == (10, 10) and len(result.history) == 10 and result.failed == 0
    space = result.space
    for params, score in result.history:
        assert all(space.bounds[k][0] <= params[k] <= space.bounds[k][1] for k in PARAMETERS)
        assert np.isfinite(score)
    assert result.best_score == pytest.approx(max(score for _, score in result.history))
    text = program_text(result, PROFILE, TIGHT)
    source = validate_text(text, "best.toml")
    check_source(source, PROFILE, TIGHT)
    pressures = source.program.phases[0].compression.zone_pressures()
    assert pressures["foot"] <= 45.0 and pressures["calf"] <= 40.0 and pressures["thigh"] <= 40.0
    assert "not clinical evidence" in text and "grade B" in text
    again = optimise("lymph", load_cohort("oedema"), ZONES, 1.0, 10, PROFILE, TIGHT, n=4, seed=3, popsize=5)
    assert again.history == result.history  # seeded: the same search


def test_optimiser_refuses_goals_without_a_twin_metric_and_empty_budgets():
    with pytest.raises(OptimiseError, match="no metric for goal 'stress'"):
        optimise("stress", load_cohort("oedema"), ZONES, 1.0, 5, PROFILE, DEFAULT_LIMITS)
    with pytest.raises(OptimiseError, match="budget"):
        optimise("lymph", load_cohort("oedema"), ZONES, 1.0, 0, PROFILE, DEFAULT_LIMITS)
    with pytest.raises(LegflowError, match="unknown zone"):
        optimise("lymph", load_cohort("oedema"), ["shin"], 1.0, 5, PROFILE, DEFAULT_LIMITS)


# -- commands ----------------------------------------------------------------------------------
def test_a_trial_shows_each_programs_own_grade_as_the_library_does(cli):
    """Two pain programs whose own evidence is grade D (the pneumatic evidence of pain is C): the
    trial says D, as `legflow programs` does."""
    summary = json.loads(cli("trial", "shin-splints", "sore-spot", "--n", "2", "--json", "--no-report").out)
    for name in ("shin-splints", "sore-spot"):
        library = program_grading(builtin_source(name).program).grade
        assert summary["evidence"][name]["grade"] == library == "D"


@pytest.mark.slow
def test_trial_command_prints_grades_beside_effects_and_writes_a_report(cli, tmp_path):
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text(dump_program(short("lymph", 2.0)))  # one 87-s cycle fits
    b.write_text(dump_program(short("circulation")))
    report = tmp_path / "trial.md"
    result = cli(
        "trial", str(a), str(b), "--cohort", "post_exercise_athletes", "--n", "6", "--report", str(report)
    )
    assert result.code == 0, result.err
    out = " ".join(result.out.split())
    assert "lymph (grade B)" in out and "circulation (grade B)" in out
    assert "not clinical evidence" in out
    text = report.read_text()
    assert "grade B" in text and "not clinical evidence" in text and "Halliwill" in text
    assert (tmp_path / "trial.png").read_bytes()[:4] == b"\x89PNG"
    html = tmp_path / "trial.html"
    json_result = cli("trial", str(a), "--n", "4", "--json", "--report", str(html))
    summary = json.loads(json_result.out)
    assert summary["n"] == 4 and summary["evidence"]["a"]["grade"] == "B"
    assert summary["evidence"]["a"]["goal"] == "lymph"
    assert "not clinical evidence" in summary["note"]
    assert {r["metric"] for r in summary["summary"]} >= {"ejected_mL_per_cycle", "fluid_cleared_mL"}
    assert "data:image/png;base64," in html.read_text()


def test_optimise_command_writes_a_program_that_legflow_check_accepts(cli, tmp_path):
    best = tmp_path / "best.toml"
    result = cli("optimise", "--goal", "circulation", "--cohort", "older_sitters", "--minutes", "1",
                 "--budget", "6", "--n", "3", "-o", str(best))  # fmt: skip
    assert result.code == 0, result.err
    assert "not clinical evidence" in " ".join(result.out.split()) and "grade B" in result.out
    assert cli("check", str(best)).code == 0


def test_cohorts_command_and_clear_errors(cli, tmp_path):
    listing = cli("cohorts")
    assert listing.code == 0 and all(name in listing.out for name in cohort_names())
    one = " ".join(cli("cohorts", "oedema").out.split())
    assert "ISL consensus" in one and "weak" in one
    bad = cli("trial", "lymph", "--cohort", "nobody", "--no-report")
    assert bad.code == 1 and bad.err.count("\n") == 1 and "unknown cohort" in bad.err
    assert cli("trial", "lymph", "--backend", "slurm", "--no-report").code == 1
    assert "use a .html or .md" in cli("trial", "lymph", "--report", str(tmp_path / "r.pdf")).err
    assert "no metric for goal" in cli("optimise", "--goal", "stress", "--budget", "2").err

"""`legflow twin run` and `legflow twin validate` from the command line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from cli_helpers import run_cli
from legflow.apps.limb import leg_twin
from legflow.cli.twin import tissue_pressures
from legflow.device.profile import load_profile
from legflow.programs.library import builtin_source
from legflow.programs.timeline import Timeline
from legflow.trials.cohorts import load_cohort
from legflow.twin.subject import COMPARTMENT_NAMES, load_subject
from legflow.twin.validate import load_cases, measure_case, run_validation, subject_and_posture

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture
def cli(capsys, monkeypatch):
    return lambda *args: run_cli(capsys, monkeypatch, *args)


def test_tissue_pressure_follows_the_program_and_the_coverage():
    program = builtin_source("circulation").program
    ratio = load_subject("adult").circulation.pressure_transmission_ratio
    external = tissue_pressures(program, load_profile().zone_covers(), ratio)
    assert external.shape == (round(program.duration_s / 0.1) + 1, 2, len(COMPARTMENT_NAMES))
    foot = max(p.compression.zone_pressures().get("foot", 0.0) for p in program.phases if p.compression)
    assert external[:, 0, 0].max() == pytest.approx(ratio * foot)  # the foot cell covers the whole foot
    assert np.all(external >= 0)


@pytest.mark.parametrize("subject", ["adult", "adult,oedema"])
def test_twin_run_squeezes_the_leg_that_legflow_run_squeezes(subject):
    """The twin alone (`legflow twin run`, virtual trials) and the session's twin (`legflow run`)
    turn the same cell pressures into the same tissue pressures: the reference device's coverage,
    through each leg's own transmission ratio."""
    program = builtin_source("circulation").program
    profile = load_profile()
    session_twin = leg_twin(profile, subject)
    ratio = [leg.circulation.pressure_transmission_ratio for leg in session_twin.subjects]
    external = tissue_pressures(program, profile.zone_covers(), ratio)
    legs = [name.split(".")[0] for name in profile.cell_names()]
    table = Timeline(program).setpoint_table(legs, [c.zone for c in profile.cells] * len(profile.legs), 0.1)
    squeezed = 0
    for k in range(0, len(table), 7):
        np.testing.assert_allclose(session_twin.tissue_pressures(table[k]), external[k], atol=1e-9)
        squeezed += bool(external[k].any())
    assert squeezed > 10


@pytest.mark.parametrize(("spec", "label"), [("adult, adult", "adult"), ("adult , oedema", "adult,oedema")])
def test_twin_run_names_the_legs_as_a_session_does(cli, spec, label):
    """One name for legs alike, each leg's where they differ: the summaries of `legflow twin run`
    and `legflow run` agree, however the user spaced the names."""
    twin = json.loads(cli("twin", "run", "sitting-break", "--subject", spec, "--json").out)["twin"]
    assert twin["subject"] == leg_twin(load_profile(), spec).subject_name == label


def test_twin_run_json_fills_the_twin_block(cli):
    result = cli("twin", "run", "circulation", "--json")
    assert result.code == 0
    summary = json.loads(result.out)
    twin = summary["twin"]
    assert summary["program"] == "circulation" and twin["subject"] == "adult" and twin["posture"] == "supine"
    assert twin["ejected_mL_per_cycle"] > 0 and twin["peak_flow_augmentation"] > 1
    assert twin["refill_s"] > 0 and twin["cycles"] >= 2


def test_standing_and_subjects_change_the_result(cli):
    supine = json.loads(cli("twin", "run", "lymph", "--json").out)["twin"]
    standing = json.loads(cli("twin", "run", "lymph", "--json", "--posture", "standing").out)["twin"]
    oedema = json.loads(cli("twin", "run", "lymph", "--json", "--subject", "oedema").out)["twin"]
    assert (standing["posture"], oedema["subject"]) == ("standing", "oedema")
    # standing, the veins' hydrostatic pressure filters fluid into the tissue and the lymph carries more
    assert standing["fluid_cleared_mL"] < supine["fluid_cleared_mL"] - 50
    assert standing["lymph_mL_per_h"] > supine["lymph_mL_per_h"]
    # the oedematous leg's excess fluid drains faster through its lymph
    assert oedema["lymph_mL_per_h"] > 2 * supine["lymph_mL_per_h"]


def test_guide_only_program_has_no_cycles(cli):
    twin = json.loads(cli("twin", "run", "self-massage-calves", "--json").out)["twin"]
    assert twin["cycles"] == 0 and twin["ejected_mL_per_cycle"] is None


def test_table_says_a_prediction_is_not_evidence(cli):
    result = cli("twin", "run", "recovery")
    assert result.code == 0 and "not clinical evidence" in " ".join(result.out.split())


@pytest.mark.parametrize("args, message", [(["--posture", "lying"], "unknown posture"),
                                           (["--subject", "nobody"], "unknown parameter set")])  # fmt: skip
def test_bad_options_are_one_line_errors(cli, args, message):
    result = cli("twin", "run", "circulation", *args)
    assert result.code == 1 and message in result.err


@pytest.mark.slow
def test_validate_prints_every_case_with_its_own_verdict_and_the_true_count(cli):
    rows = run_validation()
    result = cli("twin", "validate", "--n", "0")
    assert result.code == 0 and "cohort within" not in result.out
    lines = result.out.splitlines()
    for row in rows:
        (line,) = [x for x in lines if x.startswith(row.id + " ")]
        assert line.rstrip().endswith("pass" if row.passed else "MISS"), line
        assert f"  {row.id}: {row.measure}" in lines
    assert f"{sum(r.passed for r in rows)} of {len(rows)} cases within their tolerance" in result.out


@pytest.mark.slow
def test_the_readme_shows_what_twin_validate_prints(cli):
    """The README's validation table, its count and its misses' range check are lines that `legflow
    twin validate` prints now, in the same order: a change that moves a number, a verdict or a cohort
    count fails here until the README shows it."""
    printed = [line.rstrip() for line in cli("twin", "validate").out.splitlines()]
    readme = README.read_text(encoding="utf-8")
    section = readme[readme.index("`legflow twin validate` on ") :]
    count = re.search(r"\*\*(\d+ of \d+) published cases within their tolerance\*\*", section)
    assert count is not None and f"{count[1]} cases within their tolerance" in printed
    blocks = re.findall(r"^```\n(.*?)^```", section, flags=re.S | re.M)[:2]
    assert len(blocks) == 2 and blocks[0].startswith("id ") and blocks[1].startswith("misses within")
    for block in blocks:
        lines = iter(printed)
        for line in block.splitlines():
            assert any(line.rstrip() == out for out in lines), f"not printed (or out of order): {line}"


@pytest.mark.slow
def test_validate_json_gives_each_case_as_the_reference_publishes_it(cli):
    result = cli("twin", "validate", "--json")
    assert result.code == 0
    report = json.loads(result.out)
    cases = load_cases()
    assert [c["id"] for c in report["cases"]] == [c["id"] for c in cases]
    for printed, case in zip(report["cases"], cases, strict=True):
        assert printed["measure"] == case["measure"] and printed["protocol"] == case["protocol"]
        value = case.get("expect", next((v for k, v in case.items() if k.startswith("value_")), None))
        assert printed["published"] == value
        tolerance = {k.removeprefix("tolerance_"): v for k, v in case.items() if k.startswith("tolerance_")}
        assert printed["tolerance"] == (tolerance or None)
        assert printed["model"] is not None and isinstance(printed["pass"], bool)
    assert report["passed"] == sum(c["pass"] for c in report["cases"]) and report["total"] == len(cases)


@pytest.mark.slow
def test_validate_counts_the_cohort_subjects_inside_each_tolerance(cli):
    """Each case's cohort count is the number of sampled subjects whose own run passes it, in the
    case's posture (recounted here subject by subject), beside the default adult's verdict."""
    result = cli("twin", "validate", "--json", "--cohort", "oedema", "--n", "6", "--seed", "3")
    assert result.code == 0
    report = json.loads(result.out)
    subjects = [s.subject() for s in load_cohort("oedema").sample(6, 3)]
    for printed, case in zip(report["cases"], load_cases(), strict=True):
        _, posture = subject_and_posture(case)
        within = sum(measure_case(case, subject, posture).passed for subject in subjects)
        assert printed["cohort"]["cohort"] == "oedema" and printed["cohort"]["n"] == 6
        assert printed["cohort"]["within"] == within, case["id"]
        assert printed["cohort"]["fraction"] == round(within / 6, 3)
    table = cli("twin", "validate", "--cohort", "oedema", "--n", "6", "--seed", "3")
    assert "cohort within" in table.out and "6 subjects of oedema (seed 3)" in table.out


@pytest.mark.slow
def test_validate_refuses_an_unknown_cohort_in_one_line(cli):
    result = cli("twin", "validate", "--cohort", "martians", "--n", "3")
    assert result.code != 0 and "martians" in result.err and "Traceback" not in result.err


def test_a_subject_with_one_oedematous_leg_is_reported_leg_by_leg(cli):
    """``--subject LEFT,RIGHT``: each leg its own parameter set. The legs do not share blood or
    fluid, so each leg's own metrics are those of a subject with that leg on both sides, and the
    block's means are over both legs."""
    result = cli("twin", "run", "lymph", "--subject", "adult,oedema", "--json")
    assert result.code == 0, result.err
    twin = json.loads(result.out)["twin"]
    legs = twin["legs"]
    assert twin["subject"] == "adult,oedema" and list(legs) == ["left", "right"]
    for leg, name in (("left", "adult"), ("right", "oedema")):
        alike = json.loads(cli("twin", "run", "lymph", "--subject", name, "--json").out)["twin"]
        assert "legs" not in alike and legs[leg]["subject"] == name
        for key in ("ejected_mL_per_cycle", "fluid_cleared_mL", "lymph_mL_per_h", "refill_s"):
            assert legs[leg][key] == pytest.approx(alike[key], abs=0.011), (leg, key)
        assert legs[leg]["cycles"] * 2 == alike["cycles"]
    assert legs["right"]["lymph_mL_per_h"] > 2 * legs["left"]["lymph_mL_per_h"]  # the oedema drains
    mean = (legs["left"]["fluid_cleared_mL"] + legs["right"]["fluid_cleared_mL"]) / 2
    assert twin["fluid_cleared_mL"] == pytest.approx(mean, abs=0.011)
    table = cli("twin", "run", "lymph", "--subject", "adult,oedema")
    assert "left (adult)" in table.out and "right (oedema)" in table.out


@pytest.mark.parametrize(
    "subject, message",
    [("adult,oedema,adult", "names 3 legs, the device has 2"), ("adult,nobody", "unknown parameter set")],
)
def test_a_subject_naming_the_wrong_legs_is_a_one_line_error(cli, subject, message):
    result = cli("twin", "run", "lymph", "--subject", subject)
    assert result.code != 0 and message in result.err and "Traceback" not in result.err

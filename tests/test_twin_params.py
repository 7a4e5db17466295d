"""`legflow twin params`: every parameter of a leg's set with its unit, the kind of its source and
the source itself, and the span a cohort gives it."""

from __future__ import annotations

import json

import pytest

from cli_helpers import run_cli
from legflow.trials.cohorts import load_cohort
from legflow.twin.params import kind_counts, parameter_rows, source_kind, unit_of
from legflow.twin.subject import available_subjects, load_subject


@pytest.fixture
def cli(capsys, monkeypatch):
    return lambda *args: run_cli(capsys, monkeypatch, *args)


@pytest.mark.parametrize(
    ("leaf", "unit"),
    [
        ("venous_compliance_mL_per_mmHg", "mL/mmHg"),
        ("venous_resistance_mmHg_s_per_mL", "mmHg·s/mL"),
        ("filtration_coefficient_mL_per_min_per_100g_per_mmHg", "mL/min/100g/mmHg"),
        ("valve_steepness_per_mmHg", "1/mmHg"),
        ("depth_supine_cm", "cm"),
        ("lymph_max_ratio", "1"),
    ],
)
def test_the_unit_is_read_from_the_name(leaf, unit):
    assert unit_of(leaf) == unit


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("derived: (93 - 10) / (2.5 x 3000 / 100 / 60)", "derived"),
        ("assumed: normal hydration", "assumed"),
        ("assumed from reviews: reflection coefficient ≈ 0.9", "assumed"),
        ("weak: a round figure", "assumed"),
        ("Phys Med Biol 1977;22(6):1146-59", "cited"),
        ("override", "override"),
    ],
)
def test_the_kind_is_read_from_the_source_line(source, kind):
    assert source_kind(source) == kind


@pytest.mark.parametrize("name", available_subjects())
def test_every_parameter_of_every_set_is_cited_derived_or_assumed_with_a_unit(name):
    rows = parameter_rows(load_subject(name))
    assert rows and {row.kind for row in rows} <= {"cited", "derived", "assumed"}
    assert all(row.source.strip() and "per" not in row.unit for row in rows)
    assert sum(kind_counts(rows).values()) == len(rows)


def test_the_cli_lists_every_parameter_with_the_cohort_span_of_its_subjects(cli):
    result = cli("twin", "params", "--json", "--cohort", "oedema", "--n", "8", "--seed", "2")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    adult = load_subject("adult")
    assert sorted(p["path"] for p in report["parameters"]) == [path for path, _ in adult.sources]
    assert [p["path"] for p in report["parameters"]][:2] == [
        "circulation.mean_arterial_pressure_mmHg",
        "circulation.abdominal_venous_pressure_mmHg",
    ]  # the files' order
    subjects = [s.subject() for s in load_cohort("oedema").sample(8, 2)]
    for printed in report["parameters"]:
        values = [s.value(printed["path"]) for s in subjects]
        assert (printed["cohort_low"], printed["cohort_high"]) == (min(values), max(values))
        assert printed["value"] == adult.value(printed["path"])
        assert printed["source"] == adult.source(printed["path"])
    spans = {p["path"]: (p["cohort_low"], p["cohort_high"]) for p in report["parameters"]}
    low, high = spans["calf.fluid_excess_at_rest_mL_per_100mL"]
    assert low < high  # the oedema cohort draws its oedema
    assert report["counts"] == kind_counts(parameter_rows(adult))


def test_the_table_names_each_kind_and_the_cohort(cli):
    result = cli("twin", "params", "--subject", "oedema", "--n", "3")
    assert result.code == 0, result.err
    counts = kind_counts(parameter_rows(load_subject("oedema")))
    summary = ", ".join(f"{count} {kind}" for kind, count in counts.items() if count)
    caption = " ".join(result.out.split())
    assert f"{sum(counts.values())} parameters: {summary}" in caption
    assert "span over 3 subjects of healthy_adults" in caption
    assert "interstitial_oncotic_pressure_at_zero_excess_mmHg" in result.out


def test_no_cohort_gives_no_span(cli):
    report = json.loads(cli("twin", "params", "--json", "--n", "0").out)
    assert report["cohort"] is None
    assert all(p["cohort_low"] is None and p["cohort_high"] is None for p in report["parameters"])


@pytest.mark.parametrize(
    ("args", "message"),
    [(("--subject", "martian"), "martian"), (("--cohort", "martians"), "martians"), (("--n", "-1"), "--n")],
)
def test_bad_input_is_one_line(cli, args, message):
    result = cli("twin", "params", *args)
    assert result.code != 0 and message in result.err


@pytest.mark.parametrize("name", available_subjects())
def test_every_parameter_has_a_sourced_range_holding_its_value(name):
    rows = parameter_rows(load_subject(name))
    assert all(row.range_source and row.range_kind in ("cited", "derived", "assumed") for row in rows)
    assert [row.path for row in rows if not row.within_range] == []


def test_a_value_outside_its_range_is_flagged_and_a_scaled_set_scales_its_ranges():
    adult, large = load_subject("adult"), load_subject("large_leg")
    path = "calf.venous_compliance_mL_per_mmHg"
    low, high, _ = adult.range(path)
    assert large.range(path)[:2] == pytest.approx((1.4 * low, 1.4 * high))
    resistance = "thigh.venous_resistance_mmHg_s_per_mL"
    assert large.range(resistance)[:2] == pytest.approx(tuple(x / 1.4 for x in adult.range(resistance)[:2]))
    # scaled, a range keeps its source, so an assumed one stays assumed
    backflow = "calf.valve_backflow_resistance_mmHg_s_per_mL"
    assert large.range(backflow)[2].startswith(adult.range(backflow)[2])
    kinds = [r.range_kind for r in parameter_rows(adult)]
    assert [r.range_kind for r in parameter_rows(large)] == kinds
    stiff = load_subject("adult", calf__venous_compliance_mL_per_mmHg=high * 2)
    row = next(r for r in parameter_rows(stiff) if r.path == path)
    assert row.within_range is False and (row.low, row.high) == (low, high)


def test_the_cli_shows_each_range_and_says_when_every_value_is_within(cli):
    result = cli("twin", "params", "--n", "0")
    assert result.code == 0, result.err
    low, high, source = load_subject("adult").range("calf.venous_resistance_mmHg_s_per_mL")
    assert f"range {low:.4g} – {high:.4g} mmHg·s/mL (derived): {source}" in result.out
    assert "every value within its range" in result.out
    report = json.loads(cli("twin", "params", "--json", "--n", "0").out)
    assert all(p["within_range"] for p in report["parameters"]) and report["range_counts"]["none"] == 0


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('{ value = 1.0, source = "s", range = [0.5, 2.0] }', "range and its source together"),
        (
            '{ value = 1.0, source = "s", range = [2.0, 0.5], range_source = "r" }',
            "low end above its high end",
        ),
        ('{ value = 1.0, source = "s", range = [0.5], range_source = "r" }', "two numbers"),
    ],
)
def test_a_malformed_range_names_the_file_and_the_parameter(tmp_path, monkeypatch, entry, message):
    from legflow.twin import subject as subject_module
    from legflow.twin.subject import TwinParameterError

    (tmp_path / "odd.toml").write_text(
        f'name = "odd"\nbase = "adult"\n[calf]\nlength_cm = {entry}\n', encoding="utf-8"
    )
    real = subject_module.PARAMETER_DIR
    monkeypatch.setattr(subject_module, "PARAMETER_DIR", tmp_path)
    for stem in ("adult",):
        (tmp_path / f"{stem}.toml").write_text(
            (real / f"{stem}.toml").read_text(encoding="utf-8"), encoding="utf-8"
        )
    with pytest.raises(TwinParameterError, match=message) as raised:
        load_subject("odd")
    assert "odd.toml" in str(raised.value) and "calf.length_cm" in str(raised.value)

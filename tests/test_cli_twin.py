"""`legflow twin run` and `legflow twin validate` from the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cli_helpers import run_cli
from legflow.cli.twin import tissue_pressures
from legflow.programs.library import builtin_source


@pytest.fixture
def cli(capsys, monkeypatch):
    return lambda *args: run_cli(capsys, monkeypatch, *args)


def test_tissue_pressure_follows_the_program_and_the_coverage():
    program = builtin_source("circulation").program
    external = tissue_pressures(program)
    assert external.shape == (round(program.duration_s / 0.1) + 1, 2, 3)
    foot = max(p.compression.zone_pressures().get("foot", 0.0) for p in program.phases if p.compression)
    assert external[:, 0, 0].max() == pytest.approx(0.8 * foot)  # the foot cell covers the whole foot
    assert np.all(external >= 0)


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
    oedema = json.loads(cli("twin", "run", "lymph", "--json", "--subject", "oedema").out)["twin"]
    assert oedema != supine


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


def test_validate_prints_every_case_with_pass_or_miss(cli):
    result = cli("twin", "validate")
    assert result.code == 0
    for case in (
        "calf_step_emptying",
        "resting_femoral_flow",
        "foot_pump_pressure_response",
        "calf_filtration",
    ):
        assert case in result.out
    assert "MISS" in result.out or "pass" in result.out
    assert "cases within their tolerance" in result.out

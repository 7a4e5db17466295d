"""The session summary, contract v1: one typed model, its published JSON schema held to the model,
real summaries valid against it, and its JSON the same whichever way it is read back."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from cli_helpers import run_cli
from legflow.engine.summary import SessionSummary, TwinSummary, schema, schema_text

PUBLISHED = Path(__file__).parent.parent / "docs" / "session-summary.schema.json"


@pytest.fixture
def cli(capsys, monkeypatch):
    return lambda *args: run_cli(capsys, monkeypatch, *args)


def _valid(summary: dict) -> None:
    jsonschema.Draft202012Validator(json.loads(PUBLISHED.read_text())).validate(summary)


def test_the_published_schema_is_the_models():
    assert PUBLISHED.read_text() == schema_text(), (
        "docs/session-summary.schema.json differs from the model: regenerate it with "
        "python -m legflow.engine.summary > docs/session-summary.schema.json"
    )
    jsonschema.Draft202012Validator.check_schema(schema())


def test_a_fast_json_summary_with_a_fault_is_valid_and_reads_back_unchanged(cli):
    result = cli("run", "pre-sport", "--fast", "--json", "--inject", "leak:left.calf@40")
    summary = json.loads(result.out)
    assert result.code == 4 and summary["version"] == 1 and summary["faults"]
    _valid(summary)
    # the model reads its own JSON back to the same JSON, key order included
    assert json.dumps(SessionSummary.model_validate(summary).as_json(), indent=2) == result.out.strip()


@pytest.mark.slow
def test_an_adaptive_summary_from_the_sensor_is_valid(cli):
    result = cli("run", "circulation", "--fast", "--json", "--refill-from", "sensor")
    summary = json.loads(result.out)
    assert result.code == 0 and summary["adaptive"]["refill_from"] == "sensor"
    assert "rests_unmeasured" in summary["adaptive"]
    _valid(summary)


def test_twin_run_prints_a_summary_with_no_device_fields(cli):
    summary = json.loads(cli("twin", "run", "sitting-break", "--json").out)
    assert list(summary) == ["version", "program", "status", "duration_s", "twin"]
    _valid(summary)


def test_fields_that_do_not_apply_are_left_out_and_the_others_kept_as_null():
    summary = SessionSummary.model_validate({
        "program": "p", "status": "completed", "duration_s": 1.0,
        "cells": {"left.calf": {"max_pressure_mmHg": 1.0, "end_pressure_mmHg": 0.0}},
        "max_skin_temp_C": None, "faults": [], "vented_at_s": None,
        "twin": {"subject": "adult", "posture": "supine"},
    })  # fmt: skip
    assert summary.as_json() == {
        "version": 1, "program": "p", "status": "completed", "duration_s": 1.0,
        "cells": {"left.calf": {"max_pressure_mmHg": 1.0, "end_pressure_mmHg": 0.0}},
        "max_skin_temp_C": None, "faults": [], "vented_at_s": None,
        "twin": {"subject": "adult", "posture": "supine"},
    }  # fmt: skip
    twin = {"subject": "a", "posture": "supine", "ejected_mL_per_cycle": None, "peak_flow_augmentation": None,
            "refill_s": None, "fluid_cleared_mL": 0.0, "lymph_mL_per_h": 1.0, "cycles": 0}  # fmt: skip
    no_cycles = SessionSummary(
        program="p", status="completed", duration_s=1.0, twin=TwinSummary.model_validate(twin)
    )
    assert no_cycles.as_json()["twin"] == twin  # measured, with no cycle: nulls, not left out


def test_a_summary_refuses_unknown_fields_and_half_a_device():
    base = {"program": "p", "status": "completed", "duration_s": 1.0, "twin": None}
    with pytest.raises(ValueError, match="Extra inputs"):
        SessionSummary.model_validate({**base, "colour": "red"})
    with pytest.raises(ValueError, match="cells and faults"):
        SessionSummary.model_validate({**base, "faults": []})

"""The fit check (`legflow.engine.fit`, `legflow fit`): each cell filled to a low test pressure and
judged ok, loose, tight or leaking; a garment worn right is never flagged, on every profile and
simulator seed; the user's own fits become their baseline."""

from __future__ import annotations

import json

import pytest

from cli_helpers import run_cli
from legflow.apps.fitting import WORN, fit_worn
from legflow.apps.limb import leg_twin
from legflow.clock import VirtualClock
from legflow.device.faults import FaultSpec
from legflow.device.profile import load_profile, profile_names
from legflow.device.sim import SimulatedMassager
from legflow.engine.fit import FitResult, fit_check, judge
from legflow.safety.limits import DEFAULT_LIMITS
from legflow.safety.supervisor import Supervisor
from legflow.store import History

CONDITIONS = tuple(WORN)
EXPECTED = WORN


def check(profile: str, condition: str, seed: int, subject: str = "adult") -> tuple[FitResult, set[str]]:
    return fit_worn(profile, condition, seed, subject)


def assert_classified(result: FitResult, bad: set[str], condition: str) -> None:
    assert result.stopped is None
    for c in result.cells:
        wanted = EXPECTED[condition] if c.cell in bad else "ok"
        assert c.verdict == wanted, (c.cell, c)


@pytest.mark.parametrize("condition", CONDITIONS)
@pytest.mark.parametrize("profile", profile_names())
def test_each_garment_is_classified_on_each_profile(profile, condition):
    result, bad = check(profile, condition, seed=0)
    assert_classified(result, bad, condition)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(1, 10))
@pytest.mark.parametrize("profile", profile_names())
def test_and_on_every_seed_and_leg(profile, seed):
    for subject in ("adult", "oedema", "large_leg"):
        for condition in CONDITIONS:
            result, bad = check(profile, condition, seed, subject)
            assert_classified(result, bad, condition)


def test_a_garment_taken_off_is_loose():
    device = load_profile("recovery-boots")
    clock = VirtualClock()
    massager = SimulatedMassager(
        device, clock, faults=[FaultSpec("garment_off", 0.0, "left")], limb=leg_twin(device)
    )
    off = fit_check(Supervisor(massager, DEFAULT_LIMITS, clock), clock)
    assert {c.verdict for c in off.cells if c.cell.startswith("left.")} == {"loose"}
    assert {c.verdict for c in off.cells if c.cell.startswith("right.")} == {"ok"}


def test_the_advice_says_what_to_do_where():
    loose = judge("left.thigh", "thigh", 300.0, 0.9, True, 0.1, 150.0, None)
    assert (loose.verdict, loose.advice) == ("loose", "close the thigh zip all the way and tighten its strap")
    tight = judge("right.calf", "calf", 60.0, 0.9, True, 0.1, 150.0, None)
    assert (tight.verdict, tight.advice) == ("tight", "loosen the calf strap a notch")
    leaking = judge("left.thigh", "thigh", 160.0, 0.3, True, 0.1, 150.0, None)
    assert (leaking.verdict, leaking.advice) == ("leaking", "check the left thigh hose and its connector")
    never = judge("left.calf", "calf", 120.0, 0.9, False, 0.0, 150.0, None)  # never reached 20 mmHg
    assert never.verdict == "leaking"


def test_against_the_users_baseline_and_its_drift():
    """Once a user has fits, their own usual air is the reference: a leg that swelled takes 25 %
    less air, still a fit, and the check says so."""
    swollen = judge("left.calf", "calf", 120.0, 0.9, True, 0.1, 100.0, 160.0)
    assert swollen.verdict == "ok" and swollen.reference == "baseline"
    assert swollen.drift is not None and swollen.drift.startswith("takes 25% less air than your usual fit")
    assert "swelling" in swollen.drift
    same = judge("left.calf", "calf", 150.0, 0.9, True, 0.1, 100.0, 160.0)
    assert same.verdict == "ok" and same.drift is None
    # 150 mL is a fit against the nominal 140, but loose against a user's usual 100
    assert judge("left.calf", "calf", 150.0, 0.9, True, 0.1, 140.0, 100.0).verdict == "loose"


def test_the_baseline_is_the_median_of_the_latest_ok_fits(tmp_path):
    history = History(tmp_path / "h.sqlite")
    try:
        for fill in (100.0, 140.0, 120.0):
            history.add_fit("ann", "reference", [("left.calf", "ok", fill, 0.9)])
        history.add_fit("ann", "reference", [("left.calf", "loose", 300.0, 0.9)])  # not a baseline
        history.add_fit("bob", "reference", [("left.calf", "ok", 50.0, 0.9)])
        history.add_fit("ann", "calf-sleeve", [("left.calf_low", "ok", 70.0, 0.9)])
        assert history.fit_baseline("ann", "reference") == {"left.calf": 120.0}
        assert history.fit_baseline("ann", "calf-sleeve") == {"left.calf_low": 70.0}
        assert history.fit_baseline("carol", "reference") == {}
    finally:
        history.close()


def test_legflow_fit_prints_the_contract_and_learns(capsys, monkeypatch):
    result = run_cli(capsys, monkeypatch, "fit", "--profile", "calf-sleeve", "--json")
    assert result.code == 0, result.err
    cells = json.loads(result.out)["cells"]
    assert list(cells) == load_profile("calf-sleeve").cell_names()
    assert all(
        c["verdict"] == "ok" and c["advice"] == "fits" and c["reference"] == "nominal" for c in cells.values()
    )
    loose = run_cli(
        capsys,
        monkeypatch,
        "fit",
        "--profile",
        "calf-sleeve",
        "--json",
        "--inject",
        "garment_loose:left.calf_low@0",
    )
    assert loose.code == 5
    cells = json.loads(loose.out)["cells"]
    assert (
        cells["left.calf_low"]["verdict"] == "loose"
        and cells["left.calf_low"]["advice"] == "tighten the calf strap"
    )
    assert cells["left.calf_low"]["reference"] == "baseline"  # the first fit taught it
    assert [n for n, c in cells.items() if c["verdict"] != "ok"] == ["left.calf_low"]
    shown = run_cli(capsys, monkeypatch, "fit", "--profile", "calf-sleeve", "--inject", "leak:right.knee@0")
    assert shown.code == 5 and "check the right knee hose and its connector" in shown.out
    bad = run_cli(capsys, monkeypatch, "fit", "--inject", "garment_loose:left.nothing@0")
    assert bad.code == 1 and "no cell or leg 'left.nothing'" in bad.err


@pytest.mark.slow
def test_a_session_starts_with_the_fit_check_and_needs_consent_when_a_cell_does_not_fit(capsys, monkeypatch):
    """`legflow run` fits the garment first: a loose strap stops it before anything inflates past
    the test pressure (exit 5, what to do), unless the user agrees (--fit-anyway); either way the
    session keeps what the check found."""
    loose = ["circulation", "--fast", "--json", "--inject", "garment_loose:left.calf@0"]
    refused = run_cli(capsys, monkeypatch, "run", *loose)
    assert refused.code == 5 and refused.out == ""
    assert "fit check: left.calf loose: tighten the calf strap; fix it and run again" in refused.err
    agreed = run_cli(capsys, monkeypatch, "run", *loose, "--fit-anyway")
    assert agreed.code == 0, agreed.err
    summary = json.loads(agreed.out)
    assert summary["status"] == "completed" and summary["fit"]["left.calf"] == "loose"
    assert {v for k, v in summary["fit"].items() if k != "left.calf"} == {"ok"}
    shown = run_cli(capsys, monkeypatch, "history", "show", str(summary["id"]))
    assert "left.calf loose: tighten the calf strap" in shown.out
    skipped = run_cli(capsys, monkeypatch, "run", *loose, "--no-fit")
    assert skipped.code == 0 and "fit" not in json.loads(skipped.out)


def test_cells_the_users_limits_keep_under_the_test_pressure_are_not_filled():
    limits = DEFAULT_LIMITS.tighten("test", blocked_zones={"calf"})
    device = load_profile("reference")
    clock = VirtualClock()
    supervisor = Supervisor(SimulatedMassager(device, clock, limb=leg_twin(device)), limits, clock)
    result = fit_check(supervisor, clock)
    # a blocked calf stops the cells over its ends too (the ankle's and the knee's)
    over_calf = [f"{leg}.{zone}" for leg in ("left", "right") for zone in ("ankle", "calf", "knee")]
    assert [cell for cell, _ in result.skipped] == over_calf
    assert not {"ankle", "calf", "knee"} & {c.zone for c in result.cells} and result.ok
    skipped = [supervisor.cell_names.index(cell) for cell in over_calf]
    assert max(supervisor.true_maxima()[0][skipped]) < 5.0  # never inflated

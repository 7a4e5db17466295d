"""The Ray backend on a real local Ray cluster (2 CPUs): the same trial as the local backend gives
identical numbers, and a cluster the backend did not start is left running."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cli_helpers import run_cli
from legflow.device.profile import load_profile
from legflow.plan.compose import compose
from legflow.programs.loader import dump_program
from legflow.safety.limits import DEFAULT_LIMITS
from legflow.trials.backends import LocalBackend, RayBackend
from legflow.trials.cohorts import load_cohort
from legflow.trials.trial import run_trial

#: Real processes, servers, browsers or terminals: left out of the fast subset (README, testing).
pytestmark = pytest.mark.system

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def programs():
    profile = load_profile()
    return [
        (goal, compose(goal, ["foot", "calf", "thigh"], 3, minutes, profile, DEFAULT_LIMITS))
        for goal, minutes in (("lymph", 2.0), ("circulation", 1.0))
    ]


def test_ray_gives_the_local_backends_numbers(cluster):
    cohort = load_cohort("oedema")  # mixed postures: several solver batches per chunk
    backend = RayBackend()
    done = []
    on_ray = run_trial(programs(), cohort, 12, seed=5, backend=backend, chunk_subjects=4,
                       progress=lambda d, n: done.append(d))  # fmt: skip
    backend.close()
    local = run_trial(programs(), cohort, 12, seed=5, backend=LocalBackend(), chunk_subjects=4)
    assert on_ray.backend == "ray" and sorted(done) == done and done[-1] == 12 and len(done) == 3
    assert np.array_equal(on_ray.values, local.values, equal_nan=True)
    assert on_ray.summary() == local.summary()
    assert ray.is_initialized()  # the backend did not start this cluster, so it left it running


def test_trial_command_on_ray(cluster, capsys, monkeypatch, tmp_path):
    program = tmp_path / "c.toml"
    program.write_text(dump_program(programs()[1][1]))
    result = run_cli(capsys, monkeypatch, "trial", str(program), "--backend", "ray", "--n", "4",
                     "--chunk", "2", "--json", "--no-report")  # fmt: skip
    assert result.code == 0, result.err
    summary = json.loads(result.out)
    assert summary["backend"] == "ray" and summary["n"] == 4
    local = run_trial([("c", programs()[1][1])], load_cohort("healthy_adults"), 4, seed=0)
    mean = local.metric("c", "ejected_mL_per_cycle").mean()
    row = next(r for r in summary["summary"] if r["metric"] == "ejected_mL_per_cycle")
    assert row["mean"] == pytest.approx(mean, rel=0, abs=1e-12)

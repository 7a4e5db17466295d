"""Virtual-trial benchmarks: leg-hours simulated per wall second on the local and the Ray backend,
how that scales with cohort size, Ray's overhead per task, and a projection for N workers.

    python -m benchmarks.trials            # cohorts up to 1000 subjects, a 10-min program
    python -m benchmarks.trials --quick    # cohorts up to 256 subjects, a 5-min program (< 3 min)

Both backends run the same trial (healthy_adults cohort, seed 0, the composed circulation program
on foot, calf and thigh) after a warm-up that compiles the solver and starts Ray's workers; Ray runs
a local cluster with one worker per core. "Leg-hours" counts the legs the solver integrated: a
program that squeezes both legs alike solves one leg per subject. Prints Markdown tables. Wall time
is read with ``time.perf_counter`` (only clock.py may read the clock in src/).

Projection for a cluster of N single-core workers (Amdahl-style, from the numbers measured here):
a chunk of c subjects takes t_c = c · leg-hours per subject / r₁ on one worker (r₁: the measured
rate per core) plus o, the measured overhead per task; the cluster's rate is
N · r₁ · t_c / (t_c + o), but never more than the driver can dispatch: one task per d seconds
(d: the measured driver time per task when many are in flight).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from importlib.metadata import version

import numpy as np

from legflow.device.profile import load_profile
from legflow.plan.compose import compose
from legflow.safety.limits import DEFAULT_LIMITS
from legflow.trials.backends import LocalBackend, RayBackend
from legflow.trials.cohorts import load_cohort
from legflow.trials.trial import TrialResult, run_trial

SEED = 0
COHORT = "healthy_adults"


def _program(minutes: float):
    return compose("circulation", ["foot", "calf", "thigh"], 3, minutes, load_profile(), DEFAULT_LIMITS)


def _trial(program, n: int, backend, chunk: int) -> TrialResult:
    return run_trial([("circulation", program)], load_cohort(COHORT), n, SEED, backend, chunk)


def _noop(_: int) -> None:
    return None


def ray_overheads(tasks: int) -> tuple[float, float, float]:
    """(latency of one task alone, driver seconds per task with many in flight, CPU-seconds of
    cluster time per no-op task) in seconds."""
    import ray

    task = ray.remote(num_cpus=1)(_noop)
    ray.get(task.remote(0))
    latencies = []
    for i in range(20):
        t = time.perf_counter()
        ray.get(task.remote(i))
        latencies.append(time.perf_counter() - t)
    t = time.perf_counter()
    refs = [task.remote(i) for i in range(tasks)]
    submitted = time.perf_counter() - t
    ray.get(refs)
    wall = time.perf_counter() - t
    cpus = ray.cluster_resources().get("CPU", 1.0)
    return statistics.median(latencies), submitted / tasks, wall * cpus / tasks


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small cohorts, a 5-min program (< 3 min)")
    args = parser.parse_args(argv)
    minutes = 5.0 if args.quick else 10.0
    sizes = [8, 32, 128, 256] if args.quick else [32, 128, 512, 1000]
    cpus = os.cpu_count() or 1
    program = _program(minutes)

    print("# legflow virtual-trial benchmark\n")
    print(f"- machine: {platform.machine()}, {cpus} cores, {platform.system()} {platform.release()}")
    print(f"- python {platform.python_version()}, numpy {np.__version__}, numba {version('numba')}, "
          f"ray {version('ray')}")  # fmt: skip
    print(f"- load average 1/5/15 min at the start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"- trial: {COHORT}, seed {SEED}, composed circulation program, {minutes:g} min\n")
    sys.stdout.flush()

    local = LocalBackend()
    _trial(program, 4, local, 4)  # compile
    t = time.perf_counter()
    ray_backend = RayBackend(num_cpus=cpus)
    _trial(program, 2 * cpus, ray_backend, 1)  # every worker imports legflow and loads the solver
    ray_start = time.perf_counter() - t

    rows = []
    for n in sizes:
        ray_chunk = max(2, -(-n // (4 * cpus)))  # ≥ 4 tasks per worker: the cluster stays busy
        on_local = _trial(program, n, local, 32)
        on_ray = _trial(program, n, ray_backend, ray_chunk)
        same = np.array_equal(on_local.values, on_ray.values, equal_nan=True)
        rows.append((n, on_local, on_ray, ray_chunk, same))
        sys.stdout.flush()
    latency, driver, per_task = ray_overheads(100 if args.quick else 500)
    ray_backend.close()

    print("## Leg-hours per wall second, by cohort size\n")
    print(
        "| subjects | leg-hours solved | local: wall s | local: leg-h/s | ray: chunk | ray: tasks "
        "| ray: wall s | ray: leg-h/s | identical |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for n, lo, ra, chunk, same in rows:
        tasks = -(-n // chunk)
        lh, rh = lo.solved_leg_hours, ra.solved_leg_hours
        print(f"| {n} | {lh:.2f} | {lo.wall_s:.2f} | {lh / lo.wall_s:.2f} "
              f"| {chunk} | {tasks} | {ra.wall_s:.2f} | {rh / ra.wall_s:.2f} | {same} |")  # fmt: skip
    print(f"\nRay start-up (local cluster, {cpus} workers, first task on each): {ray_start:.1f} s, "
          "not in the table.\n")  # fmt: skip

    print("## Ray overhead per task\n")
    print("| measure | value |")
    print("|---|---|")
    print(f"| one no-op task alone, round trip (median of 20) | {latency * 1e3:.2f} ms |")
    print(f"| driver time to submit one task, many in flight | {driver * 1e3:.3f} ms |")
    print(f"| cluster CPU time per no-op task, many in flight | {per_task * 1e3:.2f} ms |")

    n, lo, ra, chunk, _ = rows[-1]
    r1 = ra.solved_leg_hours / ra.wall_s / cpus  # leg-hours per second per worker, measured on Ray
    per_subject_h = ra.solved_leg_hours / n
    overhead = max(per_task, latency)
    print("\n## Projection for a cluster of N single-core workers\n")
    print(f"From the largest cohort: r₁ = {r1:.3f} leg-h/s per worker (Ray, {cpus} workers), "
          f"overhead o = {overhead * 1e3:.1f} ms per task, driver d = {driver * 1e3:.3f} ms per task; "
          f"a trial of 10,000 subjects on this {minutes:g}-min program "
          f"({10_000 * per_subject_h:.0f} leg-hours).\n")  # fmt: skip
    print("| workers N | chunk (subjects) | tasks | t_c/(t_c+o) | leg-h/s | wall, 10,000 subjects |")
    print("|---|---|---|---|---|---|")
    for workers in (2, 16, 64, 256, 1024):
        chunk = max(1, min(64, 10_000 // (4 * workers)))
        tasks = -(-10_000 // chunk)
        t_c = chunk * per_subject_h / r1
        rate = workers * r1 * t_c / (t_c + overhead)
        rate = min(rate, chunk * per_subject_h / driver)  # the driver dispatches one task per d
        wall = 10_000 * per_subject_h / rate
        print(f"| {workers} | {chunk} | {tasks} | {t_c / (t_c + overhead):.3f} | {rate:.1f} | {wall:.1f} s |")
    print("\nThe projection ignores the network (results are a few kB per chunk) and assumes every "
          "node as fast as one core here; measure on the cluster before relying on it.")  # fmt: skip


if __name__ == "__main__":
    main()

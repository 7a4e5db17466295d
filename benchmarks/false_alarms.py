"""False-alarm sweep: every built-in program on every device profile `legflow run` runs it on
(adapted to the device where it lacks a zone or an actuator), every built-in twin subject and
posture, simulator seeds 0–9, with no fault injected. A session that does not complete tripped a
fault detector on a sound massager (or broke): each one is listed with the detector, its message
and what the cell's true (physics) and sensed pressures did just before.

    python -m benchmarks.false_alarms                       # the full sweep, seeds 0-9, 2 processes
    python -m benchmarks.false_alarms --seeds 0-1           # a sample
    python -m benchmarks.false_alarms --programs circulation lymph --subjects oedema --postures standing
    python -m benchmarks.false_alarms --dry-run             # count the runs and their simulated hours

Writes a Markdown report to ``--out`` (default ``benchmarks/results/false_alarms.md``) and prints it.
Runs are sessions as ``legflow run NAME --fast --seed S --subject X --posture Y --profile P`` builds
them (`prepare_session`), spread over a process pool, longest programs first. Wall time is measured
with ``time.perf_counter`` (only clock.py may read the wall clock in src/).
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing
import os
import platform
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

import numba
import numpy as np

from benchmarks.provenance import code_version
from legflow.apps.launch import prepare_session
from legflow.device.massager import Sensors
from legflow.device.profile import load_profile, profile_names
from legflow.device.sim import SimulatedMassager, warm_up
from legflow.errors import LegflowError
from legflow.plan import for_device
from legflow.programs.library import builtin_names, resolve
from legflow.safety.detectors import (
    GARMENT_SLACK_RATIO,
    MANIFOLD_KEPT_SHARE,
    SECOND_LEAK_SHARE,
    DECAY_MIN_PRESSURE_mmHg,
    garment_slack_share,
    leak_evidence,
    manifold_kept_share,
)
from legflow.safety.limits import DEFAULT_LIMITS
from legflow.safety.supervisor import Supervisor
from legflow.twin.model import Posture
from legflow.twin.subject import available_subjects

POSTURES: tuple[str, ...] = get_args(Posture)
DEFAULT_OUT = Path(__file__).parent / "results" / "false_alarms.md"
#: Ticks of true and sensed pressure kept before a trip (2 s at 50 Hz), for the diagnosis.
TRACE_TICKS = 100


@dataclass(frozen=True)
class Case:
    program: str
    profile: str
    subject: str
    posture: str
    seed: int
    duration_s: float  # the program's planned length, to schedule long runs first


@dataclass
class Outcome:
    case: Case
    status: str
    sim_s: float
    wall_s: float
    faults: list[dict[str, Any]] = field(default_factory=list)
    #: Per fault on a cell: the cell's pressures over the last `TRACE_TICKS` before the trip.
    traces: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    #: The closest the session came to the garment-off slack finding, the leak finding (a held
    #: cell's loss) and the stuck-open finding (a quiet manifold kept): 1 trips each.
    slack_share: float = 0.0
    leak_share: float = 0.0
    kept_share: float = 0.0
    #: Held cell-ticks (a cell held after its fill), and those of them at or over the second-hole
    #: share: a fault latching at that tick would have listed that sound cell as a second hole.
    held_ticks: int = 0
    second_ticks: int = 0


class _Recorder:
    """Wraps the simulated massager's `read`: keeps the last ticks' sensed and true cell pressures
    and exhaust openings, so a trip can be told apart as the physics' doing or the sensor's. Wraps
    the supervisor's `read` too: after each tick's checks, how close the sound session came to
    three findings whose margins are thin by design (1 trips each)."""

    def __init__(self, massager: SimulatedMassager, supervisor: Supervisor):
        self.massager = massager
        self.supervisor = supervisor
        self.slack_share = 0.0  # garment off: a fill from vented taking far more gas than before
        self.leak_share = 0.0  # pressure decay: a held cell's loss against a hole's
        self.kept_share = 0.0  # valve stuck open: a quiet manifold keeping its pressure
        self.held_ticks = 0
        self.second_ticks = 0  # held cell-ticks a latch elsewhere would have named a second hole
        self.ticks: collections.deque[tuple[float, np.ndarray, np.ndarray, np.ndarray]] = collections.deque(
            maxlen=TRACE_TICKS
        )
        self._read = massager.read
        massager.read = self.read  # type: ignore[method-assign]
        self._checked = supervisor.read
        supervisor.read = self.checked  # type: ignore[method-assign]

    def read(self) -> Sensors:
        sensors = self._read()
        m = self.massager
        self.ticks.append((m.time_s - m.created_at_s, sensors.pressure_mmHg, m.true_pressure_mmHg,
                           m.true_valve_opening[1]))  # fmt: skip
        return sensors

    def checked(self) -> Sensors:
        sensors = self._checked()
        sup = self.supervisor
        memory = sup._cell_memory
        self.slack_share = max(self.slack_share, float(garment_slack_share(memory).max()))
        leak = leak_evidence(memory, memory["previous"], sup._cell_volume_mL)
        self.leak_share = max(self.leak_share, float(leak.max(initial=0.0)))
        held = memory["after_fill"] & (memory["previous"] > DECAY_MIN_PRESSURE_mmHg)
        self.held_ticks += int(np.count_nonzero(held))
        self.second_ticks += int(np.count_nonzero(leak >= SECOND_LEAK_SHARE))
        kept = manifold_kept_share(sup._leg_memory, sensors.manifold_mmHg)
        self.kept_share = max(self.kept_share, float(kept.max(initial=0.0)))
        return sensors

    def trace(self, cell: int) -> dict[str, Any]:
        t = np.array([k[0] for k in self.ticks])
        sensed = np.array([k[1][cell] for k in self.ticks])
        true = np.array([k[2][cell] for k in self.ticks])
        exhaust = np.array([k[3][cell] for k in self.ticks])
        return {
            "t_s": float(t[-1]), "sensed": float(sensed[-1]), "true": float(true[-1]),
            "exhaust": float(exhaust[-1]), "true_min": float(true.min()), "true_max": float(true.max()),
            "sensed_min": float(sensed.min()), "sensed_max": float(sensed.max()),
            "worst_gap": float(np.abs(sensed - true).max()),
        }  # fmt: skip


def run_case(case: Case) -> Outcome:
    """One session on a virtual clock; never raises (an exception is an outcome too)."""
    start = time.perf_counter()
    try:
        launch = prepare_session(
            case.program, limits=DEFAULT_LIMITS, history=None, profile=case.profile, fast=True,
            seed=case.seed, subject=case.subject, posture=case.posture,  # type: ignore[arg-type]
        )  # fmt: skip
        # the simulator behind the supervisor: this sweep watches its physics
        massager = launch.supervisor._massager
        assert isinstance(massager, SimulatedMassager)
        recorder = _Recorder(massager, launch.supervisor)
        summary = launch.session.run()
    except Exception as exc:  # a crash is a finding too: the sweep goes on
        return Outcome(case, "error", 0.0, time.perf_counter() - start, error=f"{type(exc).__name__}: {exc}")
    names = massager.profile.cell_names()
    faults = summary["faults"]
    traces = [recorder.trace(names.index(f["cell"])) if f.get("cell") in names else {} for f in faults]
    margins = {
        k: getattr(recorder, k)
        for k in ("slack_share", "leak_share", "kept_share", "held_ticks", "second_ticks")
    }
    wall_s = time.perf_counter() - start
    return Outcome(case, summary["status"], float(summary["duration_s"]), wall_s, faults, traces, **margins)


def _warm() -> None:
    """Per worker: load the compiled kernels before the first measured run."""
    warm_up()


def cases(programs: list[str], profiles: list[str], subjects: list[str], postures: list[str],
          seeds: list[int]) -> tuple[list[Case], list[tuple[str, str, str]]]:  # fmt: skip
    """Every combination that `legflow run` runs (adapted to the device where it lacks a zone or
    an actuator, `legflow.plan.for_device`), longest programs first; and the (program, profile,
    reason) pairs it refuses."""
    out: list[Case] = []
    skipped: list[tuple[str, str, str]] = []
    for name in programs:
        source = resolve(name)
        if not source.program.needs_device:
            skipped.append((name, "–", "guide only: runs without a massager"))
            continue
        for profile in profiles:
            try:
                for_device(source, load_profile(profile), DEFAULT_LIMITS)
            except LegflowError as exc:
                skipped.append((name, profile, str(exc).splitlines()[0]))
                continue
            out += [Case(name, profile, subject, posture, seed, source.program.duration_s)
                    for subject in subjects for posture in postures for seed in seeds]  # fmt: skip
    out.sort(key=lambda c: -c.duration_s)
    return out, skipped


def sweep(todo: list[Case], jobs: int, progress: bool = True) -> list[Outcome]:
    """Run every case on a pool of `jobs` processes (in this process when jobs is 1)."""
    started = time.perf_counter()
    if jobs <= 1:
        _warm()
        return _collect(map(run_case, todo), len(todo), started, progress)
    with multiprocessing.get_context("spawn").Pool(jobs, initializer=_warm) as pool:
        results = pool.imap_unordered(run_case, todo, chunksize=1)
        return _collect(results, len(todo), started, progress)


def _collect(results: Iterable[Outcome], total: int, started: float, progress: bool) -> list[Outcome]:
    outcomes = []
    for k, outcome in enumerate(results, 1):
        outcomes.append(outcome)
        if progress and (outcome.status != "completed" or k % 20 == 0 or k == total):
            c = outcome.case
            print(f"[{k}/{total} {time.perf_counter() - started:6.0f} s] {c.program} {c.profile} {c.subject} "
                  f"{c.posture} seed {c.seed}: {outcome.status}", flush=True)  # fmt: skip
    return outcomes


# -- report --------------------------------------------------------------------------------------
def _seeds(text: str) -> list[int]:
    """'0-9', '3' or '0,2,5-7'."""
    seeds: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        seeds += list(range(int(lo), int(hi or lo) + 1))
    return seeds


def _mmHg(x: float) -> str:
    return f"{x:.1f}"


def report(outcomes: list[Outcome], skipped: list[tuple[str, str, str]], command: str, wall_s: float,
           jobs: int, full_sim_s: float) -> str:  # fmt: skip
    """The Markdown report: machine, totals, cost, every run that did not complete."""
    done = [o for o in outcomes if o.status == "completed"]
    bad = sorted(
        (o for o in outcomes if o.status != "completed"),
        key=lambda o: (o.case.program, o.case.profile, o.case.subject, o.case.posture, o.case.seed),
    )
    sim_s = sum(o.sim_s for o in outcomes)
    run_s = sum(o.wall_s for o in outcomes)
    rate = sim_s / max(run_s, 1e-9)
    lines = ["# legflow false-alarm sweep\n",
             f"- command: `{command}`",
             f"- commit {code_version()}; machine: {platform.platform()}, {os.cpu_count()} CPUs, "
             f"{jobs} processes; load average at the end {', '.join(f'{x:.2f}' for x in os.getloadavg())}",
             f"- Python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}; "
             "limits DEFAULT_LIMITS, no fault injected, `--fast` (virtual clock)\n",
             "| measure | result |", "|---|---|",
             f"| runs | {len(outcomes)}: {len(done)} completed, {len(bad)} did not |",
             f"| simulated time | {sim_s / 3600:.1f} h |",
             f"| wall time | {wall_s:.0f} s ({run_s:.0f} s of run time summed over the processes: "
             f"{rate:.0f} simulated s per run-second) |"]  # fmt: skip
    if full_sim_s > sim_s:
        run_h = full_sim_s / rate / 3600
        lines.append(
            f"| the full sweep (seeds 0–9, everything) | {full_sim_s / 3600:.0f} h simulated: about "
            f"{run_h:.1f} run-hours, {run_h / jobs:.1f} h wall on {jobs} free cores at this rate |"
        )
    closest = max(outcomes, key=lambda o: o.slack_share, default=None)
    if closest is not None:
        c = closest.case
        lines.append(
            f"| closest sound fill to the garment-off slack finding | {closest.slack_share:.2f} of it "
            f"(inflow {closest.slack_share * GARMENT_SLACK_RATIO:.2f}× what earlier fills took to press; "
            f"{GARMENT_SLACK_RATIO:g}× trips): {c.program} on {c.profile}, {c.subject} {c.posture}, "
            f"seed {c.seed} |"
        )
    sound = [o for o in outcomes if o.status == "completed"]
    kept = f"the stuck-open finding (a quiet manifold keeping {MANIFOLD_KEPT_SHARE:g} of its pressure)"
    for attr, finding in (("leak_share", "the leak finding (a held cell's loss over a hole's)"),
                          ("kept_share", kept)):  # fmt: skip
        top = max(sound, key=lambda o: getattr(o, attr), default=None)
        if top is not None:
            c = top.case
            lines.append(f"| closest sound session to {finding} | {getattr(top, attr):.2f} of it: "
                         f"{c.program} on {c.profile}, {c.subject} {c.posture}, seed {c.seed} |")  # fmt: skip
    held = sum(o.held_ticks for o in sound)
    second = sum(o.second_ticks for o in sound)
    n_sessions = sum(1 for o in sound if o.second_ticks)
    if held:
        lines.append(
            f"| sound held cell-ticks a latch elsewhere would have named a second hole (its loss at or "
            f"over {SECOND_LEAK_SHARE:g} of a hole's) | {second} of {held} ({second / held:.1e}), in "
            f"{n_sessions} session{'s' * (n_sessions != 1)} |"
        )
    by_detector = collections.Counter(f["detector"] or "none" for o in bad for f in o.faults[:1])
    by_detector.update("error" for o in bad if o.error)
    if by_detector:
        lines.append(f"| by detector (first fault of each run) | "
                     f"{', '.join(f'{k} {v}' for k, v in by_detector.most_common())} |")  # fmt: skip
    lines += ["", "## Runs that did not complete\n"]
    if not bad:
        lines.append("None.")
    else:
        lines += ["Time is session time of the detection. At the trip: the cell's sensed and true "
                  "(physics) pressure and its exhaust opening (1 vented); over the 2 s before: the true "
                  "range, the sensed range and the largest |sensed − true| (offset, noise, lag).\n",
                  "| program | profile | subject | posture | seed | status | detector | where | message "
                  "| at s | sensed / true at trip, mmHg | exhaust | true min…max 2 s | sensed min…max 2 s "
                  "| max gap |",
                  "|---|---|---|---|---|---|---|---|---|---:|---|---:|---|---|---:|"]  # fmt: skip
        for o in bad:
            c = o.case
            head = f"| {c.program} | {c.profile} | {c.subject} | {c.posture} | {c.seed} | {o.status}"
            if o.error:
                lines.append(f"{head} | – | – | {o.error} | {o.sim_s:.2f} | | | | | |")
                continue
            for f, tr in zip(o.faults or [{}], o.traces or [{}], strict=False):
                trace = (f"{_mmHg(tr['sensed'])} / {_mmHg(tr['true'])} | {tr['exhaust']:.2f} | "
                         f"{_mmHg(tr['true_min'])}…{_mmHg(tr['true_max'])} | "
                         f"{_mmHg(tr['sensed_min'])}…{_mmHg(tr['sensed_max'])} | {_mmHg(tr['worst_gap'])}"
                         if tr else "– | – | – | – | –")  # fmt: skip
                lines.append(f"{head} | {f.get('detector')} | {f.get('cell')} | {f.get('message')} | "
                             f"{f.get('detected_s')} | {trace} |")  # fmt: skip
    if skipped:
        lines += ["", "## Not run\n", "| program | profile | why |", "|---|---|---|"]
        lines += [f"| {name} | {profile} | {why} |" for name, profile, why in skipped]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="0-9", help="simulator seeds: '0-9', '0,3' (default 0-9)")
    parser.add_argument("--programs", nargs="+", default=None, help="built-in programs (default: all)")
    parser.add_argument("--profiles", nargs="+", default=None, help="device profiles (default: all)")
    parser.add_argument("--subjects", nargs="+", default=None, help="twin subjects (default: all)")
    parser.add_argument("--postures", nargs="+", default=None, choices=POSTURES, help="(default: all)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Markdown report path")
    parser.add_argument("--dry-run", action="store_true", help="count the runs and their simulated time only")
    args = parser.parse_args(argv)
    programs = args.programs or builtin_names()
    profiles = args.profiles or profile_names()
    subjects = args.subjects or available_subjects()
    postures = args.postures or list(POSTURES)
    todo, skipped = cases(programs, profiles, subjects, postures, _seeds(args.seeds))
    full, _ = cases(builtin_names(), profile_names(), available_subjects(), list(POSTURES), list(range(10)))
    full_sim_s = sum(c.duration_s for c in full)
    print(f"{len(todo)} runs, {sum(c.duration_s for c in todo) / 3600:.1f} h simulated "
          f"(the full sweep: {len(full)} runs, {full_sim_s / 3600:.0f} h)", flush=True)  # fmt: skip
    if args.dry_run:
        for name, profile, why in skipped:
            print(f"not run: {name} on {profile}: {why}")
        return
    started = time.perf_counter()
    outcomes = sweep(todo, args.jobs)
    wall = time.perf_counter() - started
    argv_text = " ".join(argv) if argv is not None else " ".join(sys.argv[1:])
    command = f"python -m benchmarks.false_alarms {argv_text}".strip()
    text = report(outcomes, skipped, command, wall, args.jobs, full_sim_s)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()

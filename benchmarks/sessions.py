"""Session loop benchmarks: ``--fast`` speed on a virtual clock, and tick jitter and CPU share in
real time at 50 Hz. Prints Markdown tables (with the machine and library versions) and a profile of
one fast run, so a reader sees where the time goes.

    python -m benchmarks.sessions            # full: 5 × 30-min fast runs (each mode), 60 s real time
    python -m benchmarks.sessions --quick    # 5-min program, 10 s real time

Wall time is measured with ``time.perf_counter`` (only clock.py may read the wall clock in src/);
CPU time with ``legflow.clock.process_cpu_s``.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import platform
import pstats
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np

from legflow.apps.limb import leg_twin
from legflow.clock import Clock, RealClock, VirtualClock, process_cpu_s
from legflow.device.profile import DeviceProfile, load_profile
from legflow.device.sim import SimulatedMassager, warm_up
from legflow.engine.session import LiveState, Session
from legflow.plan.compose import compose
from legflow.programs.library import builtin_source
from legflow.programs.model import Program
from legflow.safety.limits import DEFAULT_LIMITS
from legflow.safety.supervisor import Supervisor
from legflow.store import History

FAST_GOAL_X = 500.0
JITTER_P99_GOAL_ms = 2.0
CPU_GOAL_pct = 5.0
#: Seed of the simulated massager's sensor noise.
SEED = 0


@dataclass
class FastRun:
    sim_s: float
    wall_s: float
    status: str

    @property
    def speed(self) -> float:
        return self.sim_s / self.wall_s


def _session(program: Program, profile: DeviceProfile, clock: Clock, seed: int, history: History | None):
    """A session as `legflow run` builds it: the adult leg twin inside the simulated cells."""
    twin = leg_twin(profile)
    massager = SimulatedMassager(profile, clock, seed=seed, limb=twin)
    supervisor = Supervisor(massager, DEFAULT_LIMITS, clock)
    return Session(program, "bench", supervisor, clock, history=history, twin=twin)


def fast_run(program: Program, profile: DeviceProfile, seed: int, history: History | None) -> FastRun:
    """One session on a virtual clock; the wall time covers building the session and running it."""
    start = time.perf_counter()
    session = _session(program, profile, VirtualClock(), seed, history)
    summary = session.run()
    wall = time.perf_counter() - start
    return FastRun(session.t_s + session.dt_s if summary["status"] == "completed" else session.t_s, wall,
                   summary["status"])  # fmt: skip


def fast_runs(program, profile, seed, runs: int) -> dict[bool, list[FastRun]]:
    """``runs`` sessions without and with a History, interleaved so that a machine busy with
    something else for a while slows both alike."""
    results: dict[bool, list[FastRun]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as tmp:
        history = History(Path(tmp) / "history.sqlite")
        try:
            for _ in range(runs):
                for with_history in (False, True):
                    run = fast_run(program, profile, seed, history if with_history else None)
                    results[with_history].append(run)
        finally:
            history.close()
    return results


def warm(profile: DeviceProfile, seed: int) -> None:
    """Compile (or load) every numba kernel and touch SQLite, so no measured run pays for it."""
    warm_up()
    short = compose("recovery", list(profile.zones), 3, 1, profile, DEFAULT_LIMITS)
    fast_runs(short, profile, seed, 1)


# -- profile -------------------------------------------------------------------------------------
def _where(key: tuple[str, int, str]) -> str:
    file, line, func = key
    if file == "~":
        return func
    parts = Path(file).parts
    if "legflow" in parts:
        parts = parts[parts.index("legflow") :]
    elif "site-packages" in parts:
        parts = parts[parts.index("site-packages") + 1 :]
    else:
        parts = parts[-2:]
    return f"{'/'.join(parts)}:{line}({func})"


def _cum(stats: dict, file_end: str, funcs: tuple[str, ...] | None = None, own: bool = False) -> float:
    """Cumulative (or own) seconds of the functions ``funcs`` (all when None) of one file."""
    return sum(v[2] if own else v[3] for (f, _, fn), v in stats.items()
               if f.replace(os.sep, "/").endswith(file_end) and (funcs is None or fn in funcs))  # fmt: skip


def profile_run(program: Program, profile: DeviceProfile, seed: int, top: int) -> str:
    """cProfile of one fast run without history: the wall-time split and the top functions.
    (cProfile charges ~1 µs per Python call, so Python-heavy parts look bigger than they are; a
    numba dispatcher shows as one call whose own time is the compiled code plus argument unboxing.)"""
    session = _session(program, profile, VirtualClock(), seed, None)
    profiler = cProfile.Profile()
    profiler.enable()
    session.run()
    profiler.disable()
    st = pstats.Stats(profiler)
    stats = st.stats  # type: ignore[attr-defined]
    total = _cum(stats, "legflow/engine/session.py", ("run",))
    kernel = _cum(stats, "legflow/device/sim/physics.py", own=True)  # the numba kernels
    sim = _cum(stats, "legflow/device/sim/simulator.py", ("read", "apply"))
    limb = _cum(stats, "legflow/device/sim/simulator.py", ("_step_limb",))
    sup_all = _cum(stats, "legflow/safety/supervisor.py", ("read", "apply"))
    detect = _cum(stats, "legflow/safety/supervisor.py", ("_detect",))
    cells = _cum(stats, "legflow/safety/detectors.py", ("check_cells",))
    clamp = _cum(stats, "legflow/safety/supervisor.py", ("_clamp",))
    ctl = _cum(stats, "legflow/engine/controller.py", ("update", "power"))
    track = _cum(stats, "legflow/engine/session.py", ("_track",))
    rows = [
        ("sim physics: numba kernels (`physics.advance`, `physics.latch`)", kernel),
        ("sim physics: Python around them (`_advance`, `_kernel`, `_sensors`)", sim - kernel - limb),
        ("leg twin inside the cells, every 0.1 s (`_step_limb`: `LiveTwin.step`, volume exchange)", limb),
        ("supervisor: `check_cells` (numba)", cells),
        ("supervisor: rest of `_detect` (`check_heaters`, the session time limit)", detect - cells),
        ("supervisor: clamp (`Supervisor._clamp`: the `clamp_commands` kernel and its 22 arguments)", clamp),
        ("supervisor: rest (lock, `read`/`apply` bookkeeping)", sup_all - sim - detect - clamp),
        ("controller (`PressureController.update`, `HeaterController.power`)", ctl),
        ("session loop: `_track` (max pressure / skin temperature)", track),
        ("session loop: the rest of `Session.run` (per-tick Python)", total - sup_all - ctl - track),
    ]
    out = [f"Profiled one {program.name!r} run: `Session.run` took {total:.2f} s under cProfile.\n",
           "| where the wall time goes | s | share |", "|---|---:|---:|"]  # fmt: skip
    out += [f"| {name} | {secs:.2f} | {100 * secs / total:.1f} % |" for name, secs in rows]
    for title, sort in (("own time (tottime)", 2), ("cumulative time", 3)):
        out += [f"\nTop {top} functions by {title}:\n"]
        out += ["| function | calls | own s | cum s | µs/call (own) |", "|---|---:|---:|---:|---:|"]
        ranked = sorted(stats.items(), key=lambda kv: kv[1][sort], reverse=True)[:top]
        for key, (_, ncalls, tt, ct, _) in ranked:
            per_call = 1e6 * tt / max(ncalls, 1)
            out.append(f"| `{_where(key)}` | {ncalls} | {tt:.2f} | {ct:.2f} | {per_call:.1f} |")
    return "\n".join(out)


# -- real time -----------------------------------------------------------------------------------
@dataclass
class RealTimeRun:
    lateness_s: np.ndarray
    wall_s: float
    cpu_s: float
    sim_s: float


def real_time_run(program: Program, profile: DeviceProfile, seed: int, seconds: float) -> RealTimeRun:
    """The first ``seconds`` of ``program`` at 50 Hz on the real clock, stopped from on_update."""
    clock = RealClock()
    session = _session(program, profile, clock, seed, None)
    session.lateness_log = []

    def stop_after(state: LiveState) -> None:
        if state.t_s >= seconds:
            session.control.stop()

    cpu0, wall0 = process_cpu_s(), time.perf_counter()
    session.run(on_update=stop_after)
    wall, cpu = time.perf_counter() - wall0, process_cpu_s() - cpu0
    return RealTimeRun(np.array(session.lateness_log), wall, cpu, session.t_s)


def bare_clock_lateness(seconds: float, hz: float = 50.0) -> np.ndarray:
    """The same schedule as `Session.run` with no work per tick: what the OS and `RealClock` alone
    give (sleep wake-up latency), to tell machine jitter from loop cost."""
    clock, dt = RealClock(), 1.0 / hz
    lateness, next_tick = [], clock.now()
    for _ in range(round(seconds * hz)):
        clock.sleep_until(next_tick)
        lateness.append(clock.now() - next_tick)
        next_tick = max(next_tick + dt, clock.now())
    return np.array(lateness)


def _percentiles_ms(lateness_s: np.ndarray) -> tuple[float, float, float]:
    p50, p99, worst = (float(np.percentile(1e3 * lateness_s, q)) for q in (50, 99, 100))
    return p50, p99, worst


# -- report --------------------------------------------------------------------------------------
def _x(v: float) -> str:
    return f"{v:,.0f}×"


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Session loop benchmarks (--fast speed, real-time jitter).")
    parser.add_argument("--quick", action="store_true", help="a 5-min fast program and 10 s of real time")
    parser.add_argument("--runs", type=int, default=5, help="fast runs per mode (median of them)")
    parser.add_argument("--seed", type=int, default=SEED, help="seed of the simulated massager")
    parser.add_argument("--no-profile", action="store_true", help="skip the cProfile run")
    parser.add_argument("--top", type=int, default=10, help="functions listed per profile table")
    args = parser.parse_args(argv)
    minutes, rt_seconds = (5, 10.0) if args.quick else (30, 60.0)

    profile = load_profile()
    program = compose("recovery", list(profile.zones), 3, minutes, profile, DEFAULT_LIMITS)
    circulation = builtin_source("circulation").program
    started = time.perf_counter()
    warm(profile, args.seed)

    fast = fast_runs(program, profile, args.seed, args.runs)
    rt = real_time_run(circulation, profile, args.seed, rt_seconds)
    late_ms = 1e3 * rt.lateness_s
    p50, p99, worst = _percentiles_ms(rt.lateness_s)
    bare_s = min(rt_seconds, 20.0)
    bare = bare_clock_lateness(bare_s)
    cpu_pct = 100.0 * rt.cpu_s / rt.wall_s

    print("# legflow session benchmarks\n")
    print(f"- machine: {platform.platform()}, {platform.machine()}, {os.cpu_count()} CPUs "
          f"({platform.processor() or 'processor n/a'})")  # fmt: skip
    print(f"- load average at the end (1/5/15 min): {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"- Python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}")
    print(f"- device profile {profile.name!r}, simulator seed {args.seed}, limits DEFAULT_LIMITS\n")
    print("| measure | result | goal | met |")
    print("|---|---|---|---|")
    for with_history, runs in fast.items():
        speeds = [r.speed for r in runs]
        med = statistics.median(speeds)
        statuses = sorted({r.status for r in runs})
        label = "History (SQLite, temp dir)" if with_history else "no history"
        print(f"| `--fast` {minutes}-min {program.name!r}, {label}: simulated s per wall s "
              f"(median of {len(runs)}, min–max) | {_x(med)} ({_x(min(speeds))}–{_x(max(speeds))}); "
              f"{statistics.median(r.wall_s for r in runs):.2f} s wall per run, status "
              f"{'/'.join(statuses)} at {runs[0].sim_s:.0f} s | ≥ {_x(FAST_GOAL_X)} | "
              f"{_met(med >= FAST_GOAL_X and statuses == ['completed'])} |")  # fmt: skip
    over = int(np.sum(late_ms > JITTER_P99_GOAL_ms))
    print(f"| real time, 50 Hz, first {rt_seconds:.0f} s of 'circulation': tick lateness p50 / p99 / max "
          f"({late_ms.size} ticks, {over} over {JITTER_P99_GOAL_ms:g} ms) | {p50:.3f} / {p99:.3f} / "
          f"{worst:.3f} ms | p99 ≤ {JITTER_P99_GOAL_ms:g} ms | "
          f"{_met(p99 <= JITTER_P99_GOAL_ms)} |")  # fmt: skip
    b50, b99, bmax = _percentiles_ms(bare)
    print(f"| for comparison, bare `RealClock.sleep_until` at 50 Hz for {bare_s:.0f} s, no work: lateness "
          f"p50 / p99 / max | {b50:.3f} / {b99:.3f} / {bmax:.3f} ms | (machine baseline) | – |")  # fmt: skip
    print(f"| real time: CPU share of one core (process CPU {rt.cpu_s:.2f} s / wall {rt.wall_s:.2f} s) | "
          f"{cpu_pct:.1f} % | ≤ {CPU_GOAL_pct:g} % | {_met(cpu_pct <= CPU_GOAL_pct)} |")  # fmt: skip
    print()
    if not args.no_profile:
        print(profile_run(program, profile, args.seed, args.top))
        print()
    print(f"(benchmark took {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()

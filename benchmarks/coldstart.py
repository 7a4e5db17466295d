"""Cold start: what a first `legflow run` after an install costs, against the same run once numba's
cache is filled, side by side. Prints a Markdown report and writes it to
benchmarks/results/coldstart.md.

    python -m benchmarks.coldstart             # 5 cold and 5 warm runs, interleaved
    python -m benchmarks.coldstart --runs 3

Each run is `legflow run PROGRAM --fast --json` in a fresh process, PROGRAM a one-minute program
that runs every actuator, with stderr on a pseudo-terminal (what a user sees: the spinner) and
stdout on a pipe (the JSON). A cold run gets an empty NUMBA_CACHE_DIR, so every kernel compiles as
on a fresh install; a warm run shares one filled before the first. Measured per run: the time to
the first byte on either stream, the time to exit, and the CPU time of the process (compiling runs
on one thread: a cold run's wall time is at least that). Then the kernels of a
simulated session compiled once more on an empty cache, each top-level compile timed in CPU
seconds, so a reader sees what dominates.

Wall time is read with ``time.perf_counter`` (only clock.py may read the clock in src/).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import pty
import select
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numba
import numpy as np

FIRST_OUTPUT_GOAL_s = 1.0
COLD_TOTAL_GOAL_s = 15.0
RESULTS = Path(__file__).parent / "results" / "coldstart.md"

#: One minute of every actuator: a sequential squeeze of foot, calf and thigh, rollers, vibration, heat.
ONE_MINUTE = """
[program]
name = "One minute"
goal = "circulation"
summary = "A one-minute sequential squeeze with rollers, vibration and heat."
legs = "both"

[[phase]]
name = "squeeze"
duration_min = 1.0
  [phase.compression]
  pattern = "sequential"
  zones = ["foot", "calf", "thigh"]
  pressure_mmHg = [60, 50, 40]
  inflate_s = 3.0
  delay_s = 0.5
  hold_s = 8.0
  release_s = 3.0
  rest_s = 10.0
  [phase.rollers]
  zones = ["sole.arch", "sole.heel"]
  speed = "medium"
  depth = "gentle"
  [phase.vibration]
  level = 2
  [phase.heat]
  target_C = 38.0
"""

#: Run in a process of its own: the simulated rehearsal on an empty cache; CPU seconds per top-level
#: compile (nested compiles count in their caller), as JSON.
COMPILE_TIMES = """
import json, time
from numba.core import event
stack, rows = [], []
class Timer(event.Listener):
    def on_start(self, ev):
        f = ev.data["dispatcher"].py_func
        stack.append((f"{f.__module__}.{f.__qualname__}", time.process_time()))
    def on_end(self, ev):
        name, start = stack.pop()
        if not stack:
            rows.append((name, time.process_time() - start))
event.register("numba:compile", Timer())
from legflow.apps.warmup import rehearse
start = time.process_time()
rehearse(simulated=True)
print(json.dumps({"total_cpu_s": time.process_time() - start, "kernels": rows}))
"""


@dataclass
class Run:
    cold: bool
    first_output_s: float
    total_s: float
    cpu_s: float
    first_line: str
    status: str


def run_once(program: Path, cache: Path, home: Path, cold: bool) -> Run:
    """One `legflow run PROGRAM --fast --json` with stderr on a pty; times from just before the spawn."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "LEGFLOW_HOME": str(home), "COLUMNS": "100"}
    master, slave = pty.openpty()
    command = [sys.executable, "-m", "legflow", "run", str(program), "--fast", "--json"]
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    first: float | None = None
    err, out = b"", b""
    streams = {master: "err", proc.stdout.fileno(): "out"}
    while streams:
        ready, _, _ = select.select(list(streams), [], [], 1.0)
        for fd in ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the pty's other end closed
                chunk = b""
            if not chunk:
                del streams[fd]
                continue
            if first is None:
                first = time.perf_counter() - start
            if streams[fd] == "err":
                err += chunk
            else:
                out += chunk
    _, status, usage = os.wait4(proc.pid, 0)
    total = time.perf_counter() - start
    os.close(master)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"legflow run exited {proc.returncode}: {err.decode(errors='replace')[-500:]}")
    summary = json.loads(out)
    line = _first_words(err)
    return Run(cold, first or total, total, usage.ru_utime + usage.ru_stime, line, summary["status"])


def _first_words(raw: bytes) -> str:
    """The first thing written to the terminal, without its escape codes (the spinner's text)."""
    text = raw.decode(errors="replace")
    plain, skip = [], False
    for ch in text:
        if ch == "\x1b":
            skip = True
        elif skip and ch.isalpha():
            skip = False
        elif not skip and (ch.isprintable() or ch == " "):
            plain.append(ch)
        elif not skip and plain and ch in "\r\n":
            break
    return "".join(plain).strip()


def compile_times(cache: Path) -> dict:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    done = subprocess.run([sys.executable, "-c", COMPILE_TIMES], env=env, capture_output=True, text=True,
                          check=True)  # fmt: skip
    return json.loads(done.stdout)


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} s ({min(values):.2f}–{max(values):.2f})"


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def report(runs: list[Run], kernels: dict, args: argparse.Namespace, load_start: tuple, took_s: float) -> str:
    from benchmarks.provenance import (
        code_version,  # here: this process stays free of legflow until the report
    )

    cold = [r for r in runs if r.cold]
    warm = [r for r in runs if not r.cold]
    first_cold = statistics.median(r.first_output_s for r in cold)
    total_cold = statistics.median(r.total_s for r in cold)
    cpu_cold = statistics.median(r.cpu_s for r in cold)
    lines = [
        "# legflow cold start",
        "",
        f"- command: `python -m benchmarks.coldstart --runs {args.runs}`",
        f"- commit {code_version()}, {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {platform.platform()}, {platform.machine()}, {os.cpu_count()} CPUs "
        f"({platform.processor() or 'processor n/a'})",
        f"- load average (1/5/15 min) at the start: {', '.join(f'{x:.2f}' for x in load_start)}; "
        f"at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}",
        f"- Python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}",
        f"- each run: `legflow run one-minute.toml --fast --json` (a one-minute program of every actuator) "
        f"in a fresh process, stderr on a pseudo-terminal, stdout on a pipe; {len(cold)} cold runs (an "
        f"empty NUMBA_CACHE_DIR each) and {len(warm)} warm runs (a filled one), interleaved; median "
        f"(min–max)",
        "",
        "| measure | cold (first run) | warm (cache filled) | cold / warm | goal | met |",
        "|---|---|---|---|---|---|",
    ]
    for label, key in (("time to the first output", "first_output_s"), ("time to exit", "total_s"),
                       ("CPU time of the process", "cpu_s")):  # fmt: skip
        c = [getattr(r, key) for r in cold]
        w = [getattr(r, key) for r in warm]
        goal, met = "–", "–"
        if key == "first_output_s":
            goal, met = f"≤ {FIRST_OUTPUT_GOAL_s:g} s", _met(first_cold <= FIRST_OUTPUT_GOAL_s)
        elif key == "total_s":
            goal, met = f"cold ≤ {COLD_TOTAL_GOAL_s:g} s", _met(total_cold <= COLD_TOTAL_GOAL_s)
        ratio = statistics.median(c) / statistics.median(w)
        lines.append(f"| {label} | {_median(c)} | {_median(w)} | {ratio:.1f}× | {goal} | {met} |")
    statuses = sorted({r.status for r in runs})
    lines += [
        "",
        f"Every session ended {'/'.join(statuses)}. The first output of a cold run: “{cold[0].first_line}”; "
        f"of a warm run: “{warm[0].first_line}”.",
        "",
        f"A cold run compiles on one thread, so its wall time is at least its CPU time (median "
        f"{cpu_cold:.1f} s). Here the runs took {total_cold:.1f} s of wall time (median), the "
        f"{os.cpu_count()} CPUs shared with whatever else ran (the load average above): times on a busy "
        f"machine, longer than on an idle one.",
        "",
        f"What a simulated session compiles, on an empty cache (the rehearsal of "
        f"`legflow.apps.warmup`: {kernels['total_cpu_s']:.1f} s CPU in all; CPU seconds per top-level "
        f"kernel, its nested kernels included):",
        "",
        "| kernel | CPU s | share |",
        "|---|---:|---:|",
    ]
    total = kernels["total_cpu_s"]
    for name, seconds in sorted(kernels["kernels"], key=lambda row: -row[1])[: args.top]:
        lines.append(f"| `{name}` | {seconds:.2f} | {100 * seconds / total:.0f} % |")
    rest = sorted(kernels["kernels"], key=lambda row: -row[1])[args.top :]
    if rest:
        lines.append(f"| {len(rest)} more | {sum(s for _, s in rest):.2f} | "
                     f"{100 * sum(s for _, s in rest) / total:.0f} % |")  # fmt: skip
    lines += ["", f"(benchmark took {took_s:.0f} s)"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="`legflow run --fast`: empty numba cache vs filled.")
    parser.add_argument("--runs", type=int, default=5, help="cold runs and warm runs each (median of them)")
    parser.add_argument("--top", type=int, default=10, help="kernels listed in the compile table")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the Markdown report")
    args = parser.parse_args(argv)
    load_start = os.getloadavg()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="legflow-coldstart-") as tmp:
        base = Path(tmp)
        program = base / "one-minute.toml"
        program.write_text(ONE_MINUTE, encoding="utf-8")
        warm_cache = base / "warm-cache"
        run_once(program, warm_cache, base / "home", cold=True)  # fills the warm runs' cache
        runs: list[Run] = []
        for i in range(args.runs):
            for cold in (True, False):
                cache = base / f"cold-cache-{i}" if cold else warm_cache
                run = run_once(program, cache, base / "home", cold)
                runs.append(run)
                print(f"run {i + 1} {'cold' if cold else 'warm'}: first output {run.first_output_s:.2f} s, "
                      f"exit {run.total_s:.2f} s, CPU {run.cpu_s:.2f} s", file=sys.stderr)  # fmt: skip
        kernels = compile_times(base / "compile-times-cache")
    text = report(runs, kernels, args, load_start, time.perf_counter() - started)
    print(text)
    args.output.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()

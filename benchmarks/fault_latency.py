"""Single-fault safety, measured: every fault kind on every device profile, injected while the
faulted cell fills, while it holds, and while it is vented (`legflow.apps.faultmatrix`), in real
sessions with the leg twin inside the cells, watching the true pressures and skin temperature.

Per fault kind: detection and safe-state latency from the moment the fault takes effect (median and
worst), the worst true pressure over the cell's limit, the longest time above limit + 10 mmHg, and
how often the summary names the right cell or leg; then every case that misses a target, with its
numbers, so detector changes can be checked against them.

    python -m benchmarks.fault_latency                 # prints and writes benchmarks/results/fault_latency.md
    python -m benchmarks.fault_latency --profiles reference --kinds leak,link_loss --no-write
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from benchmarks.provenance import code_version
from legflow.apps.faultmatrix import (
    TIMINGS,
    FaultRun,
    SAFE_WITHIN_s,
    healthy_cases,
    matrix_cases,
    run_case,
)
from legflow.device.faults import FAULT_KINDS
from legflow.device.sim import warm_up
from legflow.twin.model import POSTURES

RESULTS = Path(__file__).parent / "results" / "fault_latency.md"


def _s(values: Sequence[float], worst: bool = False) -> str:
    if not values:
        return "–"
    return f"{(max(values) if worst else statistics.median(values)):.2f}"


def _target(kind: str) -> str:
    if kind == "sensor_drift":
        return "before the pressure rule breaks"
    return f"≤ {SAFE_WITHIN_s[kind]:g} s"


def kind_table(runs: list[FaultRun]) -> list[str]:
    """One row per fault kind, over all profiles and timings."""
    out = [
        "| fault | cases | targets met | detected | detection latency median / worst s | safe-state latency "
        "median / worst s | target | worst true over limit mmHg | worst time > limit + 10 s | "
        "location correct |",
        "|---|---:|---:|---:|---|---|---|---:|---:|---:|",
    ]
    for kind in FAULT_KINDS:
        mine = [r for r in runs if r.case.kind == kind]
        if not mine:
            continue
        detect = [r.detect_latency_s for r in mine if r.detect_latency_s is not None]
        safe = [r.safe_latency_s for r in mine if r.safe_latency_s is not None]
        met = sum(not r.missed_targets() for r in mine)
        out.append(
            f"| {kind} | {len(mine)} | {met} | {sum(r.safe_at_s is not None for r in mine)} | "
            f"{_s(detect)} / {_s(detect, True)} | {_s(safe)} / {_s(safe, True)} | {_target(kind)} | "
            f"{max(r.over_limit_mmHg for r in mine):+.1f} | {max(r.longest_over_s for r in mine):.2f} | "
            f"{sum(r.location_ok for r in mine)}/{len(mine)} |"
        )  # fmt: skip
    return out


def grid(runs: list[FaultRun]) -> list[str]:
    """Safe-state latency (s after the fault took effect) of each kind per profile and timing;
    ✗ marks a case that misses a target."""
    columns = sorted({(r.case.profile, r.case.timing) for r in runs if r.case.kind},
                     key=lambda pt: (pt[0], TIMINGS.index(pt[1])))  # fmt: skip
    out = ["| fault | " + " | ".join(f"{p} {t}" for p, t in columns) + " |",
           "|---|" + "---:|" * len(columns)]  # fmt: skip
    legs = sorted({r.case.leg or "" for r in runs if r.case.kind})
    for kind, leg in [(kind, leg) for kind in FAULT_KINDS for leg in legs]:
        cells = []
        for column in columns:
            here = [r for r in runs if (r.case.kind, r.case.leg or "") == (kind, leg)
                    and (r.case.profile, r.case.timing) == column]  # fmt: skip
            text = []
            for r in here:
                latency = "missed" if r.safe_latency_s is None else f"{r.safe_latency_s:.1f}"
                mark = " ✗" if r.missed_targets() else ""
                near = r.case.pressure_mmHg != here[0].case.pressure_mmHg
                extra = f" ({r.case.pressure_mmHg:g} mmHg)" if near else ""
                extra += " (40 °C)" if r.case.reduced_sensation else ""
                text.append(f"{latency}{mark}{extra}")
            cells.append(", ".join(text) or "–")
        if any(c != "–" for c in cells):
            out.append(f"| {kind}{f' ({leg} leg)' if leg else ''} | " + " | ".join(cells) + " |")
    return out


def misses(runs: list[FaultRun]) -> list[str]:
    out = ["| case | injected s | effect s | detector | summary names | missed |",
           "|---|---:|---:|---|---|---|"]  # fmt: skip
    for r in runs:
        missed = r.missed_targets()
        if missed:
            effect = "–" if r.effect_s is None else f"{r.effect_s:.2f}"
            inject = "–" if r.inject_s is None else f"{r.inject_s:.2f}"
            named = r.reported or "–"
            out.append(f"| {r.case.label} | {inject} | {effect} | {r.detector or '–'} | {named} | "
                       f"{'; '.join(missed)} |")  # fmt: skip
    return out if len(out) > 2 else ["None: every case meets every target."]


def report(
    runs: list[FaultRun],
    healthy: list[FaultRun],
    seconds: float,
    code: str,
    subject: str = "adult",
    posture: str = "supine",
    options: str = "",
) -> str:
    ok = [r for r in healthy if not r.missed_targets()]
    met = sum(not r.missed_targets() for r in runs)
    lines = [
        "# Single-fault safety: detection latency, safe state, true pressure",
        "",
        f"`python -m benchmarks.fault_latency{options}` on "
        f"{platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs, {date.today().isoformat()}, code at {code}; {seconds:.0f} s.",
        "",
        f"Each case is a real session (simulated massager with the leg twin '{subject}', {posture}, "
        "inside its cells, "
        "supervisor with the default limits, engine) on a virtual clock: sequential squeezes at 60 mmHg "
        "(sensor drift also at 96 mmHg) with a 25 s hold, one fault injected into the right leg's (upper) "
        "calf cell, or the right leg for a pump, heater or garment fault"
        f"{'' if '--one-leg' in options else ', and each case again on the left leg'}. Latencies count "
        "from the moment "
        "the fault takes effect: the first moment it makes the device act otherwise than a sound one "
        "under the commands it receives (a hole, a garment off, a sensor fault or a lost link at once; "
        "an inlet stuck closed once commanded open, stuck open once commanded closed; a kink once gas "
        "should pass; a dead pump once commanded on; a shorted heater switch once commanded below full "
        "power), and when injected into a vented cell not before its (or its leg's) next fill. "
        "Targets: safe state ≤ 5 s (leak, valves, kink, pump, frozen sensor, "
        "garment), ≤ 1 s (link), ≤ 60 s and before the skin passes 42 °C (40 °C with reduced sensation) "
        "(heater), before the true pressure breaks its rule (drift); the true pressure never over "
        "limit + 10 mmHg for more than 0.5 s nor over limit + 25; the summary names the faulted cell or leg.",
        "",
        f"**{met} of {len(runs)} cases meet every target; without a fault {len(ok)} of {len(healthy)} "
        "sessions complete with no fault.**",
        "",
        "## Per fault kind, over all profiles and timings",
        "",
        *kind_table(runs),
        "",
        "## Safe-state latency per profile and timing (s after the fault took effect; ✗ misses a target)",
        "",
        *grid(runs),
        "",
        "## Cases that miss a target",
        "",
        *misses(runs),
        *misses(healthy)[2:],
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Single-fault detection latency and true over-pressure.")
    parser.add_argument("--profiles", help="comma-separated device profiles (default: all)")
    parser.add_argument("--kinds", help="comma-separated fault kinds (default: all)")
    parser.add_argument("--no-write", action="store_true", help=f"print only; do not write {RESULTS.name}")
    parser.add_argument("--code", help="how to name the code measured (default: its git commit)")
    parser.add_argument("--subject", default="adult", help="the leg twin in the cells (default: adult)")
    parser.add_argument("--posture", default="supine", choices=POSTURES, help="its posture (default: supine)")
    parser.add_argument("--one-leg", action="store_true", help="the right leg only (not again on the left)")
    args = parser.parse_args(argv)
    profiles = args.profiles.split(",") if args.profiles else None
    kinds = args.kinds.split(",") if args.kinds else FAULT_KINDS
    leg = {"subject": args.subject, "posture": args.posture}
    started = time.perf_counter()
    warm_up()
    runs = [run_case(case) for case in matrix_cases(profiles, kinds, not args.one_leg, **leg)]
    healthy = [run_case(case) for case in healthy_cases(profiles, **leg)]
    options = "".join(
        f" --{k} {v}" for k, v in leg.items() if v != {"subject": "adult", "posture": "supine"}[k]
    )
    options += " --one-leg" if args.one_leg else ""
    text = report(
        runs, healthy, time.perf_counter() - started, args.code or code_version(), **leg, options=options
    )
    print(text)
    if not args.no_write:
        default = (args.subject, args.posture) == ("adult", "supine")
        out = RESULTS if default else RESULTS.with_name(f"fault_latency_{args.subject}_{args.posture}.md")
        out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()

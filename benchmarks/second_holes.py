"""Two holes made at once: is the second listed beside the first? The evidence behind
`SECOND_LEAK_SHARE`.

Two holes, one per leg in each leg's default leak cell, are made at the same instant while both
cells fill or hold, on every device profile and in every posture. The first to reach a hole's
loss latches the safe state; the other is listed beside it if its loss is then at least
SECOND_LEAK_SHARE of a hole's (`leak_evidence`). This prints, per case, the other cell's share at
that tick and whether it was listed, and how many second holes a few other shares would have
listed. The other side of the trade, how often a sound held cell reaches the share, is counted
by the false-alarm sweep (`python -m benchmarks.false_alarms`, its "second hole" row).

    python -m benchmarks.second_holes
"""

from __future__ import annotations

import argparse
import time
from datetime import date
from typing import Any, get_args

from benchmarks.provenance import code_version
from legflow.apps.faultmatrix import FaultCase, default_where, run_watched, schedule
from legflow.device.faults import FaultSpec
from legflow.device.profile import load_profile, profile_names
from legflow.device.sim import warm_up
from legflow.safety.detectors import SECOND_LEAK_SHARE, leak_evidence
from legflow.safety.supervisor import Supervisor
from legflow.twin.model import Posture

TIMINGS = ("inflating", "holding")
SHARES = (0.5, 0.6, 0.65, 0.7, SECOND_LEAK_SHARE, 0.75, 0.8, 0.85, 0.9)


def two_holes(profile: str, timing: str, posture: Posture) -> dict[str, Any]:
    """Both legs' default leak cells holed at once; the other cell's share of a hole's loss at the
    tick the first latched, and what the summary listed."""
    device = load_profile(profile)
    plan = schedule(FaultCase(profile, "leak", timing))
    cells = [default_where(device, "leak", leg) for leg in device.legs]
    faults = [FaultSpec("leak", plan.inject_s, cell) for cell in cells]
    at_latch: dict[str, float] = {}
    read = Supervisor.read

    def recording(sup: Supervisor) -> Any:
        sensors = read(sup)
        if sup.trips and not at_latch:  # the tick the first fault latched, before it vents
            memory = sup._cell_memory
            evidence = leak_evidence(memory, memory["previous"], sup._cell_volume_mL)
            at_latch.update({name: float(evidence[i]) for i, name in enumerate(sup.cell_names)})
        return sensors

    Supervisor.read = recording  # type: ignore[method-assign]
    try:
        summary = run_watched(device, plan.program, faults, posture=posture).summary
    finally:
        Supervisor.read = read  # type: ignore[method-assign]
    found = [f for f in summary["faults"] if f["detected_s"] is not None]
    first = found[0]["cell"] if found else None
    other = next((c for c in cells if c != first), None)
    listed = {f["cell"] for f in found if f["kind"] == "leak"}
    return {
        "case": f"{profile}, {timing}, {posture}",
        "first": first,
        "other": other,
        "share": at_latch.get(other or "", float("nan")),
        "listed": other in listed,
    }


def report(rows: list[dict[str, Any]], command: str, wall_s: float) -> str:
    listed = sum(r["listed"] for r in rows)
    lines = [
        "# Two holes made at once: is the second listed?",
        "",
        f"- command: `{command}`; {date.today()}, code {code_version()}; {wall_s:.0f} s",
        f"- rule in force: another held cell at {SECOND_LEAK_SHARE:g} of a hole's loss or more as the first"
        " latches is listed as a second hole",
        f"- **{listed} of {len(rows)}** second holes listed",
        "",
        "| case | first latched | the other | its share of a hole's loss then | listed |",
        "|---|---|---|---:|---|",
    ]
    for r in sorted(rows, key=lambda r: r["share"]):
        listed_word = "yes" if r["listed"] else "no"
        lines.append(f"| {r['case']} | {r['first']} | {r['other']} | {r['share']:.2f} | {listed_word} |")
    lines += [
        "",
        "Second holes each share would have listed (the sweep counts the sound cells it would):",
        "",
    ]
    lines += ["| share | listed |", "|---:|---:|"]
    lines += [f"| {s:g} | {sum(r['share'] >= s for r in rows)} of {len(rows)} |" for s in sorted(set(SHARES))]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description="Two holes at once: the second hole's listing.").parse_args(argv)
    started = time.perf_counter()
    warm_up()
    rows = [
        two_holes(profile, timing, posture)
        for profile in profile_names()
        for timing in TIMINGS
        for posture in get_args(Posture)
    ]
    print(report(rows, "python -m benchmarks.second_holes", time.perf_counter() - started))


if __name__ == "__main__":
    main()

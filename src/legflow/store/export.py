"""A stored session as files a user takes elsewhere: per-second samples as CSV, summary and events
as JSON (for the CLI's `history export` and the web dashboard's download links)."""

from __future__ import annotations

import csv
import io
import json

from legflow.store.history import History


def export_json(history: History, session_id: int) -> str:
    row = history.session(session_id)
    return json.dumps({"session": row.__dict__, "events": history.events(session_id)}, indent=2) + "\n"


def export_csv(history: History, session_id: int) -> str:
    """One row per session second: every cell's pressure and setpoint, each leg's skin temperature
    and, when a twin ran, each twin signal per leg."""
    row = history.session(session_id)
    out = io.StringIO()
    writer = csv.writer(out)
    legs = sorted({c.split(".")[0] for c in row.cells}, key=lambda leg: leg != "left")
    samples = history.samples(session_id)
    twin_keys = sorted(samples[0]["twin"]) if samples and samples[0]["twin"] else []
    writer.writerow(
        [
            "t_s",
            *[f"{c}_mmHg" for c in row.cells],
            *[f"{c}_setpoint_mmHg" for c in row.cells],
            *[f"{leg}_skin_C" for leg in legs],
            *[f"{leg}_twin_{key}" for key in twin_keys for leg in legs],
        ]
    )
    for s in samples:
        twin = [v for key in twin_keys for v in s["twin"][key]] if s["twin"] else []
        writer.writerow([s["t_s"], *s["pressure_mmHg"], *s["setpoint_mmHg"], *s["skin_temp_C"], *twin])
    return out.getvalue()

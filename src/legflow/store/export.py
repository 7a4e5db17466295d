"""A stored session as files a user takes elsewhere: per-second samples as CSV, summary and events
as JSON (for the CLI's `history export` and the web dashboard's download links), and every
session's per-second samples as one Parquet table (`legflow history export --format parquet`).

The Parquet table (`samples_table`, written by `write_parquet`) is in long format: one row per
session second per cell, sessions in the order of their ids, then seconds, then the session's cells
in their stored order. Its columns (each field's metadata holds its ``unit`` and ``description``;
the table's metadata the format version, ``legflow.samples``, and all of them again as JSON):

=====================  =========  =========  ======================================================
column                 type       unit       meaning
=====================  =========  =========  ======================================================
session_id             int64                 the session's number in the history
user                   string                whose session (the screening profile's name)
program                string                the program that ran
profile                string                the device profile it ran on
started_at             timestamp  UTC        when the session started (microseconds, UTC)
t_s                    float64    s          session time of the sample (one a second, from 0)
cell                   string                the cell, ``LEG.NAME`` (``left.calf``)
leg                    string                the cell's leg (``left``, ``right``)
zone                   string                the compression zone the cell presses, from the
                                             built-in device profile (null if none knows the cell)
pressure_mmHg          float64    mmHg       the cell's pressure as sensed
setpoint_mmHg          float64    mmHg       the pressure the controller aimed the cell at
skin_temp_C            float64    °C         skin temperature of the cell's leg
status                 string                how the session ended: completed, stopped, fault;
                                             running while it runs; interrupted if its process died
twin_<signal>          float64    (varies)   the leg twin's signal for the cell's leg (a model),
                                             null where no twin ran: always
                                             ``twin_outflow_mL_per_min`` (mL/min, venous outflow to
                                             the abdomen), ``twin_venous_change_mL`` (mL, venous
                                             volume change from rest) and ``twin_fluid_cleared_mL``
                                             (mL, interstitial fluid cleared), then any other
                                             signal stored, by name
=====================  =========  =========  ======================================================

Values are the stored ones (rounded to 0.01 when recorded). The date range of `samples_table`
picks sessions by the UTC date on which they started.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from legflow.device.profile import load_profile
from legflow.errors import LegflowError, ProfileError
from legflow.store.history import History, SessionRow

if TYPE_CHECKING:  # pyarrow is imported where a table is made: the CSV and JSON exports, a
    # session and the dashboard never load it
    import pyarrow as pa  # type: ignore[import-untyped]

#: The Parquet table's format: a reader checks ``legflow.samples`` in the table's metadata.
SAMPLES_FORMAT = "1"
#: The columns every table has, in order: (name, Arrow type, unit, meaning). Twin columns follow.
SAMPLE_COLUMNS: tuple[tuple[str, str, str, str], ...] = (
    ("session_id", "int64", "", "the session's number in the history (legflow history)"),
    ("user", "string", "", "whose session: the screening profile's name"),
    ("program", "string", "", "the program that ran"),
    ("profile", "string", "", "the device profile it ran on"),
    ("started_at", "timestamp", "UTC", "when the session started"),
    ("t_s", "float64", "s", "session time of the sample, one a second from 0"),
    ("cell", "string", "", "the cell, LEG.NAME (left.calf)"),
    ("leg", "string", "", "the cell's leg: left or right"),
    ("zone", "string", "", "the compression zone the cell presses (null if no built-in profile knows it)"),
    ("pressure_mmHg", "float64", "mmHg", "the cell's pressure as sensed"),
    ("setpoint_mmHg", "float64", "mmHg", "the pressure the controller aimed the cell at"),
    ("skin_temp_C", "float64", "°C", "skin temperature of the cell's leg"),
    ("status", "string", "", "how the session ended: completed, stopped, fault (running, interrupted)"),
)
#: The full-rate trace's columns: a row per control tick per cell (`traces_table`).
TRACE_COLUMNS: tuple[tuple[str, str, str, str], ...] = tuple(
    ("t_s", "float64", "s", "session time of the control tick (the engine's rate: 50 a second)")
    if name == "t_s"
    else (name, kind, unit, text)
    for name, kind, unit, text in SAMPLE_COLUMNS
    if name != "skin_temp_C"
)
#: The leg twin's signals (`legflow.twin.live.LiveTwin.signals`): a column each, always present.
TWIN_SIGNALS: dict[str, tuple[str, str]] = {
    "outflow_mL_per_min": ("mL/min", "the leg twin's venous outflow to the abdomen, cell's leg (a model)"),
    "venous_change_mL": ("mL", "the leg twin's venous volume change from rest, cell's leg (a model)"),
    "fluid_cleared_mL": ("mL", "the leg twin's interstitial fluid cleared, cell's leg (a model)"),
}
#: Units read off the end of another twin signal's name.
_UNIT_SUFFIXES = (
    ("_mL_per_min", "mL/min"),
    ("_mL_per_h", "mL/h"),
    ("_mmHg", "mmHg"),
    ("_mL", "mL"),
    ("_s", "s"),
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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


# -- Parquet ---------------------------------------------------------------------------------------
def started_on(row: SessionRow) -> date:
    """The UTC date on which a session started (a time stored without a zone is UTC)."""
    return _started(row).date()


def select_sessions(
    history: History,
    *,
    user: str | None = None,
    first: date | None = None,
    last: date | None = None,
    session_ids: Iterable[int] | None = None,
) -> list[SessionRow]:
    """The sessions to export, oldest first: those of `session_ids` (each must exist) or every
    stored one, kept if `user`'s (when given) and started (UTC date) from `first` to `last`,
    both included."""
    rows = (
        [history.session(i) for i in dict.fromkeys(session_ids)]
        if session_ids is not None
        else history.sessions(user)
    )
    return sorted(
        (
            r
            for r in rows
            if (user is None or r.user == user)
            and (first is None or started_on(r) >= first)
            and (last is None or started_on(r) <= last)
        ),
        key=lambda r: r.id,
    )


def samples_table(
    history: History,
    *,
    user: str | None = None,
    first: date | None = None,
    last: date | None = None,
    session_ids: Iterable[int] | None = None,
) -> pa.Table:
    """Every selected session's per-second samples in long format, one row per second per cell
    (the schema in this module's docstring); `select_sessions` picks the sessions."""
    import pyarrow as pa

    sessions = select_sessions(history, user=user, first=first, last=last, session_ids=session_ids)
    loaded = [(row, history.samples(row.id)) for row in sessions]
    extra = {k for _, samples in loaded for s in samples if s["twin"] for k in s["twin"]} - set(TWIN_SIGNALS)
    twin_keys = [*TWIN_SIGNALS, *sorted(extra)]
    schema = samples_schema(twin_keys)
    parts = [_session_table(row, samples, twin_keys, schema) for row, samples in loaded]
    if not parts:
        return schema.empty_table()
    return pa.concat_tables(parts)


def traces_table(
    history: History,
    *,
    user: str | None = None,
    first: date | None = None,
    last: date | None = None,
    session_ids: Iterable[int] | None = None,
) -> pa.Table:
    """Every selected session's full-rate trace (`History.trace`: each control tick's sensed
    pressure and setpoint per cell, to 0.1 mmHg) in long format, one row per tick per cell."""
    import pyarrow as pa

    schema = _schema(
        TRACE_COLUMNS, [], "legflow.traces", "full-rate traces, one row per control tick per cell"
    )
    parts = []
    for row in select_sessions(history, user=user, first=first, last=last, session_ids=session_ids):
        t_s, pressure, setpoint = history.trace(row.id)
        n, width = pressure.shape
        if n == 0:
            continue
        columns = _constant_columns(row, n * width)
        columns |= {
            "t_s": pa.array(np.repeat(t_s, width)),
            "cell": pa.array(row.cells * n, pa.string()),
            "leg": pa.array([_leg(c) for c in row.cells] * n, pa.string()),
            "zone": pa.array(_zones(row) * n, pa.string()),
            "pressure_mmHg": pa.array(pressure.reshape(n * width)),
            "setpoint_mmHg": pa.array(setpoint.reshape(n * width)),
        }
        parts.append(pa.Table.from_arrays([columns[f.name] for f in schema], schema=schema))
    return pa.concat_tables(parts) if parts else schema.empty_table()


def _constant_columns(row: SessionRow, rows: int) -> dict[str, Any]:
    """The columns that hold one value for the whole session."""
    import pyarrow as pa

    started_us = (_started(row) - _EPOCH) // timedelta(microseconds=1)
    return {
        "session_id": pa.repeat(pa.scalar(row.id, pa.int64()), rows),
        "user": pa.repeat(pa.scalar(row.user, pa.string()), rows),
        "program": pa.repeat(pa.scalar(row.program, pa.string()), rows),
        "profile": pa.repeat(pa.scalar(row.profile, pa.string()), rows),
        "started_at": pa.array(np.full(rows, started_us, dtype=np.int64)).cast(pa.timestamp("us", tz="UTC")),
        "status": pa.repeat(pa.scalar(row.status, pa.string()), rows),
    }


def samples_schema(twin_keys: list[str]) -> pa.Schema:
    """The table's schema, each field with its unit and meaning, for these twin signals."""
    return _schema(
        SAMPLE_COLUMNS,
        twin_keys,
        "legflow.samples",
        "per-second samples, one row per session second per cell",
    )


def _schema(
    columns: tuple[tuple[str, str, str, str], ...], twin_keys: list[str], format_key: str, what: str
) -> pa.Schema:
    import pyarrow as pa

    kinds = {
        "int64": pa.int64(),
        "string": pa.string(),
        "timestamp": pa.timestamp("us", tz="UTC"),
        "float64": pa.float64(),
    }
    described = [(name, kinds[kind], unit, text) for name, kind, unit, text in columns]
    for key in twin_keys:
        unit, text = TWIN_SIGNALS.get(key) or (_unit_of(key), f"the leg twin's {key}, cell's leg (a model)")
        described.append((f"twin_{key}", pa.float64(), unit, text))
    fields = [
        pa.field(name, kind, metadata={"unit": unit, "description": text})
        for name, kind, unit, text in described
    ]
    described_json = {f.name: {k.decode(): v.decode() for k, v in f.metadata.items()} for f in fields}
    return pa.schema(
        fields,
        metadata={
            format_key: SAMPLES_FORMAT,
            "description": f"legflow session history: {what}",
            "legflow.columns": json.dumps(described_json, ensure_ascii=False),
        },
    )


def write_parquet(table: pa.Table, path: str | Path) -> None:
    """Write the table to `path` as Parquet (zstd), whole or not at all: it is written beside it
    and renamed into place. A file that cannot be written is one `LegflowError` line."""
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    path = Path(path)
    part = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        with part.open("wb") as file:
            pq.write_table(table, file, compression="zstd")
        os.replace(part, path)
    except OSError as exc:
        part.unlink(missing_ok=True)
        raise LegflowError(f"cannot write {path}: {exc.strerror or exc}") from None


def _unit_of(key: str) -> str:
    return next((unit for suffix, unit in _UNIT_SUFFIXES if key.endswith(suffix)), "")


def _started(row: SessionRow) -> datetime:
    at = datetime.fromisoformat(row.started_at)
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _zones(row: SessionRow) -> list[str | None]:
    """Each cell's compression zone, from the session's device profile where it is built in."""
    try:
        profile = load_profile(row.profile)
    except ProfileError:
        profile = None
    zone = {f"{leg}.{c.name}": c.zone for leg in profile.legs for c in profile.cells} if profile else {}
    return [zone.get(cell) for cell in row.cells]


def _per_cell(row: SessionRow, samples: list[dict[str, Any]], key: str, width: int) -> np.ndarray:
    """One stored list per sample as a (seconds, width) array, or one line naming the sample
    whose list does not have `width` values."""
    for s in samples:
        if len(s[key]) != width:
            raise LegflowError(
                f"session {row.id} at {s['t_s']:g} s holds {len(s[key])} {key} values for {width}: "
                "the history does not match its session"
            )
    return np.array([s[key] for s in samples], dtype=np.float64).reshape(len(samples), width)


def _session_table(
    row: SessionRow, samples: list[dict[str, Any]], twin_keys: list[str], schema: pa.Schema
) -> pa.Table:
    import pyarrow as pa

    cells = row.cells
    legs = list(dict.fromkeys(_leg(c) for c in cells))  # the order of the per-leg lists
    leg_of = np.array([legs.index(_leg(c)) for c in cells], dtype=np.int64)
    n, width = len(samples), len(cells)
    rows = n * width
    pressure = _per_cell(row, samples, "pressure_mmHg", width)
    setpoint = _per_cell(row, samples, "setpoint_mmHg", width)
    skin = _per_cell(row, samples, "skin_temp_C", len(legs))[:, leg_of]
    zones = _zones(row)
    columns: dict[str, Any] = _constant_columns(row, rows) | {
        "t_s": pa.array(np.repeat(np.array([s["t_s"] for s in samples], dtype=np.float64), width)),
        "cell": pa.array(cells * n, pa.string()),
        "leg": pa.array([_leg(c) for c in cells] * n, pa.string()),
        "zone": pa.array(zones * n, pa.string()),
        "pressure_mmHg": pa.array(pressure.reshape(rows)),
        "setpoint_mmHg": pa.array(setpoint.reshape(rows)),
        "skin_temp_C": pa.array(skin.reshape(rows)),
    }
    for key in twin_keys:
        values = np.zeros((n, width))
        missing = np.ones((n, width), dtype=bool)
        for k, s in enumerate(samples):
            signal = (s["twin"] or {}).get(key)
            if signal is not None:
                if len(signal) != len(legs):
                    raise LegflowError(
                        f"session {row.id} at {s['t_s']:g} s holds {len(signal)} twin {key} values for "
                        f"{len(legs)} legs: the history does not match its session"
                    )
                values[k] = np.asarray(signal, dtype=np.float64)[leg_of]
                missing[k] = False
        columns[f"twin_{key}"] = pa.array(values.reshape(rows), mask=missing.reshape(rows))
    return pa.Table.from_arrays([columns[f.name] for f in schema], schema=schema)


def _leg(cell: str) -> str:
    return cell.split(".", 1)[0]

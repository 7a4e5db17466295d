"""`legflow history export --format parquet`: the session history's per-second samples as one
long Parquet table (one row per session second per cell), read back with pyarrow and held value by
value to what SQLite stores.

Two real sessions run on the simulated massager on a virtual clock (`legflow run --fast`), one for
the default user and one for another, into a history of their own; the export goes through the real
command-line entry point.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cli_helpers import run_cli
from legflow.cli.app import main
from legflow.device.profile import DEFAULT_PROFILE, load_profile
from legflow.store import History
from legflow.store.export import SAMPLE_COLUMNS, TWIN_SIGNALS, samples_table

HERE = Path(__file__).parent
PROFILE = load_profile(DEFAULT_PROFILE)
CELLS = PROFILE.cell_names()
ZONE = {f"{leg}.{c.name}": c.zone for leg in PROFILE.legs for c in PROFILE.cells}
TWIN_COLUMNS = [f"twin_{key}" for key in TWIN_SIGNALS]
COLUMNS = [name for name, *_ in SAMPLE_COLUMNS] + TWIN_COLUMNS
#: When the two sessions started, set in the history after they ran: a second apart, on two days.
STARTED = {1: "2024-03-01T23:59:59+00:00", 2: "2024-03-02T00:00:00+00:00"}
PROGRAMS = {1: ("pre-sport", "default"), 2: ("sitting-break", "bob")}


def _run(home: Path, *args: str) -> None:
    """One `legflow` command in this process, on the history in `home`."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LEGFLOW_HOME", str(home))
        mp.setattr(sys, "argv", ["legflow", *args])
        with pytest.raises(SystemExit) as exited:
            main()
    assert exited.value.code in (0, None), args


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """A history of two completed sessions: pre-sport (the default user's), then sitting-break
    (bob's), started on 1 and 2 March 2024 (UTC)."""
    home = tmp_path_factory.mktemp("legflow-home")
    _run(home, "screen", "--answers", str(HERE / "answers" / "none.toml"), "--profile", "bob")
    for program, user in PROGRAMS.values():
        _run(home, "run", program, "--fast", "--json", "--no-fit", "--user", user)
    db = sqlite3.connect(home / "history.sqlite")
    try:
        with db:
            for session_id, started in STARTED.items():
                db.execute("UPDATE sessions SET started_at = ? WHERE id = ?", (started, session_id))
    finally:
        db.close()
    return home


@pytest.fixture
def cli(capsys, monkeypatch, home):
    monkeypatch.setenv("LEGFLOW_HOME", str(home))
    return lambda *args: run_cli(capsys, monkeypatch, *args)


@pytest.fixture
def stored(home) -> dict[int, tuple]:
    """Each session as SQLite holds it: its row and its samples."""
    history = History(home / "history.sqlite", readonly=True)
    try:
        return {row.id: (row, history.samples(row.id)) for row in history.sessions()}
    finally:
        history.close()


def _expected_rows(session_id: int, stored: dict[int, tuple]) -> list[dict]:
    """The rows the export must hold for one session, built from SQLite in the documented order:
    each second, then each cell in the stored order; per-leg values from the cell's leg."""
    row, samples = stored[session_id]
    legs = list(dict.fromkeys(c.split(".")[0] for c in row.cells))
    started = datetime.fromisoformat(row.started_at).astimezone(UTC)
    rows = []
    for s in samples:
        for k, cell in enumerate(row.cells):
            leg = cell.split(".")[0]
            rows.append(
                {
                    "session_id": row.id,
                    "user": row.user,
                    "program": row.program,
                    "profile": row.profile,
                    "started_at": started,
                    "t_s": s["t_s"],
                    "cell": cell,
                    "leg": leg,
                    "zone": ZONE[cell],
                    "pressure_mmHg": s["pressure_mmHg"][k],
                    "setpoint_mmHg": s["setpoint_mmHg"][k],
                    "skin_temp_C": s["skin_temp_C"][legs.index(leg)],
                    "status": row.status,
                    **{f"twin_{key}": s["twin"][key][legs.index(leg)] for key in TWIN_SIGNALS},
                }
            )
    return rows


def _export(cli, tmp_path: Path, *args: str) -> pa.Table:
    out = tmp_path / "export.parquet"
    out.unlink(missing_ok=True)
    result = cli("history", "export", "--format", "parquet", *args, "-o", str(out))
    assert result.code == 0, result.err
    assert result.out == "" and result.err.startswith(f"wrote {out}")
    return pq.read_table(out)


def _rows(table: pa.Table) -> list[dict]:
    return [{**r, "started_at": r["started_at"].astimezone(UTC)} for r in table.to_pylist()]


@pytest.mark.slow
def test_every_stored_value_of_every_session_is_in_the_parquet_export(cli, stored, tmp_path):
    assert {i: (row.program, row.user) for i, (row, _) in stored.items()} == PROGRAMS
    assert all(row.status == "completed" and row.cells == CELLS for row, _ in stored.values())
    counts = {i: len(samples) for i, (_, samples) in stored.items()}
    assert counts == {1: 301, 2: 481}  # 5 and 8 minutes, a sample a second from 0 s

    table = _export(cli, tmp_path)
    assert table.column_names == COLUMNS
    assert table.num_rows == sum(counts.values()) * len(CELLS)
    expected = _expected_rows(1, stored) + _expected_rows(2, stored)
    rows = _rows(table)
    for k, (got, want) in enumerate(zip(rows, expected, strict=True)):
        assert got == want, f"row {k}"
    # and column by column, so a value moved between cells or seconds cannot hide
    for name in ("pressure_mmHg", "setpoint_mmHg", "skin_temp_C", "t_s", "cell", *TWIN_COLUMNS):
        assert table.column(name).to_pylist() == [r[name] for r in expected], name
    assert max(table.column("setpoint_mmHg").to_pylist()) >= 40.0  # it squeezed
    assert max(table.column("pressure_mmHg").to_pylist()) > 20.0  # and the cells filled
    assert table.column("started_at").type == pa.timestamp("us", tz="UTC")


def test_one_session_by_id(cli, stored, tmp_path):
    table = _export(cli, tmp_path, "2")
    assert table.num_rows == len(stored[2][1]) * len(CELLS)
    assert _rows(table) == _expected_rows(2, stored)


def test_the_full_rate_traces_hold_every_tick_of_every_session(cli, stored, home, tmp_path):
    """Every control tick (50 a second) of both sessions, equal to the history's trace; its
    whole seconds equal the per-second samples (to the trace's 0.1 mmHg)."""
    table = _export(cli, tmp_path, "--traces")
    assert table.schema.metadata[b"legflow.traces"] == b"1"
    assert "skin_temp_C" not in table.column_names
    history = History(home / "history.sqlite", readonly=True)
    try:
        traces = {i: history.trace(i) for i in stored}
    finally:
        history.close()
    width = len(CELLS)
    assert table.num_rows == sum(len(t) for t, _, _ in traces.values()) * width
    offset = 0
    for session_id, (t_s, pressure, setpoint) in sorted(traces.items()):  # the table's order: by id
        samples = stored[session_id][1]
        n = len(t_s)
        assert n == (len(samples) - 1) * 50 + 1  # 50 ticks a second, from 0 s to the end
        part = table.slice(offset * width, n * width)
        offset += n
        assert part.column("session_id").unique().to_pylist() == [session_id]
        assert part.column("t_s").to_pylist() == list(np.repeat(t_s, width))
        assert part.column("pressure_mmHg").to_pylist() == list(pressure.reshape(-1))
        assert part.column("setpoint_mmHg").to_pylist() == list(setpoint.reshape(-1))
        for s in samples:
            k = round(s["t_s"] * 50)
            assert t_s[k] == s["t_s"]
            assert np.allclose(pressure[k], s["pressure_mmHg"], atol=0.051)
            assert np.allclose(setpoint[k], s["setpoint_mmHg"], atol=0.051)


def test_the_columns_carry_their_units_and_meanings(cli, tmp_path):
    schema = _export(cli, tmp_path).schema
    units = {f.name: f.metadata[b"unit"].decode() for f in schema}
    assert units["pressure_mmHg"] == units["setpoint_mmHg"] == "mmHg"
    assert units["skin_temp_C"] == "°C" and units["t_s"] == "s" and units["started_at"] == "UTC"
    assert units["twin_outflow_mL_per_min"] == "mL/min" and units["twin_fluid_cleared_mL"] == "mL"
    assert all(f.metadata[b"description"] for f in schema)
    assert schema.metadata[b"legflow.samples"] == b"1"
    columns = json.loads(schema.metadata[b"legflow.columns"])
    assert list(columns) == COLUMNS and columns["pressure_mmHg"]["unit"] == "mmHg"


@pytest.mark.parametrize(
    ("args", "sessions"),
    [
        (("--from", "2024-03-02"), [2]),
        (("--to", "2024-03-01"), [1]),
        (("--from", "2024-03-01", "--to", "2024-03-01"), [1]),
        (("--from", "2024-03-01", "--to", "2024-03-02"), [1, 2]),
        (("--from", "2024-02-01", "--to", "2024-03-05"), [1, 2]),
        (("--user", "bob"), [2]),
        (("--user", "default"), [1]),
        (("--user", "default", "--from", "2024-03-01", "--to", "2024-03-02"), [1]),
        (("--user", "bob", "--from", "2024-03-02"), [2]),
    ],
)
def test_the_user_and_the_utc_start_date_choose_sessions(cli, stored, tmp_path, args, sessions):
    table = _export(cli, tmp_path, *args)
    assert _rows(table) == [r for i in sessions for r in _expected_rows(i, stored)]


def test_samples_table_filters_on_the_start_date_in_utc(home):
    history = History(home / "history.sqlite", readonly=True)
    try:
        table = samples_table(history, first=date(2024, 3, 2), last=date(2024, 3, 2))
        assert set(table.column("session_id").to_pylist()) == {2}
        assert samples_table(history, user="nobody").num_rows == 0
        assert samples_table(history, user="nobody").column_names == COLUMNS
    finally:
        history.close()


def test_a_session_without_a_twin_has_null_twin_values_and_other_signals_get_columns(tmp_path):
    history = History(tmp_path / "h.sqlite")
    try:
        cells = ["right.calf", "right.thigh"]  # one leg: the per-leg lists have one value
        plain = history.start("plain", "calf-sleeve", cells, "ann")
        for t in range(3):
            history.add_sample(plain, float(t), [t, t + 0.5], [10, 20], [33.0 + t])
        history.finish(plain, {"status": "stopped", "duration_s": 2.0})
        twin = history.start("twin", "reference", cells, "ann")
        signals = {"outflow_mL_per_min": [5.0], "refill_s": [12.5]}  # one known signal, one more
        history.add_sample(twin, 0.0, [1, 2], [3, 4], [35.0], twin=signals)
        history.finish(twin, {"status": "completed", "duration_s": 0.0})
        table = samples_table(history)
    finally:
        history.close()
    assert table.column_names == [*COLUMNS, "twin_refill_s"]
    assert table.schema.field("twin_refill_s").metadata[b"unit"] == b"s"
    rows = table.to_pylist()
    order = [(1, t, cell) for t in (0.0, 1.0, 2.0) for cell in cells] + [(2, 0.0, cell) for cell in cells]
    assert [(r["session_id"], r["t_s"], r["cell"]) for r in rows] == order
    assert [r["pressure_mmHg"] for r in rows] == [0, 0.5, 1, 1.5, 2, 2.5, 1, 2]
    assert [r["setpoint_mmHg"] for r in rows] == [10, 20, 10, 20, 10, 20, 3, 4]
    assert [r["skin_temp_C"] for r in rows] == [33, 33, 34, 34, 35, 35, 35, 35]
    # zones from the built-in profile: calf-sleeve has no cell named calf or thigh, reference has
    assert [r["zone"] for r in rows] == [None, None, None, None, None, None, "calf", "thigh"]
    assert [r["status"] for r in rows] == ["stopped"] * 6 + ["completed"] * 2
    for name in [*TWIN_COLUMNS, "twin_refill_s"]:
        assert [r[name] for r in rows][:6] == [None] * 6, name
    assert [r["twin_outflow_mL_per_min"] for r in rows][6:] == [5.0, 5.0]
    assert [r["twin_refill_s"] for r in rows][6:] == [12.5, 12.5]
    assert [r["twin_venous_change_mL"] for r in rows][6:] == [None, None]


def test_csv_stays_an_alias_of_format_csv_and_json_the_default(cli):
    by_alias = cli("history", "export", "1", "--csv")
    assert by_alias.code == 0 and by_alias.out.startswith("t_s,left.foot_mmHg,")
    assert cli("history", "export", "1", "--format", "csv").out == by_alias.out
    assert cli("history", "export", "1", "--csv", "--format", "csv").out == by_alias.out
    as_json = cli("history", "export", "1")
    assert as_json.code == 0 and json.loads(as_json.out)["session"]["id"] == 1
    assert cli("history", "export", "1", "--format", "json").out == as_json.out


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (("--format", "parquet"), 2, "--format parquet writes a binary file: name it with -o FILE"),
        (("--format", "csv"), 2, "--format csv exports one session: give its ID"),
        (("--format", "json", "-o", "{out}"), 2, "--format json exports one session: give its ID"),
        (("1", "--format", "xlsx"), 2, "unknown export format 'xlsx' (one of: csv, json, parquet)"),
        (("1", "--csv", "--format", "json"), 2, "--csv and --format json disagree"),
        (("1", "--csv", "--user", "bob"), 2, "--user, --from and --to choose sessions for --format parquet"),
        (("1", "--from", "2024-03-01"), 2, "--user, --from and --to choose sessions for --format parquet"),
        (("1", "--format", "parquet", "--user", "bob", "-o", "{out}"), 2, "give a session ID or --user"),
        (("--format", "parquet", "--from", "1.3.2024", "-o", "{out}"), 2, "--from '1.3.2024' is not a date"),
        (("--format", "parquet", "--to", "2024-02-30", "-o", "{out}"), 2, "--to '2024-02-30' is not a date"),
        (
            ("--format", "parquet", "--from", "2024-03-02", "--to", "2024-03-01", "-o", "{out}"),
            2,
            "--from 2024-03-02 is after --to 2024-03-01",
        ),
        (
            ("--format", "parquet", "--user", "nobody", "-o", "{out}"),
            1,
            "no stored session matching --user nobody has samples: nothing written",
        ),
        (
            ("--format", "parquet", "--from", "2025-01-01", "-o", "{out}"),
            1,
            "no stored session matching --from 2025-01-01 has samples",
        ),
        (("9", "--format", "parquet", "-o", "{out}"), 1, "no session 9 in the history"),
        (("--format", "parquet", "-o", "{missing}"), 1, "cannot write {missing}: No such file or directory"),
    ],
)
def test_each_mistake_is_one_error_line_and_writes_nothing(cli, tmp_path, args, code, says):
    out, missing = tmp_path / "out.parquet", tmp_path / "no-folder" / "out.parquet"
    result = cli("history", "export", *[a.format(out=out, missing=missing) for a in args])
    assert result.code == code
    assert result.out == ""
    assert result.err.startswith("error: " + says.format(missing=missing)), result.err
    assert len(result.err.strip().splitlines()) == 1, result.err
    assert not out.exists() and not missing.parent.exists()
    assert list(tmp_path.iterdir()) == []  # no half-written file either

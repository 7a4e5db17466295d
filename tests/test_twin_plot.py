"""`legflow twin plot`: the figure's data is the trace's, and the files it writes are real images."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest
from matplotlib import image

from cli_helpers import run_cli
from legflow.cli.twin import simulate_program
from legflow.programs.library import builtin_source
from legflow.twin import model as m
from legflow.twin.metrics import compression_cycles, program_metrics
from legflow.twin.plot import (
    PNG_DPI,
    SEGMENT_LABELS,
    Cycle,
    FIGURE_SIZE_in,
    representative_cycle,
    session_figure,
)
from legflow.twin.solver import Trace, simulate
from legflow.twin.subject import load_subject

PROGRAM = "pre-sport"  # the shortest built-in program with compression cycles (5 min)
ROW_LABELS = (
    "tissue pressure (mmHg)",
    "venous volume (mL)",
    "outflow to abdomen (mL/s)",
    "interstitial fluid excess (mL)",
    "lymph flow (mL/h)",
)
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def cli(capsys, monkeypatch):
    return lambda *args: run_cli(capsys, monkeypatch, *args)


@pytest.fixture(scope="module")
def trace() -> Trace:
    return simulate_program(builtin_source(PROGRAM).program)


def expected_rows(trace: Trace, leg: int) -> list[dict[str, np.ndarray]]:
    """What each row must show, computed here from the trace and not by the plotting code."""
    segments = SEGMENT_LABELS
    return [
        {s: trace.external_mmHg[:, leg, i] for i, s in enumerate(segments)},
        {s: trace.states[:, leg, m.VEIN + i] for i, s in enumerate(segments)},
        {"outflow": trace.outflow_mL_per_s[:, leg]},
        {s: trace.states[:, leg, m.FLUID + i] for i, s in enumerate(segments)},
        {"lymph": trace.lymph_mL_per_s[:, leg] * 3600.0},
    ]


def data_lines(ax) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {
        line.get_label(): (np.asarray(line.get_xdata()), np.asarray(line.get_ydata()))
        for line in ax.lines
        if line.get_label() in {*SEGMENT_LABELS, "outflow", "lymph", "resting"}
    }


@pytest.mark.parametrize("leg", [0, 1])
def test_each_panel_plots_exactly_the_trace(trace, leg):
    fig = session_figure(trace, "Pre-sport", "adult", "supine", leg=leg)
    cycle = representative_cycle(trace, leg)
    assert cycle is not None
    span = slice(cycle.start, cycle.end + 1)
    cycle_s = trace.t_s[span] - trace.t_s[cycle.start]
    axes = np.array(fig.axes).reshape(5, 2)
    for r, expected in enumerate(expected_rows(trace, leg)):
        left, right = data_lines(axes[r, 0]), data_lines(axes[r, 1])
        assert set(expected) <= set(left) and set(expected) <= set(right)
        assert axes[r, 0].get_ylabel() == axes[r, 1].get_ylabel() == ROW_LABELS[r]
        for label, values in expected.items():
            np.testing.assert_array_equal(left[label][0], cycle_s)
            np.testing.assert_array_equal(left[label][1], values[span])
            np.testing.assert_array_equal(right[label][0], trace.t_s / 60.0)
            np.testing.assert_array_equal(right[label][1], values)
    resting = data_lines(axes[2, 0])["resting"][1]
    assert np.all(resting == trace.outflow_mL_per_s[0, leg])
    assert ("left", "right")[leg] + " leg" in fig.get_suptitle()


def test_the_cycle_shown_is_a_typical_one_not_the_first_from_rest(trace):
    cycle = representative_cycle(trace, 0)
    cycles = [Cycle(*map(int, c)) for c in compression_cycles(trace, 0)]
    assert cycle in cycles and cycle != cycles[0]
    volume_mL = trace.venous_volume_mL[:, 0]
    ejected_mL = [volume_mL[c.start] - volume_mL[c.start : c.end + 1].min() for c in cycles]
    chosen_mL = ejected_mL[cycles.index(cycle)]
    assert ejected_mL[0] > 2 * chosen_mL  # the first cycle empties veins filled at rest
    assert abs(chosen_mL - np.median(ejected_mL)) < 0.2 * np.median(ejected_mL)
    assert cycle.end - cycle.release >= 2  # it rests after release, so refill shows


def test_caption_carries_the_numbers_twin_run_reports(trace):
    caption = session_figure(trace, "Pre-sport", "adult", "supine").get_supxlabel()
    twin = program_metrics(trace)
    for key, unit in [("ejected_mL_per_cycle", " mL"), ("refill_s", " s"), ("lymph_mL_per_h", " mL/h")]:
        assert f"{twin[key]:g}{unit}" in caption
    assert f"{twin['cycles']} compression cycles" in caption and "not clinical evidence" in caption


def test_a_program_without_compression_says_so_and_still_shows_the_session():
    trace = simulate(load_subject("adult"), np.zeros((300, 2, m.N_SEG)), 0.1)
    fig = session_figure(trace, "Guide only", "adult", "supine")
    axes = np.array(fig.axes).reshape(5, 2)
    assert not any(ax.axison for ax in axes[:, 0])
    assert any("no compression cycle" in t.get_text() for ax in axes[:, 0] for t in ax.texts)
    np.testing.assert_array_equal(data_lines(axes[2, 1])["outflow"][1], trace.outflow_mL_per_s[:, 0])
    assert "0 compression cycles" in fig.get_supxlabel()


@pytest.mark.slow
def test_cli_writes_a_png_of_the_figure_size_with_content(cli, tmp_path):
    out = tmp_path / "twin.png"
    result = cli("twin", "plot", PROGRAM, "-o", str(out))
    assert result.code == 0 and str(out) in result.err
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = image.imread(out)
    width_in, height_in = FIGURE_SIZE_in
    assert pixels.shape[:2] == (round(height_in * PNG_DPI), round(width_in * PNG_DPI))
    rgb = pixels[..., :3]
    assert rgb.std() > 0.05 and np.mean(rgb.min(axis=-1) < 0.9) > 0.02  # not blank: lines and text
    tab_blue = np.array([0x1F, 0x77, 0xB4]) / 255  # the foot's colour
    assert np.any(np.all(np.abs(rgb - tab_blue) < 0.02, axis=-1))


def test_cli_writes_an_svg_whose_labels_are_text(cli, tmp_path):
    out = tmp_path / "twin.svg"
    result = cli("twin", "plot", PROGRAM, "-o", str(out), "--subject", "oedema", "--posture", "seated")
    assert result.code == 0
    root = ET.parse(out).getroot()
    assert root.tag == f"{SVG}svg"
    texts = {"".join(el.itertext()).strip() for el in root.iter(f"{SVG}text")}
    for label in (*ROW_LABELS, "session time (min)", "time from cycle start (s)"):
        assert label in texts
    title = next(t for t in texts if t.startswith("Leg twin:"))
    assert builtin_source(PROGRAM).program.name in title and "oedema" in title and "seated" in title


@pytest.mark.parametrize("name", ["twin.pdf", "twin", "twin.png.txt"])
def test_an_unsupported_suffix_is_one_line_naming_the_allowed_ones(cli, tmp_path, name):
    result = cli("twin", "plot", PROGRAM, "-o", str(tmp_path / name))
    assert result.code != 0
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and ".png" in lines[0] and ".svg" in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_a_missing_folder_is_one_line_before_any_simulation(cli, tmp_path):
    result = cli("twin", "plot", PROGRAM, "-o", str(tmp_path / "missing" / "twin.png"))
    assert result.code == 1
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "does not exist" in lines[0]


def test_a_write_that_fails_is_one_line(cli, tmp_path):
    taken = tmp_path / "taken.svg"
    taken.mkdir()  # a folder where the file should go: only the write itself can fail
    result = cli("twin", "plot", PROGRAM, "-o", str(taken))
    assert result.code == 1
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: cannot write '{taken}'")


@pytest.mark.parametrize(
    "args, message",
    [(["--posture", "lying"], "unknown posture"), (["--leg", "middle"], "unknown leg")],
)
def test_bad_options_are_one_line_errors(cli, tmp_path, args, message):
    result = cli("twin", "plot", PROGRAM, "-o", str(tmp_path / "twin.png"), *args)
    assert result.code == 1 and message in result.err and len(result.err.strip().splitlines()) == 1


def test_a_figure_of_one_of_two_different_legs_gives_that_legs_own_numbers():
    """With a healthy left leg and an oedematous right one, the figure of the right leg carries the
    right leg's metrics (as `twin run` gives them under `legs`), not the mean of both."""
    trace = simulate_program(builtin_source("lymph").program, "adult,oedema")
    caption = session_figure(trace, "Lymph", "adult,oedema", "supine", leg=1).get_supxlabel()
    right, both = program_metrics(trace, [1]), program_metrics(trace)
    assert caption.startswith("This leg:") and f"lymph {right['lymph_mL_per_h']:g} mL/h" in caption
    assert f"lymph {both['lymph_mL_per_h']:g} mL/h" not in caption

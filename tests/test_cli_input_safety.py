"""What a user or a file supplies reaches the terminal as text, and hostile input is one clear line.

Program names, summaries, phase names, guide steps, stored session details and file names may hold
Rich markup (``[/]``, ``[link=…]``) or terminal escapes (a title change, a screen clear, a fake
hyperlink): they are shown literally, with control characters as visible escapes. Files that are
not regular files, too large, or that defeat the TOML parser are refused with exit 2 and one line.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli_helpers import run_cli
from legflow.cli.text import as_text, printable
from legflow.programs.library import builtin_text, save_user_program
from legflow.store import History

#: Control sequences a hostile file could try to send: a window title change (OSC 0, ended by BEL),
#: a screen clear (CSI 2J), an OSC 8 hyperlink, and the 8-bit CSI (C1 0x9b).
RAW_CONTROLS = ("\x1b", "\x07", "\x9b", "\x7f")


@pytest.fixture
def cli(capsys, monkeypatch):
    return lambda *args: run_cli(capsys, monkeypatch, *args)


def assert_no_raw_controls(text: str) -> None:
    for ch in RAW_CONTROLS:
        assert ch not in text, f"raw {ch!r} reached the terminal: {text!r}"


def hostile_program(folder: Path, filename: str = "hostile.toml") -> Path:
    path = folder / filename
    path.write_text(
        "[program]\n"
        'name = "Calm\\u001b]0;pwned\\u0007 [bold]legs"\n'
        'goal = "recovery"\n'
        'summary = "\\u001b[2J[link=https://example.invalid]click[/link] \\u001b]8;;https://x.invalid\\u0007a'
        '\\u001b]8;;\\u0007 \\u009b31m\\u007f"\n'
        'dose = "[red]20 min[/red]"\n'
        "[[phase]]\n"
        'name = "[/]"\n'
        "duration_min = 1\n"
        "  [phase.compression]\n"
        '  zones = ["calf"]\n'
        "  pressure_mmHg = 40\n"
        "  [[phase.guide]]\n"
        "  at_s = 0\n"
        '  area = "calf.back"\n'
        '  text = "[bold]Stroke[/bold] upward\\u001b[31m red"\n',
        encoding="utf-8",
    )
    return path


# -- the shared helper ----------------------------------------------------------------------------
def test_printable_shows_every_control_character_as_a_visible_escape():
    assert printable("a\x1b[2Jb\x07c\x7fd\x9be\x00") == "a\\x1b[2Jb\\x07c\\x7fd\\x9be\\x00"
    assert printable("left\u202eright") == "left\\u202eright"  # bidi override: text read backwards
    assert printable("two\nlines\ttab\r") == "two\\nlines\\ttab\\r"  # one line where one is promised
    assert printable("two\nlines\ttab\r", multiline=True) == "two\nlines\ttab\\r"
    assert printable("plain text, ümlauts, 42 °C — ok") == "plain text, ümlauts, 42 °C — ok"


def test_as_text_is_never_read_as_markup():
    text = as_text("[bold]x[/] \x1b[2J", "cyan")
    assert text.plain == "[bold]x[/] \\x1b[2J" and str(text.style) == "cyan"


# -- show, check, run, history ----------------------------------------------------------------------
def test_show_prints_names_summary_phases_and_guide_as_text(cli, tmp_path):
    result = cli("show", str(hostile_program(tmp_path, "[red]mine[link=mailto:x].toml")))
    assert result.code == 0, result.err
    assert_no_raw_controls(result.out + result.err)
    for literal in ("[bold]legs", "[link=https://example.invalid]click[/link]", "[/]", "[bold]Stroke[/bold]",
                    "[red]20 min[/red]", "[red]mine[link=mailto:x].toml"):  # fmt: skip
        assert literal in result.out, literal
    assert "\\x1b]0;pwned\\x07" in result.out and "\\x9b31m" in result.out


def test_check_prints_file_names_as_text(cli, tmp_path):
    ok = hostile_program(tmp_path, "[bold]\x1b]0;t\x07.toml")  # a file name cannot hold a "/"
    result = cli("check", str(ok))
    assert result.code == 0, result.err
    assert_no_raw_controls(result.out + result.err)
    assert "[bold]\\x1b]0;t\\x07.toml: ok" in result.err

    bad = tmp_path / "[bold]bad\x1b[2J.toml"
    bad.write_text('[program]\nname = "x"\ngoal = "nope"\n[[phase]]\nname = "a"\nduration_min = 1\n')
    result = cli("check", str(bad))
    assert result.code == 2
    assert_no_raw_controls(result.out + result.err)
    assert result.out.splitlines()[0].startswith(f"{tmp_path}/[bold]bad\\x1b[2J.toml:3: program.goal: ")


def test_errors_print_user_text_as_text(cli):
    result = cli("show", "no-such\x1b]0;t\x07[/]")
    assert result.code == 1
    assert_no_raw_controls(result.err)
    assert "no-such\\x1b]0;t\\x07[/]" in result.err and len(result.err.strip().splitlines()) == 1


def test_run_shows_names_phases_and_guide_steps_as_text(cli, tmp_path):
    result = cli("run", str(hostile_program(tmp_path)), "--fast")
    assert result.code == 0, result.err
    assert_no_raw_controls(result.out + result.err)
    assert "[bold]legs" in result.out and "[/]" in result.out and "[bold]Stroke[/bold]" in result.out


def test_history_prints_stored_programs_and_events_as_text(cli, isolated_home):
    history = History(isolated_home / "history.sqlite")
    try:
        sid = history.start("[/]\x1b]0;pwned\x07", "reference", ["left.calf"])
        history.add_event(sid, 0.0, "phase", "[bold]warm-up\x1b[2J")
        history.add_event(sid, 1.0, "fault", "[link=https://example.invalid]leak[/link]\x9b31m")
        history.finish(sid, {"status": "completed", "duration_s": 1.0, "faults": [], "program": "[/]"})
    finally:
        history.close()
    listed = cli("history")
    assert listed.code == 0, listed.err
    assert_no_raw_controls(listed.out)
    assert "[/]\\x1b]0;pwned\\x07" in listed.out
    shown = cli("history", "show", str(sid))
    assert shown.code == 0, shown.err
    assert_no_raw_controls(shown.out + shown.err)
    assert "[bold]warm-up\\x1b[2J" in shown.out
    assert "[link=https://example.invalid]leak[/link]\\x9b31m" in shown.out


# -- files that are not programs ----------------------------------------------------------------------
def legflow_check(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    """The CLI in its own process with a time limit: a hang or a runaway read fails the test, not CI."""
    env = {**os.environ, "LEGFLOW_HOME": str(home), "COLUMNS": "140"}
    return subprocess.run(
        [sys.executable, "-m", "legflow", "check", *args],
        capture_output=True, text=True, timeout=20, env=env,
    )  # fmt: skip


def assert_one_problem(result: subprocess.CompletedProcess[str], start: str, words: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(start) and words in lines[0], lines


def test_check_refuses_a_character_device_without_reading_it(tmp_path):
    result = legflow_check("/dev/zero", home=tmp_path)
    assert_one_problem(result, "/dev/zero:1: file: ", "not a regular file")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_check_refuses_a_named_pipe_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)
    result = legflow_check(str(fifo), home=tmp_path)
    assert_one_problem(result, f"{fifo}:1: file: ", "not a regular file")


def test_check_refuses_a_file_too_large_to_be_a_program(tmp_path):
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * (2 * 1024 * 1024) + "\n")
    result = legflow_check(str(big), home=tmp_path)
    assert_one_problem(result, f"{big}:1: file: ", "larger than 1 MiB")


def test_check_reports_an_integer_too_long_to_read_at_its_line(tmp_path):
    file = tmp_path / "digits.toml"
    file.write_text('[program]\nname = "x"\ngoal = "recovery"\n[[phase]]\nname = "a"\n'
                    f"duration_min = {'1' * 5000}\n")  # fmt: skip
    result = legflow_check(str(file), home=tmp_path)
    assert_one_problem(result, f"{file}:6: toml: ", "5000 digits")


def test_check_reports_arrays_nested_too_deeply_at_their_line(tmp_path):
    file = tmp_path / "deep.toml"
    file.write_text('[program]\nname = "x"\ngoal = "recovery"\n[[phase]]\nname = "a"\nduration_min = 1\n'
                    f"[phase.compression]\nzones = {'[' * 500}{']' * 500}\n")  # fmt: skip
    result = legflow_check(str(file), home=tmp_path)
    assert_one_problem(result, f"{file}:8: toml: ", "nested more than 16 deep")


# -- check takes the names run and show take -----------------------------------------------------------
def test_check_resolves_builtin_and_saved_program_names_as_run_and_show_do(cli):
    save_user_program("mine", builtin_text("stress"))
    result = cli("check", "recovery", "mine")
    assert result.code == 0, result.out + result.err
    assert "recovery.toml: ok" in result.err and "mine.toml: ok" in result.err


def test_check_reports_an_unknown_name_as_one_line(cli):
    result = cli("check", "no-such-program")
    assert result.code == 2
    assert result.out.strip().splitlines() == [
        "no-such-program:1: file: 'no-such-program' is neither a built-in program "
        "(see: legflow programs) nor a file"
    ]

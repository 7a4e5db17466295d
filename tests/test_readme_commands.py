"""Every command the README shows still runs as written: each `legflow ...` line of its code blocks
(and each concrete inline one) parses with the CLI's own options, and each `python -m benchmarks.X`
line parses with that benchmark's own options. Parsing only: nothing is run, so a renamed command,
option or value fails here rather than in a reader's terminal."""

from __future__ import annotations

import argparse
import importlib
import re
import shlex
import sys
from pathlib import Path

import pytest
import typer
from typer._click.exceptions import ClickException

from legflow.cli.app import app

README = Path(__file__).resolve().parents[1] / "README.md"
#: A placeholder (PROGRAM, FILE.toml), an option list ([--x]) or a choice (a|b): a synopsis, not a command.
SYNOPSIS = re.compile(r"[A-Z]{2,}|\[|\||…|\.\.\.")


def readme_commands() -> list[str]:
    """The concrete commands of the README: the lines of its code blocks, and inline code spans,
    that start with ``legflow`` or ``python -m benchmarks`` (prompts, environment settings and
    trailing comments stripped)."""
    found: list[str] = []
    in_block = False
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_block = not in_block
            continue
        spans = [line.strip()] if in_block else re.findall(r"`([^`]+)`", line)
        for text in (part for span in spans for part in re.split(r"\s*(?:&&|;)\s*", span)):
            text = re.sub(r"^\$\s+", "", text)
            text = re.sub(r"^(\w+=\S+\s+)+", "", text)  # LEGFLOW_SOAK=20000 python ...
            text = re.split(r"\s+#", text)[0].strip()
            if re.match(r"(legflow|python -m benchmarks\.\w+)(\s|$)", text) and not SYNOPSIS.search(text):
                found.append(text)
    return list(dict.fromkeys(found))


COMMANDS = readme_commands()


def test_the_readme_shows_commands_to_check():
    assert sum(c.startswith("legflow ") for c in COMMANDS) >= 10
    assert sum(c.startswith("python -m benchmarks.") for c in COMMANDS) >= 5


def _parse_cli(args: list[str]) -> None:
    """Parse ``args`` down the command tree as click would, without invoking anything."""
    command = typer.main.get_command(app)
    ctx = command.make_context("legflow", list(args))
    while hasattr(command, "resolve_command"):  # a group of commands
        rest = [*ctx._protected_args, *ctx.args]
        if not rest:
            return
        _, sub, sub_args = command.resolve_command(ctx, rest)
        assert sub is not None, f"no command {rest[0]!r}"
        command, ctx = sub, sub.make_context(sub.name or "", sub_args, parent=ctx)


@pytest.mark.parametrize("command", [c for c in COMMANDS if c.startswith("legflow ")])
def test_each_legflow_command_of_the_readme_parses(command):
    words = shlex.split(command)[1:]
    try:
        if len(words) == 1:  # a command named in the text (`legflow check`): it must exist
            group = typer.main.get_command(app)
            _, found, _ = group.resolve_command(group.make_context("legflow", list(words)), words)
            assert found is not None
        else:
            _parse_cli(words)
    except ClickException as exc:
        pytest.fail(f"README: `{command}`: {exc.format_message()}")


class _Parsed(Exception):
    """Raised once a benchmark's parser accepted the README's arguments: nothing more is run."""


@pytest.mark.parametrize("command", [c for c in COMMANDS if c.startswith("python -m benchmarks.")])
def test_each_benchmark_command_of_the_readme_parses(command, monkeypatch):
    words = shlex.split(command)
    module = importlib.import_module(words[2])
    assert callable(getattr(module, "main", None)), f"{words[2]} has no main()"
    if "ArgumentParser" not in Path(module.__file__ or "").read_text(encoding="utf-8"):
        assert words[3:] == [], f"README: `{command}`: {words[2]} takes no arguments"
        return
    parse = argparse.ArgumentParser.parse_args

    def parse_then_stop(self, args=None, namespace=None):
        parse(self, words[3:], namespace)  # argparse exits (SystemExit 2) on an unknown option
        raise _Parsed

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_then_stop)
    monkeypatch.setattr(sys, "argv", words[2:])
    with pytest.raises(_Parsed):
        module.main()


def test_the_check_refuses_a_command_that_no_longer_parses():
    """The checks above can fail: an option, a command or a choice the CLI does not have is refused."""
    for args in (
        ["run", "circulation", "--no-such-option"],
        ["no-such-command"],
        ["twin", "run", "x", "--posture"],
    ):
        with pytest.raises(ClickException):
            _parse_cli(args)
    _parse_cli(["run", "circulation", "--fast"])  # and a good one passes

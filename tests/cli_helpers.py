"""Run the real `legflow` entry point in-process and capture what a user would see."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import pytest

from legflow.cli.app import main


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_cli(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    monkeypatch.setattr(sys, "argv", ["legflow", *args])
    monkeypatch.setenv("COLUMNS", "140")
    with pytest.raises(SystemExit) as exited:
        main()
    captured = capsys.readouterr()
    code = exited.value.code if isinstance(exited.value.code, int) else 0
    assert "Traceback" not in captured.out + captured.err
    return Result(code, captured.out, captured.err)

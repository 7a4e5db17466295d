"""`legflow` in a real pseudo-terminal, typed at as a person would: for the tests of what a
session does with keys and prompts."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Terminal:
    """`python -m legflow ARGS` on a pseudo-terminal: `read_until` what it shows, `type` keys."""

    def __init__(self, *args: str, timeout_s: float = 120.0):
        self.leader, follower = pty.openpty()
        env = {**os.environ, "COLUMNS": "160", "TERM": "xterm"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "legflow", *args],
            stdin=follower, stdout=follower, stderr=follower, env=env, close_fds=True,
        )  # fmt: skip
        os.close(follower)
        self.deadline = time.monotonic() + timeout_s

    def read_until(self, needle: str) -> str:
        """What it showed until ``needle`` (colours and cursor moves left out)."""
        seen = ""
        while needle not in seen:
            if time.monotonic() > self.deadline:
                raise AssertionError(f"{needle!r} never came; saw: {seen[-400:]!r}")
            ready, _, _ = select.select([self.leader], [], [], 0.2)
            if ready:
                try:
                    seen += ANSI.sub("", os.read(self.leader, 65536).decode(errors="replace"))
                except OSError:
                    break
        return seen

    def type(self, keys: str) -> None:
        os.write(self.leader, keys.encode())

    def wait(self) -> int:
        try:
            return self.proc.wait(timeout=60)
        finally:
            os.close(self.leader)

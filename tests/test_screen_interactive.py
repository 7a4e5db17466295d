"""`legflow screen` asked in a real pseudo-terminal, answered as a person would type."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
import tomllib

from legflow.screening import QUESTIONS


def _read_until(fd: int, needle: str, deadline: float) -> str:
    seen = ""
    while needle not in " ".join(seen.split()):  # the terminal may wrap a long prompt
        if time.monotonic() > deadline:
            raise AssertionError(f"prompt {needle!r} never came; saw: {seen[-300:]!r}")
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if ready:
            try:
                seen += os.read(fd, 4096).decode(errors="replace")
            except OSError:
                break
    return seen


def test_interactive_screening_prompts_and_stores_answers(isolated_home):
    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": "200", "TERM": "dumb"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "legflow", "screen", "--profile", "carol"],
        stdin=follower, stdout=follower, stderr=follower, env=env, close_fds=True,
    )  # fmt: skip
    os.close(follower)
    deadline = time.monotonic() + 60
    typed = {"anticoagulants": "y", "skin_problem_zones": "y", "age": "52"}
    transcript = ""
    for q in QUESTIONS:
        transcript += _read_until(leader, q.ask[-20:], deadline)
        os.write(leader, (typed.get(q.id, "n") + "\n").encode())
        if q.id == "skin_problem_zones":
            transcript += _read_until(leader, "Which zones?", deadline)
            os.write(leader, b"calf, thigh\n")
    transcript += _read_until(leader, "saved to", deadline)
    assert proc.wait(timeout=30) == 0
    os.close(leader)
    stored = tomllib.loads((isolated_home / "users" / "carol.toml").read_text())
    assert stored["anticoagulants"] is True and stored["age"] == 52
    assert stored["skin_problem_zones"] == ["calf", "thigh"] and stored["diabetes"] is False
    assert "no vibration" in transcript and "block zone" in transcript

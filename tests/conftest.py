from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from hypothesis import settings

# A terminal size inherited by the test process (pytest-xdist's workers get COLUMNS=80 and LINES=24)
# would fix the width of the CLI's consoles when they are created, at import; without it they follow
# COLUMNS as each test sets it (`cli_helpers.run_cli`: 140).
for _size in ("COLUMNS", "LINES"):
    os.environ.pop(_size, None)

# Compiled kernels (numba) compile on their first call in a fresh checkout: no per-example deadline.
settings.register_profile("legflow", deadline=None)
settings.load_profile("legflow")

HERE = Path(__file__).parent
SHARED = HERE.parent.parent / "shared"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under ``-n`` (pytest-xdist, ``--dist loadgroup``) the system tests run one after another on
    one worker: each starts real processes, servers or a browser with deadlines of its own (a 500 ms
    watchdog), which must not meet a second such test on a 2-core machine."""
    for item in items:
        if item.get_closest_marker("system"):
            item.add_marker(pytest.mark.xdist_group("system"))


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Every test gets its own user data directory: no test sees a real user's profile."""
    home = tmp_path / "legflow-home"
    monkeypatch.setenv("LEGFLOW_HOME", str(home))
    return home


@pytest.fixture
def unused_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (free when asked)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def local_utc(monkeypatch):
    """The machine's local time is UTC for the test, so a stored session's day is the day its row
    says (the records count local days)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

# Compiled kernels (numba) compile on their first call in a fresh checkout: no per-example deadline.
settings.register_profile("legflow", deadline=None)
settings.load_profile("legflow")

HERE = Path(__file__).parent
SHARED = HERE.parent.parent / "shared"


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

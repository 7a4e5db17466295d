"""Where legflow keeps a user's data: screening profiles, session history, saved programs."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_data_dir


def data_dir() -> Path:
    """The user's data directory; ``LEGFLOW_HOME`` overrides it (tests, portable installs)."""
    return Path(os.environ.get("LEGFLOW_HOME") or user_data_dir("legflow", appauthor=False))

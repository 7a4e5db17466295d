"""Which code a benchmark measured: one owner for the commit line every report prints."""

from __future__ import annotations

import subprocess
from pathlib import Path

import legflow


def code_version() -> str:
    """The commit of the imported legflow package, short, with " with uncommitted changes" when its
    tracked files differ from it; "unknown" outside a git checkout."""
    git = ["git", "-C", str(Path(legflow.__file__).parent)]
    try:
        head = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        )
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--untracked-files=no", "."],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head.stdout.strip() + (" with uncommitted changes" if dirty.stdout.strip() else "")

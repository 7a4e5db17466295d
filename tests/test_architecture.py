"""Import boundaries that keep the architecture honest (STYLE.md): checked from the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import legflow

ROOT = Path(legflow.__file__).parent

#: package → packages it must never import
FORBIDDEN = {
    "safety": {"engine", "cli", "web", "store", "plan"},
    "programs": {"engine", "cli", "web", "store", "plan"},
    "evidence": {"programs", "engine", "cli", "device", "safety", "screening"},
    "screening": {"engine", "cli", "device", "plan"},
    "engine": {"cli", "web"},
    "device": {"engine", "cli", "web", "safety", "programs"},
    "twin": {"device", "engine", "cli", "web", "safety", "store", "plan", "programs"},
    "anatomy": {"programs", "engine", "cli", "device", "safety", "screening", "evidence"},
    "trials": {"cli", "web", "engine"},
    "dose_schedule": {"cli", "web", "device", "safety", "store", "plan", "trials"},
}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("legflow."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("legflow.")}
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_keeps_its_import_boundary(package):
    base = ROOT / package
    files = list(base.rglob("*.py")) if base.is_dir() else [ROOT / f"{package}.py"]
    assert files
    for file in files:
        bad = _imports(file) & FORBIDDEN[package]
        assert not bad, f"{file.relative_to(ROOT)} imports {bad}"


def test_nothing_outside_a_clock_reads_the_wall_clock():
    for file in ROOT.rglob("*.py"):
        text = file.read_text()
        for call in ("time.time(", "time.monotonic(", "time.sleep("):
            assert call not in text or file.name == "clock.py", f"{file.relative_to(ROOT)} calls {call}"

"""The built-in program library: TOML files shipped in the package, found by name."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from legflow.errors import ProfileError
from legflow.programs.loader import ProgramSource, load_source, validate_text


def _folder():
    return resources.files("legflow.programs") / "library"


def builtin_names() -> list[str]:
    return sorted(p.name.removesuffix(".toml") for p in _folder().iterdir() if p.name.endswith(".toml"))


def builtin_source(name: str) -> ProgramSource:
    if name not in builtin_names():
        raise ProfileError(f"no built-in program named '{name}' (see: legflow programs)")
    text = (_folder() / f"{name}.toml").read_text(encoding="utf-8")
    return validate_text(text, f"{name}.toml")


def resolve(name_or_file: str) -> ProgramSource:
    """A built-in program by name, or a program file by path."""
    if name_or_file in builtin_names():
        return builtin_source(name_or_file)
    if name_or_file.endswith(".toml") or Path(name_or_file).exists():
        return load_source(name_or_file)
    raise ProfileError(f"'{name_or_file}' is neither a built-in program (see: legflow programs) nor a file")

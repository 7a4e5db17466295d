"""The program library: built-in TOML files shipped in the package, and the user's own programs
saved in their data directory (``programs/NAME.toml``), both found by name."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from legflow.errors import ProfileError, UnknownProgram
from legflow.paths import data_dir
from legflow.programs.loader import ProgramSource, read_text, validate_text


def _folder():
    return resources.files("legflow.programs") / "library"


def builtin_names() -> list[str]:
    return sorted(p.name.removesuffix(".toml") for p in _folder().iterdir() if p.name.endswith(".toml"))


def builtin_text(name: str) -> str:
    """A built-in program's TOML text, comments and all."""
    if name not in builtin_names():
        raise UnknownProgram(f"no built-in program named '{name}' (see: legflow programs)")
    return (_folder() / f"{name}.toml").read_text(encoding="utf-8")


def builtin_source(name: str) -> ProgramSource:
    return validate_text(builtin_text(name), f"{name}.toml")


#: A saved program's name: a file name that is safe on every platform and in a URL.
USER_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,47}")


def user_folder() -> Path:
    return data_dir() / "programs"


def user_names() -> list[str]:
    folder = user_folder()
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.toml") if USER_NAME.fullmatch(p.stem))


def user_program_path(name: str) -> Path:
    """Where the user's program ``name`` lives; refuses names that are unsafe or taken by a built-in."""
    if not USER_NAME.fullmatch(name):
        raise ProfileError(
            f"'{name}' is not a valid program name: use 1-48 lower-case letters, digits, '-' or '_'"
        )
    if name in builtin_names():
        raise ProfileError(f"'{name}' is a built-in program: save your version under another name")
    return user_folder() / f"{name}.toml"


def save_user_program(name: str, text: str) -> Path:
    """Write a (validated) program to the user's folder atomically: a crash never leaves half a file."""
    path = user_program_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".toml.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
    return path


def saved_text(name: str) -> str:
    """A saved program's TOML, its problems (unreadable, not UTF-8) reported under ``NAME.toml``:
    its folder is the server's to know, not the dashboard's."""
    return read_text(user_folder() / f"{name}.toml", f"{name}.toml")


def program_text(name_or_file: str) -> tuple[str, str]:
    """The TOML text of a built-in program by name, a saved program of the user's by name, or a
    program file by path, with the file name its problems are reported under. Every command that
    takes a program (`run`, `show`, `check`, the dashboard) finds it here, so they accept the same."""
    if name_or_file in builtin_names():
        return builtin_text(name_or_file), f"{name_or_file}.toml"
    if USER_NAME.fullmatch(name_or_file) and name_or_file in user_names():
        # reported under its name, as a built-in is: the dashboard is told names, never paths
        return saved_text(name_or_file), f"{name_or_file}.toml"
    if name_or_file.endswith(".toml") or Path(name_or_file).exists():
        return read_text(name_or_file), name_or_file
    raise UnknownProgram(f"'{name_or_file}' is neither a built-in program (see: legflow programs) nor a file")


def resolve(name_or_file: str) -> ProgramSource:
    """A validated program by built-in name, saved name or path (see `program_text`)."""
    return validate_text(*program_text(name_or_file))


def resolve_named(name: str) -> ProgramSource:
    """A validated built-in or saved program by its name only, never a file: what a plan names, as
    a session's label (which adherence matches) is a name."""
    if name not in builtin_names() and not (USER_NAME.fullmatch(name) and name in user_names()):
        raise ProfileError(
            f"'{name}' is not the name of a built-in or saved program (see: legflow programs); "
            "a plan names programs, not files"
        )
    return resolve(name)

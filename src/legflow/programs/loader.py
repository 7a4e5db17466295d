"""Load program files: TOML → validated `Program`, or a `ProgramError` naming FILE:LINE: field.

All problems of a file are collected in one pass: pydantic's structural errors for the whole
program, then cross-field checks for every phase that is well-formed on its own.
"""

from __future__ import annotations

import contextlib
import difflib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

import tomlkit
from pydantic import BaseModel, ValidationError

from legflow.errors import Problem, ProgramError
from legflow.programs.locate import KeyLines, Path, format_path
from legflow.programs.model import Phase, Program
from legflow.programs.semantics import phase_problems, program_problems

_TOML_POSITION = re.compile(r"\(at line (\d+), column \d+\)")
_UNION_TAG = re.compile(r"[\[\-]|^(float|int|str|bool)$")


def _model_at(path: Path) -> type[BaseModel] | None:
    """The pydantic model that owns the last key of ``path`` (for "did you mean")."""
    model: Any = Program
    for part in path[:-1]:
        if isinstance(part, int):
            continue
        fields = {f.alias or name: f for name, f in model.model_fields.items()}
        field = fields.get(part)
        if field is None:
            return None
        candidates = [a for a in getattr(field.annotation, "__args__", (field.annotation,))]
        nested = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        lists = [a for c in candidates for a in getattr(c, "__args__", ()) if isinstance(a, type)]
        nested += [c for c in lists if issubclass(c, BaseModel)]
        if not nested:
            return None
        model = nested[0]
    return model


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _message(error: dict[str, Any], path: Path) -> str:
    kind = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden":
        model = _model_at(path)
        known = sorted(f.alias or n for n, f in model.model_fields.items()) if model else []
        return f"unknown key '{path[-1]}'{_suggest(str(path[-1]), known)}"
    if kind == "missing":
        return "required key is missing"
    if kind == "literal_error":
        expected = re.findall(r"'([^']*)'", error["ctx"]["expected"])
        hint = _suggest(str(value), expected) if isinstance(value, str) else ""
        return f"{value!r} is not allowed{hint} (one of: {', '.join(expected)})"
    if kind in ("float_type", "int_type", "string_type", "bool_type", "list_type", "model_type", "dict_type"):
        wanted = kind.removesuffix("_type").replace("model", "table").replace("dict", "table")
        wanted = {"float": "number", "int": "whole number", "string": "text", "bool": "true or false"}.get(
            wanted, wanted
        )
        return f"expected {wanted}, got {_toml_kind(value)} {_short(value)}"
    bounds = {
        "less_than_equal": "at most",
        "less_than": "less than",
        "greater_than_equal": "at least",
        "greater_than": "more than",
    }
    if kind in bounds:
        limit = next(iter(error["ctx"].values()))
        return f"{_short(value)} is out of range: must be {bounds[kind]} {limit:g}"
    if kind in ("too_short", "string_too_short"):
        return "must not be empty"
    return error["msg"][0].lower() + error["msg"][1:]


def _toml_kind(value: Any) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "text", list: "array", dict: "table"}.get(
        type(value), type(value).__name__
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _structural_problems(error: ValidationError) -> list[tuple[Path, str]]:
    """Pydantic errors as (path, message). A value typed "number or array of numbers" fails in
    both union branches; only the branch that matches the value's TOML type is reported."""
    found: list[tuple[Path, str]] = []
    unions: dict[Path, list[tuple[Path, dict[str, Any], bool]]] = {}
    for err in error.errors():
        loc = err["loc"]
        tag_at = next((i for i, p in enumerate(loc) if isinstance(p, str) and _UNION_TAG.search(p)), None)
        path = tuple(p for p in loc if not (isinstance(p, str) and _UNION_TAG.search(p)))
        if tag_at is None:
            found.append((path, _message(err, path)))
        else:
            is_list_branch = str(loc[tag_at]).startswith("list[")
            unions.setdefault(tuple(loc[:tag_at]), []).append((path, err, is_list_branch))
    for key, errs in unions.items():
        whole = next((e.get("input") for _, e, is_list in errs if not is_list), None)
        if isinstance(whole, list):
            found += [(path, _message(e, path)) for path, e, is_list in errs if is_list]
        elif isinstance(whole, int | float) and not isinstance(whole, bool):
            found += [(path, _message(e, path)) for path, e, is_list in errs if not is_list]
        else:
            found.append((key, f"expected a number or an array of numbers, got {_toml_kind(whole)}"))
    return found


@dataclass(frozen=True)
class ProgramSource:
    """A validated program with where it came from, so later checks can still name lines."""

    program: Program
    filename: str
    lines: KeyLines

    def problems(self, findings: list[tuple[Path, str]]) -> list[Problem]:
        return [Problem(self.filename, self.lines.line_of(p), format_path(p), m) for p, m in findings]


def validate_text(text: str, filename: str = "<program>") -> ProgramSource:
    """Validate a program given as TOML text; raise `ProgramError` listing every problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = _TOML_POSITION.search(str(exc))
        line = int(m.group(1)) if m else 1
        message = _TOML_POSITION.sub("", str(exc)).strip()
        raise ProgramError([Problem(filename, line, "toml", f"syntax error: {message}")]) from None
    source_lines = KeyLines(text)
    found: list[tuple[Path, str]] = []
    program: Program | None = None
    try:
        program = Program.model_validate(data)
    except ValidationError as exc:
        found += _structural_problems(exc)
        raw_phases = data.get("phase")
        if isinstance(raw_phases, list):
            for i, raw in enumerate(raw_phases):
                with contextlib.suppress(ValidationError):  # its errors are reported above
                    found += phase_problems(Phase.model_validate(raw), i)
    if program is not None:
        found += program_problems(program)
    source = ProgramSource(program, filename, source_lines)  # type: ignore[arg-type]
    if found:
        raise ProgramError(source.problems(found))
    return source


def parse_program(text: str, filename: str = "<program>") -> Program:
    return validate_text(text, filename).program


def read_text(path: str | FsPath) -> str:
    """A program file's text; an unreadable file is a `ProgramError` at line 1."""
    try:
        return FsPath(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not a UTF-8 text file"
        raise ProgramError([Problem(str(path), 1, "file", f"cannot read: {reason}")]) from None


def load_source(path: str | FsPath) -> ProgramSource:
    """Read and validate one program file, keeping its key lines for the device check."""
    return validate_text(read_text(path), str(path))


def load_program(path: str | FsPath) -> Program:
    return load_source(path).program


def dump_program(program: Program) -> str:
    """The program as TOML text that `parse_program` reads back to an equal program."""
    data = program.model_dump(by_alias=True, exclude_none=True)
    for phase in data["phase"]:
        if not phase["guide"]:
            del phase["guide"]  # an empty array would sit oddly between the phase's tables
    return tomlkit.dumps(data)

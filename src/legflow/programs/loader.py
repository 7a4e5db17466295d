"""Load program files: TOML → validated `Program`, or a `ProgramError` naming FILE:LINE: field.

All problems of a file are collected in one pass: pydantic's structural errors for the whole
program, then cross-field checks for every phase that is well-formed on its own. `inspect_text`
also hands back a program that is well-formed but has cross-field problems, so the device check
(`legflow.plan.check_text`) can add its own findings to the same run.

A file is read only if it is a regular file of at most `MAX_FILE_BYTES`: a FIFO would block the
read forever and ``/dev/zero`` would fill the memory. What the TOML parser itself cannot take (an
integer of thousands of digits, arrays nested hundreds deep) is a problem at its line, like a
syntax error.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
import stat
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any, TypeVar

import tomlkit
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from legflow.errors import Problem, ProgramError
from legflow.programs.locate import KeyLines, Path, code_part, format_path
from legflow.programs.model import Phase, Program
from legflow.programs.semantics import phase_problems, program_problems

_TOML_POSITION = re.compile(r"\(at line (\d+), column \d+\)")
#: Far more than any program needs (the largest built-in is a few kB); reading stops here.
MAX_FILE_BYTES = 1024 * 1024
#: Deeper than any program nests (``phase[1].compression.zones[1]`` is five levels); deeper data
#: would exhaust the stack of the recursive steps that validate and describe it.
MAX_NESTING = 16
_TOO_DEEP = f"tables or arrays nested more than {MAX_NESTING} deep"
#: The unit of a key, from its name's suffix, for range messages.
_UNITS = {"_mmHg": "mmHg", "_min": "min", "_s": "s", "_C": "°C"}
M = TypeVar("M", bound=BaseModel)
_UNION_TAG = re.compile(r"[\[\-]|^(float|int|str|bool)$")


def _model_at(path: Path, root: type[BaseModel] = Program) -> type[BaseModel] | None:
    """The pydantic model under ``root`` that owns the last key of ``path`` (for "did you mean")."""
    model: Any = root
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


#: What a text that must match a pattern is, in words (`say_pattern`): the regular expression
#: itself tells a user nothing.
PATTERN_WORDS: dict[str, str] = {}


def say_pattern(pattern: str, words: str) -> str:
    """Register ``words`` for ``pattern`` (a field's ``pattern=``): its problems say them."""
    PATTERN_WORDS[pattern] = words
    return pattern


def _message(error: ErrorDetails, path: Path, root: type[BaseModel] = Program) -> str:
    kind = error["type"]
    value = error.get("input")
    if kind == "string_pattern_mismatch" and error["ctx"]["pattern"] in PATTERN_WORDS:
        return f"{_short(value)} is not {PATTERN_WORDS[error['ctx']['pattern']]}"
    if kind == "extra_forbidden":
        model = _model_at(path, root)
        known = sorted(f.alias or n for n, f in model.model_fields.items()) if model else []
        return f"unknown key '{path[-1]}'{_suggest(str(path[-1]), known)}"
    if kind == "missing":
        return "required key is missing"
    if kind == "literal_error":
        expected = re.findall(r"'([^']*)'", error["ctx"]["expected"])
        hint = _suggest(str(value), expected) if isinstance(value, str) else ""
        return f"{_short(value)} is not allowed{hint} (one of: {', '.join(expected)})"
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
        unit = _unit(path)
        bound = _amount(limit, unit, bound=True)
        return f"{_amount(value, unit)} is out of range: must be {bounds[kind]} {bound}"
    if kind in ("too_short", "string_too_short"):
        return "must not be empty"
    message = error["msg"].removeprefix("Value error, ")
    return message[0].lower() + message[1:]


def _unit(path: Path) -> str:
    """The unit in a key's name (``duration_min`` → ``min``); a list item takes its list's."""
    key = next((p for p in reversed(path) if isinstance(p, str)), "")
    return next((unit for suffix, unit in _UNITS.items() if key.endswith(suffix)), "")


def _amount(value: Any, unit: str, bound: bool = False) -> str:
    """A number with its unit; a bound under a minute in seconds, so 1/60 min reads as "1 s"."""
    if not isinstance(value, int | float) or isinstance(value, bool) or not unit:
        return _short(value)
    if bound and unit == "min" and 0 < value < 1:
        return f"{value * 60:g} s"
    return f"{value:g} {unit}"


def _toml_kind(value: Any) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "text", list: "array", dict: "table"}.get(
        type(value), type(value).__name__
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _structural_problems(error: ValidationError, root: type[BaseModel] = Program) -> list[tuple[Path, str]]:
    """Pydantic errors as (path, message). A value typed "number or array of numbers" fails in
    both union branches; only the branch that matches the value's TOML type is reported."""
    found: list[tuple[Path, str]] = []
    unions: dict[Path, list[tuple[Path, ErrorDetails, bool]]] = {}
    for err in error.errors():
        loc = err["loc"]
        if "[key]" in loc:  # a table's key refused (a zone name that is none)
            path = tuple(p for p in loc if p != "[key]")
            found.append((path, _message(err, path, root)))
            continue
        tag_at = next((i for i, p in enumerate(loc) if isinstance(p, str) and _UNION_TAG.search(p)), None)
        path = tuple(p for p in loc if not (isinstance(p, str) and _UNION_TAG.search(p)))
        if tag_at is None:
            found.append((path, _message(err, path, root)))
        else:
            is_list_branch = str(loc[tag_at]).startswith("list[")
            unions.setdefault(tuple(loc[:tag_at]), []).append((path, err, is_list_branch))
    for key, errs in unions.items():
        whole = next((e.get("input") for _, e, is_list in errs if not is_list), None)
        if isinstance(whole, list):
            found += [(path, _message(e, path, root)) for path, e, is_list in errs if is_list]
        elif isinstance(whole, int | float) and not isinstance(whole, bool):
            found += [(path, _message(e, path, root)) for path, e, is_list in errs if not is_list]
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


def _parse(text: str, filename: str) -> dict[str, Any]:
    """TOML text → data; anything the parser refuses is a `ProgramError` at its line."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = _TOML_POSITION.search(str(exc))
        line = int(m.group(1)) if m else 1
        message = f"syntax error: {_TOML_POSITION.sub('', str(exc)).strip()}"
    except ValueError as exc:  # int() refuses decimal integers longer than the interpreter's limit
        line, digits = _longest_number(text)
        message = f"a number of {digits} digits is too long to read (at most {sys.get_int_max_str_digits()})"
        if "digits" not in str(exc):  # no other ValueError is known to pass tomllib; still say what
            line, message = 1, f"cannot be read: {exc}"
    except RecursionError:  # the parser recurses once per level of nested arrays and inline tables
        line = _deepest_line(text)
        message = _TOO_DEEP
    raise ProgramError([Problem(filename, line, "toml", message)])


def _longest_number(text: str) -> tuple[int, int]:
    """The line of the longest run of digits in ``text``, and its number of digits."""
    runs = [(len(m.group().replace("_", "")), m.start()) for m in re.finditer(r"\d[\d_]*", text)]
    digits, start = max(runs, default=(0, 0))
    return text.count("\n", 0, start) + 1, digits


def _deepest_line(text: str) -> int:
    """The line where brackets and braces (outside strings and comments) first nest deepest."""
    depth, deepest, line = 0, 0, 1
    for lineno, raw in enumerate(text.splitlines(), start=1):
        for ch in code_part(raw):
            depth += (ch in "[{") - (ch in "]}")
            if depth > deepest:
                deepest, line = depth, lineno
    return line


def _unreadable_value(data: dict[str, Any]) -> tuple[Path, str] | None:
    """The first value the later steps could not handle, and why, found without recursion: data
    nested deeper than `MAX_NESTING`, or an integer outside the 64-bit range TOML defines
    (``tomllib`` reads ``0xfff…`` of any length, and printing it would exceed the digit limit)."""
    stack: list[tuple[Path, Any]] = [((), data)]
    while stack:
        path, value = stack.pop()
        if len(path) > MAX_NESTING:
            return path, _TOO_DEEP
        if isinstance(value, int) and not -(2**63) <= value < 2**63:
            return path, "integer outside the 64-bit range of TOML"
        if isinstance(value, dict):
            stack += [((*path, key), item) for key, item in value.items()]
        elif isinstance(value, list):
            stack += [((*path, i), item) for i, item in enumerate(value)]
    return None


def inspect_text(text: str, filename: str = "<program>") -> tuple[ProgramSource | None, list[Problem]]:
    """Every problem of a program given as TOML text, and the program when it is well-formed (it
    may still have cross-field problems, listed too). Raises `ProgramError` only when the text
    cannot be read as data: a TOML syntax error, or a value no later step can take."""
    data = _parse(text, filename)
    source_lines = KeyLines(text)
    unreadable = _unreadable_value(data)
    if unreadable is not None:  # at the first line that reaches it: a long dotted table header
        where, message = unreadable
        line = min((n for p, n in source_lines.lines.items() if p[: len(where)] == where), default=None)
        raise ProgramError([Problem(filename, line or source_lines.line_of(where), "toml", message)])
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
    return (source if program is not None else None), source.problems(found)


def validate_toml(model: type[M], text: str, filename: str) -> M:
    """Any other legflow file in TOML (a plan, ...) read as `model`, its problems named by file,
    line and field as a program's are; raises `ProgramError`."""
    data = _parse(text, filename)
    lines = KeyLines(text)
    unreadable = _unreadable_value(data)
    if unreadable is not None:
        where, message = unreadable
        raise ProgramError([Problem(filename, lines.line_of(where), "toml", message)])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        found = _structural_problems(exc, model)
        raise ProgramError(
            [Problem(filename, lines.line_of(p), format_path(p), m) for p, m in found]
        ) from None


def validate_text(text: str, filename: str = "<program>") -> ProgramSource:
    """Validate a program given as TOML text; raise `ProgramError` listing every problem."""
    source, problems = inspect_text(text, filename)
    if problems or source is None:
        raise ProgramError(problems)
    return source


def parse_program(text: str, filename: str = "<program>") -> Program:
    return validate_text(text, filename).program


def read_text(path: str | FsPath, named: str | None = None) -> str:
    """A program file's text; a file that is missing, not a regular file, larger than
    `MAX_FILE_BYTES` or not UTF-8 is a `ProgramError` at line 1, reported under ``named`` (a saved
    program's ``NAME.toml``: its folder is the server's), else under the path."""

    def problem(message: str) -> ProgramError:
        return ProgramError([Problem(named or str(path), 1, "file", message)])

    try:
        # stat before opening: opening a FIFO waits for a writer, and opening a device can act on it
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise problem("cannot read: not a regular file")
        # O_NONBLOCK: should the path have been swapped for a FIFO since, opening it does not wait
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with open(fd, "rb") as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                raise problem("cannot read: not a regular file")
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise problem(f"cannot read: {exc.strerror or 'unreadable'}") from None
    if len(data) > MAX_FILE_BYTES:
        raise problem(f"cannot read: larger than {MAX_FILE_BYTES // 2**20} MiB, too large for a program")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise problem("cannot read: not a UTF-8 text file") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")  # universal newlines, as text mode reads


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

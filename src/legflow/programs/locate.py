"""Find the line of each key and table in a TOML text, so problems can name FILE:LINE.

`tomllib` gives values but no positions; this scanner follows table headers, arrays of tables
and keys line by line. It skips the inside of multi-line strings and arrays, and falls back to
the nearest enclosing table for anything it cannot place.
"""

from __future__ import annotations

import re

Path = tuple[str | int, ...]

_ARRAY_TABLE = re.compile(r"^\s*\[\[\s*([^\[\]]+?)\s*\]\]")
_TABLE = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]")
_KEY = re.compile(
    r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*="""
)


def _split_dotted(key: str) -> list[str]:
    parts = re.findall(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""", key)
    return [p.strip("\"'") for p in parts]


def code_part(line: str) -> str:
    """The line without its comment, with string contents blanked so brackets inside count not."""
    out, quote = [], ""
    for ch in line:
        if quote:
            if ch == quote:
                quote = ""
            out.append(" ")
        elif ch in "\"'":
            quote = ch
            out.append(" ")
        elif ch == "#":
            break
        else:
            out.append(ch)
    return "".join(out)


class KeyLines:
    """Maps a value's path, such as ``("phase", 0, "compression", "zones")``, to its line."""

    def __init__(self, text: str):
        self.lines: dict[Path, int] = {}
        self._array_counts: dict[Path, int] = {}
        self._scan(text)

    def _resolve(self, parts: list[str]) -> Path:
        """Insert the current index after every prefix that names an array of tables."""
        path: list[str | int] = []
        for part in parts:
            path.append(part)
            count = self._array_counts.get(tuple(path))
            if count is not None:
                path.append(count - 1)
        return tuple(path)

    def _scan(self, text: str) -> None:
        table: Path = ()
        depth = 0  # open brackets of a multi-line array
        multiline_quote = ""
        for lineno, raw in enumerate(text.splitlines(), start=1):
            if multiline_quote:
                if multiline_quote in raw:
                    multiline_quote = ""
                continue
            if depth > 0:
                code = code_part(raw)
                depth += code.count("[") - code.count("]")
                continue
            if m := _ARRAY_TABLE.match(raw):
                parts = _split_dotted(m.group(1))
                parent = self._resolve(parts[:-1])
                key = (*parent, parts[-1])
                self._array_counts[key] = self._array_counts.get(key, 0) + 1
                table = (*key, self._array_counts[key] - 1)
                self.lines.setdefault(key, lineno)
                self.lines[table] = lineno
                continue
            if m := _TABLE.match(raw):
                table = self._resolve(_split_dotted(m.group(1)))
                self.lines.setdefault(table, lineno)
                continue
            if m := _KEY.match(raw):
                path = (*table, *_split_dotted(m.group(1)))
                self.lines.setdefault(path, lineno)
                rest = raw[m.end() :]
                for quote in ('"""', "'''"):
                    if rest.count(quote) == 1:
                        multiline_quote = quote
                code = code_part(rest)
                depth = max(0, code.count("[") - code.count("]"))

    def line_of(self, path: Path) -> int:
        """The line of the longest known prefix of ``path``; 1 when nothing matches."""
        for end in range(len(path), 0, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return 1


def format_path(path: Path) -> str:
    """``("phase", 0, "compression", "zones", 2)`` → ``phase[1].compression.zones[3]`` (counted from 1)."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part + 1}]"
        else:
            text += f".{part}" if text else part
    return text or "program"

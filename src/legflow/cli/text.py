"""User-supplied strings as terminal text: never read as Rich markup, never raw control characters.

Program names, summaries, guide steps, stored session details, device messages and file names come
from files, the history database or a device, so they may hold Rich markup (``[/]`` crashes a
markup parse, ``[link=…]`` fakes a hyperlink) or terminal control sequences (ESC and BEL change the
window title, clear the screen, draw OSC 8 hyperlinks; C1 0x9b is an 8-bit CSI). Everything the CLI
prints from outside goes through `printable` (plain ``print``), `as_text` (Rich renderables) or
`markup_safe` (inside a Rich markup string).
"""

from __future__ import annotations

import re

from rich.markup import escape
from rich.style import Style
from rich.text import Text

#: C0 controls, DEL, C1 controls; Unicode bidirectional overrides and isolates (they make a line
#: read in another order than it is stored) and the Unicode line and paragraph separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _escape_control(match: re.Match[str]) -> str:
    ch = match.group()
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(value: object, *, multiline: bool = False) -> str:
    """``value`` as a string whose control characters are visible escapes (``\\x1b``).

    With ``multiline`` newlines and tabs stay (a summary written over several lines); otherwise
    they are escaped too, so a message promised as one line stays one line.
    """
    text = str(value)
    if multiline:
        return _CONTROL.sub(lambda m: m.group() if m.group() in "\n\t" else _escape_control(m), text)
    return _CONTROL.sub(_escape_control, text)


def as_text(value: object, style: str | Style = "", *, multiline: bool = False) -> Text:
    """A Rich `Text` of ``value``: shown literally, however many brackets it holds."""
    return Text(printable(value, multiline=multiline), style=style)


def markup_safe(value: object) -> str:
    """``value`` for a Rich markup string: control characters escaped, then markup escaped."""
    return escape(printable(value))

"""The exception tree. The CLI turns each into one clear line and an exit code.

LegflowError
 ├── ProgramError        a program file is malformed or refused (carries Problems)
 ├── ProfileError        an unknown device profile or user profile
 │    └── UnknownProgram  a program named that is neither built in, nor saved, nor a file
 ├── ScreeningError      screening answers are malformed, or screening blocks the user
 ├── DeviceError         the massager cannot be reached or misbehaves
 ├── HistoryError        the session history cannot be read or written (damaged, read-only, busy)
 └── UsageError          options that cannot go together
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One problem in a program file, printed as ``FILE:LINE: field.path: message``."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.message}"


class LegflowError(Exception):
    """Base of every error legflow expects and reports to the user."""

    exit_code = 1


class ProgramError(LegflowError):
    """A program could not be loaded or is refused; ``problems`` lists every reason."""

    exit_code = 2

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class ProfileError(LegflowError):
    """An unknown device profile, program name or user profile."""


class UnknownProgram(ProfileError):
    """A program named that is neither built in, nor saved, nor a file (the dashboard's 404)."""


class ScreeningError(LegflowError):
    """Screening answers are malformed, or screening blocks this user."""

    exit_code = 3


class UnfitGarment(LegflowError):
    """The fit check before a session found a cell that does not fit, and the user did not agree
    to go on: nothing was inflated past the test pressure. ``fit``: the check, as JSON."""

    exit_code = 5

    def __init__(self, message: str, fit: dict | None = None):
        super().__init__(message)
        self.fit = fit


class DeviceError(LegflowError):
    """The massager cannot be reached or reports something we cannot handle."""


class HistoryError(LegflowError):
    """The history database cannot be used as asked: damaged, not a history, read-only or busy.
    The message names the file and what to do; the file itself is left as it is."""


class UsageError(LegflowError):
    """Options that cannot go together (``--fast`` with a real device)."""

    exit_code = 2

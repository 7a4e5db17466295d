"""Checks of option values shared by the commands."""

from __future__ import annotations

from legflow.screening import check_user_name


def user_name(value: str | None) -> str | None:
    """``--user``'s callback: one rule for a user's name everywhere (`check_user_name`), so that the
    CLI stores no record the dashboard cannot open."""
    return None if value is None else check_user_name(value)

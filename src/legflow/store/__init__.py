"""Session history in SQLite (WAL mode): sessions, per-second samples and events (:mod:`.history`),
and their export as CSV or JSON (:mod:`.export`)."""

from legflow.store.history import (
    KEPT,
    History,
    SessionRow,
    damage,
    default_history,
    history_path,
    move_aside,
)

__all__ = ["KEPT", "History", "SessionRow", "damage", "default_history", "history_path", "move_aside"]

"""What a session teaches of its user's comfort: the share of each zone's programmed pressure they
ended it at (level, boost, paused zones). The CLI and the dashboard both learn it here."""

from __future__ import annotations

from typing import Any

from legflow.engine.intensity import comfort_shares, zone_peaks_mmHg
from legflow.engine.session import Session
from legflow.store import History

#: A session shorter than this teaches nothing of the user's comfort.
COMFORT_MIN_s = 60.0


def learn_comfort(summary: dict[str, Any], session: Session, history: History, user: str) -> dict[str, Any]:
    """Store what the user ended ``session`` at, per zone, as their comfort; a session cut short
    or ended by a fault teaches nothing. Returns ``summary``."""
    if summary["status"] != "fault" and summary["duration_s"] >= COMFORT_MIN_s:
        shares = comfort_shares(zone_peaks_mmHg(session.program), session.comfort, session.control.intensity)
        if shares:
            history.add_comfort(user, shares)
    return summary

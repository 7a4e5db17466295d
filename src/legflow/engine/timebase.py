"""Session time: the program's seconds, which stand still while the user pauses.

The massager's clock runs on through a pause (and through a stall of the loop, when its host
froze), and the supervisor's trips and the simulator's injected faults count on it from the
program's start. The summary speaks session time, as its
`duration_s` and its events do; `SessionTime` maps one onto the other.
"""

from __future__ import annotations

from bisect import bisect_right


class SessionTime:
    """Seconds since the program started on the massager's clock → session seconds."""

    def __init__(self) -> None:
        #: (elapsed s on the clock, session s then, paused from then), in order
        self._elapsed_s: list[float] = [0.0]
        self._marks: list[tuple[float, bool]] = [(0.0, False)]

    def mark(self, elapsed_s: float, session_s: float, paused: bool) -> None:
        """The session paused (or resumed) at `elapsed_s` on the clock, at `session_s`."""
        self._elapsed_s.append(elapsed_s)
        self._marks.append((session_s, paused))

    def stall(self, from_s: float, to_s: float, session_s: float, paused: bool) -> None:
        """The loop ran no tick from ``from_s`` to ``to_s`` on the clock (a host that froze, a tick
        late by more than one): the program's clock stood still at ``session_s`` meanwhile."""
        self.mark(from_s, session_s, True)
        self.mark(to_s, session_s, paused)

    def of(self, elapsed_s: float) -> float:
        """The session time at `elapsed_s` on the clock: a moment during a pause is placed at the
        pause's start; one before the start (a fit check) at 0."""
        i = bisect_right(self._elapsed_s, elapsed_s) - 1
        if i < 0:
            return 0.0
        session_s, paused = self._marks[i]
        return session_s if paused else session_s + (elapsed_s - self._elapsed_s[i])

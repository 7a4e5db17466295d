"""What a session talks to besides the supervisor, as protocols: the engine builds none of them.

The apps (`legflow.apps.launch`) wire a session: a massager under a `Supervisor`, a `Limb` (the
leg twin, `legflow.twin.live.LiveTwin`) and a `Recorder` (the SQLite history,
`legflow.store.History`). The engine sees each only through these methods, so a test can hand it
a few lines of fake, and nothing in the engine opens a port, builds a simulator or writes a file.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np


class Recorder(Protocol):
    """Where a session's record goes: one session row, a sample each session second, events
    (phases, guide steps, overrides, faults, the end), commits as it runs, and its summary."""

    def start(self, program: str, profile: str, cells: list[str], user: str = "default") -> int:
        """A new session's row, `user`'s; returns its id."""
        ...

    def add_sample(
        self,
        session: int,
        t_s: float,
        pressure: np.ndarray,
        setpoint: np.ndarray,
        skin: np.ndarray,
        twin: dict[str, list[float]] | None = None,
    ) -> None:
        """Queue one sample: each cell's sensed pressure and setpoint, each leg's skin temperature,
        the twin's signals."""
        ...

    def add_tick(self, session: int, t_s: float, pressure: np.ndarray, setpoint: np.ndarray) -> None:
        """Queue one control tick of the full-rate trace: each cell's sensed pressure and setpoint."""
        ...

    def add_event(self, session: int, t_s: float, kind: str, detail: str) -> None:
        """Queue one event."""
        ...

    def commit(self, session: int, duration_s: float) -> None:
        """Store what is queued, and the duration so far (it may wait for the next commit)."""
        ...

    def finish(self, session: int, summary: dict[str, Any]) -> None:
        """Store what is still queued and the session's end with its summary (as JSON)."""
        ...


class Limb(Protocol):
    """The legs inside the cells, as a session reads them: stepped with the sensed pressures where
    no simulated massager steps them (hardware), read for adaptive rest, the live display, the
    history's samples and the summary's ``twin`` block."""

    @property
    def subject_name(self) -> str:
        """The leg's parameter set, or each leg's where they differ (``adult,oedema``)."""
        ...

    @property
    def posture(self) -> str: ...

    @property
    def t_s(self) -> float: ...

    @property
    def step_s(self) -> float: ...

    @property
    def rest_venous_mL(self) -> np.ndarray:
        """Each leg's venous volume at rest [n_legs]."""
        ...

    def step(self, cell_mmHg: np.ndarray) -> None:
        """Advance one ``step_s`` with these cell pressures held."""
        ...

    def venous_volume_mL(self) -> np.ndarray:
        """Each leg's venous volume now [n_legs]."""
        ...

    def signals(self) -> dict[str, list[float]]:
        """The live picture per leg (outflow, venous volume moved, fluid cleared)."""
        ...

    def metrics(self) -> dict[str, Any] | None:
        """The metrics of the summary's ``twin`` block so far; None when too short to measure."""
        ...

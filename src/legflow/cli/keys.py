"""Keys during a live session in a terminal: the intensity in the user's hands
(`legflow.engine.intensity`). ``+``/``-`` a level up or down, a digit chooses a zone, ``b`` boosts
it (again: no boost), ``h`` pauses it (again: resumes it). Read in cbreak mode, so Ctrl-C still
stops the session."""

from __future__ import annotations

import os
import select
import sys
import termios
import threading
import tty

from legflow.engine.intensity import LEVELS
from legflow.engine.session import SessionControl


class IntensityKeys:
    """A thread reading single keys from the terminal while a session runs; use as a context
    manager (leaving it restores the terminal). ``zones``: the device's zones, for the digits."""

    def __init__(self, control: SessionControl, zones: list[str]):
        self.control = control
        self.zones = zones
        self.zone = "calf" if "calf" in zones else zones[0]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="intensity-keys", daemon=True)
        self._fd = sys.stdin.fileno()
        self._saved: list | None = None

    def __enter__(self) -> IntensityKeys:
        self._saved = termios.tcgetattr(self._fd)
        tty.setcbreak(self._fd)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=1.0)
        if self._saved is not None:
            termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)

    def help(self) -> str:
        """The keys, as the live display shows them."""
        zones = " ".join(f"{i + 1} {z}" for i, z in enumerate(self.zones))
        return f"keys: + - level · {zones} · b boost {self.zone} · h pause {self.zone}"

    def press(self, key: str) -> None:
        """One key (also what a test presses)."""
        c, now = self.control, self.control.intensity
        if not c.takes_intensity:  # the program has ended: its final vent
            return
        low, high = LEVELS  # the level stays in range, the zones are the device's: nothing to refuse
        if key in "+=":
            c.set_level(min(high, now.level + 1))
        elif key == "-":
            c.set_level(max(low, now.level - 1))
        elif key.isdigit() and 1 <= int(key) <= len(self.zones):
            self.zone = self.zones[int(key) - 1]
        elif key == "b":
            c.set_boost(None if now.boost == self.zone else self.zone)
        elif key == "h":
            c.pause_zone(self.zone, self.zone not in now.paused)

    def _read(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._fd], [], [], 0.1)
            if ready:
                data = os.read(self._fd, 16).decode(errors="ignore")
                for key in data:
                    self.press(key)

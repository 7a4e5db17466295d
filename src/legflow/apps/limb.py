"""The leg twin inside a device's cells: the `Limb` a session reads, and the limb a simulated
massager or an emulator squeezes."""

from __future__ import annotations

from legflow.device.profile import DeviceProfile
from legflow.twin.live import LiveTwin
from legflow.twin.model import Posture
from legflow.twin.subject import load_legs


def leg_twin(profile: DeviceProfile, subject: str = "adult", posture: Posture = "supine") -> LiveTwin:
    """The leg twin of a named subject inside a device's cells (every leg of the profile): one
    parameter set, or one per leg (``adult,oedema``, `load_legs`)."""
    legs = range(len(profile.legs))
    return LiveTwin(
        load_legs(subject, len(profile.legs)),
        [cell.covers for _ in legs for cell in profile.cells],
        [leg for leg in legs for _ in profile.cells],
        posture,
    )

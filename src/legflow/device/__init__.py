"""Massagers: device profiles (data), the simulated massager and the serial driver."""

from legflow.device.profile import DEFAULT_PROFILE, CellSpec, DeviceProfile, load_profile, profile_names

__all__ = ["DEFAULT_PROFILE", "CellSpec", "DeviceProfile", "load_profile", "profile_names"]

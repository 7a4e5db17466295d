"""Engine: the pressure and heater controllers, adaptive rest, the session runner and its launch."""

from legflow.engine.session import Session

__all__ = ["Session"]

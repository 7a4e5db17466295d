"""Engine: the pressure and heater controllers, adaptive rest, the session runner and its summary.

It builds nothing it talks to: `legflow.apps.launch` wires a session to a supervised massager, a
`Limb` and a `Recorder` (`engine.interfaces`)."""

from legflow.engine.session import Session

__all__ = ["Session"]

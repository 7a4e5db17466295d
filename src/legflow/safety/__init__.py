"""Safety: the limits, and (with sessions) the supervisor that enforces them on the massager."""

from typing import TYPE_CHECKING, Any

from legflow.safety.limits import DEFAULT_LIMITS, Limits

if TYPE_CHECKING:
    from legflow.safety.supervisor import Supervisor

__all__ = ["DEFAULT_LIMITS", "Limits", "Supervisor"]


def __getattr__(name: str) -> Any:
    """`Supervisor`, imported on first use: its detectors load numba, which the program check and
    the screening (they import the limits from here) need not wait for."""
    if name == "Supervisor":
        from legflow.safety.supervisor import Supervisor

        return Supervisor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

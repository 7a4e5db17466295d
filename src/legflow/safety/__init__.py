"""Safety: the limits, and (with sessions) the supervisor that enforces them on the massager."""

from legflow.safety.limits import DEFAULT_LIMITS, Limits

__all__ = ["DEFAULT_LIMITS", "Limits"]

"""Engine: clocks, the timeline, the pressure controller, the session runner and recorder."""

from legflow.engine.timeline import Targets, Timeline, cycle_s

__all__ = ["Targets", "Timeline", "cycle_s"]

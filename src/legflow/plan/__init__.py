"""A plan: a program checked against a device profile and the user's limits (`check`), the pump's
capacity for its inflate ramps (`pump`), the goal composer (`compose`) and the program as tissue
pressures for the leg twin (`dose_schedule`)."""

from legflow.plan.check import (
    Finding,
    ForDevice,
    check_source,
    check_text,
    device_findings,
    device_verdict,
    device_warnings,
    for_device,
    guide_line,
    hands_on_notes,
    is_hands_on,
)

__all__ = [
    "Finding",
    "ForDevice",
    "check_source",
    "check_text",
    "device_findings",
    "device_verdict",
    "device_warnings",
    "for_device",
    "guide_line",
    "hands_on_notes",
    "is_hands_on",
]

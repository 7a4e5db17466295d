"""The grade every built-in program shows, pinned once for the CLI, API and page tests."""

from __future__ import annotations

THERAPIST = "from massage given by a therapist; self-massage was not tested"
BORROWED = "borrowed from hands-on massage by a therapist; not tested with "
#: Every built-in program's grade and the note beside it ("" when the evidence is for what the
#: program itself does).
PINNED: dict[str, tuple[str, str]] = {
    "circulation": ("B", ""),
    "immune": ("D", BORROWED + "pneumatic compression, foot rollers or heat"),
    "lymph": ("B", ""),
    "night-cramps": ("C", ""),
    "pre-sport": ("C", BORROWED + "pneumatic compression or vibration"),
    "recovery": ("B", ""),
    "reflexology-back": ("C", ""),
    "reflexology-digestion": ("C", ""),
    "reflexology-headache": ("C", ""),
    "reflexology-sleep": ("C", ""),
    "self-massage-calves": ("A", THERAPIST),
    "self-massage-hamstrings": ("A", THERAPIST),
    "self-massage-thighs": ("A", THERAPIST),
    "shin-splints": ("D", THERAPIST),
    "sitting-break": ("B", ""),
    "sore-spot": ("D", THERAPIST),
    "stress": ("B", BORROWED + "pneumatic compression, foot rollers or heat"),
}

"""The screening questions of docs/safety.md, one per row, and what each answer does to the limits.

A question is answered yes/no, except `kind = "zones"` (yes means: which compression zones) and
`kind = "age"` (a number of years). Actions: block (no session at all), block_zone, limit, warn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Action = Literal["block", "block_zone", "limit", "warn"]


@dataclass(frozen=True)
class Question:
    id: str
    ask: str
    action: Action
    why: str
    kind: Literal["yes_no", "zones", "age"] = "yes_no"
    #: Limits tightened on a yes (see `legflow.safety.limits.Limits`).
    limits: dict[str, object] = field(default_factory=dict)
    #: Shown on a yes; for a block it says what to do instead.
    advice: str = ""


_FOOT_AND_LEG_40 = {"leg_pressure_mmHg": 40.0, "foot_pressure_mmHg": 40.0}

QUESTIONS: tuple[Question, ...] = (
    Question(
        "dvt_signs",
        "Is one calf swollen, painful, warm or red; or have you had recent surgery, immobilisation or a "
        "cast, long travel, cancer treatment, or a previous deep vein thrombosis (DVT)?",
        "block",
        "compression may dislodge a clot",
        advice="Seek medical care now: these can be signs of a deep vein thrombosis. "
        "A massager can never rule a DVT out.",
    ),
    Question(
        "heart_failure",
        "Do you have acute heart failure, breathlessness when lying flat, or NYHA class IV heart failure?",
        "block",
        "moving fluid toward the heart may overload it",
        advice="Ask your doctor before any compression of the legs.",
    ),
    Question(
        "severe_arterial_disease",
        "Do you have severe peripheral arterial disease (ankle-brachial index below 0.6), gangrene, "
        "or leg pain at rest?",
        "block",
        "compression cuts off a scant arterial supply",
        advice="Ask your vascular specialist before any compression of the legs.",
    ),
    Question(
        "skin_problem_zones",
        "Do you have a skin infection (cellulitis), open wound, ulcer or recent skin graft on a leg?",
        "block_zone",
        "compression spreads infection and damages skin",
        kind="zones",
    ),
    Question(
        "injury_zones",
        "Have you had a fracture or acute injury of a leg in the last 6 weeks?",
        "block_zone",
        "pressure on a fresh injury can worsen it",
        kind="zones",
    ),
    Question(
        "arterial_disease",
        "Do you have peripheral arterial disease with an ankle-brachial index of 0.6-0.9, or calf pain "
        "when walking that eases with rest?",
        "limit",
        "arterial supply is reduced",
        limits={"leg_pressure_mmHg": 40.0, "foot_pressure_mmHg": 40.0},
        advice="Pressure is limited to 40 mmHg; stop at once if a foot turns pale, cold or painful.",
    ),
    Question(
        "anticoagulants",
        "Do you take blood thinners (anticoagulants) or have a bleeding disorder?",
        "limit",
        "risk of bruising and bleeding",
        limits={**_FOOT_AND_LEG_40, "vibration_allowed": False, "deep_rollers_allowed": False},
    ),
    Question(
        "diabetes",
        "Do you have diabetes?",
        "limit",
        "burns and pressure injuries can go unnoticed",
        limits={"heat_C": 40.0, "foot_pressure_mmHg": 40.0},
    ),
    Question(
        "neuropathy",
        "Do you have reduced feeling in your feet or legs (neuropathy)?",
        "limit",
        "burns and pressure injuries go unnoticed without sensation",
        limits={"heat_C": None, "foot_pressure_mmHg": 40.0},
    ),
    Question(
        "pregnancy",
        "Are you pregnant?",
        "warn",
        "caution in guidance; no reflexology pressure on the ankles or heel",
        limits={
            **_FOOT_AND_LEG_40,
            "blocked_zones": ["sole.heel"],
            "no_pressure_areas": ["ankle", "sole.heel"],
        },
        advice="Ask your midwife or doctor before use; no heel reflexology, no hand pressure on the "
        "ankles or heel, pressure limited to 40 mmHg.",
    ),
    Question(
        "varicose_veins",
        "Do you have varicose veins?",
        "limit",
        "rollers and deep pressure over varicose veins can hurt them",
        limits={"deep_rollers_allowed": False, "leg_pressure_mmHg": 40.0},
    ),
    Question(
        "age",
        "How old are you (years)?",
        "limit",
        "no heat and gentle pressure under 18",
        kind="age",
        limits={**_FOOT_AND_LEG_40, "heat_C": None},
    ),
    Question(
        "active_cancer",
        "Are you being treated for cancer now?",
        "warn",
        "compression and massage during cancer treatment need the treating team's view",
        advice="Ask your treating team before use.",
    ),
    Question(
        "leg_implant_or_vein_surgery",
        "Do you have an implanted device in a leg, or have you had vein surgery recently?",
        "warn",
        "pressure over implants or fresh vein surgery needs a clinician's view",
        advice="Ask your surgeon or doctor before use.",
    ),
)

ADULT_AGE_years = 18

"""The report's record as a FHIR Bundle (type collection) of R4-era resources, for a clinic's
systems: the massager as a Device; per session a Procedure (what was done, when, how it ended) and
a DeviceUseStatement (the device on the legs, with the counted minutes); per session an
Observation of the minutes at pressure; per recorded outcome an Observation.

The bundle names no Patient: a subject is a Reference by display name only (the user's name in
legflow), for the receiving system to match. Resources follow FHIR R4B (4.3), which keeps R4's
DeviceUseStatement, Procedure and Observation; `fhir.resources.R4B` validates the bundle as it is
built. Codes are text: legflow does not claim codes from a terminology it has not checked.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from legflow.records.outcomes import Outcome
from legflow.records.report import Report, SessionLine

#: One namespace for the bundle's ids: the same record gives the same ids.
_NAMESPACE = uuid.UUID("6f1c1f0e-7a7c-4b1e-9a53-3c4a2b9d0e11")
#: The Procedure and DeviceUseStatement status of each session status.
STATUS = {"completed": "completed", "stopped": "stopped", "fault": "stopped", "interrupted": "stopped"}
UCUM = {"cm": "cm", "h": "h", "min": "min", "0-10": "{score}"}


def _urn(*parts: object) -> str:
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, '/'.join(map(str, parts)))}"


def _subject(report: Report) -> dict[str, Any]:
    return {"display": f"legflow user '{report.user}'"}


def _period(s: SessionLine) -> dict[str, str]:
    end = s.started + timedelta(minutes=s.duration_min)
    return {"start": s.started.isoformat(timespec="seconds"), "end": end.isoformat(timespec="seconds")}


def _device(profile: str) -> dict[str, Any]:
    return {
        "resourceType": "Device",
        "deviceName": [{"name": f"legflow massager, profile {profile}", "type": "model-name"}],
        "type": {"text": "Intermittent pneumatic compression device, legs"},
    }


def _procedure(report: Report, s: SessionLine, device: str) -> dict[str, Any]:
    notes = [f"program {s.program}; {s.dose.counted_min:.1f} of {s.duration_min:.1f} min counted at pressure"]
    targets = s.dose.zone_targets_mmHg()
    if targets:
        notes.append("aimed pressure: " + ", ".join(f"{z} {p:.0f} mmHg" for z, p in targets.items()))
    notes += [f"fault: {f}" for f in s.faults]
    return {
        "resourceType": "Procedure",
        "status": STATUS.get(s.status, "unknown"),
        "code": {"text": "Intermittent pneumatic compression of the legs"},
        "subject": _subject(report),
        "performedPeriod": _period(s),
        "usedReference": [{"reference": device}],
        "note": [{"text": n} for n in notes],
    }


def _device_use(report: Report, s: SessionLine, device: str) -> dict[str, Any]:
    return {
        "resourceType": "DeviceUseStatement",
        "status": "completed" if s.status == "completed" else "stopped",
        "subject": _subject(report),
        "device": {"reference": device},
        "timingPeriod": _period(s),
        "recordedOn": s.started.isoformat(timespec="seconds"),
        "bodySite": {"text": "both legs"},
        "note": [{"text": f"{s.dose.counted_min:.1f} min with the garment on and the cells at pressure"}],
    }


def _minutes_observation(report: Report, s: SessionLine, procedure: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "partOf": [{"reference": procedure}],
        "code": {"text": "Compression therapy time at prescribed pressure"},
        "subject": _subject(report),
        "effectivePeriod": _period(s),
        "valueQuantity": {
            "value": round(s.dose.counted_min, 1),
            "unit": "min",
            "system": "http://unitsofmeasure.org",
            "code": "min",
        },
    }


def _outcome_observation(report: Report, o: Outcome) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": o.measure},
        "subject": _subject(report),
        "effectiveDateTime": o.at,
        "valueQuantity": {
            "value": o.value,
            "unit": o.unit,
            "system": "http://unitsofmeasure.org",
            "code": UCUM[o.unit],
        },
    }
    if o.site:
        resource["bodySite"] = {"text": o.site}
    if o.note:
        resource["note"] = [{"text": o.note}]
    return resource


def bundle(report: Report) -> dict[str, Any]:
    """The report as a FHIR Bundle (JSON-ready), validated by `fhir.resources.R4B`."""
    from fhir.resources.R4B.bundle import Bundle

    entries: list[tuple[str, dict[str, Any]]] = []
    devices: dict[str, str] = {}
    for s in report.sessions:
        if s.profile not in devices:
            devices[s.profile] = _urn(report.user, "device", s.profile)
            entries.append((devices[s.profile], _device(s.profile)))
        procedure = _urn(report.user, "procedure", s.id, s.started.isoformat())
        entries.append((procedure, _procedure(report, s, devices[s.profile])))
        entries.append(
            (
                _urn(report.user, "use", s.id, s.started.isoformat()),
                _device_use(report, s, devices[s.profile]),
            )
        )
        entries.append(
            (
                _urn(report.user, "minutes", s.id, s.started.isoformat()),
                _minutes_observation(report, s, procedure),
            )
        )
    for i, o in enumerate(report.outcomes):
        entries.append(
            (_urn(report.user, "outcome", o.at, o.measure, o.site, i), _outcome_observation(report, o))
        )
    data = {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": report.generated_at.isoformat(timespec="seconds"),
        "entry": [{"fullUrl": url, "resource": resource} for url, resource in entries],
    }
    Bundle.model_validate(data)  # raises if any resource breaks the specification
    return data

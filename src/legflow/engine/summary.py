"""The session summary, contract v1 (DESIGN.md): one typed model, the one place that gives it its
shape, its rounding and which fields a JSON summary leaves out.

`legflow run --json` prints it, the history stores it, the dashboard sends it at a session's end,
and `legflow twin run --json` prints the part a session without a device has (``program``,
``status``, ``duration_s``, ``twin``). Fields may be added to v1, never removed or renamed; its JSON
schema is published as ``docs/session-summary.schema.json`` (`schema_text`; regenerate it with
``python -m legflow.engine.summary > docs/session-summary.schema.json``).

A field is either always in the JSON (null where it has no value: ``max_skin_temp_C`` with no
reading, ``vented_at_s`` when the cells never emptied) or left out where it does not apply (the
``true_*`` maxima on hardware, ``adaptive`` with programmed rests, ``id`` before the session is
stored): each model names the latter in ``ABSENT_WHEN_NONE``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

Status = Literal["completed", "stopped", "fault"]


class _Block(BaseModel):
    """A part of the summary: strict about its keys; serialises in field order, leaving out the
    fields of ``ABSENT_WHEN_NONE`` that hold None."""

    model_config = ConfigDict(extra="forbid")
    ABSENT_WHEN_NONE: ClassVar[tuple[str, ...]] = ()

    def _absent(self) -> set[str]:
        return {name for name in self.ABSENT_WHEN_NONE if getattr(self, name) is None}

    @model_serializer(mode="wrap")
    def _leave_out_absent(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for name in self._absent():
            data.pop(name, None)
        return data


class CellSummary(_Block):
    """One cell, as its sensor read it (and, in simulation, as the physics had it)."""

    max_pressure_mmHg: float = Field(description="highest sensed pressure")
    end_pressure_mmHg: float = Field(description="sensed pressure when the session ended")
    true_max_pressure_mmHg: float | None = Field(
        default=None,
        description="simulation only: the physics' own maximum (every substep); absent on hardware",
    )
    ABSENT_WHEN_NONE = ("true_max_pressure_mmHg",)

    @classmethod
    def of(cls, max_mmHg: float, end_mmHg: float, true_max_mmHg: float | None = None) -> CellSummary:
        return cls(
            max_pressure_mmHg=round(float(max_mmHg), 1),
            end_pressure_mmHg=round(float(end_mmHg), 1),
            true_max_pressure_mmHg=None if true_max_mmHg is None else round(float(true_max_mmHg), 1),
        )


class FaultSummary(_Block):
    """A fault the supervisor found, or an injected one it never found (``detected_s`` null)."""

    kind: str = Field(
        description="what the fault is: the injected kind, else what the detector's finding names"
    )
    cell: str | None = Field(description="the cell or leg where the supervisor found it (or was told of it)")
    at_s: float = Field(
        description="when it came: the injection time, else when it was found (session seconds, as "
        "duration_s and the events: they stand still while paused or while the loop stalls, and a moment "
        "during a pause or a stall is placed at its start)"
    )
    detected_s: float | None = Field(
        description="when the supervisor found it (the same clock); null if never"
    )
    safe_at_s: float | None = Field(
        description="when the safe state held (the same clock); null if never found"
    )
    detector: str | None = Field(description="the detector that found it (`device`: the device's own)")
    message: str


class TwinLegSummary(_Block):
    """One leg of a subject whose legs differ: its parameter set and its own metrics."""

    subject: str
    ejected_mL_per_cycle: float | None = None
    peak_flow_augmentation: float | None = None
    refill_s: float | None = None
    fluid_cleared_mL: float | None = None
    lymph_mL_per_h: float | None = None
    cycles: int | None = None


class TwinSummary(_Block):
    """The leg twin over the program (per leg, means over every compression cycle): a model's
    prediction, not a measurement. With under three twin steps there are no metrics: only
    ``subject`` and ``posture``."""

    subject: str
    posture: str
    ejected_mL_per_cycle: float | None = None
    peak_flow_augmentation: float | None = None
    refill_s: float | None = None
    fluid_cleared_mL: float | None = None
    lymph_mL_per_h: float | None = None
    cycles: int | None = None
    ejected_mL_per_min: float | None = Field(
        default=None,
        description="blood ejected per minute per squeezed leg; in a session, when any leg was squeezed",
    )
    legs: dict[str, TwinLegSummary] | None = Field(
        default=None,
        description="each leg's own metrics, by leg, when the subject's legs are different parameter sets",
    )
    ABSENT_WHEN_NONE = ("ejected_mL_per_min", "legs")
    METRICS: ClassVar[tuple[str, ...]] = (
        "ejected_mL_per_cycle",
        "peak_flow_augmentation",
        "refill_s",
        "fluid_cleared_mL",
        "lymph_mL_per_h",
        "cycles",
    )

    def _absent(self) -> set[str]:
        metrics = set(self.METRICS) if self.cycles is None else set()
        return super()._absent() | metrics

    @classmethod
    def of(cls, subject: str, posture: str, metrics: Mapping[str, Any] | None = None) -> TwinSummary:
        """The block from the twin's metrics (`legflow.twin.metrics.program_metrics`, and in a
        session ``ejected_mL_per_min``); None or empty: too short to measure."""
        return cls(subject=subject, posture=posture, **(metrics or {}))


class AdaptiveSummary(_Block):
    """What adaptive rest did: the rests it chose against the ones programmed."""

    refill_from: Literal["twin", "sensor"]
    rests: int
    mean_rest_s: float | None
    programmed_rest_s: float
    artefacts_rejected: int | None = Field(default=None, description="with the sensor only")
    rests_unmeasured: int | None = Field(
        default=None, description="with the sensor only: rests left as programmed"
    )
    ABSENT_WHEN_NONE = ("artefacts_rejected", "rests_unmeasured")


class IntensitySummary(_Block):
    """What the user asked of the intensity, as the session ended, and what it costs the leg: the
    twin alone over the program as written and at those shares of its pressures (a model's
    prediction, on ideal cell pressures)."""

    level: int
    boost: str | None
    paused: list[str]
    comfort: dict[str, float] = Field(description="the learned comfort scaling applied from the start")
    as_written: dict[str, float] | None = Field(
        default=None, description="ejected_mL_per_cycle and fluid_cleared_mL of the program as written"
    )
    as_run: dict[str, float] | None = Field(default=None, description="the same at the shares asked")


class SessionSummary(_Block):
    """The session summary, contract v1. A summary with no device (``legflow twin run``) has no
    ``cells``, ``max_skin_temp_C``, ``faults`` or ``vented_at_s``."""

    model_config = ConfigDict(extra="forbid", title="legflow session summary v1")

    version: Literal[1] = Field(
        default=1, description="the contract's version (absent in summaries stored before it)"
    )
    program: str = Field(description="the program's label: a built-in name or the file's stem")
    status: Status
    duration_s: float = Field(description="program seconds run (pauses and the final vent left out)")
    cells: dict[str, CellSummary] | None = Field(default=None, description="per cell, named LEG.ZONE")
    max_skin_temp_C: float | None = Field(
        default=None, description="highest sensed skin temperature; null if none"
    )
    true_max_skin_C: float | None = Field(
        default=None, description="simulation only: the physics' own maximum"
    )
    faults: list[FaultSummary] | None = None
    vented_at_s: float | None = Field(
        default=None,
        description="when every cell first read below 3 mmHg after the end; null if not within 5 s",
    )
    twin: TwinSummary | None = Field(description="the leg twin's block; null when no twin ran")
    adaptive: AdaptiveSummary | None = Field(default=None, description="when rests followed the refill")
    adapted: list[str] | None = Field(
        default=None,
        description="what adapting the program to this device changed, one line each; absent when nothing",
    )
    intensity: IntensitySummary | None = Field(
        default=None, description="when the user changed the intensity or applied their comfort"
    )
    fit: dict[str, str] | None = Field(
        default=None,
        description="the fit check before the session: each cell's verdict; absent when none ran",
    )
    id: int | None = Field(default=None, description="the stored session's id, once stored")
    ABSENT_WHEN_NONE = ("true_max_skin_C", "adaptive", "adapted", "intensity", "fit", "id")
    DEVICE: ClassVar[tuple[str, ...]] = ("cells", "max_skin_temp_C", "faults", "vented_at_s")

    @model_validator(mode="after")
    def _device_fields_together(self) -> SessionSummary:
        if (self.cells is None) != (self.faults is None):
            raise ValueError("cells and faults go together: both (a device ran) or neither")
        return self

    def _absent(self) -> set[str]:
        device = set(self.DEVICE) if self.cells is None else set()
        return super()._absent() | device

    def as_json(self) -> dict[str, Any]:
        """The summary as JSON-ready Python (what ``--json`` prints, in this key order)."""
        return self.model_dump()


def schema() -> dict[str, Any]:
    """The JSON schema of `SessionSummary` (draft 2020-12): what a summary may hold."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **SessionSummary.model_json_schema(mode="validation"),
    }


def schema_text() -> str:
    """The schema as published in docs/session-summary.schema.json."""
    return json.dumps(schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(schema_text(), end="")

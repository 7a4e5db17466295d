"""Every parameter of a leg's set, as a reader checks it: value, unit, the kind of its source
(cited, derived from cited values, or assumed) and the source itself, its physiological range with
that range's source, and the span a virtual cohort gives it in the validation and trial runs.

The kind is read from the source line of the parameter file (``derived: ...``, ``assumed: ...``; a
``weak:`` source is an assumption too), so the files stay the one owner of every citation.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from legflow.twin.subject import SEGMENT_NAMES, Subject

SourceKind = Literal["cited", "derived", "assumed", "override"]
SOURCE_KINDS: tuple[SourceKind, ...] = ("cited", "derived", "assumed", "override")

#: Name parts that are units (``per`` joins them: ``mL_per_mmHg`` is mL/mmHg).
_UNIT_WORDS = {"mmHg", "mL", "s", "cm", "min", "h", "g", "100g", "100mL", "per", "kg"}


def source_kind(source: str) -> SourceKind:
    """What a parameter's source line says it is."""
    text = source.strip().lower()
    if text == "override":
        return "override"
    if text.startswith("derived"):
        return "derived"
    if text.startswith(("assumed", "weak")):
        return "assumed"
    return "cited"


def unit_of(leaf: str) -> str:
    """The unit a parameter's name ends with (``venous_compliance_mL_per_mmHg``: mL/mmHg); 1 for
    a ratio or a coefficient without one."""
    words = leaf.split("_")
    start = len(words)
    while start > 0 and words[start - 1] in _UNIT_WORDS:
        start -= 1
    unit = words[start:]
    if not unit:
        return "1"
    if unit[0] == "per":
        return "1/" + unit_of("x_" + "_".join(unit[1:]))
    return "/".join("_".join(unit).split("_per_")).replace("_", "·")


@dataclass(frozen=True)
class ParameterRow:
    """One parameter of a set, and (with a cohort) the lowest and highest value its subjects take."""

    path: str
    value: float
    unit: str
    kind: SourceKind
    source: str
    cohort_low: float | None = None
    cohort_high: float | None = None
    #: The physiological range (`Subject.range`), its source and the kind of that source.
    low: float | None = None
    high: float | None = None
    range_source: str | None = None

    @property
    def range_kind(self) -> SourceKind | None:
        return None if self.range_source is None else source_kind(self.range_source)

    @property
    def within_range(self) -> bool | None:
        """Whether the value lies in its range (None: no range given)."""
        if self.low is None or self.high is None:
            return None
        return self.low <= self.value <= self.high

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "range_kind": self.range_kind, "within_range": self.within_range}


def parameter_paths(subject: Subject) -> list[str]:
    """``table.leaf`` of every parameter in the files' order: circulation, tissue, then the
    segments distal to proximal, each table's leaves as its model declares them."""
    tables = ("circulation", "tissue", *SEGMENT_NAMES)
    return [f"{t}.{leaf}" for t in tables for leaf in type(getattr(subject, t)).model_fields]


def parameter_rows(subject: Subject, cohort: list[Subject] | None = None) -> list[ParameterRow]:
    """Every parameter of ``subject`` (in `parameter_paths` order), with the span over ``cohort``."""
    rows = []
    for path in parameter_paths(subject):
        source = subject.source(path)
        span: tuple[float | None, float | None] = (None, None)
        if cohort:
            values = [each.value(path) for each in cohort]
            span = (min(values), max(values))
        leaf = path.split(".")[1]
        low, high, range_source = subject.range(path) or (None, None, None)
        rows.append(
            ParameterRow(
                path,
                subject.value(path),
                unit_of(leaf),
                source_kind(source),
                source,
                *span,
                low=low,
                high=high,
                range_source=range_source,
            )
        )
    return rows


def kind_counts(rows: list[ParameterRow]) -> dict[str, int]:
    """How many parameters each kind of source has (every kind listed, 0 where none)."""
    return {kind: sum(row.kind == kind for row in rows) for kind in SOURCE_KINDS}


def range_kind_counts(rows: list[ParameterRow]) -> dict[str, int]:
    """How many ranges each kind of source has, and how many parameters give none."""
    counts: dict[str, int] = {kind: sum(row.range_kind == kind for row in rows) for kind in SOURCE_KINDS}
    counts["none"] = sum(row.range_kind is None for row in rows)
    return counts

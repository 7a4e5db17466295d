"""Subjects: cited parameter sets for one leg, loaded from ``parameters/*.toml``.

A parameter file holds, for every leaf, ``{ value = ..., source = "...", range = [low, high],
range_source = "..." }``: the value with its citation, and the span the leaf takes in the population
the set stands for, with that span's own citation. A variant names a ``base`` file and overrides
some leaves (with their own range, or the base's); it may also give a ``volume_scale`` that scales
every extensive segment parameter, value and range (volumes and compliances × s, resistances ÷ s).
A subject is a parameter set plus keyword overrides, so a virtual cohort is a list of subjects::

    adult = load_subject("adult")
    stiff = load_subject("adult", calf__venous_compliance_mL_per_mmHg=3.0)
    stiff.source("calf.venous_compliance_mL_per_mmHg")  # -> "override"

Overrides name a leaf as ``table__leaf`` or, where the leaf name is unique, as ``leaf``; an unknown
name raises :class:`TwinParameterError` with the nearest names.
"""

from __future__ import annotations

import difflib
import math
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from legflow.errors import LegflowError

PARAMETER_DIR = Path(__file__).parent / "parameters"
SEGMENT_NAMES = ("foot", "calf", "thigh")
#: The model's compartments (`Subject.compartments`): the calf in a distal and a proximal half.
COMPARTMENT_NAMES = ("foot", "calf_distal", "calf_proximal", "thigh")


class TwinParameterError(LegflowError, ValueError):
    """A parameter file or override is unknown or malformed."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Circulation(_Frozen):
    """Whole-leg circulation and transmission constants."""

    mean_arterial_pressure_mmHg: float = Field(gt=0)
    abdominal_venous_pressure_mmHg: float
    resting_venous_pressure_mmHg: float
    resting_limb_blood_flow_mL_per_min_per_100mL: float = Field(gt=0)
    blood_hydrostatic_gradient_mmHg_per_cm: float = Field(gt=0)
    valve_steepness_per_mmHg: float = Field(gt=0)
    pressure_transmission_ratio: float = Field(gt=0, le=1)
    capillary_venous_pressure_ratio: float = Field(gt=0, le=1)


class Tissue(_Frozen):
    """Interstitium and lymph, per 100 mL (≈ 100 g) of tissue.

    The interstitial protein is held by mass (see ``model.interstitial_oncotic_mmHg``): its oncotic
    pressure is that of normal hydration scaled by normal / present interstitial fluid volume.
    """

    tissue_density_g_per_mL: float = Field(gt=0)
    filtration_coefficient_mL_per_min_per_100g_per_mmHg: float = Field(ge=0)
    interstitial_pressure_at_zero_excess_mmHg: float
    interstitial_compliance_low_mL_per_mmHg_per_100mL: float = Field(gt=0)
    interstitial_compliance_high_mL_per_mmHg_per_100mL: float = Field(gt=0)
    interstitial_knee_excess_mL_per_100mL: float = Field(ge=0)
    interstitial_knee_width_mL_per_100mL: float = Field(gt=0)
    lymph_flow_at_zero_excess_mL_per_h_per_100mL: float = Field(ge=0)
    lymph_gain_interstitial_per_mmHg: float = Field(ge=0)
    lymph_gain_external_per_mmHg: float = Field(ge=0)
    lymph_max_ratio: float = Field(gt=1)
    interstitial_fluid_volume_mL_per_100mL: float = Field(gt=0)
    interstitial_oncotic_pressure_at_zero_excess_mmHg: float = Field(ge=0)
    capillary_protein_reflection_coefficient: float = Field(ge=0, le=1)


class Segment(_Frozen):
    """One leg segment (foot, calf or thigh): its veins, valve at its outflow, tissue and depth."""

    tissue_volume_mL: float = Field(gt=0)
    venous_compliance_mL_per_mmHg: float = Field(gt=0)
    venous_unstressed_volume_mL: float = Field(gt=0)
    venous_max_distension_volume_mL: float = Field(gt=0)
    venous_resistance_mmHg_s_per_mL: float = Field(gt=0)
    microvascular_resistance_mmHg_s_per_mL: float = Field(gt=0)
    valve_backflow_resistance_mmHg_s_per_mL: float = Field(ge=0)
    fluid_excess_at_rest_mL_per_100mL: float
    depth_supine_cm: float
    depth_seated_cm: float
    depth_standing_cm: float


class Calf(Segment):
    """The calf (shank) as its sources measure it, whole; the model splits it into a distal and a
    proximal compartment (:meth:`halves`), so that a squeeze can travel along it."""

    #: Share of the calf's volume in its distal half (by length).
    distal_volume_share: float = Field(gt=0, lt=1)
    length_cm: float = Field(gt=0)

    def halves(self) -> tuple[Segment, Segment]:
        """The distal and the proximal half of the calf by length, each a segment of its own.

        Volumes, compliances and tissue by each half's share of the calf's volume; the microvascular
        resistance (the halves' capillary beds side by side) by the inverse share. The venous
        resistance (and the valve's backflow resistance) is one series path: each half gets
        `series_resistance_factor` × the calf's, so that the two halves in series empty with the
        calf's measured time constant τ = R·C (the calf's R is the lumped one of Phys Med Biol 1977,
        fitted to that τ). Each half's centre lies a quarter of the calf's length below or above
        the calf's own when upright (seated feet down, standing)."""
        k = series_resistance_factor(self.distal_volume_share)
        out = []
        for share, offset in ((self.distal_volume_share, 0.25), (1.0 - self.distal_volume_share, -0.25)):
            values = {name: getattr(self, name) for name in Segment.model_fields}
            for name in EXTENSIVE:
                values[name] *= share
            values["microvascular_resistance_mmHg_s_per_mL"] /= share
            values["venous_resistance_mmHg_s_per_mL"] *= k
            values["valve_backflow_resistance_mmHg_s_per_mL"] *= k
            for posture in ("seated", "standing"):
                values[f"depth_{posture}_cm"] += offset * self.length_cm
            out.append(Segment(**values))
        return out[0], out[1]


def series_resistance_factor(distal_share: float) -> float:
    """k such that two compartments holding ``distal_share`` and 1 − ``distal_share`` of a
    compliance C, in series through resistances k·R each, the proximal one draining to a fixed
    pressure, empty with a slowest time constant R·C: the lumped calf's. Their volumes obey
    dv/dt = A·v with A = (1/(k·R·C))·[[−a, a], [b, −2b]], a = 1/s, b = 1/(1 − s), whose slowest
    eigenvalue is μ/(k·R·C), μ = (−(a + 2b) + √((a + 2b)² − 4ab))/2; so k = −μ (0.85 at s = 0.38)."""
    a, b = 1.0 / distal_share, 1.0 / (1.0 - distal_share)
    mu = (-(a + 2.0 * b) + math.sqrt((a + 2.0 * b) ** 2 - 4.0 * a * b)) / 2.0
    return -mu


#: Segment parameters multiplied by ``volume_scale`` (the rest of the extensive ones are divided).
EXTENSIVE = (
    "tissue_volume_mL",
    "venous_compliance_mL_per_mmHg",
    "venous_unstressed_volume_mL",
    "venous_max_distension_volume_mL",
)
INVERSE_EXTENSIVE = (
    "venous_resistance_mmHg_s_per_mL",
    "microvascular_resistance_mmHg_s_per_mL",
    "valve_backflow_resistance_mmHg_s_per_mL",
)

_TABLES: dict[str, type[_Frozen]] = {
    "circulation": Circulation,
    "tissue": Tissue,
    "foot": Segment,
    "calf": Calf,
    "thigh": Segment,
}


class Subject(_Frozen):
    """One leg's parameter set; ``sources`` pairs each ``table.leaf`` with its citation."""

    name: str
    description: str
    circulation: Circulation
    tissue: Tissue
    foot: Segment
    calf: Calf
    thigh: Segment
    sources: tuple[tuple[str, str], ...]
    #: ``table.leaf`` → (low, high, the range's citation): the leaf's physiological range.
    ranges: tuple[tuple[str, tuple[float, float, str]], ...] = ()

    @property
    def segments(self) -> tuple[Segment, Segment, Segment]:
        """Foot, calf, thigh: the parameter file's tables, distal to proximal."""
        return (self.foot, self.calf, self.thigh)

    @property
    def compartments(self) -> tuple[Segment, Segment, Segment, Segment]:
        """The model's compartments, distal to proximal (its state order, `COMPARTMENT_NAMES`): foot,
        distal calf, proximal calf, thigh."""
        return (self.foot, *self.calf.halves(), self.thigh)

    def source(self, path: str) -> str:
        """The citation of ``table.leaf``."""
        found = dict(self.sources).get(path)
        if found is None:
            raise TwinParameterError(_unknown(path, [p for p, _ in self.sources]))
        return found

    def range(self, path: str) -> tuple[float, float, str] | None:
        """The physiological range of ``table.leaf`` (low, high, its citation); None if its file
        gives none."""
        self.source(path)  # an unknown path is an error
        return dict(self.ranges).get(path)

    def value(self, path: str) -> float:
        table, leaf = path.split(".")
        return float(getattr(getattr(self, table), leaf))


def available_subjects() -> list[str]:
    """Names of the parameter files, found by glob."""
    return sorted(p.stem for p in PARAMETER_DIR.glob("*.toml"))


#: Between the left leg's and the right leg's parameter sets of a subject with two different legs
#: (``adult,oedema``: a right leg with oedema).
LEG_SEPARATOR = ","


def load_legs(spec: str, n_legs: int) -> list[Subject]:
    """One parameter set per leg, from ``NAME`` (every leg alike) or ``LEFT,RIGHT`` (each leg its
    own: one oedematous or insufficient leg beside a healthy one)."""
    names = [name.strip() for name in spec.split(LEG_SEPARATOR)]
    if len(names) == 1:
        names *= n_legs
    elif len(names) != n_legs:
        raise TwinParameterError(
            f"subject '{spec}' names {len(names)} legs, the device has {n_legs}: give one parameter set, "
            f"or one per leg ({'LEFT,RIGHT' if n_legs == 2 else 'one name'})"
        )
    loaded = {name: load_subject(name) for name in dict.fromkeys(names)}
    return [loaded[name] for name in names]


def legs_label(legs: list[Subject]) -> str:
    """How a summary names the legs' parameter sets: the one name, or each leg's (``adult,oedema``)
    where they differ (`legflow run` and `legflow twin run` alike)."""
    names = [leg.name for leg in legs]
    return names[0] if len(set(names)) == 1 else LEG_SEPARATOR.join(names)


def load_subject(name: str = "adult", **overrides: float) -> Subject:
    """Load a parameter set by name and apply ``table__leaf=value`` (or unique ``leaf=value``) overrides."""
    values, sources, ranges, meta = _load_flat(name)
    paths = list(values)
    for key, value in overrides.items():
        path = _resolve(key, paths)
        values[path] = float(value)
        sources[path] = "override"
    tables: dict[str, dict[str, float]] = {t: {} for t in _TABLES}
    for path, value in values.items():
        table, leaf = path.split(".")
        tables[table][leaf] = value
    try:
        # each table a dict, which pydantic validates into its model
        return Subject.model_validate(
            {
                "name": meta["name"],
                "description": meta["description"],
                "sources": tuple(sorted(sources.items())),
                "ranges": tuple(sorted(ranges.items())),
                **tables,
            }
        )
    except ValueError as exc:
        raise TwinParameterError(f"parameter set {name!r}: {exc}") from exc


Range = tuple[float, float, str]


def _load_flat(name: str) -> tuple[dict[str, float], dict[str, str], dict[str, Range], dict[str, str]]:
    file = PARAMETER_DIR / f"{name}.toml"
    if not file.is_file():
        raise TwinParameterError(_unknown(name, available_subjects(), what="parameter set"))
    data: dict[str, Any] = tomllib.loads(file.read_text(encoding="utf-8"))
    meta = {"name": data.pop("name", name), "description": data.pop("description", "")}
    base = data.pop("base", None)
    scale = data.pop("volume_scale", None)
    values: dict[str, float] = {}
    sources: dict[str, str] = {}
    ranges: dict[str, Range] = {}
    if base is not None:
        values, sources, ranges, _ = _load_flat(base)
    if scale is not None:
        s = float(scale["value"])
        for seg in SEGMENT_NAMES:
            for leaf in EXTENSIVE + INVERSE_EXTENSIVE:
                path = f"{seg}.{leaf}"
                factor = s if leaf in EXTENSIVE else 1.0 / s
                values[path] *= factor
                op = "x" if leaf in EXTENSIVE else "/"
                sources[path] = f"derived: {base} value {op} volume_scale {s} ({scale['source']})"
                if path in ranges:  # the range keeps its source (and so its kind), scaled with it
                    low, high, why = ranges[path]
                    ranges[path] = (
                        low * factor,
                        high * factor,
                        f"{why}; {op} volume_scale {s}",
                    )
    for table, leaves in data.items():
        if table not in _TABLES:
            raise TwinParameterError(f"{file.name}: {_unknown(table, list(_TABLES), what='table')}")
        for leaf, entry in leaves.items():
            path = f"{table}.{leaf}"
            if leaf not in _TABLES[table].model_fields:
                raise TwinParameterError(f"{file.name}: {_unknown(path, list(_known_paths()))}")
            if not isinstance(entry, dict) or set(entry) not in (ENTRY_KEYS, ENTRY_KEYS | RANGE_KEYS):
                raise TwinParameterError(
                    f"{file.name}: {path} must be {{ value = ..., source = ..., range = [low, high], "
                    "range_source = ... }} (the range and its source together, or neither)"
                )
            values[path] = float(entry["value"])
            sources[path] = str(entry["source"])
            if "range" in entry:
                ranges[path] = _range(file.name, path, entry["range"], str(entry["range_source"]))
    return values, sources, ranges, meta


ENTRY_KEYS = frozenset({"value", "source"})
RANGE_KEYS = frozenset({"range", "range_source"})


def _range(file: str, path: str, span: object, source: str) -> Range:
    if not (isinstance(span, list) and len(span) == 2 and all(isinstance(x, int | float) for x in span)):
        raise TwinParameterError(f"{file}: {path}.range must be [low, high], two numbers")
    low, high = float(span[0]), float(span[1])
    if low > high:
        raise TwinParameterError(
            f"{file}: {path}.range [{low:g}, {high:g}] has its low end above its high end"
        )
    return low, high, source


def _known_paths() -> list[str]:
    return [f"{t}.{leaf}" for t, model in _TABLES.items() for leaf in model.model_fields]


def _resolve(key: str, paths: list[str]) -> str:
    if "__" in key:
        path = key.replace("__", ".", 1)
        if path in paths:
            return path
    else:
        matches = [p for p in paths if p.split(".")[1] == key]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise TwinParameterError(
                f"override {key!r} is ambiguous: use one of {[m.replace('.', '__') for m in matches]}"
            )
    raise TwinParameterError(_unknown(key, [p.replace(".", "__") for p in paths], what="override"))


def _unknown(name: str, known: list[str], what: str = "parameter") -> str:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    return f"unknown {what} {name!r}{hint}"

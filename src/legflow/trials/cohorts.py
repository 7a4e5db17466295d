"""Virtual cohorts: subjects of the leg twin sampled from documented priors (``cohorts.toml``).

A cohort names a base parameter set and a prior for each trait (age, leg size, oedema, venous
insufficiency, resting flow, posture); each trait maps onto documented twin parameters, and
``load_subject(base, **overrides)`` turns a sampled subject into a twin subject. Sampling is seeded
per subject and trait (``default_rng([seed, cohort, index, trait])``), so subject *i* of a seed is
the same person whatever the cohort size or chunking, and every run of the same seed is identical.
"""

from __future__ import annotations

import math
import tomllib
import zlib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from legflow.errors import LegflowError
from legflow.twin.model import POSTURES
from legflow.twin.subject import EXTENSIVE, INVERSE_EXTENSIVE, SEGMENT_NAMES, Subject, load_subject

#: The traits every cohort gives a prior for, in sampling order (a new trait goes last).
TRAITS = (
    "age_y",
    "leg_volume_scale",
    "oedema_mL_per_100mL",
    "venous_insufficiency",
    "resting_flow_scale",
    "posture",
)
DISTRIBUTIONS = ("fixed", "uniform", "lognormal", "bernoulli", "categorical")
#: Age at which the venous compliance starts to fall and the age of the older_adult set (×0.7).
COMPLIANCE_FULL_AGE_y, COMPLIANCE_OLD_AGE_y, COMPLIANCE_OLD_FACTOR = 30.0, 70.0, 0.7
#: Thigh oedema as a fraction of foot and calf oedema (the oedema set: 15 / 15 / 5).
THIGH_OEDEMA_FRACTION = 1.0 / 3.0
_MAX_REJECTIONS = 10_000


class CohortError(LegflowError):
    """An unknown cohort, or a cohort file that breaks its own rules."""


@dataclass(frozen=True)
class Prior:
    """One trait's distribution in one cohort, with where it comes from."""

    trait: str
    distribution: str
    params: dict[str, Any]
    source: str

    def bounds(self) -> tuple[float, float] | None:
        """The documented range of a numeric prior; None for posture."""
        p = self.params
        if self.distribution == "fixed":
            return (p["value"], p["value"])
        if self.distribution in ("uniform", "lognormal"):
            return (p["low"], p["high"])
        if self.distribution == "bernoulli":
            return (0.0, 1.0)
        return None

    def draw(self, rng: np.random.Generator) -> float | str:
        p, kind = self.params, self.distribution
        if kind == "fixed":
            return float(p["value"])
        if kind == "uniform":
            return float(rng.uniform(p["low"], p["high"]))
        if kind == "bernoulli":
            return float(rng.random() < p["p"])
        if kind == "categorical":
            names = list(p["choices"])
            weights = np.array([p["choices"][n] for n in names], dtype=float)
            return names[int(rng.choice(len(names), p=weights / weights.sum()))]
        for _ in range(_MAX_REJECTIONS):  # lognormal, truncated to its bounds
            x = float(p["median"] * math.exp(p["sigma"] * rng.standard_normal()))
            if p["low"] <= x <= p["high"]:
                return x
        raise CohortError(f"{self.trait}: bounds [{p['low']}, {p['high']}] hold almost none of the prior")


@dataclass(frozen=True)
class VirtualSubject:
    """One sampled person: traits, and the twin parameter overrides they imply (both legs alike)."""

    index: int
    base: str
    traits: dict[str, float | str]
    overrides: dict[str, float] = field(repr=False)

    @property
    def posture(self) -> str:
        return str(self.traits["posture"])

    def subject(self) -> Subject:
        return load_subject(self.base, **self.overrides)


@dataclass(frozen=True)
class Cohort:
    name: str
    description: str
    base: str
    priors: dict[str, Prior]

    def sample_one(self, seed: int, index: int) -> VirtualSubject:
        """Subject ``index`` of ``seed``: independent of how many others are drawn, and each trait
        from its own stream, so changing one prior leaves the other traits' draws alone."""
        key = zlib.crc32(self.name.encode())
        traits = {
            trait: self.priors[trait].draw(np.random.default_rng([seed, key, index, k]))
            for k, trait in enumerate(TRAITS)
        }
        return VirtualSubject(index, self.base, traits, trait_overrides(self.base, traits))

    def sample(self, n: int, seed: int = 0) -> list[VirtualSubject]:
        if n < 1:
            raise CohortError(f"a cohort needs at least 1 subject, got {n}")
        if seed < 0:
            raise CohortError(f"the seed must be 0 or more, got {seed}")
        return [self.sample_one(seed, i) for i in range(n)]


@cache
def _base_values(base: str) -> dict[str, float]:
    subject = load_subject(base)
    return {path: subject.value(path) for path, _ in subject.sources}


def compliance_factor(age_y: float) -> float:
    """Venous compliance relative to a young adult (see ``[trait.age_y]`` in cohorts.toml)."""
    span = COMPLIANCE_OLD_AGE_y - COMPLIANCE_FULL_AGE_y
    old = min(max((age_y - COMPLIANCE_FULL_AGE_y) / span, 0.0), 1.0)
    return 1.0 - (1.0 - COMPLIANCE_OLD_FACTOR) * old


def trait_overrides(base: str, traits: dict[str, float | str]) -> dict[str, float]:
    """``load_subject`` overrides (``segment__leaf``) for these traits on top of ``base``."""
    values = _base_values(base)
    scale = float(traits["leg_volume_scale"])
    compliance = compliance_factor(float(traits["age_y"]))
    oedema = float(traits["oedema_mL_per_100mL"])
    flow = float(traits["resting_flow_scale"])
    out: dict[str, float] = {}
    for seg in SEGMENT_NAMES:
        for leaf in EXTENSIVE:
            out[f"{seg}__{leaf}"] = values[f"{seg}.{leaf}"] * scale
        for leaf in INVERSE_EXTENSIVE:
            out[f"{seg}__{leaf}"] = values[f"{seg}.{leaf}"] / scale
        out[f"{seg}__venous_compliance_mL_per_mmHg"] *= compliance
        out[f"{seg}__microvascular_resistance_mmHg_s_per_mL"] /= flow
        if traits["venous_insufficiency"]:
            out[f"{seg}__valve_backflow_resistance_mmHg_s_per_mL"] = out[
                f"{seg}__venous_resistance_mmHg_s_per_mL"
            ]
        rest = values[f"{seg}.fluid_excess_at_rest_mL_per_100mL"]
        out[f"{seg}__fluid_excess_at_rest_mL_per_100mL"] = rest + oedema * (
            THIGH_OEDEMA_FRACTION if seg == "thigh" else 1.0
        )
    return out


@cache
def _data() -> dict[str, Any]:
    text = (resources.files("legflow.trials") / "cohorts.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def trait_notes() -> dict[str, dict[str, str]]:
    """Each trait's unit, what it maps to and the source of that mapping."""
    return {name: dict(entry) for name, entry in _data()["trait"].items()}


def cohort_names() -> list[str]:
    return sorted(_data()["cohort"])


@cache
def load_cohort(name: str) -> Cohort:
    """A built-in cohort; the file is checked as it is read (every trait, a source for every prior)."""
    cohorts = _data()["cohort"]
    if name not in cohorts:
        raise CohortError(f"unknown cohort '{name}' (one of: {', '.join(cohort_names())})")
    entry = dict(cohorts[name])
    description, base = entry.pop("description"), entry.pop("base")
    missing = [t for t in TRAITS if t not in entry]
    extra = [k for k in entry if k not in TRAITS]
    if missing or extra:
        raise CohortError(f"cohort '{name}': missing priors {missing}, unknown keys {extra}")
    priors = {}
    for trait in TRAITS:
        spec = dict(entry[trait])
        kind, source = spec.pop("distribution"), spec.pop("source", "")
        if kind not in DISTRIBUTIONS or not source:
            raise CohortError(
                f"cohort '{name}': {trait} needs a distribution in {DISTRIBUTIONS} and a source"
            )
        if trait == "posture" and (kind != "categorical" or not set(spec["choices"]) <= set(POSTURES)):
            raise CohortError(f"cohort '{name}': posture must be categorical over {POSTURES}")
        priors[trait] = Prior(trait, kind, spec, source)
    return Cohort(name, description, base, priors)

"""The evidence table (`benefits.toml`) against the reference table it is built from,
``../shared/reference/evidence.md`` (a copy is kept in ``tests/data/evidence.md`` so this runs in a
checkout without it). Grades, doses and sources match the reference, or the entry's ``departs``
field says where and why it departs; a ``departs`` that no longer departs is an error too."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from legflow.evidence import Benefit, benefits

HERE = Path(__file__).parent
VENDORED = HERE / "data" / "evidence.md"
SHARED = HERE.parent.parent / "shared"
REFERENCE = SHARED / "reference" / "evidence.md"

#: Each benefit's row of the reference (its first cell) and the grade as the row words it.
ROWS: dict[str, tuple[str, str]] = {
    "recovery.manual": ("recovery (DOMS, fatigue)", "A manual"),
    "recovery.pneumatic": ("recovery (DOMS, fatigue)", "B pneumatic"),
    "recovery.vibration": ("recovery (DOMS, fatigue)", "B pneumatic/vibration"),
    "circulation.pneumatic": ("circulation", "B pneumatic"),
    "circulation.manual": ("circulation", "D manual"),
    "lymph.pneumatic": ("lymph (swelling)", "B as adjunct"),
    "pain.stretching": ("pain: cramps", "C (stretching)"),
    "pain.manual": ("pain: shin splints, tendinitis, strains", "D"),
    "pre_sport.manual": ("pre_sport (injury prevention)", "C / D"),
    "pre_sport.injury": ("pre_sport (injury prevention)", "C / D"),
    "stress.manual": ("stress", "B"),
    "immune.manual": ("immune", "D"),
    "reflexology.rollers": ("reflexology", "C relaxation"),
    "reflexology.organs": ("reflexology", "D organ claims"),
    "sitting.movement": ("long sitting", "B"),
}
#: A dose quantity: "10–30 min", "2 h", "60–80 mmHg", "3 × 10 s", "50 s".
QUANTITY = re.compile(r"\d+(?:\s*[–-]\s*\d+)?(?:\s*×\s*\d+)?\s*(?:min|h|s|mmHg)\b")
#: A citation's first author and year: "Guo et al., Front Physiol 2017", "Guo J, Li L, ... 2017;8:747".
CITATION = re.compile(r"([A-Z][\w'-]+)\b.*?\b((?:19|20)\d\d)\b")


@dataclass(frozen=True)
class Row:
    goal: str
    grade: str
    dose: str
    sources: frozenset[tuple[str, str]]


def _cited(text: str) -> tuple[str, str] | None:
    found = CITATION.search(text)
    return (found[1], found[2]) if found else None


def reference_rows(text: str) -> dict[str, Row]:
    rows: dict[str, Row] = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 5 or cells[0] == "goal" or set(cells[0]) <= set("-: "):
            continue
        goal, _, grade, dose, sources = cells
        cited = {_cited(item) for item in sources.split(";")} - {None}
        rows[goal] = Row(goal, grade, "" if dose == "—" else dose, frozenset(cited))  # type: ignore[arg-type]
    return rows


def quantities(dose: str) -> list[str]:
    return [" ".join(q.split()) for q in QUANTITY.findall(dose)]


def departures(benefit: Benefit, row: Row) -> list[str]:
    """Where the benefit differs from its row: a dose quantity of the row it lacks, a number of its
    own dose the row does not give, a source the row does not cite ("Surname year")."""
    found: list[str] = []
    dose = " ".join(benefit.dose.split())
    if dose:
        for quantity in quantities(row.dose):
            if quantity.endswith("mmHg") and benefit.method != "pneumatic":
                continue  # the row's pressures are its pneumatic dose
            if quantity not in dose:
                found.append(quantity)
    for bounds, unit in [(benefit.dose_minutes, "min"), (benefit.dose_pressure_mmHg, "mmHg")]:
        if bounds:
            low, high = bounds
            span = f"{low:g}–{high:g} {unit}" if low != high else f"{low:g} {unit}"
            if span not in row.dose:
                found.append(span)
    for source in benefit.sources:
        cited = _cited(source)
        if cited and cited not in row.sources:
            found.append(" ".join(cited))
    return found


def _names(departs: str, departure: str) -> bool:
    """Whether a departs note names this departure (each of its words)."""
    return all(word in departs for word in departure.split())


@pytest.fixture(scope="module")
def rows() -> dict[str, Row]:
    return reference_rows(VENDORED.read_text(encoding="utf-8"))


def test_the_vendored_reference_is_the_shared_one():
    if not SHARED.is_dir():
        pytest.skip(f"no shared folder beside this checkout ({SHARED}): the vendored copy is used alone")
    assert REFERENCE.is_file(), f"{REFERENCE} is missing: the reference table moved; update this test"
    assert VENDORED.read_text(encoding="utf-8") == REFERENCE.read_text(encoding="utf-8"), (
        f"{VENDORED} differs from {REFERENCE}: copy it again and bring benefits.toml in line"
    )


def test_every_benefit_has_its_row_or_says_why_not(rows):
    assert {goal for goal, _ in ROWS.values()} == set(rows), "a reference row without a benefit"
    for benefit in benefits().values():
        if benefit.id not in ROWS:
            assert "not in evidence.md" in benefit.departs, f"{benefit.id}: say why it has no reference row"


@pytest.mark.parametrize("benefit_id", sorted(ROWS))
def test_the_grade_is_the_references(rows, benefit_id):
    goal, worded = ROWS[benefit_id]
    benefit = benefits()[benefit_id]
    assert worded in rows[goal].grade, f"the reference no longer grades {benefit_id} '{worded}'"
    assert benefit.grade in worded.split(), f"{benefit_id}: grade {benefit.grade}, reference '{worded}'"


@pytest.mark.parametrize("benefit_id", sorted(ROWS))
def test_dose_and_sources_match_the_reference_or_say_why_not(rows, benefit_id):
    benefit = benefits()[benefit_id]
    row = rows[ROWS[benefit_id][0]]
    found = departures(benefit, row)
    for departure in found:
        assert _names(benefit.departs, departure), f"{benefit_id} departs from the reference in '{departure}'"
    left_out = [" ".join(c) for c in row.sources - _cited_by_row(row)]
    if benefit.departs:
        assert found or any(_names(benefit.departs, d) for d in left_out), (
            f"{benefit_id}: its departs note names nothing that departs any more"
        )


def _cited_by_row(row: Row) -> set[tuple[str, str] | None]:
    return {_cited(s) for b in benefits().values() if ROWS.get(b.id, ("",))[0] == row.goal for s in b.sources}


def test_every_source_the_reference_cites_is_cited_or_its_absence_explained(rows):
    for row in rows.values():
        mine = [b for b in benefits().values() if ROWS.get(b.id, ("",))[0] == row.goal]
        for surname, year in row.sources - _cited_by_row(row):
            assert any(_names(b.departs, f"{surname} {year}") for b in mine), (
                f"'{row.goal}': the reference cites {surname} {year}; cite it or say why not"
            )


def test_a_verified_entry_has_no_unconfirmed_citation():
    for benefit in benefits().values():
        if benefit.verified:
            for source in benefit.sources:
                assert "not confirmed" not in source and "[" not in source, f"{benefit.id}: {source[:60]}"

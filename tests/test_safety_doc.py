"""docs/safety.md against the code: each number it shows is read from its one owner in the code, and
every message that cites the page points at a file the project has."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import legflow
from legflow.device import massager
from legflow.plan import compose
from legflow.programs import model
from legflow.safety import detectors, supervisor
from legflow.safety.limits import DEFAULT_LIMITS, DEFAULT_SOURCE
from legflow.screening.answers import _describe_limits
from legflow.screening.questions import QUESTIONS, ADULT_AGE_years

ROOT = Path(__file__).parent.parent
DOC = ROOT / "docs" / "safety.md"
#: What the doc's "in the code" column may name, and where it lives.
OWNERS = {"Limits": DEFAULT_LIMITS, "model": model, "compose": compose, "detectors": detectors,
          "supervisor": supervisor, "massager": massager}  # fmt: skip
CODE_REF = re.compile(r"^`(\w+)\.(\w+)`$")
NUMBER = r"-?\d+(?:\.\d+)?"


def table_rows(text: str) -> list[list[str]]:
    """The cells of every Markdown table row that is not a header rule."""
    rows = []
    for line in text.splitlines():
        if line.startswith("|") and not re.fullmatch(r"\|[-| ]+\|", line):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def code_value_rows() -> list[tuple[str, str, str]]:
    """(owner, name, shown value) of every row whose second cell names a value in the code."""
    found = []
    for cells in table_rows(DOC.read_text(encoding="utf-8")):
        m = CODE_REF.match(cells[1]) if len(cells) >= 3 else None
        if m:
            found.append((m.group(1), m.group(2), cells[2]))
    return found


def test_every_limit_of_the_defaults_is_on_the_page():
    named = {name for owner, name, _ in code_value_rows() if owner == "Limits"}
    numeric = {n for n, v in vars(DEFAULT_LIMITS).items() if isinstance(v, float)}
    assert numeric and numeric <= named


@pytest.mark.parametrize("owner, name, shown", code_value_rows(), ids=lambda x: str(x))
def test_each_number_on_the_page_is_the_codes(owner, name, shown):
    value = getattr(OWNERS[owner], name)
    values = value if isinstance(value, tuple) else (value,)
    numbers = [float(n) for n in re.findall(NUMBER, shown.replace("–", " "))]
    assert numbers == [float(v) for v in values], f"docs/safety.md shows {shown} for {owner}.{name} = {value}"


def test_the_page_has_the_tables_it_promises():
    owners = {owner for owner, _, _ in code_value_rows()}
    assert owners == set(OWNERS)


def test_numbers_with_units_appear_only_in_the_checked_tables():
    """Prose repeats no value of the code: a number there would drift from its owner unseen."""
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("|"):
            continue
        assert not re.search(rf"{NUMBER}\s*(mmHg|°C|min|ms|s)\b", line), line


def screening_rows() -> dict[str, list[str]]:
    rows = {}
    for cells in table_rows(DOC.read_text(encoding="utf-8")):
        m = re.fullmatch(r"`(\w+)`", cells[0])
        if m and len(cells) == 4:
            rows[m.group(1)] = cells
    return rows


@pytest.mark.parametrize("question", QUESTIONS, ids=lambda q: q.id)
def test_each_screening_question_is_on_the_page_with_its_action_and_limits(question):
    row = screening_rows().get(question.id)
    assert row is not None, f"{question.id} is missing from the screening table"
    assert row[2] == question.action.replace("_", " ")
    if question.limits:
        assert row[3] == _describe_limits(question.limits)
    if question.kind == "age":
        assert f"under {ADULT_AGE_years} years" in row[1]


def test_every_detector_is_described():
    text = DOC.read_text(encoding="utf-8")
    names = [*detectors.CELL_DETECTORS.values(), *(n for n, _ in detectors.HEATER_DETECTORS.values())]
    for name in names:
        assert f"`{name}`" in text, name


def test_messages_cite_the_page_the_project_has():
    cited = re.search(r"[\w/]+\.md", DEFAULT_SOURCE)
    assert cited is not None and (ROOT / cited.group()).is_file()
    package = Path(legflow.__file__).parent
    for path in package.rglob("*"):
        if path.suffix in (".py", ".toml", ".js", ".html") and path.is_file():
            for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                assert not re.search(r"(?<!docs/)\bsafety\.md", line), f"{path}:{lineno}: {line.strip()}"

"""The clinician's report (HTML, PDF rendered to pages and looked at) and its FHIR bundle, over a
sample record of real sessions: a clinician's plan, whole sessions, a garment taken off, a session
stopped, one cut by a power loss, a day missed, outcomes logged."""

from __future__ import annotations

import json
from datetime import UTC, date, timedelta

import numpy as np
import pypdfium2
import pytest
from fhir.resources.R4B.bundle import Bundle

from cli_helpers import run_cli
from legflow.apps import sample_record
from legflow.engine.session import COMMIT_EVERY_SESSION_s
from legflow.records.adherence import adherence
from legflow.records.dose import stored_dose
from legflow.records.outcomes import checked_outcome, record_outcome
from legflow.store import History
from legflow.store.history import history_path

FIRST = date(2026, 11, 16)
DAYS = 5  # whole, whole, whole, missed, whole; with EVENINGS shifted below
EVENINGS = {1: "garment_off", 2: "stopped", 3: "missed", 4: "power_loss"}
HOSTILE_NOTE = "<script>alert(1)</script> & <b>bold</b>"


pytestmark = [pytest.mark.usefixtures("local_utc"), pytest.mark.slow]  # a module fixture runs real sessions


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    """The sample record with the short program, built once for the module."""
    path = tmp_path_factory.mktemp("record") / "history.sqlite"
    saved = dict(sample_record.EVENINGS)
    sample_record.EVENINGS.clear()
    sample_record.EVENINGS.update(EVENINGS)
    try:
        sample_record.build(path, FIRST, days=DAYS, program="sitting-break", minutes=8)
    finally:
        sample_record.EVENINGS.clear()
        sample_record.EVENINGS.update(saved)
    history = History(path)
    try:
        at = f"{FIRST + timedelta(days=2)}T09:00:00+00:00"
        record_outcome(history, sample_record.USER, checked_outcome("swelling", 3, at=at, note=HOSTILE_NOTE))
    finally:
        history.close()
    return path


@pytest.fixture
def home_with(record, isolated_home):
    """The user's home holding the sample record as its history."""
    target = history_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(record.read_bytes())
    return target


def _cli(capsys, monkeypatch, *args):
    return run_cli(
        capsys,
        monkeypatch,
        "report",
        "--user",
        sample_record.USER,
        "--from",
        str(FIRST),
        "--to",
        str(FIRST + timedelta(days=DAYS - 1)),
        *args,
    )


def test_the_sample_record_holds_what_happened(home_with):
    reader = History(home_with, readonly=True)
    try:
        rows = sorted(reader.sessions(sample_record.USER), key=lambda r: r.id)
        assert [r.status for r in rows] == ["completed", "fault", "stopped", "interrupted"]
        counted = [stored_dose(reader, r.id).counted_s for r in rows]
    finally:
        reader.close()
    assert counted[0] == pytest.approx(480.0, abs=1.0)
    assert counted[1] == pytest.approx(0.25 * 480, abs=15.0)  # the garment came off at 25 %
    assert counted[2] == pytest.approx(0.5 * 480, abs=3.0)
    # up to its last commit before the power loss, at most COMMIT_EVERY_SESSION_s (+ a sample) before
    assert 0.6 * 480 - COMMIT_EVERY_SESSION_s - 1.0 <= counted[3] <= 0.6 * 480 + 1.0


def test_the_pdf_report_renders_its_pages(capsys, monkeypatch, home_with, tmp_path):
    out = tmp_path / "report.pdf"
    done = _cli(capsys, monkeypatch, "-o", str(out))
    assert done.code == 0 and "4 session(s), 5 outcome(s)" in done.err
    pdf = pypdfium2.PdfDocument(out)
    assert len(pdf) >= 2
    text = "\n".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    for expected in (
        "Compression therapy record",
        "set by Dr A. Example (invented) (clinician)",
        "garment_off left",
        "the session was interrupted",
        "Correlation is not proof",
        HOSTILE_NOTE,  # a user's note is text on the page, markup and all
    ):
        assert expected in " ".join(text.split()), expected
    for i in range(len(pdf)):
        page = np.asarray(pdf[i].render(scale=1.0).to_pil().convert("L"))
        inked = page < 200
        assert inked.mean() > 0.01, f"page {i + 1} is blank"
        margin = round(page.shape[1] * 10 / 210)  # the page's last 10 mm of A4's 210
        assert not inked[:, -margin:].any(), f"page {i + 1} runs into its right margin"


def test_the_html_report_shows_every_user_string_as_text(capsys, monkeypatch, home_with, tmp_path):
    out = tmp_path / "report.html"
    assert _cli(capsys, monkeypatch, "-o", str(out)).code == 0
    html = out.read_text()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in html
    assert html.count("<svg") == 2 and "Correlation is not proof" in html


def test_the_fhir_bundle_validates_and_holds_the_stored_numbers(capsys, monkeypatch, home_with, tmp_path):
    out = tmp_path / "bundle.json"
    assert _cli(capsys, monkeypatch, "--fhir", "-o", str(out)).code == 0
    data = json.loads(out.read_text())
    Bundle.model_validate(data)
    resources = [e["resource"] for e in data["entry"]]
    kinds = [r["resourceType"] for r in resources]
    assert kinds.count("Device") == 1
    assert kinds.count("Procedure") == kinds.count("DeviceUseStatement") == 4
    assert kinds.count("Observation") == 4 + 5  # minutes at pressure per session, each outcome
    assert "Patient" not in kinds
    reader = History(home_with, readonly=True)
    try:
        rows = sorted(reader.sessions(sample_record.USER), key=lambda r: r.id)
        minutes = [round(stored_dose(reader, r.id).counted_min, 1) for r in rows]
        record = adherence(reader, sample_record.USER, FIRST, FIRST + timedelta(days=DAYS - 1), UTC)
    finally:
        reader.close()
    observed = [
        r["valueQuantity"]["value"] for r in resources if r["resourceType"] == "Observation" and "partOf" in r
    ]
    assert observed == minutes
    assert sum(minutes) == pytest.approx(sum(d.done_min for d in record.days), abs=0.3)
    statuses = [r["status"] for r in resources if r["resourceType"] == "Procedure"]
    assert statuses == ["completed", "stopped", "stopped", "stopped"]
    swelling = next(r for r in resources if r.get("code", {}).get("text") == "swelling")
    assert swelling["valueQuantity"]["value"] == 3 and swelling["note"][0]["text"] == HOSTILE_NOTE


def test_a_bad_report_request_is_one_line(capsys, monkeypatch, home_with, tmp_path):
    wrong = _cli(capsys, monkeypatch, "-o", str(tmp_path / "report.docx"))
    assert wrong.code != 0 and ".html or .pdf" in wrong.err and len(wrong.err.strip().splitlines()) == 1
    backwards = run_cli(
        capsys,
        monkeypatch,
        "report",
        "--from",
        "2026-12-05",
        "--to",
        "2026-12-01",
        "-o",
        str(tmp_path / "r.pdf"),
    )
    assert backwards.code != 0 and "is after" in backwards.err
    assert not list(tmp_path.glob("*.pdf")) and not list(tmp_path.glob(".*part"))

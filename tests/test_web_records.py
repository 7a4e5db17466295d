"""A user's record on the dashboard: adherence, reminders, plan and outcomes through the REST API
of a real server on a loopback port (httpx) give what `legflow.records` gives the CLI, and the
Record view shows them in Chromium, every stored string as text."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from tests.web_helpers import TOKEN, Dashboard, running_dashboard

import legflow.web.api as web_api
from legflow.apps.launch import prepare_session
from legflow.programs.library import builtin_text
from legflow.records.adherence import adherence
from legflow.records.plan import parse_plan
from legflow.safety.limits import DEFAULT_LIMITS
from legflow.store import History

#: A sitting break each morning: one short real session does a day.
PLAN = """\
note = "a sitting break every morning"

[[session]]
program = "sitting-break"
minutes = 8
at = ["10:00"]
"""
BOUNDS = "\n[bounds]\nsession_min = [5, 30]\npressure_mmHg = { calf = [30, 45] }\n"
MONDAY = datetime(2026, 11, 30, tzinfo=UTC)
#: "Now" for the server: Wednesday 12:30, the morning's break not done yet.
NOW = MONDAY + timedelta(days=2, hours=12, minutes=30)
XSS = "<img src=x onerror=alert(1)>"

#: Real processes, servers, browsers or terminals: left out of the fast subset (README, testing).
pytestmark = [pytest.mark.system, pytest.mark.usefixtures("local_utc")]


def _run(history: History, program: str, started: datetime, inject: list[str] | None = None) -> int:
    """One real session on the simulated massager (virtual clock), then its start moved to
    `started` (the only thing a test cannot wait a day for)."""
    with prepare_session(program, limits=DEFAULT_LIMITS, history=history, fast=True, inject=inject) as launch:
        launch.session.run()
        session_id = launch.session.session_id
    assert session_id is not None
    history.db.execute("UPDATE sessions SET started_at = ? WHERE id = ?", (started.isoformat(), session_id))
    return session_id


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> Path:
    """A history with the plan set on Sunday, Monday's break done in full, Tuesday's cut short by
    the garment coming off after two minutes, nothing on Wednesday. Built once, copied per test."""
    home = tmp_path_factory.mktemp("recorded")
    path = home / "history.sqlite"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LEGFLOW_HOME", str(home))
        history = History(path)
        try:
            history.set_plan(
                "default", parse_plan(PLAN).model_dump(mode="json", by_alias=True), "default", "user"
            )
            history.db.execute("UPDATE plans SET at = ?", ((MONDAY - timedelta(days=1)).isoformat(),))
            _run(history, "sitting-break", MONDAY + timedelta(hours=10))
            _run(history, "sitting-break", MONDAY + timedelta(days=1, hours=10), ["garment_off:left@120"])
        finally:
            history.close()
    return path


@pytest.fixture
def at_now(monkeypatch):
    """The server's clock, set by the test."""

    def set_now(now: datetime) -> None:
        monkeypatch.setattr(web_api, "_now", lambda: now.astimezone())

    set_now(NOW)
    return set_now


@pytest.fixture
def dash(isolated_home, at_now) -> Iterator[Dashboard]:
    isolated_home.mkdir(parents=True, exist_ok=True)
    with running_dashboard(isolated_home) as dashboard:
        yield dashboard


@pytest.fixture
def client(dash) -> httpx.Client:
    """Carries the token as a Bearer header."""
    return dash.client


@pytest.fixture
def history_file(isolated_home, recorded) -> Path:
    isolated_home.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(recorded, isolated_home / "history.sqlite"))


def _expected_adherence(path: Path, weeks: int) -> dict:
    last = NOW.date()
    reader = History(path, readonly=True)
    try:
        return json.loads(
            json.dumps(adherence(reader, "default", last - timedelta(days=7 * weeks - 1), last).as_json())
        )
    finally:
        reader.close()


# -- adherence and reminders ------------------------------------------------------------------------
def test_adherence_is_what_the_records_package_says(client, history_file):
    for weeks in (1, 4):
        answer = client.get("/api/v1/users/default/adherence", params={"weeks": weeks})
        assert answer.status_code == 200
        assert answer.json() == _expected_adherence(history_file, weeks)
    shown = client.get("/api/v1/users/default/adherence").json()  # 4 weeks unless asked
    assert len(shown["days"]) == 28 and shown["days"][-1]["date"] == "2026-12-02"
    days = {d["date"]: d for d in shown["days"]}
    assert days["2026-11-30"]["met"] and days["2026-11-30"]["done_min"] == pytest.approx(8.0, abs=0.1)
    assert 1.0 <= days["2026-12-01"]["done_min"] <= 2.0 and not days["2026-12-01"]["met"]
    assert days["2026-12-02"] == {"date": "2026-12-02", "planned_min": 8.0, "done_min": 0.0, "met": False,
                                  "status": "not done yet today", "sessions": []}  # fmt: skip
    assert [days[d]["status"] for d in ("2026-11-28", "2026-11-30", "2026-12-01")] == [
        "nothing planned", "met", "partly done"
    ]  # fmt: skip
    assert days["2026-11-28"]["planned_min"] == 0  # before the plan
    assert shown["longest_streak_days"] == 1 and shown["streak_days"] == 0
    assert set(shown["zone_minutes_at_pressure"]) >= {"calf"}
    assert client.get("/api/v1/users/nobody/adherence").json()["streak_days"] == 0


@pytest.mark.parametrize(
    ("query", "says"), [("weeks=0", "weeks"), ("weeks=521", "weeks"), ("weeks=two", "weeks")]
)
def test_adherence_refuses_a_bad_range_in_one_line(client, query, says):
    answer = client.get(f"/api/v1/users/default/adherence?{query}")
    assert answer.status_code == 422 and says in answer.json()["detail"]
    assert "\n" not in answer.json()["detail"]


def test_reminders_say_what_is_overdue_and_what_comes_next(client, history_file, at_now):
    shown = client.get("/api/v1/users/default/reminders").json()
    assert shown["planned"] and shown["now"] == "2026-12-02T12:30:00+00:00"
    [due] = shown["overdue"]
    assert due == {"at": "2026-12-02T10:00:00+00:00", "program": "sitting-break", "minutes": 8.0,
                   "done": False,
                   "text": "sitting-break (8 min) at Wed 02 Dec 10:00, due since 2.5 h"}  # fmt: skip
    assert shown["next"]["at"] == "2026-12-03T10:00:00+00:00"
    assert shown["next"]["text"] == "sitting-break (8 min) at Thu 03 Dec 10:00, in 21.5 h"
    at_now(MONDAY + timedelta(hours=11))  # Monday's break was done: nothing overdue
    shown = client.get("/api/v1/users/default/reminders").json()
    assert shown["overdue"] == [] and shown["next"]["at"] == "2026-12-01T10:00:00+00:00"
    nobody = client.get("/api/v1/users/ann/reminders").json()
    assert nobody == {"now": nobody["now"], "planned": False, "overdue": [], "next": None}


# -- the plan -------------------------------------------------------------------------------------
def test_a_plan_is_set_refused_or_kept_with_who_set_it(client):
    put = lambda body: client.put("/api/v1/users/ann/plan", json=body)  # noqa: E731
    assert client.get("/api/v1/users/ann/plan").json() == {"user": "ann", "versions": []}

    bad = put({"toml": PLAN.replace("at = ", "att = ").replace("minutes = 8", "minutes = 0")})
    assert bad.status_code == 422
    body = bad.json()
    assert body["detail"] == "2 problem(s) in the plan"
    assert [p["text"].split(":")[:3] for p in body["problems"]] == [
        ["plan.toml", "5", " session[1].minutes"],
        ["plan.toml", "6", " session[1].att"],
    ]
    assert "did you mean 'at'" in body["problems"][1]["text"]
    assert put({"toml": "not = [toml"}).status_code == 422

    first = put({"toml": PLAN + BOUNDS, "clinician": "Dr Lee"})
    assert first.status_code == 200
    version = first.json()
    assert (version["set_by"], version["role"]) == ("Dr Lee", "clinician")
    assert version["lines"] == ["sitting-break: 8 min, daily, at 10:00"]
    assert version["plan"]["bounds"]["pressure_mmHg"] == {"calf": [30, 45]}

    looser = put({"toml": PLAN + BOUNDS.replace("[30, 45]", "[30, 80]"), "clinician": None})
    assert looser.status_code == 403
    assert "set by Dr Lee (clinician)" in looser.json()["detail"] and "\n" not in looser.json()["detail"]
    later = put({"toml": PLAN.replace("10:00", "11:00") + BOUNDS})  # the sessions are the user's
    assert later.status_code == 200 and later.json()["role"] == "user" and later.json()["set_by"] == "ann"
    assert (
        put({"toml": PLAN + BOUNDS.replace("[30, 45]", "[30, 80]"), "clinician": "Dr Lee"}).status_code == 200
    )

    versions = client.get("/api/v1/users/ann/plan").json()["versions"]
    assert [(v["set_by"], v["role"]) for v in versions] == [
        ("Dr Lee", "clinician"), ("ann", "user"), ("Dr Lee", "clinician")
    ]  # fmt: skip
    assert versions[1]["plan"]["session"][0]["at"] == ["11:00"]
    assert client.get("/api/v1/users/default/plan").json()["versions"] == []  # someone else's


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"toml": PLAN, "clinician": "Dr\x1b[2J Lee"}, "clinician: a name is 1-80 printable characters"),
        ({"toml": PLAN, "clinician": " "}, "clinician: a name is 1-80 printable characters"),
        ({"toml": PLAN, "by": "me"}, "by: Extra inputs are not permitted"),
        ({}, "toml: Field required"),
    ],
)
def test_a_bad_plan_request_is_422_with_one_line(client, body, says):
    answer = client.put("/api/v1/users/ann/plan", json=body)
    assert answer.status_code == 422 and answer.json()["detail"] == says


def test_a_plan_names_programs_never_files(client, tmp_path):
    """A plan's program is a built-in or saved program's name: a path, to a file that exists or
    not, is refused alike (the answer tells nothing of the server's files), and is never stored
    (a session's label is a name, so adherence could never count it)."""
    real = tmp_path / "sitting-break.toml"
    real.write_text(builtin_text("sitting-break"))
    answers = [
        client.put("/api/v1/users/ann/plan", json={"toml": PLAN.replace('"sitting-break"', f'"{where}"')})
        for where in (real.as_posix(), "/etc/hostname", "/no/such/file.toml")
    ]
    for answer, where in zip(answers, (real.as_posix(), "/etc/hostname", "/no/such/file.toml"), strict=True):
        assert answer.status_code == 422, answer.text
        assert answer.json()["problems"] == [{
            "file": "plan.toml", "line": 4, "field": "session[1].program", "message": (
                f"'{where}' is not the name of a built-in or saved program (see: legflow programs); "
                "a plan names programs, not files"
            ), "text": answer.json()["problems"][0]["text"],
        }]  # fmt: skip
    assert client.get("/api/v1/users/ann/plan").json()["versions"] == []


# -- outcomes -------------------------------------------------------------------------------------
def test_outcomes_are_checked_stored_and_given_back_as_data(client):
    measures = {m["name"]: m for m in client.get("/api/v1/measures").json()}
    assert measures["circumference_cm"]["needs_site"] and not measures["soreness"]["needs_site"]
    assert measures["soreness"] == {"name": "soreness", "unit": "0-10", "low": 0, "high": 10,
                                    "needs_site": False, "says": measures["soreness"]["says"]}  # fmt: skip
    log = lambda body: client.post("/api/v1/users/default/outcomes", json=body)  # noqa: E731
    first = log({"measure": "circumference_cm", "value": 36.5, "site": "left.calf", "at": "2026-12-01T08:00"})
    assert first.status_code == 201
    assert first.json() == {"at": "2026-12-01T08:00:00+00:00", "measure": "circumference_cm",
                            "site": "left.calf", "value": 36.5, "unit": "cm", "note": ""}  # fmt: skip
    script = "<script>alert('x')</script> & \"quotes\""
    assert log({"measure": "soreness", "value": 4, "note": script}).status_code == 201
    listed = client.get("/api/v1/users/default/outcomes")
    assert listed.headers["content-type"] == "application/json"
    assert [(o["measure"], o["site"], o["value"]) for o in listed.json()] == [
        ("circumference_cm", "left.calf", 36.5),
        ("soreness", "", 4.0),
    ]
    assert listed.json()[1]["note"] == script
    assert client.get("/api/v1/users/ann/outcomes").json() == []


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"measure": "circumference_cm", "value": 36.5}, "circumference_cm needs --site"),
        (
            {"measure": "circumference_cm", "value": 36.5, "site": "left.elbow"},
            "circumference_cm needs --site",
        ),
        ({"measure": "sleep_h", "value": 7, "site": "left.calf"}, "sleep_h takes no site"),
        ({"measure": "soreness", "value": 11}, "soreness 11 is out of range: 0-10"),
        ({"measure": "mood", "value": 3}, "unknown measure 'mood'"),
        ({"measure": "soreness", "value": 2, "at": "yesterday"}, "expected a date and time"),
        ({"measure": "soreness", "value": 2, "note": "x" * 501}, "note: at most 500 characters"),
        ({"measure": "soreness"}, "value: Field required"),
        ({"measure": "soreness", "value": "four"}, "value: Input should be a valid number"),
        ({"measure": "x" * 65, "value": 1}, "measure: String should have at most 64 characters"),
    ],
)
def test_a_bad_outcome_is_422_with_what_is_wrong_and_nothing_is_stored(client, body, says):
    answer = client.post("/api/v1/users/default/outcomes", json=body)
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert says in detail and "\n" not in detail and "Traceback" not in answer.text
    assert client.get("/api/v1/users/default/outcomes").json() == []


def test_a_not_a_number_value_is_refused(client):
    answer = client.post(
        "/api/v1/users/default/outcomes",
        content=b'{"measure": "soreness", "value": NaN}',
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 422


# -- every record route ----------------------------------------------------------------------------
RECORD_ROUTES = ["adherence", "reminders", "plan", "outcomes"]


@pytest.mark.parametrize("route", RECORD_ROUTES)
def test_a_bad_user_name_is_422_and_no_token_is_401(client, route):
    answer = client.get(f"/api/v1/users/..%2Fetc/{route}")
    assert answer.status_code in (404, 422)
    answer = client.get(f"/api/v1/users/-ann/{route}")
    assert answer.status_code == 422 and answer.json()["detail"].startswith("user: a user name is 1-48")
    assert client.get(f"/api/v1/users/{'a' * 49}/{route}").status_code == 422
    assert (
        client.get(f"/api/v1/users/ann/{route}", headers={"Authorization": "Bearer wrong"}).status_code == 401
    )
    assert client.get("/api/v1/measures", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_a_damaged_history_is_503_in_one_line(client, isolated_home):
    (isolated_home / "history.sqlite").write_bytes(b"not a history at all" * 100)
    for route in RECORD_ROUTES:
        answer = client.get(f"/api/v1/users/default/{route}")
        assert answer.status_code == 503 and "\n" not in answer.json()["detail"]
        assert str(isolated_home) not in answer.text and "history.sqlite" in answer.text
    answer = client.post("/api/v1/users/default/outcomes", json={"measure": "soreness", "value": 3})
    assert answer.status_code == 503


# -- the Record view in Chromium -------------------------------------------------------------------
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def test_the_record_view_shows_the_calendar_and_logs_outcomes_as_text(dash, history_file, at_now):
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        if os.environ.get("LEGFLOW_REQUIRE_BROWSER"):
            raise RuntimeError(
                f"no Chromium at {CHROMIUM}: install Debian's chromium (apt-get install chromium)"
            )
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from tests.test_web_browser import CHROMIUM_ARGS, _shot

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        dialogs: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        refused: list[str] = []  # what the Content-Security-Policy blocked
        page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
        page.clock.install()  # the page's timers: the reminders' poll runs when the test says
        page.goto(f"{dash.url}/login?token={TOKEN}")
        page.goto(f"{dash.url}/#/record")
        page.wait_for_selector("[data-loaded=true]")

        calendar = page.locator("#calendar")
        assert calendar.locator(".day[data-date='2026-11-30']").get_attribute("class") == "day met"
        assert calendar.locator(".day[data-date='2026-12-01']").get_attribute("class") == "day partly"
        assert calendar.locator(".day[data-date='2026-12-02']").get_attribute("class") == "day missed today"
        assert calendar.locator(".day[data-date='2026-11-28']").get_attribute("class") == "day none"
        assert calendar.locator(".day.met").count() == 1
        monday = calendar.locator(".day[data-date='2026-11-30']")
        assert "8/8 min" in monday.inner_text()
        assert monday.get_attribute("title").startswith("Mon 2026-11-30: 8 of 8 min done, met; session(s) 1")
        assert "longest 1" in page.locator("#streaks").inner_text()
        assert "calf" in page.locator("#zone-minutes").inner_text()
        assert "Due: sitting-break (8 min) at Wed 02 Dec 10:00" in page.locator("#overdue").inner_text()
        assert (
            "Next: sitting-break (8 min) at Thu 03 Dec 10:00" in page.locator("#next-reminder").inner_text()
        )
        assert "Set by default (user)" in page.locator("#plan-set-by").inner_text()
        assert page.locator("#plan-lines li").all_inner_texts() == ["sitting-break: 8 min, daily, at 10:00"]
        assert "null" not in page.locator("#plan").inner_text()

        at_now(NOW + timedelta(hours=22))  # Thursday 10:30: the page asks again within a minute
        page.clock.fast_forward(60_000)
        page.wait_for_selector("#overdue:has-text('at Thu 03 Dec 10:00, due since 30 min')")
        assert (
            "Next: sitting-break (8 min) at Fri 04 Dec 10:00" in page.locator("#next-reminder").inner_text()
        )
        assert len(dash.client.get("/api/v1/history").json()) == 2 and not dash.manager.running  # told only
        _shot(page, "record")

        # a measure that needs a site shows the site field; the API's refusal shows as text
        page.select_option("#measure", "circumference_cm")
        assert page.locator("#site").is_visible()
        page.fill("#value", "36.5")
        page.click("#log-outcome")
        page.wait_for_selector("#outcome-error:has-text('needs --site')")
        page.fill("#site", "left.calf")
        page.click("#log-outcome")
        page.wait_for_selector("#outcomes td:has-text('left.calf')")
        assert page.locator("#outcome-error").inner_text() == ""

        page.select_option("#measure", "soreness")
        assert not page.locator("#site").is_visible()
        page.fill("#value", "4")
        page.fill("#note", XSS)
        page.click("#log-outcome")
        page.wait_for_selector("#outcomes td.note:has-text('onerror')")
        note = page.locator("#outcomes td.note").first  # newest first
        assert note.inner_text() == XSS
        assert note.evaluate("td => td.children.length") == 0  # text, no element made of it
        assert page.locator("#outcomes img").count() == 0
        stored = dash.client.get("/api/v1/users/default/outcomes").json()
        assert [(o["measure"], o["note"]) for o in stored] == [("circumference_cm", ""), ("soreness", XSS)]
        _shot(page, "record-outcomes")
        page.set_viewport_size({"width": 390, "height": 844})  # a phone: the calendar scrolls in its card
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        _shot(page, "phone-record")
        browser.close()
    assert not errors and not dialogs and not refused

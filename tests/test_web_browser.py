"""The dashboard in a real browser: Playwright driving Debian's Chromium against a real server.

Screenshots of each step are kept in ``artifacts/screenshots/`` (``LEGFLOW_ARTIFACTS`` moves it).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from tests.evidence_helpers import PINNED
from tests.web_helpers import SHORT_PROGRAM, TOKEN, running_dashboard

from legflow.device.profile import load_profile

#: Real processes, servers, browsers or terminals: left out of the fast subset (README, testing).
pytestmark = pytest.mark.system

playwright = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("LEGFLOW_ARTIFACTS", Path(__file__).parent.parent / "artifacts"))
SCREENSHOTS = ARTIFACTS / "screenshots"
#: Two holds: the cells are full when each phase ends.
TWO_HOLDS = (Path(__file__).parent / "programs" / "two-holds.toml").read_text()
PHONE = {"width": 390, "height": 844}
#: As the machine's probe starts it: no sandbox as root, and no background calls to a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip

if not Path(CHROMIUM).exists():
    if os.environ.get("LEGFLOW_REQUIRE_BROWSER"):  # CI installs it: there a missing browser is a failure
        raise RuntimeError(f"no Chromium at {CHROMIUM}: install Debian's chromium (apt-get install chromium)")
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def dash(isolated_home):
    with running_dashboard(isolated_home) as dashboard:
        dashboard.client.put("/api/v1/programs/short-test", json={"toml": SHORT_PROGRAM})
        dashboard.client.put("/api/v1/programs/two-holds", json={"toml": TWO_HOLDS})
        yield dashboard


@pytest.fixture
def page(browser, dash):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{dash.url}/login?token={TOKEN}")
    yield page
    context.close()
    assert not errors, f"the page threw: {errors}"


def _shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_without_the_token_the_page_asks_to_log_in(browser, dash):
    context = browser.new_context()
    page = context.new_page()
    page.goto(dash.url)
    assert page.locator("input[name=token]").is_visible()
    page.fill("input[name=token]", TOKEN)
    page.click("text=Log in")
    page.wait_for_selector("#library")
    context.close()


#: Each library row's name, grade and the note beside the grade, as the page shows them.
LIBRARY_GRADES = """() => Object.fromEntries([...document.querySelectorAll('#library tr.click')].map((tr) =>
  [tr.querySelector('td .muted').textContent,
   [tr.querySelector('.grade').textContent, tr.querySelector('.grade-note')?.textContent ?? '']]))"""


def test_library_filters_by_goal_and_shows_grades(page, dash):
    page.wait_for_selector("#library")
    api = {p["name"]: [p["grade"], p["grade_note"]] for p in dash.client.get("/api/v1/programs").json()}
    assert page.evaluate(LIBRARY_GRADES) == api
    pinned = {**{name: list(graded) for name, graded in PINNED.items()}, "short-test": ["B", ""]}
    assert {name: api[name] for name in pinned} == pinned
    page.select_option("#goal-filter", "lymph")
    page.wait_for_selector("#library[data-goal=lymph]")
    goals = page.locator("#library tr td:nth-child(2)").all_inner_texts()
    assert goals and set(goals) == {"lymph"}
    _shot(page, "library-lymph")


def test_a_program_page_shows_the_grade_and_note_the_api_gives(page, dash):
    for name in ("pre-sport", "self-massage-calves", "recovery"):
        detail = dash.client.get(f"/api/v1/programs/{name}").json()
        page.goto(f"{dash.url}/#/program/{name}")
        page.wait_for_selector(f"h1:has-text('{detail['title']}') .grade")
        assert page.locator("h1 .grade").text_content() == detail["grade"] == PINNED[name][0]
        note = page.locator("h1 .grade-note")
        assert (note.text_content() if note.count() else "") == detail["grade_note"] == PINNED[name][1]


def test_session_colours_the_legs_then_emergency_stop_reaches_the_safe_state(page, dash):
    page.goto(f"{dash.url}/#/program/short-test")
    page.wait_for_selector("#evidence .grade")
    assert page.locator("canvas.chart").count() == 1  # the phase's timeline
    page.select_option("#subject-right", "oedema")  # a healthy left leg, an oedematous right one
    page.click("#start")
    page.wait_for_function("() => location.hash === '#/live'")
    assert dash.manager._launch.session.twin.subject_name == "adult,oedema"
    foot = page.locator("[id='cell-left.foot']")
    foot.wait_for()
    empty = foot.get_attribute("fill")
    page.wait_for_function(
        "() => Number(document.getElementById('cell-left.foot').dataset.pressure) > 20", timeout=15_000
    )
    assert foot.get_attribute("fill") != empty  # the cell filled with colour
    assert "left" in page.locator("#twin").inner_text()
    _shot(page, "live-squeezing")

    page.click("#estop")
    page.wait_for_selector("#safe-state", timeout=5_000)
    # pump off, vents open: the device's safe state (the massager behind the supervisor)
    assert dash.manager._launch.supervisor._massager.relay_open
    assert "Safe state" in page.locator("#safe-state").inner_text()
    page.wait_for_selector("#ended a", timeout=10_000)
    _shot(page, "live-emergency-stop")

    page.click("#ended a")
    page.wait_for_selector("#history-pressure")
    assert page.locator("#history-twin").count() == 1
    assert page.locator("#export-csv").get_attribute("href").endswith("format=csv")
    with page.expect_download() as download:
        page.click("#export-csv")
    assert Path(download.value.path()).read_text().startswith("t_s,left.foot_mmHg")
    _shot(page, "history-session")
    page.goto(f"{dash.url}/#/history")
    page.wait_for_selector("#history .status-stopped")


def test_emergency_stop_works_while_the_page_is_busy(page, dash):
    """A page flooding the server with requests and redrawing at 50 Hz must not delay the stop."""
    page.goto(f"{dash.url}/#/program/short-test")
    page.click("#start")
    page.wait_for_function(
        "() => Number(document.getElementById('cell-left.foot')?.dataset.pressure) > 10", timeout=15_000
    )
    page.evaluate("for (let i = 0; i < 60; i++) fetch('/api/v1/history/1/export?format=csv')")
    page.click("#estop")
    page.wait_for_selector("#safe-state", timeout=5_000)
    assert dash.manager._launch.supervisor._massager.relay_open


#: Records, on every change of the live view, the time, the highest cell pressure drawn, the
#: outcome's text and the status line; and the time the emergency stop was pressed.
WATCH_THE_LIVE_VIEW = """() => {
  window.seen = [];
  const record = () => {
    const cells = [...document.querySelectorAll('#legs .cell')].map((c) => Number(c.dataset.pressure));
    window.seen.push({ t: performance.now(), max: Math.max(...cells),
      outcome: document.querySelector('#outcome').textContent,
      status: document.querySelector('#live-status').textContent });
  };
  new MutationObserver(record).observe(document.querySelector('#view'),
    { subtree: true, attributes: true, childList: true, characterData: true });
  document.querySelector('#estop').addEventListener('pointerdown',
    () => { window.pressedAt = performance.now(); }, { capture: true });
}"""


def _start(page, dash, program: str) -> None:
    page.goto(f"{dash.url}/#/program/{program}")
    page.click("#start")
    page.wait_for_function("() => location.hash === '#/live'")
    page.locator("[id='cell-left.foot']").wait_for()


def _stop_two_holds_when_full(page, dash, button: str, timeout_ms: int) -> None:
    """Start the two-holds program, watch the live view once the left foot is full, press
    ``button`` (a stop) and wait for the page to say the session ended."""
    _start(page, dash, "two-holds")
    page.wait_for_function(
        "() => Number(document.getElementById('cell-left.foot').dataset.pressure) > 40", timeout=15_000
    )
    page.evaluate(WATCH_THE_LIVE_VIEW)
    page.click(button)
    page.wait_for_selector("#ended", timeout=timeout_ms)


def test_after_the_emergency_stop_the_page_shows_the_cells_venting_until_they_are_empty(page, dash):
    _stop_two_holds_when_full(page, dash, "#estop", 10_000)
    seen, pressed = page.evaluate("[window.seen, window.pressedAt]")
    after = [s for s in seen if s["t"] >= pressed]
    assert after and after[0]["max"] > 30  # full when the stop was pressed
    # the page follows the sensed pressures down, saying so, and says "vented" only once they are low
    assert any("venting" in s["outcome"] and s["max"] >= 5 for s in after)
    low = next(s for s in after if s["max"] < 5)
    assert low["t"] - pressed < 1000
    claimed = [s for s in after if "every cell vented" in s["outcome"]]
    assert claimed and all(s["max"] < 3 for s in claimed)
    assert "every cell vented" in page.locator("#outcome").inner_text()
    _shot(page, "live-emergency-stop-vented")


def test_a_stop_says_stopping_and_stays_on_the_phase_it_stopped_in(page, dash):
    _stop_two_holds_when_full(page, dash, "#stop", 15_000)
    statuses = {s["status"] for s in page.evaluate("window.seen")}
    assert "Two holds: stopping" in statuses and not any("paused" in s for s in statuses)
    assert page.locator("#live-status").inner_text() == "Two holds: stopped"
    assert page.locator("#phase").inner_text().startswith("first hold · ended at")
    assert "Rest your legs flat." in page.locator("#guide").inner_text()


def test_the_pressure_legend_lists_every_drawn_cell(page, dash):
    cells = load_profile("reference").cell_names()
    _start(page, dash, "short-test")
    page.wait_for_selector("#pressure-legend span")
    assert page.locator("#pressure-legend span").all_inner_texts() == cells
    page.click("#estop")
    page.wait_for_selector("#ended a", timeout=10_000)
    page.click("#ended a")
    page.wait_for_selector("#history-legend span")
    assert page.locator("#history-legend span").all_inner_texts() == cells
    _shot(page, "history-legend")


def _fits_the_phone(page) -> None:
    box = page.locator("#estop").bounding_box()
    assert box and box["x"] >= 0 and box["y"] >= 0
    assert box["x"] + box["width"] <= PHONE["width"] and box["y"] + box["height"] <= PHONE["height"]
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_on_a_phone_the_stop_button_and_every_page_fit_the_screen(browser, dash):
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(f"{dash.url}/login?token={TOKEN}")
    page.wait_for_selector("#library")
    _fits_the_phone(page)
    _shot(page, "phone-library")
    for view, ready in [("#/program/recovery", "#evidence .grade"), ("#/editor/recovery", "#verdict"),
                        ("#/screening", "#screening-form")]:  # fmt: skip
        page.goto(f"{dash.url}/{view}")
        page.wait_for_selector(ready)
        _fits_the_phone(page)
    _start(page, dash, "short-test")
    page.wait_for_selector("#pressure-legend span")
    _fits_the_phone(page)
    _shot(page, "phone-live")
    page.click("#estop")
    page.wait_for_selector("#ended a", timeout=10_000)
    _fits_the_phone(page)
    page.click("#ended a")
    page.wait_for_selector("#events")
    _fits_the_phone(page)
    page.goto(f"{dash.url}/#/history")
    page.wait_for_selector("#history")
    _fits_the_phone(page)
    _shot(page, "phone-history")
    context.close()


def test_editor_marks_problem_lines_and_saves_a_valid_program(page, dash):
    page.goto(f"{dash.url}/#/editor")
    page.wait_for_selector("#toml")
    page.fill("#toml", SHORT_PROGRAM.replace('goal = "circulation"', 'goal = "circulatio"'))
    page.wait_for_selector("#problems li")
    assert "line 4: program.goal" in page.locator("#problems li").first.inner_text()
    assert page.locator(".gutter .bad").inner_text() == "4"
    _shot(page, "editor-problem")
    page.fill("#save-name", "broken")
    page.click("#save")
    page.wait_for_selector("#saved.error")

    page.fill("#toml", SHORT_PROGRAM)
    page.wait_for_selector("#verdict.ok")
    page.fill("#e-pressure_mmHg", "40")
    page.click("#edit-form button")
    page.wait_for_function("() => document.querySelector('#toml').value.includes('pressure_mmHg = 40')")
    page.fill("#save-name", "gentler")
    page.click("#save")
    page.wait_for_selector("#saved.ok")
    assert "gentler" in [p["name"] for p in dash.client.get("/api/v1/programs").json()]


def test_screening_form_stores_answers_and_shows_decisions(page, dash):
    page.goto(f"{dash.url}/#/screening")
    page.wait_for_selector("#screening-form")
    for radio in page.locator("input[type=radio][value=no]").all():
        radio.check()
    page.locator("input[name=varicose_veins][value=yes]").check()
    page.click("#screening-form button[type=submit]")
    page.wait_for_selector("#screening-result li")
    assert "varicose" in page.locator("#screening-result").inner_text().lower()
    assert dash.client.get("/api/v1/screening/default").json()["answers"]["varicose_veins"] is True
    _shot(page, "screening")


def test_the_start_form_shows_how_the_program_runs_on_the_device_chosen_and_the_live_view_lists_it(
    page, dash
):
    """Choosing a device shows the program as that device runs it: as written, adapted with each
    change (the API's, which are `legflow check --profile`'s), or refused with the reason; a
    session started adapted lists its changes on the live view."""
    page.goto(f"{dash.url}/#/program/recovery")
    page.wait_for_selector("#on-device.runs")
    page.select_option("#profile", "recovery-boots")
    page.wait_for_selector("#on-device.adapted")
    changes = dash.client.get("/api/v1/programs/recovery/on-device", params={"profile": "recovery-boots"})
    assert page.locator("#on-device li").all_inner_texts() == changes.json()["changes"]
    page.goto(f"{dash.url}/#/program/lymph")
    page.wait_for_selector("#on-device.runs")
    page.select_option("#profile", "calf-sleeve")
    page.wait_for_selector("#on-device.refused")
    assert "a lymph program needs the thigh" in page.locator("#on-device li").first.inner_text()
    _shot(page, "program-on-a-device-refused")

    page.goto(f"{dash.url}/#/program/recovery")
    page.wait_for_selector("#on-device.runs")
    page.select_option("#profile", "calf-sleeve")
    page.wait_for_selector("#on-device.adapted")
    page.click("#start")
    page.wait_for_function("() => location.hash === '#/live'")
    page.wait_for_selector("#adapted li")
    listed = page.locator("#adapted li").all_inner_texts()
    assert listed == [f"adapted to calf-sleeve: {c}" for c in dash.manager._launch.changes]
    assert any("thigh dropped" in line for line in listed)
    _shot(page, "live-adapted")
    page.click("#estop")
    page.wait_for_selector("#safe-state", timeout=5_000)


def test_the_live_view_raises_the_level_boosts_and_pauses_a_zone(page, dash):
    """The live view's intensity buttons reach the running session: each press is what the API
    does, shown back on the page from the session's own state, and kept as events."""
    _start(page, dash, "two-holds")
    page.wait_for_selector("#level-up")
    page.click("#level-up")
    page.wait_for_function("() => document.getElementById('intensity-text').textContent.includes('level +1')")
    page.wait_for_function(
        "() => document.getElementById('intensity-cost').textContent.includes('the twin gives')"
    )
    assert "the program as written" in page.locator("#intensity-cost").inner_text()
    page.click("#boost-calf")
    page.wait_for_function(
        "() => document.getElementById('intensity-text').textContent.includes('calf boosted')"
    )
    page.click("#pause-foot")
    page.wait_for_function(
        "() => document.getElementById('intensity-text').textContent.includes('paused: foot')"
    )
    assert dash.manager._launch.session.control.intensity.paused == {"foot"}
    _shot(page, "live-intensity")
    page.click("#estop")
    page.wait_for_selector("#safe-state", timeout=5_000)
    session_id = dash.manager._launch.session.session_id
    page.wait_for_selector("#ended a", timeout=10_000)
    events = dash.client.get(f"/api/v1/history/{session_id}").json()["events"]
    changes = [e["detail"] for e in events if e["kind"] == "intensity"]
    assert changes == [
        "level +1 (110% of the program's pressures)",
        "level +1 (110% of the program's pressures); calf boosted +10 mmHg",
        "level +1 (110% of the program's pressures); calf boosted +10 mmHg; paused: foot",
    ]


def test_a_lost_link_is_not_shown_as_cells_that_did_not_vent(page, dash):
    """After the link is lost the last readings are old: the page says so, and that the device
    vents on its own watchdog, not that a cell "still reads" what it read before."""
    start = dash.manager.start
    dash.manager.start = lambda options: start(replace(options, inject=("link_loss@4",), fit="skip"))
    page.goto(f"{dash.url}/#/program/short-test")
    page.wait_for_selector("#on-device.runs")
    page.click("#start")
    page.wait_for_selector("#safe-state", timeout=15_000)
    page.wait_for_function("() => !document.getElementById('vent-state')?.textContent.includes('venting…')",
                           timeout=15_000)  # fmt: skip
    said = page.locator("#vent-state").inner_text()
    assert "no readings since the link to the massager was lost" in said and "still reads" not in said, said


def test_a_garment_that_does_not_fit_is_shown_before_the_start_and_needs_consent(page, dash):
    """The start form runs the fit check: a loose calf strap is shown with what to do, and only
    "Start anyway" starts the session."""
    start = dash.manager.start
    dash.manager.start = lambda options: start(replace(options, inject=("garment_loose:left.calf@0",)))
    page.goto(f"{dash.url}/#/program/short-test")
    page.wait_for_selector("#on-device.runs")
    page.click("#start")
    page.wait_for_selector("#fit-report li.fit-loose")
    assert page.locator("#fit-report li").all_inner_texts() == ["left.calf: loose — tighten the calf strap"]
    assert not dash.manager.running
    _shot(page, "program-fit-check-loose")
    page.click("#start-anyway")
    page.wait_for_function("() => location.hash === '#/live'")
    assert dash.manager._launch.session.fit["left.calf"][0] == "loose"
    page.click("#estop")
    page.wait_for_selector("#safe-state", timeout=5_000)

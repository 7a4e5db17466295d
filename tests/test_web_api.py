"""The dashboard's REST API and WebSocket, against a real server on a loopback port (httpx and the
websockets client), and its token auth from a real `legflow serve` process."""

from __future__ import annotations

import json

import httpx
import pytest
from tests.evidence_helpers import PINNED
from tests.web_helpers import SHORT_PROGRAM, TOKEN, reachable, running_dashboard, serve, until
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from legflow.device.profile import load_profile
from legflow.errors import ProgramError
from legflow.plan import check_text
from legflow.programs.library import user_folder
from legflow.safety.limits import DEFAULT_LIMITS

#: Real processes, servers, browsers or terminals: left out of the fast subset (README, testing).
pytestmark = pytest.mark.system


@pytest.fixture
def dash(isolated_home):
    with running_dashboard(isolated_home) as dashboard:
        yield dashboard


def _ws(dash, **headers):
    return connect(
        dash.url.replace("http", "ws") + "/api/v1/live", additional_headers=headers, open_timeout=10
    )


# -- auth ------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/api/v1/programs", "/api/v1/history", "/api/v1/sessions/current",
                                  "/openapi.json", "/static/app.js"])  # fmt: skip
def test_every_route_refuses_a_missing_or_wrong_token(dash, path):
    with httpx.Client(base_url=dash.url) as anonymous:
        assert anonymous.get(path).status_code == 401
        assert anonymous.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert anonymous.get(path, headers={"Cookie": "legflow_session=wrong"}).status_code == 401
    assert dash.client.get(path).status_code == 200


def test_start_and_emergency_stop_refuse_without_token(dash):
    with httpx.Client(base_url=dash.url) as anonymous:
        assert anonymous.post("/api/v1/sessions", json={"program": "circulation"}).status_code == 401
        assert anonymous.post("/api/v1/sessions/current/emergency-stop").status_code == 401
    assert not dash.manager.running


def test_login_link_sets_a_cookie_that_then_authenticates(dash):
    with httpx.Client(base_url=dash.url) as browser:
        assert browser.get("/login", params={"token": "wrong"}).status_code == 401
        answer = browser.get("/login", params={"token": TOKEN}, follow_redirects=False)
        assert answer.status_code == 303
        cookie = answer.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert browser.get("/api/v1/programs").status_code == 200
        assert "<title>legflow</title>" in browser.get("/").text


def test_websocket_checks_token_and_origin(dash):
    with pytest.raises(InvalidStatus) as refused:
        _ws(dash)
    assert refused.value.response.status_code == 403
    with pytest.raises(InvalidStatus):
        _ws(dash, Authorization="Bearer wrong")
    login = httpx.get(dash.url + "/login", params={"token": TOKEN})
    cookie = f"legflow_session={login.cookies['legflow_session']}"
    with pytest.raises(InvalidStatus):  # a page of another site riding on the cookie
        _ws(dash, Cookie=cookie, Origin="http://evil.example")
    with _ws(dash, Cookie=cookie, Origin=dash.url) as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "hello"
    with _ws(dash, Authorization=f"Bearer {TOKEN}") as ws:
        assert json.loads(ws.recv(timeout=5)) == {"type": "hello", "running": False}


def _finish(process) -> str:
    process.terminate()
    out, _ = process.communicate(timeout=20)
    assert "Traceback" not in out
    return out


def test_serve_never_writes_the_token_to_its_log(isolated_home, unused_port):
    token = "s3cret-token-never-logged-5e0c2b9a41d7f3"
    process = serve(isolated_home, "--port", str(unused_port), token=token, merge_stderr=True)
    url = f"http://127.0.0.1:{unused_port}"
    try:
        until(lambda: reachable(url))
        with httpx.Client(base_url=url, follow_redirects=True) as browser:
            assert browser.get("/login", params={"token": token}).status_code == 200
            assert browser.get("/api/v1/programs").status_code == 200
            assert browser.get("/login", params={"token": "guess"}).status_code == 401
            assert (
                browser.get("/api/v1/programs", headers={"Authorization": f"Bearer {token}x"}).status_code
                == 401
            )
    finally:
        out = _finish(process)
    assert "GET /login?token=[redacted]" in out  # the access log has the request, not the token
    assert token not in out
    assert "LEGFLOW_TOKEN" in out


def test_serve_prints_a_login_url_with_a_generated_token_and_warns_on_all_interfaces(
    isolated_home, unused_port
):
    process = serve(isolated_home, "--port", str(unused_port), "--host", "0.0.0.0", merge_stderr=True)
    try:
        until(lambda: reachable(f"http://127.0.0.1:{unused_port}"))
    finally:
        out = _finish(process)
    assert "warning" in out and "reachable from the network" in out
    login = next(line for line in out.splitlines() if "/login?token=" in line)
    token = login.rsplit("token=", 1)[1].strip()
    assert len(token) >= 32
    assert out.count(token) == 1  # printed once, in the login URL, never in a log line


# -- programs ----------------------------------------------------------------------------------
def test_library_lists_programs_with_grades_and_filters_by_goal(dash):
    everything = dash.client.get("/api/v1/programs").json()
    assert {p["name"]: (p["grade"], p["grade_note"]) for p in everything} == PINNED
    lymph = dash.client.get("/api/v1/programs", params={"goal": "lymph"}).json()
    assert lymph and all(p["goal"] == "lymph" for p in lymph)
    answer = dash.client.get("/api/v1/programs", params={"goal": "flying"})
    assert answer.status_code == 400 and "unknown goal 'flying'" in answer.json()["detail"]


def test_program_detail_has_its_timeline_and_evidence_worded_by_grade(dash):
    detail = dash.client.get("/api/v1/programs/circulation").json()
    timeline = detail["phases"][0]["timeline"]
    assert len(timeline["t_s"]) == len(timeline["zones"]["foot"])
    assert max(timeline["zones"]["foot"]) > 0 and timeline["zones"]["foot"][0] == 0
    assert detail["toml"].startswith(("#", "[program]"))
    for item in dash.client.get("/api/v1/programs/reflexology-sleep").json()["evidence"]:
        if item["grade"] == "D":
            assert item["text"].startswith("Traditionally used for") and not item["is_effect"]
    assert dash.client.get("/api/v1/programs/nothing-here").status_code == 404


def test_check_names_line_and_field_of_each_problem(dash):
    bad = SHORT_PROGRAM.replace('goal = "circulation"', 'goal = "circulatio"')
    result = dash.client.post("/api/v1/check", json={"toml": bad}).json()
    assert not result["ok"]
    [problem] = result["problems"]
    assert problem["line"] == 4 and problem["field"] == "program.goal" and "circulation" in problem["message"]
    too_high = dash.client.post(
        "/api/v1/check", json={"toml": SHORT_PROGRAM.replace("[50, 45]", "[150, 45]")}
    )
    assert "over the limit" in too_high.json()["problems"][0]["message"]
    assert dash.client.post("/api/v1/check", json={"toml": SHORT_PROGRAM}).json()["ok"]
    # every problem at once, as `legflow check` finds them: zones out of order hide no pressure
    both = SHORT_PROGRAM.replace("[50, 45]", "[150, 45]").replace('["foot", "calf"]', '["calf", "foot"]')
    assert both != SHORT_PROGRAM.replace("[50, 45]", "[150, 45]")
    with pytest.raises(ProgramError) as cli:
        check_text(both, "program.toml", load_profile(), DEFAULT_LIMITS)
    answer = dash.client.post("/api/v1/check", json={"toml": both}).json()["problems"]
    assert answer == [p.__dict__ for p in cli.value.problems] and len(answer) >= 2
    # a ramp the device's pump cannot finish in time runs lengthened, and the check says so
    fast = SHORT_PROGRAM.replace('pattern = "sequential"', 'pattern = "pulse"').replace(
        "inflate_s = 1.5", "inflate_s = 1.0"
    )
    result = dash.client.post("/api/v1/check", json={"toml": fast}).json()
    assert result["ok"] and not result["warnings"], result
    assert [c.split(" lengthened")[0] for c in result["adapted"]] == ["inflate 1 s"], result


def test_a_program_on_each_device_runs_adapted_or_is_refused_as_the_cli_says(dash):
    """The page's start form shows this for the device chosen; it is `legflow check --profile`'s."""
    on = lambda name, profile: dash.client.get(  # noqa: E731
        f"/api/v1/programs/{name}/on-device", params={"profile": profile}
    )
    boots = on("recovery", "recovery-boots").json()
    assert boots["verdict"] == "adapted" and boots["problems"] == []
    assert boots["changes"] == [
        "vibration dropped: device 'recovery-boots' has none (phase 'flush with vibration')"
    ]
    sleeve = on("lymph", "calf-sleeve").json()
    assert sleeve["verdict"] == "refused" and "needs the thigh" in sleeve["problems"][0]["message"]
    assert on("recovery", "reference").json() == {"verdict": "runs", "changes": [], "problems": []}
    assert on("recovery", "no-such-device").status_code == 400
    assert on("no-such-program", "reference").status_code == 404
    assert on("recovery", "reference").json() == dash.client.get("/api/v1/programs/recovery/on-device").json()


def test_compose_edit_and_save_keep_comments_and_refuse_bad_programs(dash):
    composed = dash.client.post("/api/v1/compose", json={"goal": "recovery", "zones": ["calf", "thigh"],
                                                         "minutes": 10}).json()  # fmt: skip
    assert 'goal = "recovery"' in composed["toml"]
    edited = dash.client.post("/api/v1/edit", json={"toml": SHORT_PROGRAM, "name": "Renamed",
                              "phases": [{"index": 0, "pressure_mmHg": 40, "rest_s": 5}]}).json()  # fmt: skip
    assert edited["problems"] == []
    assert "# a short calf-and-foot program" in edited["toml"] and 'name = "Renamed"' in edited["toml"]
    assert "pressure_mmHg = 40" in edited["toml"] and "rest_s = 5" in edited["toml"]
    no_phase = dash.client.post("/api/v1/edit", json={"toml": SHORT_PROGRAM, "phases": [{"index": 3}]})
    assert no_phase.status_code == 400 and "no phase 4" in no_phase.json()["detail"]

    saved = dash.client.put("/api/v1/programs/short-test", json={"toml": SHORT_PROGRAM})
    assert saved.status_code == 200
    mine = [p for p in dash.client.get("/api/v1/programs").json() if p["origin"] == "user"]
    assert [p["name"] for p in mine] == ["short-test"]
    refused = dash.client.put("/api/v1/programs/broken", json={"toml": "[program]\nname = 1\n"})
    assert refused.status_code == 422 and refused.json()["detail"]["problems"]
    assert dash.client.put("/api/v1/programs/circulation", json={"toml": SHORT_PROGRAM}).status_code == 400
    assert dash.client.put("/api/v1/programs/Bad Name", json={"toml": SHORT_PROGRAM}).status_code == 400


@pytest.mark.parametrize(
    ("toml", "edit", "says"),
    [
        ("phase = [1, 2]\n", {"phases": [{"index": 0, "duration_min": 2}]}, "phase 1 is not a table"),
        ("program = 3\n", {"name": "Renamed"}, "`program` is not a table"),
        ("[[phase]]\ncompression = 3\n", {"phases": [{"index": 0, "hold_s": 2}]}, "no compression table"),
    ],
)
def test_an_edit_of_a_program_of_the_wrong_shape_is_a_400(dash, toml, edit, says):
    answer = dash.client.post("/api/v1/edit", json={"toml": toml, **edit})
    assert answer.status_code == 400 and says in answer.json()["detail"], answer.text


def test_the_dashboard_is_told_names_never_paths(dash):
    """A saved program is reported under its name, as a built-in is: no answer carries the folder
    the server keeps it in, even once the file is made invalid by hand."""
    saved = dash.client.put("/api/v1/programs/short-test", json={"toml": SHORT_PROGRAM})
    folder = str(user_folder())
    assert saved.status_code == 200 and folder not in saved.text
    (user_folder() / "short-test.toml").write_text(SHORT_PROGRAM.replace("[program]", "[program]\nspeed = 3"))
    answers = [
        dash.client.get("/api/v1/programs/short-test"),
        dash.client.get("/api/v1/programs/short-test/on-device"),
        dash.client.post("/api/v1/sessions", json={"program": "short-test"}),
    ]
    for answer in answers:
        assert answer.status_code == 422 and folder not in answer.text, answer.text
        assert "short-test.toml" in answer.text
    # the editor still opens it as it is, to be fixed
    opened = dash.client.get("/api/v1/programs/short-test/toml")
    assert opened.status_code == 200 and opened.json() == {
        "name": "short-test", "origin": "user", "toml": (user_folder() / "short-test.toml").read_text()
    }  # fmt: skip
    assert dash.client.get("/api/v1/programs/lymph/toml").json()["origin"] == "builtin"
    assert dash.client.get("/api/v1/programs/nothing-here/toml").status_code == 404
    # a saved file that cannot be read at all (not UTF-8) is named so too
    (user_folder() / "short-test.toml").write_bytes(b"\xff\xfe")
    for answer in (
        dash.client.get("/api/v1/programs/short-test"),
        dash.client.get("/api/v1/programs/short-test/toml"),
        dash.client.post("/api/v1/sessions", json={"program": "short-test"}),
    ):
        assert answer.status_code == 422 and folder not in answer.text and "short-test.toml" in answer.text


def test_bad_requests_get_4xx_with_a_message(dash):
    answer = dash.client.post("/api/v1/sessions", json={"program": "circulation", "posture": "upside-down"})
    assert answer.status_code == 422 and "posture" in answer.json()["detail"]
    answer = dash.client.post(
        "/api/v1/check", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 422 and answer.json()["detail"]
    answer = dash.client.post("/api/v1/sessions", json={"program": "no-such-program"})
    assert answer.status_code == 404 and "no-such-program" in answer.json()["detail"]
    answer = dash.client.post("/api/v1/sessions", json={"program": "circulation", "profile": "teapot"})
    assert answer.status_code == 400 and "unknown device profile" in answer.json()["detail"]
    answer = dash.client.post("/api/v1/compose", json={"goal": "recovery", "zones": ["elbow"]})
    assert answer.status_code == 400 and "elbow" in answer.json()["detail"]
    assert dash.client.post("/api/v1/sessions/current/pause").status_code == 409
    assert dash.client.get("/api/v1/history/999").status_code == 404


def test_screening_stores_answers_and_blocks_sessions(dash):
    questions = dash.client.get("/api/v1/screening/questions").json()
    answers = {
        q["id"]: ([] if q["kind"] == "zones" else 40 if q["kind"] == "age" else False) for q in questions
    }
    calm = dash.client.post("/api/v1/screening", json={"answers": answers}).json()
    assert calm["decisions"] == [] and not calm["blocked"]
    blocked = dash.client.post("/api/v1/screening", json={"answers": {**answers, "dvt_signs": True}}).json()
    assert blocked["blocked"] and blocked["decisions"][0]["action"] == "block"
    refused = dash.client.post("/api/v1/sessions", json={"program": "circulation"})
    assert refused.status_code == 422 and "screening blocks" in refused.text
    missing = dash.client.post("/api/v1/screening", json={"answers": {"dvt_signs": False}})
    assert missing.status_code == 422 and "answer missing" in missing.json()["detail"]


# -- sessions ----------------------------------------------------------------------------------
def test_session_runs_streams_pauses_and_stops_and_lands_in_history(dash):
    dash.client.put("/api/v1/programs/short-test", json={"toml": SHORT_PROGRAM})
    with _ws(dash, Authorization=f"Bearer {TOKEN}") as ws:
        assert json.loads(ws.recv(timeout=5))["running"] is False
        started = dash.client.post(
            "/api/v1/sessions", json={"program": "short-test", "profile": "recovery-boots"}
        )
        assert started.status_code == 201 and started.json()["profile"] == "recovery-boots"
        again = dash.client.post("/api/v1/sessions", json={"program": "circulation"})
        assert again.status_code == 409 and "already running" in again.json()["detail"]
        hello = json.loads(ws.recv(timeout=5))
        assert hello["type"] == "hello" and hello["cells"][0] == "left.foot"
        # the limit each cell is held to, as the supervisor enforces it, not the cells' rating
        supervisor = dash.manager._launch.supervisor
        ratings = [c.max_pressure_mmHg for _ in supervisor.profile.legs for c in supervisor.profile.cells]
        assert hello["cell_limit_mmHg"] == supervisor.cell_limit_mmHg.tolist() != ratings
        states = []
        while len(states) < 150:  # 3 s at 50 Hz
            message = json.loads(ws.recv(timeout=5))
            if message["type"] == "state":
                states.append(message)
        assert max(max(s["pressure_mmHg"]) for s in states) > 10  # the cells filled
        assert states[-1]["twin"]["outflow_mL_per_min"][0] > 0
        assert dash.client.post("/api/v1/sessions/current/pause").json() == {"paused": True}
        until(lambda: dash.client.get("/api/v1/sessions/current").json()["state"]["paused"])
        dash.client.post("/api/v1/sessions/current/resume")
        dash.client.post("/api/v1/sessions/current/stop")
        end = next(m for m in iter(lambda: json.loads(ws.recv(timeout=10)), None) if m["type"] == "end")
    summary = end["summary"]
    assert summary["status"] == "stopped" and summary["twin"] is not None
    rows = dash.client.get("/api/v1/history").json()
    assert rows[0]["id"] == summary["id"] and rows[0]["status"] == "stopped"
    stored = dash.client.get(f"/api/v1/history/{summary['id']}").json()
    assert stored["samples"] and {"pause", "stop"} <= {e["kind"] for e in stored["events"]}
    csv_text = dash.client.get(f"/api/v1/history/{summary['id']}/export", params={"format": "csv"})
    assert csv_text.headers["content-type"].startswith("text/csv")
    assert csv_text.text.splitlines()[0].startswith("t_s,left.foot_mmHg")
    assert len(csv_text.text.splitlines()) == len(stored["samples"]) + 1
    as_json = dash.client.get(f"/api/v1/history/{summary['id']}/export", params={"format": "json"}).json()
    assert as_json["session"]["summary"]["status"] == "stopped"


def test_emergency_stop_over_the_websocket_reaches_the_safe_state_at_once(dash):
    dash.client.put("/api/v1/programs/short-test", json={"toml": SHORT_PROGRAM})
    dash.client.post("/api/v1/sessions", json={"program": "short-test"})
    massager = dash.manager._launch.supervisor._massager
    until(lambda: float(massager.true_pressure_mmHg.max()) > 20)
    with _ws(dash, Authorization=f"Bearer {TOKEN}") as ws:
        ws.send('{"action": "emergency_stop"}')
        until(lambda: massager.relay_open, timeout_s=1.0)
        end = next(m for m in iter(lambda: json.loads(ws.recv(timeout=10)), None) if m["type"] == "end")
        ws.send('{"action": "dance"}')
        assert "unknown action" in json.loads(ws.recv(timeout=5))["detail"]
    assert end["summary"]["status"] == "stopped"
    until(lambda: float(massager.true_pressure_mmHg.max()) < 5, timeout_s=5)


def test_emergency_stop_form_works_without_scripts(dash):
    dash.client.put("/api/v1/programs/short-test", json={"toml": SHORT_PROGRAM})
    dash.client.post("/api/v1/sessions", json={"program": "short-test"})
    answer = dash.client.post("/api/v1/sessions/current/emergency-stop", data={"from": "page"},
                              follow_redirects=False)  # fmt: skip
    assert answer.status_code == 303 and answer.headers["location"] == "/#/live"
    assert dash.manager._launch.supervisor._massager.relay_open
    dash.manager.wait(10)
    assert not dash.manager.running


def test_a_session_that_fails_inside_ends_visibly_and_vented(dash, monkeypatch):
    from legflow.engine.session import Session

    def broken(self, on_update=None, update_every_s=0.2):
        raise RuntimeError("a bug")

    monkeypatch.setattr(Session, "run", broken)
    dash.client.put("/api/v1/programs/short-test", json={"toml": SHORT_PROGRAM})
    with _ws(dash, Authorization=f"Bearer {TOKEN}") as ws:
        dash.client.post("/api/v1/sessions", json={"program": "short-test"})
        error = next(m for m in iter(lambda: json.loads(ws.recv(timeout=10)), None) if m["type"] == "error")
    assert "internal error (RuntimeError)" in error["detail"] and "vented" in error["detail"]
    dash.manager.wait(5)
    assert not dash.manager.running and dash.manager._launch.supervisor._massager.relay_open
    assert dash.client.post("/api/v1/sessions", json={"program": "short-test"}).status_code == 201


def test_a_session_on_two_different_legs_reports_each_leg(dash):
    """The start form's right-leg choice: 'adult,oedema' runs the twin with a healthy left leg and an
    oedematous right one, and the stored summary gives each leg's metrics."""
    dash.client.put("/api/v1/programs/short-test", json={"toml": SHORT_PROGRAM})
    started = dash.client.post("/api/v1/sessions", json={"program": "short-test", "subject": "adult,oedema"})
    assert started.status_code == 201, started.text
    until(lambda: not dash.manager.running, timeout_s=40.0)
    row = dash.client.get("/api/v1/history").json()[0]
    twin = dash.client.get(f"/api/v1/history/{row['id']}").json()["summary"]["twin"]
    assert twin["subject"] == "adult,oedema"
    assert [twin["legs"][leg]["subject"] for leg in ("left", "right")] == ["adult", "oedema"]


def test_the_running_sessions_intensity_changes_and_bad_requests_get_4xx(dash):
    idle = dash.client.post("/api/v1/sessions/current/intensity", json={"level": 1})
    assert idle.status_code == 409 and "no session is running" in idle.json()["detail"]
    dash.client.put("/api/v1/programs/short-test", json={"toml": SHORT_PROGRAM})
    dash.client.post("/api/v1/sessions", json={"program": "short-test"}).raise_for_status()
    ask = lambda body: dash.client.post("/api/v1/sessions/current/intensity", json=body)  # noqa: E731
    try:
        answer = ask({"level": 1, "boost": "calf"}).json()
        cost = answer.pop("cost")
        assert answer == {
            "level": 1, "boost": "calf", "paused": [],
            "text": "level +1 (110% of the program's pressures); calf boosted +10 mmHg",
        }  # fmt: skip
        # what it gives the leg: the session's own twin cost, beside the program as written
        session = dash.manager._launch.session
        assert cost["as_written"] == session.cost({})
        assert set(cost["as_run"]) == {"ejected_mL_per_cycle", "fluid_cleared_mL"}
        assert ask({"paused": ["foot"]}).json()["paused"] == ["foot"]
        assert ask({"paused": []}).json()["paused"] == []
        assert ask({"boost": ""}).json()["boost"] is None
        assert ask({"level": 3}).status_code == 422
        bad_zone = ask({"boost": "elbow"})
        assert bad_zone.status_code == 400 and "no zone 'elbow'" in bad_zone.json()["detail"]
        # a request refused in part changes nothing: not its level before its bad zone
        before = session.control.intensity
        assert ask({"level": -2, "paused": ["foot", "elbow"]}).status_code == 400
        assert session.control.intensity == before
        assert ask({"speed": 2}).status_code == 422
    finally:
        dash.client.post("/api/v1/sessions/current/stop")


def test_a_start_checks_the_fit_first_and_goes_on_only_with_consent(dash):
    """As `legflow run`: a cell that does not fit stops the start with the fit check in the
    answer, for the page to show; the user's consent (fit "anyway") starts it."""
    loose = {"program": "short-test", "inject": ["garment_loose:left.calf@0"]}
    dash.client.put("/api/v1/programs/short-test", json={"toml": SHORT_PROGRAM})
    refused = dash.client.post("/api/v1/sessions", json=loose)
    assert refused.status_code == 422
    body = refused.json()
    assert body["detail"] == "fit check: left.calf loose: tighten the calf strap"
    assert body["fit"]["cells"]["left.calf"]["verdict"] == "loose" and not body["fit"]["ok"]
    assert not dash.manager.running
    started = dash.client.post("/api/v1/sessions", json={**loose, "fit": "anyway"})
    assert started.status_code == 201
    assert dash.manager._launch.session.fit["left.calf"] == ("loose", "tighten the calf strap")
    dash.client.post("/api/v1/sessions/current/stop")
    assert dash.client.post("/api/v1/sessions", json={**loose, "fit": "maybe"}).status_code == 422

"""The dashboard's defences, against a real server on a loopback port: the client names things and
never a path, the server answers only to its own names and origins, every answer carries the
browser's security headers, the token is strong, rate-limited, kept out of logs and out of the
cookie, and a bad request is a 4xx with a message."""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.web_helpers import SHORT_PROGRAM, TOKEN, reachable, running_dashboard, serve, until
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

import legflow
from legflow.programs.library import builtin_names
from legflow.screening import QUESTIONS
from legflow.twin.subject import PARAMETER_DIR, available_subjects

#: Real processes, servers, browsers or terminals: left out of the fast subset (README, testing).
pytestmark = pytest.mark.system

PACKAGE = Path(legflow.__file__).resolve().parent
SECRET = "SECRET_KEY_4242"


@pytest.fixture
def dash(isolated_home):
    with running_dashboard(isolated_home) as dashboard:
        yield dashboard


@pytest.fixture
def outside(tmp_path):
    """Files outside the data directory and the package: a secret, a runnable program, a FIFO."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.toml").write_text(f"{SECRET} = 1\n")
    (folder / "elsewhere.toml").write_text(SHORT_PROGRAM)
    os.mkfifo(folder / "fifo.toml")
    return folder


def _ws(dash, **headers):
    return connect(
        dash.url.replace("http", "ws") + "/api/v1/live", additional_headers=headers, open_timeout=10
    )


# -- files the server opens ----------------------------------------------------------------------
class OpenWatch:
    """Records every file the process opens outside the allowed folders while active, and refuses
    to open it (so a FIFO cannot hang the test and /dev/zero cannot fill its memory)."""

    def __init__(self) -> None:
        self.active = False
        self.allowed: tuple[str, ...] = ()
        self.outside: list[str] = []

    def __call__(self, event: str, args: tuple) -> None:
        if event != "open" or not self.active or not isinstance(args[0], str | bytes | os.PathLike):
            return
        path = os.path.abspath(os.fsdecode(args[0]))
        if not path.startswith(self.allowed):
            self.outside.append(path)
            raise PermissionError(f"the test refuses to open {path}")


WATCH = OpenWatch()
sys.addaudithook(WATCH)  # an audit hook cannot be removed: it acts only while WATCH.active


@pytest.fixture
def opened_outside(isolated_home):
    """The files opened outside the data directory, the package and Python's own installation."""
    roots = {isolated_home, PACKAGE, Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix)}
    WATCH.allowed = tuple(f"{os.path.abspath(r)}{os.sep}" for r in roots) + tuple(
        f"{os.path.realpath(r)}{os.sep}" for r in roots
    )
    WATCH.outside = []
    WATCH.active = True
    try:
        yield WATCH.outside
    finally:
        WATCH.active = False


def _nasty(outside: Path, home: Path) -> list[str]:
    secret, program = outside / "secret.toml", outside / "elsewhere.toml"
    return [
        str(secret), str(secret.with_suffix("")), str(program), str(outside / "fifo.toml"), "/dev/zero",
        os.path.relpath(secret, Path.cwd()), os.path.relpath(secret.with_suffix(""), PARAMETER_DIR),
        os.path.relpath(secret.with_suffix(""), home / "programs"),
        os.path.relpath(secret.with_suffix(""), home / "users"), "../" * 12 + str(secret)[1:],
        "~/secret", "..", ".", "", " ", "a" * 300, "b" * 5000, "circulation.toml", "./circulation",
        "circulation/../circulation", "CIRCULATION", "adult\x00", "con", "9223372036854775808", "-1",
        "1e309", "%2e%2e%2fsecret", "file:///etc/passwd", "..\\..\\secret", "é", "\u202eelif",
    ]  # fmt: skip


#: Screening answers with nothing to refuse.
ANSWERS = {q.id: [] if q.kind == "zones" else 40 if q.kind == "age" else False for q in QUESTIONS}
COMPOSE = {"goal": "recovery", "zones": ["calf"]}


def _requests(v: str) -> dict:
    """Every parameter of the API that names something, each filled with ``v``."""
    q = quote(v, safe="")
    return {
        "start.program": ("POST", "/api/v1/sessions", {"json": {"program": v}}),
        "start.subject": ("POST", "/api/v1/sessions", {"json": {"program": "circulation", "subject": v}}),
        "start.profile": ("POST", "/api/v1/sessions", {"json": {"program": "circulation", "profile": v}}),
        "start.user": ("POST", "/api/v1/sessions", {"json": {"program": "circulation", "user": v}}),
        "program.get": ("GET", f"/api/v1/programs/{q}", {}),
        "program.put": ("PUT", f"/api/v1/programs/{q}", {"json": {"toml": SHORT_PROGRAM}}),
        "program.delete": ("DELETE", f"/api/v1/programs/{q}", {}),
        "programs.goal": ("GET", "/api/v1/programs", {"params": {"goal": v}}),
        "check.profile": ("POST", "/api/v1/check", {"json": {"toml": SHORT_PROGRAM, "profile": v}}),
        "check.user": ("POST", "/api/v1/check", {"json": {"toml": SHORT_PROGRAM, "user": v}}),
        "compose.user": ("POST", "/api/v1/compose", {"json": {**COMPOSE, "user": v}}),
        "edit.name": ("POST", "/api/v1/edit", {"json": {"toml": SHORT_PROGRAM, "name": v}}),
        "edit.user": ("POST", "/api/v1/edit", {"json": {"toml": SHORT_PROGRAM, "user": v}}),
        "screening.get": ("GET", f"/api/v1/screening/{q}", {}),
        "screening.post": ("POST", "/api/v1/screening", {"json": {"user": v, "answers": ANSWERS}}),
        "history.get": ("GET", f"/api/v1/history/{q}", {}),
        "history.export": ("GET", f"/api/v1/history/{q}/export", {}),
        "export.format": ("GET", "/api/v1/history/1/export", {"params": {"format": v}}),
        "static": ("GET", f"/static/{q}", {}),
    }  # fmt: skip


TARGETS = sorted(_requests("x"))
VALID = {"default", "adult", "reference", *builtin_names(), *available_subjects()}


def _probe(dash, target: str, value: str, opened_outside: list[str]) -> None:
    """One request with ``value`` in ``target``: a 4xx or a success, and no file outside opened."""
    opened_outside.clear()
    method, path, options = _requests(value)[target]
    answer = dash.client.request(method, path, **options)
    if dash.manager.running:
        dash.manager.emergency_stop()
        dash.manager.wait(5)
    assert opened_outside == [], f"{target}={value!r} opened {opened_outside}"
    assert answer.status_code < 500, f"{target}={value!r}: {answer.status_code} {answer.text[:300]}"
    assert SECRET not in answer.text and "Traceback" not in answer.text


@pytest.mark.parametrize("target", TARGETS)
def test_no_name_opens_a_file_outside_the_data_and_the_package(
    target, dash, outside, isolated_home, opened_outside
):
    for value in _nasty(outside, isolated_home):
        _probe(dash, target, value, opened_outside)


@pytest.mark.parametrize("target", TARGETS)
@settings(max_examples=15, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_names_open_no_file_outside_the_data_and_the_package(
    target, data, dash, outside, isolated_home, opened_outside
):
    nasty = _nasty(outside, isolated_home)
    value = data.draw(
        st.one_of(
            st.text(max_size=60),
            st.builds(lambda a, b: a + b, st.sampled_from(nasty), st.text(max_size=8)),
            st.builds(lambda a, b: a + b, st.text(max_size=8), st.sampled_from(nasty)),
            st.integers().map(str),
        ).filter(lambda v: v not in VALID)
    )
    _probe(dash, target, value, opened_outside)


def test_a_session_starts_only_from_a_program_and_subject_named_by_the_library(dash, outside):
    for program in (outside / "elsewhere.toml", outside / "secret.toml", outside / "secret"):
        answer = dash.client.post("/api/v1/sessions", json={"program": str(program)})
        assert answer.status_code == 422, answer.text
        assert "not a valid program name" in answer.json()["detail"] and SECRET not in answer.text
    assert not dash.manager.running
    subject = os.path.relpath(outside / "secret", PARAMETER_DIR)
    answer = dash.client.post("/api/v1/sessions", json={"program": "circulation", "subject": subject})
    assert answer.status_code == 422 and "unknown subject" in answer.json()["detail"], answer.text
    assert SECRET not in answer.text and not dash.manager.running
    disguised = f"adult,{subject}"  # a path as the right leg's parameter set
    answer = dash.client.post("/api/v1/sessions", json={"program": "circulation", "subject": disguised})
    assert answer.status_code == 422 and "unknown subject" in answer.json()["detail"], answer.text
    assert SECRET not in answer.text and not dash.manager.running
    dash.client.put("/api/v1/programs/short-test", json={"toml": SHORT_PROGRAM})
    answer = dash.client.post("/api/v1/sessions", json={"program": "short-test", "subject": "oedema"})
    assert answer.status_code == 201, answer.text


def test_a_fifo_named_as_a_program_never_holds_up_later_starts(dash, outside, opened_outside):
    answer = dash.client.post("/api/v1/sessions", json={"program": str(outside / "fifo.toml")}, timeout=10)
    assert answer.status_code == 422 and opened_outside == []
    assert (
        dash.client.post("/api/v1/sessions", json={"program": "circulation"}, timeout=10).status_code == 201
    )


# -- hosts, origins, headers, static files, docs -------------------------------------------------
def test_a_foreign_host_header_is_refused(dash):
    with httpx.Client(base_url=dash.url) as anonymous:
        for host in ("evil.example", f"evil.example:{dash.port}", "127.0.0.1.evil.example", ""):
            answer = anonymous.get("/login", headers={"Host": host})
            assert answer.status_code == 400, host
        for host in (f"127.0.0.1:{dash.port}", f"localhost:{dash.port}", f"[::1]:{dash.port}", "localhost"):
            assert anonymous.get("/login", headers={"Host": host}).status_code == 401, host
    # DNS rebinding: a page of evil.example whose name now points at 127.0.0.1
    sock = socket.create_connection(("127.0.0.1", dash.port))
    with pytest.raises(InvalidStatus) as refused:
        connect(f"ws://evil.example:{dash.port}/api/v1/live", sock=sock, open_timeout=10,
                additional_headers={"Authorization": f"Bearer {TOKEN}",
                                    "Origin": f"http://evil.example:{dash.port}"})  # fmt: skip
    sock.close()
    assert refused.value.response.status_code in (400, 403)


def test_the_websocket_accepts_only_the_servers_own_origins(dash):
    for origin in (
        f"http://127.0.0.1:{dash.port + 1}",
        "http://127.0.0.1",
        "null",
        f"ftp://127.0.0.1:{dash.port}",
    ):
        with pytest.raises(InvalidStatus):
            _ws(dash, Authorization=f"Bearer {TOKEN}", Origin=origin)
    for origin in (dash.url, f"http://localhost:{dash.port}", f"http://[::1]:{dash.port}"):
        with _ws(dash, Authorization=f"Bearer {TOKEN}", Origin=origin) as ws:
            assert json.loads(ws.recv(timeout=5))["type"] == "hello"


HEADERS = {"x-frame-options": "DENY", "x-content-type-options": "nosniff", "referrer-policy": "no-referrer"}


def test_every_answer_carries_the_security_headers(dash):
    with httpx.Client(base_url=dash.url) as anonymous:
        answers = [
            anonymous.get("/"), anonymous.get("/login"), anonymous.get("/api/v1/programs"),
            anonymous.get("/login", headers={"Host": "evil.example"}), dash.client.get("/"),
            dash.client.get("/static/app.js"), dash.client.get("/api/v1/programs"),
            dash.client.get("/nothing"), dash.client.get("/api/v1/history/abc"),
        ]  # fmt: skip
    for answer in answers:
        assert {k: answer.headers.get(k) for k in HEADERS} == HEADERS, answer.request.url
        policy = dict(p.strip().split(" ", 1) for p in answer.headers["content-security-policy"].split(";"))
        assert policy["default-src"] == "'self'" and policy["frame-ancestors"] == "'none'"
        assert policy["script-src"] == "'self'"  # no inline script, no other site's


def test_static_files_need_the_token_and_the_pages_load_nothing_from_other_sites(dash):
    with httpx.Client(base_url=dash.url) as anonymous:
        for name in ("app.js", "style.css", "index.html"):
            assert anonymous.get(f"/static/{name}").status_code == 401
    script = dash.client.get("/static/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert dash.client.get("/static/style.css").headers["content-type"].startswith("text/css")
    assert dash.client.get("/static/missing.js").status_code == 404
    for page in (dash.client.get("/").text, httpx.get(dash.url + "/login").text):
        assert "<script>" not in page and "http" not in page.replace('xmlns="http', "")
    assert dash.client.get("/docs").status_code == 404  # Swagger UI would load its scripts from a CDN
    assert dash.client.get("/openapi.json").json()["info"]["title"] == "legflow"


def test_the_pages_work_under_their_content_security_policy(dash):
    """Every view, the login page and the live WebSocket in Chromium: no CSP violation."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])  # fmt: skip
        page = browser.new_page()
        refused: list[str] = []
        page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
        page.goto(dash.url)
        assert page.locator("body").evaluate("b => getComputedStyle(b).maxWidth") == "512px"  # hashed style
        page.fill("input[name=token]", TOKEN)
        page.click("text=Log in")
        for view in ("programs", "program/circulation", "editor", "screening", "live", "history"):
            page.goto(f"{dash.url}/#/{view}")
            page.wait_for_load_state("networkidle")
        page.wait_for_selector("#link.up")  # the live WebSocket connected
        browser.close()
    assert refused == []


# -- the token -----------------------------------------------------------------------------------
@pytest.mark.parametrize("token", ["a", "short-but-not-empty", "a" * 40, "ab" * 24])
def test_serve_refuses_a_weak_token_in_one_line(isolated_home, unused_port, token):
    process = serve(isolated_home, "--host", "0.0.0.0", "--port", str(unused_port), token=token)
    try:
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 2, (out, err)
    [line] = err.strip().splitlines()
    assert "LEGFLOW_TOKEN" in line and "32" in line


def test_the_login_url_is_printed_whole_on_a_narrow_terminal(isolated_home, unused_port):
    process = serve(isolated_home, "--port", str(unused_port), columns=40)
    url = f"http://127.0.0.1:{unused_port}"
    try:
        until(lambda: reachable(url))
    finally:
        process.terminate()
        out, err = process.communicate(timeout=20)
    login = next(line for line in (out + err).splitlines() if "/login?token=" in line)
    token = login.rsplit("token=", 1)[1].strip()
    assert len(token) == 48 and login.strip().endswith(f"{url}/login?token={token}")


def test_wrong_tokens_are_rate_limited_per_client(dash):
    with httpx.Client(base_url=dash.url) as browser:
        for _ in range(5):
            assert browser.get("/login", params={"token": "guess"}).status_code == 401
        for _ in range(5):
            bad = browser.get("/api/v1/programs", headers={"Authorization": "Bearer guess"})
            assert bad.status_code == 401
        assert browser.get("/").status_code == 401  # no token at all is no attempt
        limited = browser.get("/login", params={"token": TOKEN})  # even the right one, for a while
        assert limited.status_code == 429 and 0 < int(limited.headers["retry-after"]) <= 60
        api = browser.get("/api/v1/programs", headers={"Authorization": f"Bearer {TOKEN}"})
        assert api.status_code == 429 and "try again in" in api.json()["detail"]
        assert int(api.headers["retry-after"]) <= 60
        assert browser.post("/login", data={"token": TOKEN}).status_code == 429


def test_the_rate_limit_lifts_after_its_window(isolated_home):
    now = [1000.0]
    with (
        running_dashboard(isolated_home, clock=lambda: now[0]) as dash,
        httpx.Client(base_url=dash.url) as page,
    ):
        assert page.get("/login", params={"token": TOKEN}).status_code == 303  # logged in before the attack
        with httpx.Client(base_url=dash.url, headers={"Authorization": "Bearer guess"}) as attacker:
            for _ in range(10):
                assert attacker.get("/api/v1/programs").status_code == 401
            assert attacker.get("/api/v1/programs").status_code == 429
        assert dash.client.get("/api/v1/programs").status_code == 429
        assert page.get("/api/v1/programs").status_code == 200, "a page logged in before still works"
        now[0] += 59
        assert dash.client.get("/api/v1/programs").status_code == 429
        now[0] += 2
        assert dash.client.get("/api/v1/programs").status_code == 200


def test_the_cookie_holds_a_session_id_not_the_token(dash):
    with httpx.Client(base_url=dash.url) as browser:
        answer = browser.get("/login", params={"token": TOKEN}, follow_redirects=False)
        cookie = answer.headers["set-cookie"]
        assert TOKEN not in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert "Secure" not in cookie  # plain http on loopback: a Secure cookie would never come back
        assert browser.get("/api/v1/programs").status_code == 200
    for name in ("legflow_session", "legflow_token"):
        with httpx.Client(base_url=dash.url, cookies={name: TOKEN}) as forged:
            assert forged.get("/api/v1/programs").status_code == 401
    with httpx.Client(base_url=dash.url, headers={"X-Forwarded-Proto": "https"}) as proxied:
        answer = proxied.get("/login", params={"token": TOKEN}, follow_redirects=False)
        assert "Secure" in answer.headers["set-cookie"]


def test_the_log_never_shows_the_token_however_the_query_is_spelt(isolated_home, unused_port):
    token = "s3cret-token-never-logged-0123456789abcdef"
    process = serve(isolated_home, "--port", str(unused_port), token=token)
    url = f"http://127.0.0.1:{unused_port}"
    try:
        until(lambda: reachable(url))
        with httpx.Client(base_url=url) as browser:
            assert browser.get(f"/login?tok%65n={token}", follow_redirects=False).status_code == 303
            encoded = "".join(f"%{ord(c):02x}" for c in token)
            assert browser.get(f"/login?token={encoded}", follow_redirects=False).status_code == 303
            browser.get(f"/api/v1/programs?q={token}")
    finally:
        process.terminate()
        out, err = process.communicate(timeout=20)
    assert "GET /login?token=[redacted]" in err + out
    assert token not in out + err and token[:12] not in out + err


# -- bad requests are 4xx ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "session_id", ["9223372036854775808", "-1", "0", "99999999999999999999999", "-9223372036854775809"]
)
def test_out_of_range_history_ids_are_4xx(dash, session_id):
    for path in (f"/api/v1/history/{session_id}", f"/api/v1/history/{session_id}/export"):
        answer = dash.client.get(path)
        assert answer.status_code in (404, 422) and answer.json()["detail"], (path, answer.text)


def test_names_too_long_are_422_with_a_message(dash):
    long = "u" * 300
    answers = [
        dash.client.post("/api/v1/screening", json={"user": long, "answers": ANSWERS}),
        dash.client.get(f"/api/v1/screening/{long}"),
        dash.client.post("/api/v1/check", json={"toml": SHORT_PROGRAM, "user": long}),
        dash.client.post("/api/v1/sessions", json={"program": "circulation", "user": long}),
        dash.client.post("/api/v1/edit", json={"toml": SHORT_PROGRAM, "name": "n" * 81}),
    ]
    for answer in answers:
        assert answer.status_code == 422, (answer.request.url, answer.text)
        detail = answer.json()["detail"]
        assert ("user" in detail or "name" in detail) and long not in detail
    edited = dash.client.post("/api/v1/edit", json={"toml": SHORT_PROGRAM, "name": "n" * 80})
    assert edited.status_code == 200 and edited.json()["problems"] == []


def test_request_bodies_over_the_limit_are_413_before_they_are_read(dash):
    big = b"x" * (1024 * 1024 + 1)
    answer = dash.client.post("/api/v1/check", content=big, headers={"Content-Type": "application/json"})
    assert answer.status_code == 413 and "1 MiB" in answer.json()["detail"]

    def chunks():
        for _ in range(40):
            yield b"x" * 65536

    answer = dash.client.post("/api/v1/check", content=chunks(), headers={"Content-Type": "application/json"})
    assert answer.status_code == 413 and "1 MiB" in answer.json()["detail"]
    with httpx.Client(base_url=dash.url) as anonymous:
        assert anonymous.post("/login", data={"token": "x" * 2_000_000}).status_code == 413
    assert dash.client.post("/api/v1/check", json={"toml": SHORT_PROGRAM}).status_code == 200


def test_an_emergency_stop_with_no_session_gets_a_clear_answer(dash):
    answer = dash.client.post("/api/v1/sessions/current/emergency-stop")
    assert answer.status_code == 409 and "no session is running" in answer.json()["detail"]
    form = dash.client.post("/api/v1/sessions/current/emergency-stop", data={"from": "page"},
                            follow_redirects=False)  # fmt: skip
    assert form.status_code == 303  # the page's no-script form goes back to the live view
    with _ws(dash, Authorization=f"Bearer {TOKEN}") as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "hello"
        ws.send('{"action": "emergency_stop"}')
        reply = json.loads(ws.recv(timeout=5))
    assert reply == {"type": "emergency_stop", "was_running": False, "detail": "no session is running"}


# -- helpers -------------------------------------------------------------------------------------

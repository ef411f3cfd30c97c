"""Imported SCORM content over HTTP, on both databases: the player page, the session's starting
CMI, the course's files behind content tokens (grant required, tampering, traversal, MIME,
headers) and the CMI API (mapping per version, limits refused with a SCORM error code, resume
data, listeners, versions kept per attempt)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.player import content as content_files
from lti_tool.player import views as player_views
from lti_tool.player.tokens import issue_player_token, verify_player_token
from lti_tool.services import services_of
from store.accounts.service import LearnerIdentity
from store.licenses import service as licenses
from store.progress.models import CourseProgress
from store.progress.service import ProgressEvent
from tests.factories.app import override_player_origin
from tests.factories.catalog import make_course
from tests.factories.content import import_generated
from tests.factories.licenses import make_account
from tests.web.conftest import settings_for

Sessions = sessionmaker[Session]
NOW = datetime.now(UTC)
TITLE = 'Fire & "Safety" <basics> 防火'


@pytest.fixture
def app(engine: Any, committing_sessions: Sessions, tmp_path: Path) -> Any:
    from lti_tool import create_app

    application = create_app(settings_for(engine, content_dir=str(tmp_path / "content")))
    try:
        yield application
    finally:
        services_of(application).engine.dispose()


@dataclass(frozen=True)
class Seated:
    account_id: int
    course: str
    seat_id: int
    learner_id: int
    token: str


def seat(app: Flask, sessions: Sessions, course: str, who: str, account_id: int) -> Seated:
    identity = LearnerIdentity("lti:https://lms.example.edu", who, name="Ada Lovelace")
    result = licenses.claim_seat(sessions, licenses.ClaimRequest(account_id, "volume", course, identity), NOW)
    assert result.seat and result.learner_id
    token = issue_player_token(services_of(app).settings, seat_id=result.seat.id, catalog_id=course,
                               learner_id=result.learner_id, launch_id="launch-9", origin="lti")
    return Seated(account_id, course, result.seat.id, result.learner_id, token)


def course_with(app: Flask, sessions: Sessions, tmp_path: Path, version: str | None, catalog_id: str = "SCO-1",
                **package: Any) -> tuple[str, int]:
    account_id = make_account(sessions, f"Acme {catalog_id}", NOW).id
    with sessions.begin() as s:
        course = make_course(s, catalog_id, title=TITLE, is_plus=False).catalog_id
    if version is not None:
        import_generated(sessions, content_files.content_store(services_of(app).settings), course, version, NOW,
                         tmp_path, title=TITLE, **package)
    licenses.grant_volume(sessions, account_id, course, 5, NOW)
    return course, account_id


@pytest.fixture
def seated12(app: Flask, committing_sessions: Sessions, tmp_path: Path) -> Seated:
    course, account_id = course_with(app, committing_sessions, tmp_path, "scorm12", launch_data="mode=full",
                                     parameters="?lang=en")
    return seat(app, committing_sessions, course, "ada", account_id)


@pytest.fixture
def seated2004(app: Flask, committing_sessions: Sessions, tmp_path: Path) -> Seated:
    course, account_id = course_with(app, committing_sessions, tmp_path, "scorm2004", catalog_id="SCO-2004")
    return seat(app, committing_sessions, course, "ada", account_id)


def fetch(client: FlaskClient, url: str) -> Any:
    """GET a file (following redirects) and close its stream (the test client does not)."""
    response = client.get(url, follow_redirects=True)
    response.get_data()
    response.close()
    return response


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def page_config(html: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="player-config">(.*?)</script>', html, re.S)
    assert match
    return json.loads(match.group(1))


def start(client: FlaskClient, seated: Seated) -> dict[str, Any]:
    response = client.post("/play/api/session", headers=bearer(seated.token), json={})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def row_of(sessions: Sessions, seat_id: int) -> CourseProgress:
    with sessions() as s:
        row = s.scalars(select(CourseProgress).where(CourseProgress.seat_id == seat_id)).one()
        s.expunge(row)
        return row


def cmi(client: FlaskClient, seated: Seated, version: str, values: dict[str, Any], session: int | None = 1,
        **extra: Any) -> Any:
    return client.post("/play/api/cmi", headers=bearer(seated.token),
                       json={"scorm_version": version, "session": session, "cmi": values, **extra})


# ---------------------------------------------------------------- the page and the session


def test_the_page_runs_the_course_with_scorm_again(client: FlaskClient, seated12: Seated) -> None:
    response = client.get(f"/play?t={seated12.token}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Fire &amp; &#34;Safety&#34; &lt;basics&gt; 防火" in html and "<basics>" not in html
    assert 'src="/static/vendor/node_modules/scorm-again/dist/scorm12.min.js"' in html
    assert 'src="/static/js/scorm-player.js"' in html and 'id="scorm-frame"' in html
    assert "quiz-form" not in html
    csp = response.headers["Content-Security-Policy"]
    assert "frame-src 'self'" in csp and "script-src 'self';" in csp and "unsafe" not in csp
    config = page_config(html)
    assert config["scormVersion"] == "scorm12" and config["api"]["cmi"] == "/play/api/cmi"
    assert config["limits"] == {"location": 255, "suspend_data": 4096}
    assert config["errors"] == {"commit": 101, "setValue": 405}
    assert "Set-Cookie" not in response.headers
    # The runtime script is served as JavaScript.
    script = fetch(client, "/static/vendor/node_modules/scorm-again/dist/scorm12.min.js")
    assert script.status_code == 200 and script.mimetype == "text/javascript"
    assert b"Scorm12API" in script.get_data()


def test_a_missing_runtime_is_a_clear_503(client: FlaskClient, seated12: Seated,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(player_views.RUNTIME_SCRIPTS, "scorm12", "vendor/not-installed.js")
    response = client.get(f"/play?t={seated12.token}")
    assert response.status_code == 503
    assert "make install" in response.get_data(as_text=True)


def test_the_session_gives_the_starting_cmi_and_the_launch_url(client: FlaskClient, seated12: Seated,
                                                               committing_sessions: Sessions) -> None:
    data = start(client, seated12)
    scorm = data["scorm"]
    assert (scorm["version"], scorm["session"], data["entry"]) == ("scorm12", 1, "ab-initio")
    assert scorm["launch_url"].startswith("/play/content/") and scorm["launch_url"].endswith(
        "/content/index.html?lang=en")
    assert scorm["cmi"] == {
        "cmi.core.student_id": "ada", "cmi.core.student_name": "Ada Lovelace", "cmi.core.entry": "ab-initio",
        "cmi.core.credit": "credit", "cmi.core.lesson_mode": "normal", "cmi.core.total_time": "0000:00:00.00",
        "cmi.launch_data": "mode=full", "cmi.core.lesson_status": "incomplete",
        "cmi.student_data.mastery_score": "80",
    }
    assert row_of(committing_sessions, seated12.seat_id).content_id is not None


# ---------------------------------------------------------------- the course's files


def launch_url(client: FlaskClient, seated: Seated) -> str:
    return str(start(client, seated)["scorm"]["launch_url"]).split("?")[0]


def test_files_are_served_with_types_and_headers(client: FlaskClient, seated12: Seated) -> None:
    url = launch_url(client, seated12)
    page = fetch(client, url)
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self' 'unsafe-inline' 'unsafe-eval'" in csp and "connect-src 'self'" in csp
    # No player rule here: the app-wide policy (the tool itself and the registered LMSs) applies.
    assert "frame-ancestors 'self'" in csp
    assert "Set-Cookie" not in page.headers
    assert 'Fire &amp; &quot;Safety&quot; &lt;basics&gt;' in page.get_data(as_text=True)
    base = url.rsplit("/", 1)[0]
    assert fetch(client, f"{base}/course.js").headers["Content-Type"] == "text/javascript"
    assert fetch(client, f"{base}/course.css").headers["Content-Type"] == "text/css"
    token_root = url.split("/content/index.html")[0]
    assert fetch(client, f"{token_root}/imsmanifest.xml").headers["Content-Type"] == "application/xml"
    assert fetch(client, f"{token_root}/").status_code == 404  # no listing
    assert fetch(client, f"{base}/missing.html").status_code == 404


def test_files_may_be_framed_where_the_player_may(app: Flask, client: FlaskClient, seated12: Seated) -> None:
    """frame-ancestors checks every ancestor: the files allow the player's origin and the LMS
    around the player."""
    override_player_origin(app, "lti", frame_ancestors=lambda grant: ["https://lms.example.edu"])
    assert "frame-ancestors https://lms.example.edu" in client.get(
        f"/play?t={seated12.token}").headers["Content-Security-Policy"]
    page = fetch(client, launch_url(client, seated12))
    assert page.headers["Content-Security-Policy"].endswith("frame-ancestors 'self' https://lms.example.edu")


def test_files_need_a_valid_unexpired_content_token(app: Flask, client: FlaskClient, seated12: Seated) -> None:
    url = launch_url(client, seated12)
    token = url.split("/")[3]
    tail = url.split(token, 1)[1]
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert fetch(client, f"/play/content/{tampered}{tail}").status_code == 401
    # The player token is not a content token (another salt).
    assert fetch(client, f"/play/content/{seated12.token}{tail}").status_code == 401
    assert fetch(client, f"/play/content/{token}{tail}").status_code == 200
    settings = services_of(app).settings
    valid = content_files.verify_content_token(settings, token)
    old_grant = replace(verify_player_token(settings, seated12.token), expires_at=NOW - timedelta(seconds=1))
    expired = content_files.issue_content_token(settings, old_grant, content_id=valid.content_id,
                                                storage_key=valid.storage_key)
    response = fetch(client, f"/play/content/{expired}{tail}")
    assert response.status_code == 401 and b"expired" in response.get_data()


def test_paths_outside_the_package_are_not_found(app: Flask, client: FlaskClient, seated12: Seated) -> None:
    url = launch_url(client, seated12)
    token = url.split("/")[3]
    root = Path(services_of(app).settings.content_dir)
    (root / "secret.txt").write_text("TOP-SECRET")
    for path in ("../../secret.txt", "content/../../../secret.txt", "%2e%2e/%2e%2e/secret.txt",
                 "..%2f..%2fsecret.txt", "/etc/passwd", "content/..%5c..%5csecret.txt"):
        response = fetch(client, f"/play/content/{token}/{path}")
        assert response.status_code == 404, path
        assert b"TOP-SECRET" not in response.get_data()


# ---------------------------------------------------------------- the CMI API


def test_scorm12_commit_maps_status_score_and_time(client: FlaskClient, seated12: Seated,
                                                   committing_sessions: Sessions, app: Flask) -> None:
    events: list[ProgressEvent] = []
    override_player_origin(app, "lti", on_progress=events.append)
    start(client, seated12)
    full_state = {
        "cmi.core.lesson_location": "page-3", "cmi.suspend_data": '{"seen":[0,1,2]}',
        "cmi.core.lesson_status": "passed", "cmi.core.score.raw": "90", "cmi.core.score.min": "0",
        "cmi.core.score.max": "100", "cmi.core.session_time": "00:02:30", "cmi.core.exit": "suspend",
        "cmi.core.student_id": "someone-else", "cmi.interactions.0.id": "q1", "cmi.objectives": {},
    }
    response = cmi(client, seated12, "scorm12", full_state)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["result"], body["errorCode"]) == ("true", 0)
    assert body["state"]["score_percent"] == 90 and body["state"]["total_time_seconds"] == 150
    row = row_of(committing_sessions, seated12.seat_id)
    assert (row.location, row.completion_status, row.success_status, row.score_raw, row.total_time_seconds) == (
        "page-3", "completed", "passed", 90.0, 150)
    assert row.cmi == {"cmi.core.exit": "suspend", "cmi.interactions.0.id": "q1"}
    assert events[-1].status_changed and events[-1].success_status == "passed" and events[-1].launch_id == "launch-9"
    # The same state again (the course's Finish after its Commit) adds no time.
    assert cmi(client, seated12, "scorm12", full_state).status_code == 200
    assert row_of(committing_sessions, seated12.seat_id).total_time_seconds == 150

    # The next session resumes with what was saved.
    data = start(client, seated12)
    assert data["entry"] == "resume" and data["scorm"]["session"] == 2
    preload = data["scorm"]["cmi"]
    assert (preload["cmi.core.entry"], preload["cmi.core.lesson_location"], preload["cmi.suspend_data"]) == (
        "resume", "page-3", '{"seen":[0,1,2]}')
    assert (preload["cmi.core.lesson_status"], preload["cmi.core.score.raw"], preload["cmi.core.total_time"]) == (
        "passed", "90", "0000:02:30.00")
    assert preload["cmi.interactions.0.id"] == "q1" and "cmi.core.exit" not in preload


def test_scorm2004_commit_maps_completion_success_and_scaled(client: FlaskClient, seated2004: Seated,
                                                             committing_sessions: Sessions) -> None:
    start(client, seated2004)
    response = cmi(client, seated2004, "scorm2004", {
        "cmi.location": "page-4", "cmi.completion_status": "completed", "cmi.success_status": "passed",
        "cmi.score.scaled": "0.9", "cmi.session_time": "PT1M5.5S", "cmi.exit": "normal",
    })
    assert response.status_code == 200, response.get_json()
    row = row_of(committing_sessions, seated2004.seat_id)
    assert (row.completion_status, row.success_status, row.score_scaled, row.score_raw, row.total_time_seconds) == (
        "completed", "passed", 0.9, 90.0, 65)
    data = start(client, seated2004)
    assert data["entry"] == ""  # exited normally: not a resume
    preload = data["scorm"]["cmi"]
    assert (preload["cmi.completion_status"], preload["cmi.success_status"], preload["cmi.score.scaled"],
            preload["cmi.total_time"], preload["cmi.scaled_passing_score"]) == (
        "completed", "passed", "0.9", "PT1M5S", "0.8")


@pytest.mark.parametrize("version,values,reason,code", [
    ("scorm12", {"cmi.suspend_data": "x" * 4097}, "suspend_data_too_long", 101),
    ("scorm12", {"cmi.core.lesson_location": "x" * 256}, "location_too_long", 101),
    ("scorm2004", {"cmi.suspend_data": "x" * 64001}, "suspend_data_too_long", 391),
    ("scorm2004", {"cmi.location": "x" * 1001}, "location_too_long", 391),
    ("scorm2004", {"cmi.success_status": "great"}, "invalid_success_status", 391),
])
def test_over_limit_values_are_refused_with_a_scorm_error(
        version: str, values: dict[str, str], reason: str, code: int, client: FlaskClient, seated12: Seated,
        seated2004: Seated, committing_sessions: Sessions) -> None:
    seated = seated12 if version == "scorm12" else seated2004
    start(client, seated)
    assert cmi(client, seated, version, {"cmi.suspend_data": "kept"}).status_code == 200
    response = cmi(client, seated, version, values)
    assert response.status_code == 400
    body = response.get_json()
    assert (body["result"], body["errorCode"], body["error"]) == ("false", code, reason)
    assert row_of(committing_sessions, seated.seat_id).suspend_data == "kept"


@pytest.mark.parametrize("values", [
    {"cmi.suspend_data": "a\ud800b"}, {"cmi.suspend_data": "a\x00b"}, {"cmi.core.lesson_location": "p\udfff"},
    {"cmi.core.lesson_location": "p\x00"}, {"cmi.interactions.0.id": "q\x00"}, {"cmi.comments\ud800": "x"},
])
def test_cmi_commits_with_nul_or_lone_surrogates_are_refused(client: FlaskClient, seated12: Seated,
                                                            committing_sessions: Sessions,
                                                            values: dict[str, str]) -> None:
    """The issue's reproduction for /play/api/cmi: a 400 with the SCORM commit error (so the course
    sees a failed Commit), never a 500; by bearer (application/json) and by beacon (text/plain)."""
    start(client, seated12)
    assert cmi(client, seated12, "scorm12", {"cmi.suspend_data": "kept"}).status_code == 200
    by_json = cmi(client, seated12, "scorm12", values)
    payload = {"token": seated12.token, "scorm_version": "scorm12", "session": 1, "cmi": values}
    by_beacon = client.post("/play/api/cmi", data=json.dumps(payload), content_type="text/plain;charset=UTF-8")
    for response in (by_json, by_beacon):
        assert response.status_code == 400, response.get_data(as_text=True)
        body = response.get_json()
        assert body["error"] == "invalid_text" and body["result"] == "false"
    assert by_beacon.get_json()["errorCode"] == 101
    assert row_of(committing_sessions, seated12.seat_id).suspend_data == "kept"


def test_the_beacon_carries_the_token_in_the_body(client: FlaskClient, seated12: Seated,
                                                  committing_sessions: Sessions) -> None:
    start(client, seated12)
    payload = {"token": seated12.token, "scorm_version": "scorm12", "session": 1, "final": True,
               "cmi": {"cmi.core.lesson_location": "page-2", "cmi.core.exit": "suspend"}, "player_seconds": 12.5}
    response = client.post("/play/api/cmi", data=json.dumps(payload), content_type="text/plain;charset=UTF-8")
    assert response.status_code == 200
    row = row_of(committing_sessions, seated12.seat_id)
    assert (row.location, row.total_time_seconds) == ("page-2", 12)  # no session time: the player's count


def test_cmi_refusals(app: Flask, client: FlaskClient, seated12: Seated, committing_sessions: Sessions,
                      tmp_path: Path) -> None:
    assert client.post("/play/api/cmi", json={"scorm_version": "scorm12", "cmi": {}}).status_code == 401
    bad = client.post("/play/api/cmi", headers=bearer(seated12.token[:-2] + "xx"),
                      json={"scorm_version": "scorm12", "cmi": {}})
    assert bad.status_code == 401 and bad.get_json()["errorCode"] == 101
    no_session = cmi(client, seated12, "scorm12", {})
    assert (no_session.status_code, no_session.get_json()["error"]) == (400, "no_session")
    start(client, seated12)
    mismatch = cmi(client, seated12, "scorm2004", {})
    assert (mismatch.status_code, mismatch.get_json()["error"]) == (400, "version_mismatch")
    unknown = cmi(client, seated12, "scorm12", {}, extra="x")
    assert (unknown.status_code, unknown.get_json()["error"]) == (400, "unknown_field")
    # A course without imported content keeps its demo lessons and takes no CMI.
    demo_course, account_id = course_with(app, committing_sessions, tmp_path, None, catalog_id="DEMO-1")
    demo = seat(app, committing_sessions, demo_course, "grace", account_id)
    page = client.get(f"/play?t={demo.token}")
    assert page.status_code == 200 and "quiz-form" in page.get_data(as_text=True)
    assert "scorm" not in start(client, demo)
    refused = cmi(client, demo, "scorm12", {})
    assert (refused.status_code, refused.get_json()["error"]) == (400, "not_scorm_content")


def test_a_reimport_does_not_change_the_course_under_a_learner(app: Flask, client: FlaskClient, seated12: Seated,
                                                               committing_sessions: Sessions, tmp_path: Path) -> None:
    first = start(client, seated12)["scorm"]["launch_url"]
    import_generated(committing_sessions, content_files.content_store(services_of(app).settings), seated12.course,
                     "scorm2004", NOW, tmp_path, title="New edition")
    again = start(client, seated12)["scorm"]
    assert again["version"] == "scorm12"
    storage = services_of(app).settings
    first_key = content_files.verify_content_token(storage, first.split("/")[3]).storage_key
    assert content_files.verify_content_token(storage, again["launch_url"].split("/")[3]).storage_key == first_key
    assert cmi(client, seated12, "scorm12", {"cmi.core.lesson_status": "completed"}, session=2).status_code == 200
    newcomer = seat(app, committing_sessions, seated12.course, "newcomer", seated12.account_id)
    fresh = start(client, newcomer)["scorm"]
    assert fresh["version"] == "scorm2004"
    assert 'scorm2004.min.js' in client.get(f"/play?t={newcomer.token}").get_data(as_text=True)


def test_commits_arriving_out_of_order_and_stale_windows(client: FlaskClient, seated12: Seated,
                                                         committing_sessions: Sessions) -> None:
    start(client, seated12)
    newer = cmi(client, seated12, "scorm12", {"cmi.core.lesson_location": "page-3", "cmi.core.exit": "suspend"},
                seq=5)
    assert newer.status_code == 200
    older = cmi(client, seated12, "scorm12", {"cmi.core.lesson_location": "page-2"}, seq=4)  # a late beacon
    assert older.status_code == 200 and older.get_json()["state"]["location"] == "page-3"
    row = row_of(committing_sessions, seated12.seat_id)
    assert (row.location, row.cmi, row.commit_seq) == ("page-3", {"cmi.core.exit": "suspend"}, 5)
    # The course opened again elsewhere: the first window's commits are refused.
    assert start(client, seated12)["scorm"]["session"] == 2
    stale = cmi(client, seated12, "scorm12", {"cmi.core.lesson_location": "page-1"}, session=1, seq=6)
    assert stale.status_code == 400
    assert (stale.get_json()["error"], stale.get_json()["errorCode"], stale.get_json()["result"]) == (
        "stale_session", 101, "false")
    assert row_of(committing_sessions, seated12.seat_id).location == "page-3"
    assert cmi(client, seated12, "scorm12", {"cmi.core.lesson_location": "page-1"}, session=2, seq=1).status_code == 200
    assert cmi(client, seated12, "scorm12", {}, session=2, seq=-1).get_json()["error"] == "invalid_seq"

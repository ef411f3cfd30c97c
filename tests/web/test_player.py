"""The course player over HTTP: token checks, the page, the JSON API, the beacon, server-side
quiz grading, progress listeners, and the CSRF exemption (CSRF stays enabled here)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.player.tokens import PlayerTokenError, issue_player_token, verify_player_token
from lti_tool.services import services_of
from store.content import content_for
from store.licenses import service as licenses
from store.licenses.models import Seat
from store.progress import queries
from store.progress.models import CourseProgress
from store.progress.service import ProgressEvent
from tests.factories.app import override_player_origin, override_services
from tests.factories.catalog import make_course
from tests.factories.licenses import claim, make_account

Sessions = sessionmaker[Session]
NOW = datetime.now(UTC)
TITLE = 'Fire & "Safety" <Evacuation> 防火'


@dataclass(frozen=True)
class Seated:
    account_id: int
    course: str
    seat_id: int
    learner_id: int
    token: str


@pytest.fixture
def seated(app: Flask, committing_sessions: Sessions) -> Seated:
    account_id = make_account(committing_sessions, "Acme Learning", NOW).id
    with committing_sessions.begin() as s:
        course = make_course(s, "VOL-1", title=TITLE, is_plus=False, publisher="SafeWork <Pro>").catalog_id
    licenses.grant_volume(committing_sessions, account_id, course, 5, NOW)
    result = claim(committing_sessions, account_id, "volume", course, "learner-1", NOW)
    assert result.seat and result.learner_id
    token = issue_player_token(services_of(app).settings, seat_id=result.seat.id, catalog_id=course,
                               learner_id=result.learner_id, launch_id="launch-123", origin="lti")
    return Seated(account_id, course, result.seat.id, result.learner_id, token)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def page_config(html: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="player-config">(.*?)</script>', html, re.S)
    assert match, "no player config in the page"
    return json.loads(match.group(1))


def content_of(committing_sessions: Sessions, course: str):  # type: ignore[no-untyped-def]
    with committing_sessions() as s:
        found = queries.find_course(s, course)
        assert found
        return content_for(found[1], demo_content=True)


def progress_row(committing_sessions: Sessions) -> CourseProgress | None:
    with committing_sessions() as s:
        return s.scalars(select(CourseProgress)).first()


# ---------------------------------------------------------------- tokens


def test_token_round_trip_and_failures(app: Flask) -> None:
    settings = services_of(app).settings
    token = issue_player_token(settings, seat_id=7, catalog_id="C-1", learner_id=3, launch_id=None,
                               origin="dispatch", now=NOW)
    grant = verify_player_token(settings, token, now=NOW + timedelta(seconds=10))
    assert (grant.seat_id, grant.catalog_id, grant.learner_id, grant.launch_id, grant.origin) == (
        7, "C-1", 3, None, "dispatch")
    assert grant.expires_at - grant.issued_at == timedelta(seconds=settings.player_token_ttl_seconds)

    def reason(tok: str | None, now: datetime = NOW, s: Any = settings) -> str:
        with pytest.raises(PlayerTokenError) as info:
            verify_player_token(s, tok, now=now)
        return info.value.reason

    assert reason(None) == "missing" and reason("") == "missing"
    assert reason(token[:-2] + ("AA" if not token.endswith("AA") else "BB")) == "invalid"
    assert reason("garbage.token") == "invalid"
    assert reason(token, s=settings.with_overrides(secret_key="another-secret-key-of-enough-length")) == "invalid"
    assert reason(token, now=grant.expires_at) == "expired"
    with pytest.raises(ValueError):
        issue_player_token(settings, seat_id=1, catalog_id="C", learner_id=1, launch_id=None, origin="email")


# ---------------------------------------------------------------- the page


def test_the_page_renders_escaped_without_cookies_or_answers(client: FlaskClient, seated: Seated,
                                                              committing_sessions: Sessions) -> None:
    response = client.get(f"/play?t={seated.token}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Fire &amp; &#34;Safety&#34; &lt;Evacuation&gt; 防火" in html
    assert "<Evacuation>" not in html and "SafeWork <Pro>" not in html
    assert "SafeWork &lt;Pro&gt;" in html
    assert "Set-Cookie" not in response.headers
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    config = page_config(html)
    assert config["token"] == seated.token and config["origin"] == "lti" and config["location"] == "lesson-1"
    assert config["api"]["beacon"] == "/play/api/beacon"
    # The page never carries the right answers.
    content = content_of(committing_sessions, seated.course)
    assert "answer" not in json.dumps(config)
    for question in content.questions:
        assert f'name="{question.id}"' in html
    assert 'data-location="lesson-1"\n' in html or 'data-location="lesson-1" ' in html
    assert re.search(r'id="lesson-2"[^>]*\bhidden\b', html)
    assert not re.search(r'id="lesson-1"[^>]*\bhidden\b', html)
    assert "Not started" in html
    assert progress_row(committing_sessions) is None  # the page itself writes nothing


def test_a_frame_ancestors_hook_sets_who_may_frame_the_page(app: Flask, client: FlaskClient,
                                                            seated: Seated) -> None:
    seen = []

    def ancestors(grant):  # type: ignore[no-untyped-def]
        seen.append(grant)
        return ["https://lms.example.edu"]

    override_player_origin(app, "lti", frame_ancestors=ancestors)
    response = client.get(f"/play?t={seated.token}")
    assert response.status_code == 200
    assert "frame-ancestors https://lms.example.edu" in response.headers["Content-Security-Policy"]
    assert seen[0].seat_id == seated.seat_id and seen[0].origin == "lti"


def test_a_title_with_script_stays_inert_in_the_config(client: FlaskClient, app: Flask,
                                                       committing_sessions: Sessions) -> None:
    account_id = make_account(committing_sessions, "Script Org", NOW).id
    with committing_sessions.begin() as s:
        course = make_course(s, "</script><script>alert(1)</script>", title="</script><b>x", is_plus=False).catalog_id
    licenses.grant_volume(committing_sessions, account_id, course, 1, NOW)
    result = claim(committing_sessions, account_id, "volume", course, "x", NOW)
    assert result.seat and result.learner_id
    token = issue_player_token(services_of(app).settings, seat_id=result.seat.id, catalog_id=course,
                               learner_id=result.learner_id, launch_id=None, origin="lti")
    html = client.get(f"/play?t={token}").get_data(as_text=True)
    assert "</script><script>alert(1)" not in html and "</script><b>x" not in html
    assert page_config(html)["courseId"] == course


@pytest.mark.parametrize(
    ("query", "text"),
    [("", "No course link"), ("?t=", "No course link"), ("?t=abc.def", "not valid")],
)
def test_the_page_refuses_missing_or_bad_tokens(client: FlaskClient, query: str, text: str) -> None:
    response = client.get(f"/play{query}")
    assert response.status_code == 401
    assert text in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)


def test_the_page_refuses_tampered_and_expired_tokens(client: FlaskClient, app: Flask, seated: Seated) -> None:
    tampered = seated.token.replace(seated.token[5], "A" if seated.token[5] != "A" else "B", 1)
    assert client.get(f"/play?t={tampered}").status_code == 401
    expired = issue_player_token(services_of(app).settings, seat_id=seated.seat_id, catalog_id=seated.course,
                                 learner_id=seated.learner_id, launch_id=None, origin="lti",
                                 now=NOW - timedelta(days=2))
    response = client.get(f"/play?t={expired}")
    assert response.status_code == 401 and "expired" in response.get_data(as_text=True)


def test_another_learners_token_for_the_seat_is_refused(client: FlaskClient, app: Flask, seated: Seated) -> None:
    wrong = issue_player_token(services_of(app).settings, seat_id=seated.seat_id, catalog_id=seated.course,
                               learner_id=seated.learner_id + 1000, launch_id=None, origin="lti")
    assert client.get(f"/play?t={wrong}").status_code == 401
    assert client.post("/play/api/session", headers=bearer(wrong)).status_code == 401


def test_a_deleted_seat_answers_410(client: FlaskClient, seated: Seated, committing_sessions: Sessions) -> None:
    with committing_sessions.begin() as s:
        s.execute(delete(Seat).where(Seat.id == seated.seat_id))
    assert client.get(f"/play?t={seated.token}").status_code == 410
    response = client.post("/play/api/commit", headers=bearer(seated.token), json={"location": "lesson-2"})
    assert response.status_code == 410 and response.get_json()["error"] == "seat_gone"


# ---------------------------------------------------------------- the API


@pytest.mark.parametrize("path", ["/play/api/session", "/play/api/commit", "/play/api/quiz"])
def test_api_needs_a_valid_bearer_token(client: FlaskClient, app: Flask, seated: Seated, path: str) -> None:
    assert client.post(path, json={}).get_json()["error"] == "token_missing"
    assert client.post(path, json={}, headers={"Authorization": f"Basic {seated.token}"}).status_code == 401
    tampered = seated.token[:-3] + "xyz"
    response = client.post(path, json={}, headers=bearer(tampered))
    assert response.status_code == 401 and response.get_json()["error"] == "token_invalid"
    expired = issue_player_token(services_of(app).settings, seat_id=seated.seat_id, catalog_id=seated.course,
                                 learner_id=seated.learner_id, launch_id=None, origin="lti",
                                 now=NOW - timedelta(days=1))
    response = client.post(path, json={}, headers=bearer(expired))
    assert response.status_code == 401 and response.get_json()["error"] == "token_expired"
    assert client.get("/play/api/state", headers=bearer(expired)).status_code == 401


def test_commit_then_reload_resumes_at_the_location(client: FlaskClient, seated: Seated,
                                                   committing_sessions: Sessions) -> None:
    started = client.post("/play/api/session", headers=bearer(seated.token))
    assert started.status_code == 200
    assert started.get_json()["entry"] == "ab-initio"
    assert started.get_json()["state"]["completion_status"] == "incomplete"

    suspend = json.dumps({"visited": ["lesson-1", "lesson-2", "lesson-3"]})
    response = client.post("/play/api/commit", headers=bearer(seated.token),
                           json={"location": "lesson-3", "suspend_data": suspend, "session_time_seconds": 42})
    assert response.status_code == 200
    state = response.get_json()["state"]
    assert (state["location"], state["total_time_seconds"], state["session_count"]) == ("lesson-3", 42, 1)

    html = client.get(f"/play?t={seated.token}").get_data(as_text=True)
    assert page_config(html)["location"] == "lesson-3"
    assert not re.search(r'id="lesson-3"[^>]*\bhidden\b', html)
    assert re.search(r'id="lesson-1"[^>]*\bhidden\b', html)
    assert "In progress" in html
    places = len(content_of(committing_sessions, seated.course).locations)
    assert f'class="player-progress" max="100" value="{round(300 / places)}"' in html  # 3 places visited

    again = client.post("/play/api/session", headers=bearer(seated.token)).get_json()
    assert again["entry"] == "resume" and again["state"]["session_count"] == 2
    assert client.get("/play/api/state", headers=bearer(seated.token)).get_json()["state"]["location"] == "lesson-3"


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"score_raw": 100}, 400, "score_not_accepted"),
        ({"completion_status": "completed"}, 400, "score_not_accepted"),
        ({"location": "lesson-42"}, 400, "unknown_location"),
        ({"location": 5}, 400, "invalid_location"),
        ({"session_time_seconds": -5}, 400, "negative_session_time"),
        ({"session_time_seconds": "lots"}, 400, "invalid_session_time"),
        ({"session_time_seconds": 10**400}, 400, "invalid_session_time"),
        ({"suspend_data": "x" * 64001}, 400, "suspend_data_too_long"),
        ({"score": 100}, 400, "unknown_field"),
        ({"cmi": ["x"]}, 400, "invalid_cmi"),
    ],
)
def test_bad_commits_are_refused_and_change_nothing(client: FlaskClient, seated: Seated,
                                                    committing_sessions: Sessions, body: dict[str, Any],
                                                    status: int, error: str) -> None:
    response = client.post("/play/api/commit", headers=bearer(seated.token), json=body)
    assert response.status_code == status
    assert response.get_json()["error"] == error and response.get_json()["message"]
    assert progress_row(committing_sessions) is None


def test_malformed_and_oversized_bodies(client: FlaskClient, seated: Seated) -> None:
    headers = {**bearer(seated.token), "Content-Type": "application/json"}
    assert client.post("/play/api/commit", headers=headers, data="{not json").get_json()["error"] == "invalid_json"
    assert client.post("/play/api/commit", headers=headers, data="[1]").get_json()["error"] == "invalid_json"
    assert client.post("/play/api/commit", headers=headers, data=b"\xff\xfe").get_json()["error"] == "invalid_json"
    deep = client.post("/play/api/commit", headers=headers, data="[" * 200_000)
    assert deep.status_code == 400 and deep.get_json()["error"] == "invalid_json"
    big = client.post("/play/api/commit", headers=headers, data=json.dumps({"suspend_data": "x" * 500_000}))
    assert big.status_code == 413 and big.get_json()["error"] == "body_too_large"
    garbage = client.post("/play/api/commit", headers=headers, data="x" * 500_000)
    assert garbage.status_code == 400 and garbage.get_json()["error"] == "invalid_json"  # the app-wide check
    big_beacon = client.post("/play/api/beacon", data="x" * 500_000, content_type="text/plain")
    assert big_beacon.status_code == 413 and big_beacon.get_json()["error"] == "body_too_large"


BROKEN_TEXT = [
    ({"suspend_data": "a\ud800b"}, "suspend_data"),
    ({"suspend_data": "a\u0000b"}, "suspend_data"),
    ({"location": "lesson-\udc80"}, "location"),
    ({"location": "lesson\u00002"}, "location"),
    ({"cmi": {"cmi.interactions.0.id": "q\u0000"}}, "cmi.interactions.0.id"),
    ({"cmi": {"cmi.comments\ud800": "x"}}, "a key in cmi"),
]


@pytest.mark.parametrize(("raw", "where"), [(json.dumps(b).replace("\\\\", "\\"), w) for b, w in BROKEN_TEXT])
def test_commits_with_nul_or_lone_surrogates_are_refused(client: FlaskClient, seated: Seated,
                                                        committing_sessions: Sessions, raw: str, where: str) -> None:
    """The issue's reproduction: ``{"suspend_data": "a\\ud800b"}`` was a 500 (UnicodeEncodeError on
    SQLite, psycopg DataError for NUL on PostgreSQL). Now a 400 naming the field, as JSON, by the
    app-wide check (application/json) and by the player itself (a beacon's text/plain body); the
    raw value is never echoed and nothing is stored."""
    start_ok = client.post("/play/api/commit", headers=bearer(seated.token), json={"location": "lesson-1"})
    assert start_ok.status_code == 200
    by_json = client.post("/play/api/commit", headers=bearer(seated.token), data=raw,
                          content_type="application/json")
    beacon_body = raw.replace("{", '{"token": "%s", ' % seated.token, 1)
    by_beacon = client.post("/play/api/beacon", data=beacon_body, content_type="text/plain;charset=UTF-8")
    for response in (by_json, by_beacon):
        assert response.status_code == 400, response.get_data(as_text=True)
        body = response.get_json()
        assert body["error"] == "invalid_text" and where in body["message"]
        assert "NUL" in body["message"] or "surrogate" in body["message"]
    row = progress_row(committing_sessions)
    assert row and (row.location, row.suspend_data) == ("lesson-1", "")


def test_quiz_is_graded_on_the_server(client: FlaskClient, seated: Seated, committing_sessions: Sessions) -> None:
    content = content_of(committing_sessions, seated.course)
    wrong = {q.id: next(c.id for c in q.choices if c.id != q.answer) for q in content.questions}
    right = {q.id: q.answer for q in content.questions}

    failed = client.post("/play/api/quiz", headers=bearer(seated.token),
                         json={"answers": wrong, "session_time_seconds": 30, "location": "quiz"})
    assert failed.status_code == 200
    data = failed.get_json()
    assert data["result"]["passed"] is False and data["result"]["score_percent"] == 0
    assert set(data["result"]) == {"correct", "total", "score_percent", "passed", "is_best_score"}
    assert data["result"]["correct"] == 0 and data["result"]["total"] == len(content.questions)
    assert (data["state"]["completion_status"], data["state"]["success_status"]) == ("completed", "failed")
    # A failed attempt is never called completed; the quiz is not ticked and the bar is not full.
    assert data["state"]["label"] == "Not passed yet — score 0%" and data["state"]["is_done"] is False
    failed_page = client.get(f"/play?t={seated.token}").get_data(as_text=True)
    assert "Completed" not in failed_page and "Not passed yet — score 0%" in failed_page
    assert not re.search(r'data-goto="quiz"\s+class="visited"', failed_page)
    assert 'value="100"' not in failed_page

    passed = client.post("/play/api/quiz", headers=bearer(seated.token), json={"answers": right}).get_json()
    assert passed["result"]["passed"] is True and passed["result"]["score_percent"] == 100
    assert (passed["state"]["success_status"], passed["state"]["score_percent"]) == ("passed", 100)

    row = progress_row(committing_sessions)
    assert row and (row.score_raw, row.score_max, row.score_scaled, row.total_time_seconds) == (100.0, 100.0, 1.0, 30)
    html = client.get(f"/play?t={seated.token}").get_data(as_text=True)
    assert "Completed — score 100%" in html and "(passed)" in html
    assert re.search(r'data-goto="quiz"\s+class="visited"', html) and 'class="player-progress" max="100" value="100"' in html


def test_the_quiz_result_never_says_which_answers_were_right(client: FlaskClient, seated: Seated,
                                                             committing_sessions: Sessions) -> None:
    """Two attempts with one right answer each, on different questions, get the same answer: a
    learner cannot find the right answers question by question."""
    quiz = content_of(committing_sessions, seated.course)
    results = []
    for right_one in (quiz.questions[0].id, quiz.questions[1].id):
        answers = {q.id: q.answer if q.id == right_one else next(c.id for c in q.choices if c.id != q.answer)
                   for q in quiz.questions}
        response = client.post("/play/api/quiz", headers=bearer(seated.token), json={"answers": answers})
        assert response.status_code == 200
        result = response.get_json()["result"]
        assert (result["correct"], result["total"], result["passed"]) == (1, len(quiz.questions), False)
        assert not any(f'"{q.id}"' in response.get_data(as_text=True) for q in quiz.questions)
        results.append(result)
    assert results[0] == results[1]


@pytest.mark.parametrize(
    ("body", "error"),
    [({"answers": {"q99": "a"}}, "invalid_answers"), ({"answers": {"q1": 2}}, "invalid_answers"),
     ({"answers": "abcd"}, "invalid_answers"), ({"answers": {}, "score": 100}, "unknown_field")],
)
def test_bad_quiz_submissions(client: FlaskClient, seated: Seated, committing_sessions: Sessions,
                              body: dict[str, Any], error: str) -> None:
    response = client.post("/play/api/quiz", headers=bearer(seated.token), json=body)
    assert response.status_code == 400 and response.get_json()["error"] == error
    assert progress_row(committing_sessions) is None


# ---------------------------------------------------------------- beacon


def test_beacon_takes_the_token_in_a_text_body(client: FlaskClient, seated: Seated,
                                               committing_sessions: Sessions) -> None:
    body = json.dumps({"token": seated.token, "location": "lesson-2", "session_time_seconds": 17})
    response = client.post("/play/api/beacon", data=body, headers={"Content-Type": "text/plain;charset=UTF-8"})
    assert response.status_code == 204
    row = progress_row(committing_sessions)
    assert row and (row.location, row.total_time_seconds) == ("lesson-2", 17)

    bad = client.post("/play/api/beacon", data=json.dumps({"token": seated.token[:-2], "location": "lesson-3"}),
                      headers={"Content-Type": "text/plain"})
    assert bad.status_code == 401
    no_token = client.post("/play/api/beacon", data=json.dumps({"location": "lesson-3"}))
    assert no_token.status_code == 401 and no_token.get_json()["error"] == "token_missing"
    row = progress_row(committing_sessions)
    assert row and row.location == "lesson-2"


# ---------------------------------------------------------------- listeners


def test_listeners_get_an_event_after_each_commit(app: Flask, client: FlaskClient, seated: Seated,
                                                  committing_sessions: Sessions) -> None:
    events: list[ProgressEvent] = []
    override_player_origin(app, "lti", on_progress=events.append)
    client.post("/play/api/session", headers=bearer(seated.token))
    client.post("/play/api/commit", headers=bearer(seated.token), json={"location": "lesson-2",
                                                                        "session_time_seconds": 12})
    content = content_of(committing_sessions, seated.course)
    client.post("/play/api/quiz", headers=bearer(seated.token),
                json={"answers": {q.id: q.answer for q in content.questions}})
    client.post("/play/api/commit", headers=bearer(seated.token), json={"location": "bad place"})  # refused

    assert [e.status_changed for e in events] == [True, False, True]
    last = events[-1]
    assert (last.seat_id, last.catalog_id, last.learner_id, last.launch_id, last.origin) == (
        seated.seat_id, seated.course, seated.learner_id, "launch-123", "lti")
    assert (last.completion_status, last.success_status, last.score_raw, last.score_max, last.score_scaled,
            last.total_time_seconds) == ("completed", "passed", 100.0, 100.0, 1.0, 12)
    assert last.occurred_at.tzinfo is not None
    with pytest.raises(AttributeError):
        last.seat_id = 5  # type: ignore[misc]  # frozen


def test_a_raising_listener_does_not_break_the_commit(app: Flask, client: FlaskClient, seated: Seated,
                                                      committing_sessions: Sessions,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    called: list[ProgressEvent] = []

    def broken(event: ProgressEvent) -> None:
        called.append(event)
        raise RuntimeError("LMS unreachable")

    override_player_origin(app, "lti", on_progress=broken)
    response = client.post("/play/api/commit", headers=bearer(seated.token), json={"location": "lesson-2"})
    assert response.status_code == 200
    assert len(called) == 1  # the listener ran, after the commit
    row = progress_row(committing_sessions)
    assert row and row.location == "lesson-2"
    assert "progress listener" in caplog.text and "LMS unreachable" in caplog.text
    beacon = client.post("/play/api/beacon", data=json.dumps({"token": seated.token, "location": "lesson-3"}))
    assert beacon.status_code == 204


# ---------------------------------------------------------------- CSRF


def test_api_is_exempt_from_csrf_while_forms_are_protected(app: Flask, client: FlaskClient, seated: Seated) -> None:
    assert app.config.get("WTF_CSRF_ENABLED", True) is True

    @app.post("/__csrf_probe")
    def probe() -> str:
        return "ok"

    assert client.post("/__csrf_probe", data={"x": "1"}).status_code == 400  # CSRF is on
    assert client.post("/play/api/session", headers=bearer(seated.token)).status_code == 200
    assert client.post("/play/api/commit", headers=bearer(seated.token), json={"location": "lesson-2"}).status_code == 200
    beacon = client.post("/play/api/beacon", data=json.dumps({"token": seated.token, "session_time_seconds": 1}))
    assert beacon.status_code == 204


# ---------------------------------------------------------------- no placeholder content in production


def test_placeholder_content_plays_and_scores_nothing_where_demo_content_is_off(
        app: Flask, client: FlaskClient, seated: Seated, committing_sessions: Sessions) -> None:
    """A course without imported content where demo content is off (production): the page and
    every API call say "not available yet", nothing is saved, no score reaches a gradebook."""
    events: list[ProgressEvent] = []
    override_player_origin(app, "lti", on_progress=events.append)
    override_services(app, settings=services_of(app).settings.with_overrides(demo_content=False))
    right = {q.id: q.answer for q in content_of(committing_sessions, seated.course).questions}

    page = client.get(f"/play?t={seated.token}")
    assert page.status_code == 409 and "This course&#39;s content is not available yet" in page.get_data(as_text=True)
    assert "lesson-1" not in page.get_data(as_text=True)
    headers = bearer(seated.token)
    for response in (
        client.post("/play/api/session", headers=headers),
        client.get("/play/api/state", headers=headers),
        client.post("/play/api/commit", headers=headers, json={"location": "lesson-2", "session_time_seconds": 5}),
        client.post("/play/api/quiz", headers=headers, json={"answers": right}),
        client.post("/play/api/beacon", data=json.dumps({"token": seated.token, "session_time_seconds": 5})),
    ):
        assert response.status_code == 409, response.get_data(as_text=True)
        assert response.get_json()["error"] == "content_not_available"
    assert progress_row(committing_sessions) is None and events == []

    # Where demo content is on (development, test), the same course plays and is scored.
    override_services(app, settings=services_of(app).settings.with_overrides(demo_content=True))
    passed = client.post("/play/api/quiz", headers=headers, json={"answers": right})
    assert passed.status_code == 200 and passed.get_json()["result"]["passed"] is True
    assert [e.score_raw for e in events] == [100.0]

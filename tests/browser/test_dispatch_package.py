"""A built SCORM dispatch package played by an LMS in a real Chromium, across origins.

The product runs on ``live_server`` (``http://127.0.0.1:P``); a stub LMS on its own site
(``http://localhost:P2``, tests/factories/stub_lms.py) hosts scorm-again from npm as the LMS API
and opens the package's ``index.html`` in an iframe. The package's launch page finds that API,
signs its launch token and frames the product's course player, whose dispatch bridge
(static/js/dispatch-bridge.js) relays the learner's progress back through the launch page to the
LMS API. For each SCORM version: the first launch occupies one seat; passing the demo quiz makes
completion, success, score and session time reach the LMS and finishes the LMS session; a second
launch (a fresh LMS registration) takes no seat and gets the state again from the player; each
launch signs a token with a fresh id, and a captured launch request posted again is refused;
revoking the package stops the open player (the player, its dispatch bridge and the package page
say so); a revoked package shows the revocation message in the LMS window and takes no seat. Then: an LMS
that refuses a value gets the learner a banner, and dispatch messages from anywhere but the
launch page's origin and window are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt
import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from scorm_packages import service
from scorm_packages.models import DispatchLaunch
from store.content import content_for
from store.licenses import service as licenses
from store.licenses.models import Seat
from store.progress.queries import find_course
from tests.browser.conftest import LiveServer, new_page
from lti_tool.player.content import content_store
from lti_tool.services import services_of
from tests.factories.catalog import make_course
from tests.factories.content import import_generated
from tests.factories.licenses import make_account
from tests.factories.stub_lms import StubLms, serve_stub_lms

pytestmark = pytest.mark.browser
POLL_MS = 50  # conditions are polled on a timer: requestAnimationFrame polling missed changes here

Sessions = sessionmaker[Session]
TITLE = 'Fire & "Safety" <basics> 防火'
SESSION_TIME = {"scorm12": re.compile(r"^\d{4}:\d{2}:\d{2}\.\d{2}$"),
                "scorm2004": re.compile(r"^PT(?=\d|$)(\d+H)?(\d+M)?(\d+(\.\d{1,2})?S)?$")}
ELEMENT = {
    "scorm12": {"session_time": "cmi.core.session_time", "exit": "cmi.core.exit", "finish": "LMSFinish",
                "status": "window.API.cmi.core.lesson_status", "api": "window.API",
                "location": "cmi.core.lesson_location"},
    "scorm2004": {"session_time": "cmi.session_time", "exit": "cmi.exit", "finish": "Terminate",
                  "status": "window.API_1484_11.cmi.completion_status", "api": "window.API_1484_11",
                  "location": "cmi.location"},
}
READ_LMS = {
    "scorm12": """() => ({status: API.cmi.core.lesson_status, raw: API.cmi.core.score.raw,
                         min: API.cmi.core.score.min, max: API.cmi.core.score.max,
                         location: API.cmi.core.lesson_location})""",
    "scorm2004": """() => ({completion: API_1484_11.cmi.completion_status,
                           success: API_1484_11.cmi.success_status, scaled: API_1484_11.cmi.score.scaled,
                           raw: API_1484_11.cmi.score.raw, location: API_1484_11.cmi.location})""",
}


@dataclass(frozen=True)
class Dispatch:
    lms: StubLms
    key: str
    course: str
    answers: dict[str, str]


@pytest.fixture
def stub_lms() -> Iterator[StubLms]:
    with serve_stub_lms() as lms:
        yield lms


def package_in_lms(live_server: LiveServer, sessions: Sessions, lms: StubLms, version: str, *,
                   content: tuple[str, Path] | None = None) -> Dispatch:
    """An account holding Volume seats for a course and its package, built for the live server,
    uploaded to the stub LMS. The course plays the demo lessons and quiz, or with ``content``
    (SCORM version, tmp folder) an imported generated SCORM course."""
    now = datetime.now(UTC)
    settings = services_of(live_server.app).settings
    account_id = make_account(sessions, f"Acme {version}", now).id
    course = f"DISP-{version}"
    with sessions.begin() as s:
        make_course(s, course, title=TITLE, is_plus=False)
    if content is not None:
        import_generated(sessions, content_store(settings), course, content[0], now, content[1], title=TITLE)
    licenses.grant_volume(sessions, account_id, course, 5, now)
    prepared, built = service.build_package_zip(sessions, settings, account_id, course, "volume", version, now,
                                                base_url=live_server.url)
    lms.add_package(course, version, built.data)
    with sessions() as s:
        found = find_course(s, course)
        assert found is not None
        questions = content_for(found[1], demo_content=True).questions
    return Dispatch(lms, prepared.view.key, course, {q.id: q.answer for q in questions})


def seat_count(sessions: Sessions) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(Seat)) or 0)


def launches(sessions: Sessions) -> list[tuple[str, bool, str | None]]:
    with sessions() as s:
        rows = s.execute(select(DispatchLaunch.outcome, DispatchLaunch.is_new_seat, DispatchLaunch.lms_origin)
                         .order_by(DispatchLaunch.created_at, DispatchLaunch.id))
        return [(outcome, bool(is_new), origin) for outcome, is_new, origin in rows]


def player_of(page: Any) -> Any:
    return page.frame_locator("#sco").frame_locator("#dispatch-player")


def player_frame(page: Any) -> Any:
    return next(frame for frame in page.frames if "/play?" in frame.url)


def sets_of(page: Any, element: str) -> list[tuple[str, str]]:
    """What the launch page wrote to the LMS for an element: [(value, LMS result)]."""
    return [(value, result) for name, value, result in page.evaluate("window.lmsSets") if name == element]


def watch_errors(page: Any) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


@pytest.mark.parametrize("version", ["scorm12", "scorm2004"])
def test_a_package_in_an_lms_takes_one_seat_and_reports_completion_score_and_time(
        version: str, live_server: LiveServer, stub_lms: StubLms, chromium: Any,
        committing_sessions: Sessions) -> None:
    dispatch = package_in_lms(live_server, committing_sessions, stub_lms, version)
    names = ELEMENT[version]
    page = new_page(chromium)
    errors = watch_errors(page)
    posted: list[tuple[str, str | None]] = []  # (launch token, Origin) of every launch the browser posts
    page.on("request", lambda request: posted.append(
        (parse_qs(request.post_data or "")["token"][0], request.headers.get("origin")))
        if request.method == "POST" and request.url.endswith("/dispatch/launch") else None)
    try:
        # First launch: the LMS opens the package; the player comes from the product, one seat taken.
        page.goto(stub_lms.page_url(dispatch.course, "lms-learner-1", "Doe, Jane"))
        player = player_of(page)
        player.locator("#course-title").wait_for()
        assert player.locator("#course-title").inner_text() == TITLE
        assert seat_count(committing_sessions) == 1
        assert launches(committing_sessions) == [("seat", True, stub_lms.url)]
        # The launch page marked the attempt started; the player's first commit (the lesson the
        # learner is on) came back through the bridge to the LMS.
        page.wait_for_function(f"() => {names['status']} === 'incomplete'", polling=POLL_MS)
        page.wait_for_function(f"() => {names['api']}.{names['location']} === 'lesson-1'", polling=POLL_MS)
        bridge = player_frame(page).evaluate("window.DispatchBridge")
        assert bridge["lmsOrigin"] == stub_lms.url and bridge["pinnedByServer"] and bridge["connected"]

        # The learner passes the quiz; the result goes to the LMS and the player's exit finishes it.
        player.locator(".player-nav a[data-goto='quiz']").click()
        for question, choice in dispatch.answers.items():
            player.locator(f"input[name='{question}'][value='{choice}']").check()
        player.locator("#quiz-submit").click()
        player.locator("#quiz-result", has_text="You passed").wait_for()
        page.wait_for_function(f"() => window.lmsEvents.indexOf('{names['finish']}') >= 0", polling=POLL_MS)
        lms = page.evaluate(READ_LMS[version])
        if version == "scorm12":
            assert lms == {"status": "passed", "raw": "100", "min": "0", "max": "100", "location": "quiz"}
        else:
            assert lms == {"completion": "completed", "success": "passed", "scaled": "1", "raw": "100",
                           "location": "quiz"}
        times = sets_of(page, names["session_time"])
        assert times and all(result == "true" and SESSION_TIME[version].match(value) for value, result in times), times
        assert sets_of(page, names["exit"]) == [("" if version == "scorm12" else "normal", "true")]
        writes = page.evaluate("window.lmsSets")
        assert all(result == "true" for _name, _value, result in writes), writes
        assert page.frame_locator("#sco").locator("#dispatch-errors").is_hidden()
        assert player.locator("#dispatch-notice").count() == 0

        # Second launch (the LMS page again, a fresh LMS registration): no new seat, and the
        # player's answer to the init gives the LMS the passed result without the learner acting.
        page.reload()
        player.locator("#player-status", has_text="passed").wait_for()
        page.wait_for_function(f"() => {names['status']} === "
                               f"'{'passed' if version == 'scorm12' else 'completed'}'", polling=POLL_MS)
        assert page.evaluate(READ_LMS[version])["raw"] == "100"
        assert seat_count(committing_sessions) == 1
        assert [row[:2] for row in launches(committing_sessions)] == [("seat", True), ("seat", False)]

        # Each launch signed its own token id; the browser sent its Origin. A captured launch
        # request posted again is refused: a launch token is accepted once.
        assert len(posted) == 2 and all(origin == stub_lms.url for _token, origin in posted)
        ids = [jwt.decode(token, options={"verify_signature": False})["jti"] for token, _origin in posted]
        assert len(set(ids)) == 2
        replayed = requests.post(f"{live_server.url}/dispatch/launch", data={"token": posted[0][0]},
                                 headers={"Origin": stub_lms.url}, timeout=10)
        assert replayed.status_code == 409 and "This launch was already used" in replayed.text
        assert [row[:2] for row in launches(committing_sessions)][-1] == ("replayed", False)
        assert seat_count(committing_sessions) == 1

        # Revoking the package stops the player that is open: its next save is refused, the
        # player and its dispatch bridge say why, and so does the package page in the LMS.
        service.revoke_package(committing_sessions, dispatch.key, datetime.now(UTC))
        player.locator(".player-nav a[data-goto='lesson-1']").click()
        player.locator("#player-notice", has_text="This course package has been revoked").wait_for()
        assert "download a new copy" in player.locator("#player-notice").inner_text()
        player.locator("#dispatch-notice", has_text="has been revoked").wait_for()
        page.frame_locator("#sco").locator("#dispatch-errors", has_text="has been revoked").wait_for()
        assert player_frame(page).evaluate("window.DispatchBridge.stopped") == "package_revoked"

        # A revoked package: the LMS window says so, and a new learner takes no seat.
        page.goto(stub_lms.page_url(dispatch.course, "lms-learner-2", "Roe, Rick"))
        refusal = player_of(page).locator("body")
        refusal.get_by_text("This course package has been revoked").first.wait_for()
        assert "ask your LMS administrator for a new one" in refusal.inner_text()
        assert seat_count(committing_sessions) == 1
        assert len(launches(committing_sessions)) == 3  # refused before any seat or record
        assert not errors, errors
    finally:
        page.context.close()


def test_an_imported_scorm_course_finishing_finishes_the_lms_session(
        live_server: LiveServer, stub_lms: StubLms, chromium: Any, committing_sessions: Sessions,
        tmp_path: Path) -> None:
    # A SCORM 1.2 package in the LMS; the course behind it is a publisher's SCORM 2004 course.
    dispatch = package_in_lms(live_server, committing_sessions, stub_lms, "scorm12",
                              content=("scorm2004", tmp_path))
    page = new_page(chromium)
    errors = watch_errors(page)
    try:
        page.goto(stub_lms.page_url(dispatch.course, "lms-learner-4", "Ada Lovelace"))
        course = player_of(page).frame_locator("#scorm-frame")
        # The course writes its greeting once its LMS API answers: wait for it, then compare.
        course.locator("#sco-greeting", has_text="Hello,").wait_for()
        assert course.locator("#sco-greeting").inner_text() == "Hello, Ada Lovelace."
        for _ in range(3):
            course.locator("#sco-next").click()
        for question, choice in {"q1": "a", "q2": "b", "q3": "c"}.items():
            course.locator(f"input[name='{question}'][value='{choice}']").check()
        course.locator("#sco-submit").click()
        course.locator("#sco-result", has_text="Score: 100%").wait_for()
        page.wait_for_function("() => window.API.cmi.core.lesson_status === 'passed'", polling=POLL_MS)
        assert "LMSFinish" not in page.evaluate("window.lmsEvents")  # the course is still open
        course.locator("#sco-finish").click()  # the course's Terminate: the player exits
        page.wait_for_function("() => window.lmsEvents.indexOf('LMSFinish') >= 0", polling=POLL_MS)
        assert page.evaluate("[API.cmi.core.score.raw, API.cmi.core.lesson_location]") == ["100", "page-4"]
        assert all(result == "true" for _name, _value, result in page.evaluate("window.lmsSets"))
        assert seat_count(committing_sessions) == 1
        assert not errors, errors
    finally:
        page.context.close()


def test_lms_refusals_are_shown_to_the_learner_and_foreign_messages_are_ignored(
        live_server: LiveServer, stub_lms: StubLms, chromium: Any, committing_sessions: Sessions) -> None:
    dispatch = package_in_lms(live_server, committing_sessions, stub_lms, "scorm12")
    page = new_page(chromium)
    other = new_page(chromium)
    errors = watch_errors(page)
    try:
        page.goto(stub_lms.page_url(dispatch.course, "lms-learner-3", "Poe, Edgar",
                                    reject="cmi.core.lesson_location"))
        player = player_of(page)
        # The LMS refuses the location: the learner sees it in the player, the launch page lists it.
        notice = player.locator("#dispatch-notice")
        notice.wait_for()
        assert notice.inner_text().startswith("Your LMS did not accept your place in the course "
                                              "(cmi.core.lesson_location = \"")
        assert "error 405" in notice.inner_text()
        page.frame_locator("#sco").locator("#dispatch-errors", has_text="cmi.core.lesson_location").wait_for()
        assert seat_count(committing_sessions) == 1

        # The LMS's top window has the right origin but is not the player's parent: ignored.
        frame = player_frame(page)
        assert frame.evaluate("window.DispatchBridge.rejected") == 0
        page.evaluate("""(origin) => document.getElementById('sco').contentWindow.frames[0].postMessage(
                             {type: 'dispatch.init', version: 1, scormVersion: '1.2', lms: {}}, origin)""",
                      live_server.url)
        frame.wait_for_function("() => window.DispatchBridge.rejected === 1", polling=POLL_MS)

        # Another site framing the same player (its URL leaked) is its parent, but not of the LMS
        # origin recorded at launch: its init is ignored and nothing is posted to it.
        other.goto(f"http://127.0.0.1:{stub_lms.port}/blank")
        other.evaluate("""([src, origin]) => new Promise((resolve) => {
            window.received = [];
            window.addEventListener('message', (event) => window.received.push(event.data));
            const frame = document.createElement('iframe');
            frame.onload = () => {
                frame.contentWindow.postMessage({type: 'dispatch.init', version: 1, scormVersion: '1.2', lms: {}},
                                                origin);
                resolve();
            };
            frame.src = src;
            document.body.appendChild(frame);
        })""", [frame.url, live_server.url])
        stolen = next(f for f in other.frames if "/play?" in f.url)
        stolen.wait_for_function("() => window.DispatchBridge.rejected === 1", polling=POLL_MS)
        assert stolen.evaluate("[window.DispatchBridge.connected, window.DispatchBridge.sent]") == [False, 0]
        assert other.evaluate("window.received") == []
        assert not errors, errors
    finally:
        other.context.close()
        page.context.close()

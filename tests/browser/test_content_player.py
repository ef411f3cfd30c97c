"""Imported SCORM content in a real Chromium: the player provides scorm-again's API, the
generated course (1.2 and 2004) finds it, reads its learner data, saves location, suspend data,
score and status, and the server keeps them; a second visit resumes where the learner left."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.player.content import content_store
from lti_tool.player.tokens import issue_player_token
from lti_tool.services import services_of
from store.accounts.service import LearnerIdentity
from store.licenses import service as licenses
from store.progress.models import CourseProgress
from tests.browser.conftest import LiveServer, new_page
from tests.factories.catalog import make_course
from tests.factories.content import import_generated
from tests.factories.licenses import make_account

pytestmark = pytest.mark.browser

Sessions = sessionmaker[Session]
NOW = datetime.now(UTC)
TITLE = 'Fire & "Safety" <basics> 防火'


@dataclass(frozen=True)
class Seated:
    course: str
    seat_id: int
    token: str


def seat_with_content(live_server: LiveServer, sessions: Sessions, tmp_path: Path, version: str) -> Seated:
    settings = services_of(live_server.app).settings
    account_id = make_account(sessions, f"Acme {version}", NOW).id
    with sessions.begin() as s:
        course = make_course(s, f"SCO-{version}", title=TITLE, is_plus=False).catalog_id
    import_generated(sessions, content_store(settings), course, version, NOW, tmp_path, title=TITLE)
    licenses.grant_volume(sessions, account_id, course, 3, NOW)
    identity = LearnerIdentity("lti:https://lms.example.edu", f"learner-{version}", name="Ada Lovelace")
    result = licenses.claim_seat(sessions, licenses.ClaimRequest(account_id, "volume", course, identity), NOW)
    assert result.seat and result.learner_id
    token = issue_player_token(settings, seat_id=result.seat.id, catalog_id=course, learner_id=result.learner_id,
                               launch_id=None, origin="lti")
    return Seated(course, result.seat.id, token)


def wait_for_row(sessions: Sessions, seat_id: int, check: Callable[[CourseProgress], bool],
                 timeout: float = 8.0) -> CourseProgress:
    deadline = time.monotonic() + timeout
    row = None
    while time.monotonic() < deadline:
        with sessions() as s:
            row = s.scalars(select(CourseProgress).where(CourseProgress.seat_id == seat_id)).first()
            if row is not None and check(row):
                return row
        time.sleep(0.1)
    raise AssertionError(f"the server never stored the expected progress; last row: {row and vars(row)}")


def open_course(page: Any, live_server: LiveServer, seated: Seated) -> Any:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}/play?t={seated.token}")
    frame = page.frame_locator("#scorm-frame")
    frame.locator("#sco-page h2").wait_for()
    assert not errors, errors
    return frame


def answer(frame: Any, choices: dict[str, str]) -> None:
    for question, choice in choices.items():
        frame.locator(f"input[name='{question}'][value='{choice}']").check()
    frame.locator("#sco-submit").click()


def test_scorm12_course_saves_resumes_and_reports_a_failed_score(
        live_server: LiveServer, chromium: Any, committing_sessions: Sessions, tmp_path: Path) -> None:
    seated = seat_with_content(live_server, committing_sessions, tmp_path, "scorm12")
    page = new_page(chromium)
    try:
        frame = open_course(page, live_server, seated)
        # The course writes its greeting once its LMS API answers: wait for it, then compare.
        frame.locator("#sco-greeting", has_text="Hello,").wait_for()
        assert frame.locator("#sco-greeting").inner_text() == "Hello, Ada Lovelace."
        frame.locator("#sco-next").click()
        frame.locator("#sco-page h2", has_text="part 2").wait_for()
        row = wait_for_row(committing_sessions, seated.seat_id, lambda r: r.location == "page-2")
        assert json.loads(row.suspend_data)["seen"] == [0, 1]
        assert row.completion_status == "incomplete" and row.session_count == 1
        page.goto("about:blank")  # pagehide: the course finishes with exit "suspend" by beacon
        row = wait_for_row(committing_sessions, seated.seat_id, lambda r: r.cmi.get("cmi.core.exit") == "suspend")

        frame = open_course(page, live_server, seated)  # a second session resumes on page 2
        frame.locator("#sco-page h2", has_text="part 2").wait_for()
        frame.locator("#sco-next").click()
        frame.locator("#sco-next").click()
        answer(frame, {"q1": "a", "q2": "b", "q3": "a"})  # 2 of 3: 67%, under the 80% mastery score
        frame.locator("#sco-result", has_text="Score: 67%").wait_for()
        row = wait_for_row(committing_sessions, seated.seat_id, lambda r: r.success_status == "failed")
        assert (row.completion_status, row.score_raw, row.score_max) == ("completed", 67.0, 100.0)
        assert row.session_count == 2
        page.locator("#player-status", has_text="Not passed yet").wait_for()
        assert "Completed" not in page.locator("#player-status").inner_text()
    finally:
        page.context.close()


def test_scorm2004_course_reports_completion_success_and_scaled_score(
        live_server: LiveServer, chromium: Any, committing_sessions: Sessions, tmp_path: Path) -> None:
    seated = seat_with_content(live_server, committing_sessions, tmp_path, "scorm2004")
    page = new_page(chromium)
    try:
        frame = open_course(page, live_server, seated)
        for _ in range(3):
            frame.locator("#sco-next").click()
        answer(frame, {"q1": "a", "q2": "b", "q3": "c"})
        frame.locator("#sco-result", has_text="Score: 100%").wait_for()
        row = wait_for_row(committing_sessions, seated.seat_id, lambda r: r.success_status == "passed")
        assert (row.completion_status, row.score_raw, row.score_scaled) == ("completed", 100.0, 1.0)
        assert row.location == "page-4"
        frame.locator("#sco-finish").click()  # Terminate with exit "normal"
        page.locator("#player-closed").wait_for()
        # The course is unloaded: nothing under the notice responds any more.
        page.locator("#scorm-frame").wait_for(state="hidden")
        assert page.evaluate("document.getElementById('scorm-frame').getAttribute('src')") == "about:blank"
        assert page.evaluate("document.activeElement.id") == "player-closed"
        row = wait_for_row(committing_sessions, seated.seat_id, lambda r: r.cmi.get("cmi.exit") == "normal")
        page.locator("#player-status", has_text="Completed").wait_for()
    finally:
        page.context.close()

"""The login page in Chromium, opened top-level (not in an LMS frame): for a registration the
vendor has not reviewed (self-made by anonymous Dynamic Registration) it waits for a click on
"Continue to <the LMS>" instead of sending the window to the self-declared login URL; for a
reviewed registration it goes on by itself, as before."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.lti.models import LtiRegistration
from lti_tool.lti.testplatform import TestPlatform
from store.base import utcnow
from tests.browser.conftest import LiveServer
from tests.factories.licenses import make_account
from tests.factories.lti import LAUNCH_URL, make_registration

pytestmark = pytest.mark.browser

Sessions = sessionmaker[Session]


def _open_login(page: Any, server: LiveServer, sessions: Sessions, *, needs_review: bool) -> list[str]:
    platform = TestPlatform()
    account = make_account(sessions, now=utcnow())
    registration_id = make_registration(sessions, account.id, platform)
    with sessions.begin() as session:
        session.execute(update(LtiRegistration).where(LtiRegistration.id == registration_id)
                        .values(needs_review=needs_review))
    reached: list[str] = []

    def lms(route: Any) -> None:
        reached.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<h1>The LMS sign-in</h1>")

    page.route("https://lms.example.edu/**", lms)
    query = "&".join(f"{k}={v}" for k, v in {"iss": platform.issuer, "login_hint": "hint-1",
                                                "target_link_uri": LAUNCH_URL}.items())
    page.goto(f"{server.url}/lti/login?{query}")
    return reached


def test_an_unreviewed_registration_waits_for_a_click(live_server: LiveServer, committing_sessions: Sessions,
                                                      page: Any) -> None:
    reached = _open_login(page, live_server, committing_sessions, needs_review=True)
    button = page.get_by_role("link", name="Continue to https://lms.example.edu")
    expect(button).to_be_visible()
    page.wait_for_timeout(500)
    assert reached == [] and "/lti/login" in page.url
    button.click()
    expect(page.get_by_role("heading", name="The LMS sign-in")).to_be_visible()
    assert len(reached) == 1 and reached[0].startswith("https://lms.example.edu/")
    page.context.close()


def test_a_reviewed_registration_goes_on_by_itself(live_server: LiveServer, committing_sessions: Sessions,
                                                   page: Any) -> None:
    reached = _open_login(page, live_server, committing_sessions, needs_review=False)
    expect(page.get_by_role("heading", name="The LMS sign-in")).to_be_visible()
    assert len(reached) == 1 and "state=" in reached[0]
    page.context.close()

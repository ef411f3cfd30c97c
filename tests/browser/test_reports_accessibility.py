"""axe-core on the dashboard's Reports tab and the account's Settings, as Chromium renders them, at
an LMS frame's width (800 px) and a phone's (390 px): the report with rows (its wide table scrolls
inside a labeled, focusable region, never the page), with a bad filter's message, several pages;
the settings, after saving, and the closure form with its error and after the request. No
violation of serious or critical impact, and no page scrolls sideways at 390 px."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy.orm import Session, sessionmaker

from store.accounts.service import LearnerIdentity
from store.licenses.service import ClaimRequest, claim_seat
from tests.browser.a11y import check_page as check
from tests.browser.conftest import LiveServer, new_page
from tests.factories.licenses import T0
from tests.factories.reports import bulk_launches, report_account
from tests.factories.store import make_buyer

pytestmark = pytest.mark.browser

WIDTHS = (800, 390)
Sessions = sessionmaker[Session]
LMS = "lti:https://lms.example.edu"


def seed(sessions: Sessions) -> int:
    account = report_account(sessions, "Springfield Community College",
                             ("FORK-200", "Advanced Forklift Operation and Load Handling"),
                             ("SAFE-100", "Workplace Safety Essentials for Warehouse and Logistics Teams"), 10, T0)
    who = LearnerIdentity(LMS, "sub-1", name="Dana Whitfield-Oyelaran",
                          email="dana.whitfield-oyelaran@springfield-community-college.edu")
    for course, license_type in (("FORK-200", "volume"), ("SAFE-100", "plus")):
        assert claim_seat(sessions, ClaimRequest(account, license_type, course, who), T0 + timedelta(days=2)).ok
    bulk_launches(sessions, account, "FORK-200", 60, T0)
    return account


@pytest.mark.parametrize("width", WIDTHS)
def test_reports_and_settings_are_accessible(live_server: LiveServer, chromium: Any, committing_sessions: Sessions,
                                             width: int) -> None:
    account = seed(committing_sessions)
    token = make_buyer(live_server.app, committing_sessions, account).token
    page = new_page(chromium, viewport={"width": width, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(f"{live_server.url}/dashboard/reports?s={token}")
        expect(page.locator("h1")).to_have_text("Reports")
        region = page.get_by_role("region", name="Learners and courses")
        expect(region).to_be_visible()
        check(page, "the report")
        region.focus()
        expect(region).to_be_focused()
        page.get_by_role("link", name="Next", exact=True).click()
        expect(page.locator("#report-caption")).to_contain_text("page 2 of 2")
        check(page, "the report's second page")

        page.get_by_label("Status", exact=True).select_option("passed")
        page.get_by_label("From", exact=True).fill("2026-03-01")
        page.get_by_label("To", exact=True).fill("2026-02-01")
        page.get_by_role("button", name="Filter", exact=True).click()
        expect(page.locator("#report-to-error")).to_be_visible()
        check(page, "the report with a bad filter")
        page.get_by_label("From", exact=True).fill("")
        page.get_by_label("To", exact=True).fill("")
        page.get_by_role("button", name="Filter", exact=True).click()
        expect(page.locator("#report-empty")).to_have_text("No learner matches these filters.")
        check(page, "the report without rows")

        page.get_by_role("navigation", name="Account").get_by_role("link", name="Settings", exact=True).click()
        expect(page.locator("h1")).to_have_text("Settings")
        check(page, "the settings")
        page.get_by_label("Treat the same person as one learner across delivery methods").check()
        page.get_by_role("button", name="Save settings", exact=True).click()
        expect(page.get_by_role("status")).to_contain_text("Settings saved")
        check(page, "the settings saved")
        page.get_by_label("Reason (optional)", exact=True).fill("We are moving to another provider.")
        page.get_by_role("button", name="Request account closure", exact=True).click()
        # The browser itself asks for the required confirmation first: nothing is sent.
        expect(page.locator("#settings-closure-sent")).to_have_count(0)
        page.get_by_role("checkbox", name="I want this account closed", exact=False).check()
        page.get_by_role("button", name="Request account closure", exact=True).click()
        expect(page.locator("#settings-closure-sent")).to_be_visible()
        check(page, "the closure requested")
        page.reload()
        expect(page.locator("#settings-closure-pending")).to_be_visible()
        check(page, "the settings with a pending closure request")
        assert all("Failed to load resource" in e for e in errors), errors  # the favicon, at most
    finally:
        page.context.close()

"""axe-core on every delivery page, as Chromium renders them, at an LMS frame's width (800 px) and a
phone's (390 px): the License question, the methods, the LTI link page (its Copy button), Download
Packages (one course; several, with the progress bar while the zip of zips streams), Invitations
(empty, with bad lines, with results and the Mail outbox), a selection that cannot be delivered,
and the page of an invitation link that is not valid. No violation of serious or critical impact,
and no page scrolls sideways at 390 px."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy.orm import Session, sessionmaker

from store.base import utcnow
from store.catalog.service import import_records
from store.licenses.service import grant_plus, grant_volume
from tests.browser.a11y import check_page as check
from tests.browser.conftest import LiveServer, new_page
from tests.factories.licenses import make_account
from tests.factories.store import make_buyer

pytestmark = pytest.mark.browser

WIDTHS = (800, 390)
Sessions = sessionmaker[Session]
CATALOG = [
    {"id": "SAFE-100", "title": "Workplace Safety Essentials for Warehouse and Logistics Teams",
     "publisher": "Safe Work Publishing", "plus": True, "volume_price_cents": 4_900, "ppu_price_cents": 7_900},
    {"id": "FORK-200", "title": "Advanced Forklift Operation and Load Handling", "publisher": "Safe Work Publishing",
     "volume_price_cents": 4_900, "ppu_price_cents": 7_900},
    {"id": "FIRE-300", "title": "Fire Drills", "publisher": "Safe Work Publishing", "volume_price_cents": 4_900,
     "ppu_price_cents": 7_900},
]


@pytest.mark.parametrize("width", WIDTHS)
def test_every_delivery_page_is_accessible(live_server: LiveServer, chromium: Any, committing_sessions: Sessions,
                                           width: int, tmp_path: Path) -> None:
    import_records(committing_sessions, CATALOG, full=True, now=utcnow())
    account = make_account(committing_sessions, name="Springfield Community College", now=utcnow()).id
    grant_plus(committing_sessions, account, 10, "annual", utcnow())
    for course in ("SAFE-100", "FORK-200", "FIRE-300"):
        grant_volume(committing_sessions, account, course, 1, utcnow())
    token = make_buyer(live_server.app, committing_sessions, account).token
    base = live_server.url
    page = new_page(chromium, viewport={"width": width, "height": 900}, accept_downloads=True)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    def go(query: str, where: str, path: str = "/dashboard/deliver") -> None:
        page.goto(f"{base}{path}?s={token}&{query}")
        check(page, where)

    try:
        go("course=SAFE-100", "the License question")
        page.get_by_label("Volume").check()
        page.get_by_role("button", name="Continue", exact=True).click()
        methods = page.get_by_role("navigation", name="Delivery method")
        expect(methods.get_by_role("link", name="LTI link", exact=True)).to_be_visible()
        check(page, "the methods")
        go("course=SAFE-100&course=FORK-200", "the License question for several courses")
        go("course=NOPE-1", "a course that is not in the catalog")

        go("course=FORK-200&license_type=volume", "the LTI link page", "/dashboard/deliver/lti")
        copy = page.get_by_role("button", name="Copy", exact=True).first
        expect(copy).to_be_visible()  # the script shows the buttons
        copy.click()
        expect(page.locator("#delivery-copy-status")).not_to_be_empty()

        go("course=FORK-200&license_type=volume", "Download Packages", "/dashboard/deliver/download")
        page.get_by_label("SCORM 2004").check()
        with page.expect_download() as one:
            page.get_by_role("button", name="Download", exact=True).click()
        assert one.value.suggested_filename.endswith("__volume__scorm2004.zip")

        go("course=SAFE-100&course=FORK-200&course=FIRE-300&license_type=volume",
           "Download Packages for several courses", "/dashboard/deliver/download")
        expect(page.get_by_label("SCORM 2004")).to_be_checked()  # remembered
        expect(page.locator("#delivery-progress")).to_be_hidden()
        with page.expect_download() as several:
            page.get_by_role("button", name="Download", exact=True).click()
        assert several.value.suggested_filename == "courses-3__scorm2004.zip"
        expect(page.locator("#delivery-progress-bar")).to_have_attribute("value", "100")
        expect(page.locator("#delivery-progress-status")).to_have_text("Done: 3 packages.")
        check(page, "Download Packages after the progress bar")
        saved = tmp_path / "several.zip"
        several.value.save_as(saved)
        assert len(zipfile.ZipFile(io.BytesIO(saved.read_bytes())).namelist()) == 3

        go("course=FORK-200&license_type=volume", "Invitations", "/dashboard/deliver/invitations")
        page.get_by_label("Email addresses").fill("ada@example.com\nnot an address")
        page.get_by_role("button", name="Send Invitations", exact=True).click()
        expect(page.locator("#delivery-emails-errors")).to_be_visible()
        check(page, "Invitations with bad lines")
        page.get_by_label("Email addresses").fill("ada.lovelace@springfield-community-college.edu\nbob@example.com")
        page.get_by_role("button", name="Send Invitations", exact=True).click()
        expect(page.locator(".delivery-refused")).to_contain_text("bob@example.com")
        page.locator(".delivery-outbox-list summary").first.click()
        check(page, "Invitations with results and the Mail outbox")

        page.goto(f"{base}/invite/not-a-real-invitation-token-at-all")
        expect(page.locator("h1")).to_have_text("This invitation link is not valid")
        check(page, "an invitation link that is not valid")
        assert errors == [] or all("Failed to load resource" in e for e in errors), errors
    finally:
        page.context.close()

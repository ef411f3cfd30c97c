"""The issue's delivery flow in a real Chromium, the tool inside the demo LMS's iframe from another
site with third-party cookies blocked (a fresh incognito context): the admin's navigation launch →
**Dashboard** → **Purchased Courses** → **Deliver Course** → **Download Packages** → "SCORM 2004" →
**Download**: a zip labeled with the course and license downloads (a valid SCORM 2004 manifest);
then a new learner launches a Plus course by LTI and the Dashboard's Plus count ("Available Plus
seats: N of M") and the chart's figures (today's row) change by one seat."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from scorm_packages.packaging import package_filename
from store.accounts.models import Account
from store.base import utcnow
from store.catalog.models import Course
from store.demo import DEMO_ACCOUNT
from store.licenses.models import VolumeLot
from tests.browser.conftest import LiveServer, new_page
from tests.browser.test_dashboard_accessibility import last_row, new_plus_learner_shows_on_the_dashboard
from tests.browser.test_lti_demo import launch, open_demo
from tests.browser.test_store_purchase import demo  # noqa: F401 - the demo LMS and tool, seeded

pytestmark = pytest.mark.browser

Sessions = sessionmaker[Session]


def volume_course(sessions: Sessions) -> tuple[str, str]:
    """The demo account's Volume course with a lot in its term."""
    now = utcnow()
    with sessions() as session:
        row = session.execute(
            select(Course.catalog_id, Course.title).join(VolumeLot, VolumeLot.course_pk == Course.id)
            .join(Account, Account.id == VolumeLot.account_id)
            .where(Account.name == DEMO_ACCOUNT, VolumeLot.purchased_at <= now, VolumeLot.expires_at > now,
                   VolumeLot.seats_used < VolumeLot.seats_total)
            .order_by(Course.catalog_id)).first()
    assert row is not None
    return str(row[0]), str(row[1])


def test_an_admin_downloads_a_scorm_2004_package_in_the_lms_frame_and_a_learner_takes_a_plus_seat(
        chromium: Any, demo: LiveServer, committing_sessions: Sessions, tmp_path: Path) -> None:  # noqa: F811
    catalog_id, title = volume_course(committing_sessions)
    page = new_page(chromium, viewport={"width": 1000, "height": 900}, accept_downloads=True)
    try:
        open_demo(page, demo)
        frame = launch(page, person="pat-morgan", role="admin", button="#demo-launch-navigation")
        expect(frame.locator("h1")).to_have_text("Dashboard", timeout=20_000)
        summary = frame.locator("#dashboard-plus-summary").inner_text()
        used_today = last_row(frame)
        frame.get_by_role("navigation", name="Dashboard").get_by_role(
            "link", name="Purchased Courses", exact=True).click()
        expect(frame.locator("h1")).to_have_text("Purchased Courses")
        row = frame.get_by_role("row").filter(has_text=title)
        row.get_by_role("link", name="Deliver Course", exact=True).click()
        expect(frame.locator("h1")).to_have_text(f"Deliver “{title}”")

        frame.get_by_role("link", name="Download Packages", exact=True).click()
        expect(frame.locator("h1")).to_have_text("Download Packages")
        frame.get_by_label("SCORM 2004").check()
        with page.expect_download() as download:
            frame.get_by_role("button", name="Download", exact=True).click()
        assert download.value.suggested_filename == package_filename(title, catalog_id, "volume", "scorm2004")
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        archive = zipfile.ZipFile(io.BytesIO(saved.read_bytes()))
        manifest = etree.fromstring(archive.read("imsmanifest.xml"))
        assert manifest.findtext("{*}metadata/{*}schemaversion") == "2004 4th Edition"
        assert "Volume" in (manifest.findtext("{*}organizations/{*}organization/{*}title") or "")

        # A learner the tool has never seen launches a Plus course by LTI: one Plus seat fewer on
        # the Dashboard, and one more seat in use today in the chart's figures.
        new_plus_learner_shows_on_the_dashboard(page, demo, summary, used_today)
        # Every step ran in the frame without a cookie: the session token rode in links and forms.
        assert not page.context.cookies(demo.url)
    finally:
        page.context.close()

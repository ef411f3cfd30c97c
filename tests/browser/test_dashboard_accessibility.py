"""axe-core on the dashboard's pages as Chromium renders them, at an LMS frame's width (800 px)
and a phone's (390 px): /dashboard (with the chart's table open) and the tabs Plus, Purchased
Courses, PPU Library and Needs Attention, for an account with something on every tab. No
violation of serious or critical impact, no page scrolls sideways at 390 px, the chart is drawn
at a readable size and every table's scroll container is reachable by keyboard."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy.orm import Session, sessionmaker

from store.base import utcnow
from tests.browser.a11y import check_page as check
from tests.browser.conftest import LiveServer, new_page
from tests.factories.dashboard import make_dashboard_account
from tests.factories.store import make_buyer

pytestmark = pytest.mark.browser

WIDTHS = (800, 390)
TABS = (("/dashboard/plus", "Plus courses"), ("/dashboard/purchased", "Purchased Courses"),
        ("/dashboard/ppu", "PPU Library"), ("/dashboard/attention", "Needs Attention"))
Sessions = sessionmaker[Session]




def scroll_containers_take_focus(page: Any, where: str) -> None:
    regions = page.locator(".dashboard-scroll")
    for i in range(regions.count()):
        region = regions.nth(i)
        assert region.get_attribute("tabindex") == "0" and region.get_attribute("aria-label"), where
        region.focus()
        assert page.evaluate("() => document.activeElement.classList.contains('dashboard-scroll')"), where


@pytest.mark.parametrize("width", WIDTHS)
def test_every_dashboard_page_is_accessible(live_server: LiveServer, chromium: Any, committing_sessions: Sessions,
                                            width: int) -> None:
    account = make_dashboard_account(committing_sessions, utcnow(), name="Springfield Community College")
    token = make_buyer(live_server.app, committing_sessions, account).token
    page = new_page(chromium, viewport={"width": width, "height": 900})
    failed: list[str] = []  # any page, stylesheet or script that did not load (the browser's favicon aside)
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
    try:
        page.goto(f"{live_server.url}/dashboard?s={token}")
        expect(page.locator("h1")).to_have_text("Dashboard")
        expect(page.locator("#dashboard-plus-summary")).to_have_text("Available Plus seats: 8 of 10")
        chart = page.get_by_role("img", name="Plus seats used per day", exact=False)
        box = chart.bounding_box()
        assert box is not None and box["width"] >= min(width - 60, 600) and box["height"] >= 100
        check(page, "the dashboard")
        page.get_by_text("Seats used per day as a table").click()
        expect(page.locator("details table caption")).to_be_visible()
        scroll_containers_take_focus(page, "the dashboard")
        check(page, "the dashboard with the chart's table open")
        for path, heading in TABS:
            page.goto(f"{live_server.url}{path}?s={token}")
            expect(page.locator("h1")).to_have_text(heading)
            expect(page.get_by_role("navigation", name="Dashboard").locator('[aria-current="page"]')).to_have_count(1)
            scroll_containers_take_focus(page, heading)
            check(page, heading)
        assert not failed, failed
    finally:
        page.context.close()

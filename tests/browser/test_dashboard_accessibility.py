"""axe-core on the dashboard's pages as Chromium renders them, at an LMS frame's width (800 px)
and a phone's (390 px): /dashboard (with the chart's table open) and the tabs Plus, Purchased
Courses, PPU Library and Needs Attention, for an account with something on every tab. No
violation of serious or critical impact, no page scrolls sideways at 390 px, the chart is drawn
at a readable size and every table's scroll container is reachable by keyboard. And inside the
demo LMS's iframe on another site with third-party cookies blocked, an admin's navigation launch
lands on the dashboard and goes from tab to tab by its links (the session token rides along); a
learner's Plus launch then shows in the summary and the chart's figures."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy.orm import Session, sessionmaker

from store.base import utcnow
from tests.browser.a11y import check_page as check
from tests.browser.conftest import LiveServer, new_page
from tests.browser.test_lti_demo import launch, open_demo, wait_for_player
from tests.browser.test_store_purchase import demo  # noqa: F401 - the demo LMS and tool, seeded
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


def test_an_admins_navigation_launch_lands_on_the_dashboard_and_walks_the_tabs(chromium: Any,
                                                                                demo: LiveServer) -> None:  # noqa: F811
    page = new_page(chromium, viewport={"width": 1000, "height": 900})  # third-party cookies blocked
    try:
        open_demo(page, demo)
        frame = launch(page, person="pat-morgan", role="admin", button="#demo-launch-navigation")
        expect(frame.locator("h1")).to_have_text("Dashboard", timeout=20_000)
        expect(frame.locator("#dashboard-plus-summary")).to_be_visible()
        tabs = frame.get_by_role("navigation", name="Dashboard")
        for name, heading in (("Plus", "Plus courses"), ("Purchased Courses", "Purchased Courses"),
                              ("PPU Library", "PPU Library"), ("Needs Attention", "Needs Attention")):
            tabs.get_by_role("link", name=name, exact=True).click()
            expect(frame.locator("h1")).to_have_text(heading)
            expect(tabs.get_by_role("link", name=name, exact=True)).to_have_attribute("aria-current", "page")
        frame.get_by_role("navigation", name="Store").get_by_role("link", name="Dashboard", exact=True).click()
        expect(frame.locator("h1")).to_have_text("Dashboard")
        summary = frame.locator("#dashboard-plus-summary").inner_text()
        used_today = last_row(frame)

        # A learner the tool has never seen launches a Plus course: one seat fewer, one more today.
        new_plus_learner_shows_on_the_dashboard(page, demo, summary, used_today)
        # Every step in the frame, without a cookie: the session token rode in the links.
        assert not page.context.cookies(demo.url)
    finally:
        page.context.close()


def new_plus_learner_shows_on_the_dashboard(page: Any, demo: LiveServer, summary: str,  # noqa: F811
                                            used_today: list[str]) -> Any:
    """A learner the tool has never seen launches a Plus course from the demo LMS; the admin's
    next navigation launch shows one Plus seat fewer in ``summary`` ("Available Plus seats: N of
    M") and one more seat in use in today's row of the chart's figures. Returns the tool's frame."""
    page.select_option("#demo-license", "plus")
    launch(page, person="new")
    wait_for_player(page, demo)
    frame = launch(page, person="pat-morgan", role="admin", button="#demo-launch-navigation")
    expect(frame.locator("h1")).to_have_text("Dashboard", timeout=20_000)
    found = re.fullmatch(r"Available Plus seats: (\d+) of (\d+)", summary)
    assert found is not None, summary
    available, total = map(int, found.groups())
    expect(frame.locator("#dashboard-plus-summary")).to_have_text(f"Available Plus seats: {available - 1} of {total}")
    assert last_row(frame) == [used_today[0], str(int(used_today[1]) + 1), str(int(used_today[2]) - 1)]
    return frame


def last_row(frame: Any) -> list[str]:
    """Today's row of the chart's table: day, seats used, seats left."""
    return [c.strip() for c in frame.locator("details table tbody tr").last.locator("td").all_text_contents()]

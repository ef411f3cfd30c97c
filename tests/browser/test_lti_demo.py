"""LTI launches in a real Chromium, inside an iframe of another site: the demo LMS page on
``http://localhost:PORT/demo`` frames the tool on ``http://127.0.0.1:PORT`` (PUBLIC_BASE_URL), so
the tool's cookies there are third-party cookies.

- A fresh (incognito) context blocks third-party cookies: the launch gets through LTI Platform
  Storage (the login value is put into and read back from the demo page by postMessage), with no
  state cookie; a relaunch reuses the seat.
- A persistent profile that allows third-party cookies launches through the state cookie.
- An admin is warned before taking a seat; a course the license does not cover is refused in
  the frame; deep linking returns links the demo LMS verifies and launches.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from lti_tool import create_app
from lti_tool.demo.platform import STORAGE_FRAME
from lti_tool.services import services_of
from store.accounts.models import Learner
from store.base import utcnow
from store.demo import seed_demo
from store.licenses.models import Seat
from tests.browser.conftest import LiveServer, new_page, serve_app
from tests.web.conftest import settings_for

pytestmark = pytest.mark.browser

SECRET = "browser-demo-tests-secret-" + "s" * 40  # fixed: the demo platform key is derived once per run
FRAME = "#demo-tool-frame"

Sessions = sessionmaker[Session]


@pytest.fixture
def demo(engine: Engine, committing_sessions: Sessions) -> Iterator[LiveServer]:
    seed_demo(committing_sessions, utcnow(), courses=40)

    def build(base_url: str) -> Any:
        return create_app(settings_for(engine, public_base_url=base_url, demo_platform=True, secret_key=SECRET))

    with serve_app(build) as server:
        yield server
    services_of(server.app).engine.dispose()


def demo_url(server: LiveServer) -> str:
    return server.url.replace("://127.0.0.1:", "://localhost:") + "/demo"


def seat_ids(sessions: Sessions, person: str) -> list[int]:
    with sessions() as session:
        return list(session.scalars(
            select(Seat.id).join(Learner, Learner.id == Seat.learner_id)
            .where(Learner.external_id == "demo-" + person).order_by(Seat.id)
        ))


class LaunchPosts:
    """The POSTs to the tool's /lti/launch that the page made, and their responses."""

    def __init__(self, page: Any) -> None:
        self.requests: list[Any] = []
        page.on("request", self._seen)

    def _seen(self, request: Any) -> None:
        if request.method == "POST" and urlsplit(request.url).path == "/lti/launch":
            self.requests.append(request)

    def form(self, index: int) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.requests[index].post_data or "").items()}

    def cookie_header(self, index: int) -> str:
        return str(self.requests[index].all_headers().get("cookie", ""))


def open_demo(page: Any, server: LiveServer) -> None:
    page.goto(demo_url(server))
    expect(page.locator("#tool-origin")).to_have_text(server.url)
    # The named frame that answers Platform Storage is there.
    page.locator(f'iframe[name="{STORAGE_FRAME}"]').wait_for(state="attached")


def launch(page: Any, *, person: str, role: str = "learner", button: str = "#demo-launch-course") -> Any:
    page.check(f'input[name=role][value="{role}"]')
    page.select_option("#demo-person", person)
    page.click(button)
    return page.frame_locator(FRAME)


def wait_for_player(page: Any, server: LiveServer) -> str:
    page.frame_locator(FRAME).locator("#course-title").wait_for()
    frame = page.frame(name="demo-tool-frame")
    assert frame is not None and frame.url.startswith(server.url + "/play?t=")
    return str(page.frame_locator(FRAME).locator("#course-title").inner_text())


def test_a_learner_launch_with_third_party_cookies_blocked_goes_through_platform_storage(
        chromium: Any, demo: LiveServer, committing_sessions: Sessions) -> None:
    page = new_page(chromium)  # a fresh incognito profile: third-party cookies blocked
    try:
        posts = LaunchPosts(page)
        open_demo(page, demo)
        launch(page, person="maria-garcia")
        title = wait_for_player(page, demo)
        assert title
        # The id_token came without a cookie; the tool's launch page read the login value back from
        # the demo page (lti.get_data) and posted it.
        assert len(posts.requests) == 2
        assert "lti_storage_state" not in posts.form(0) and posts.form(0)["lti_storage_target"] == STORAGE_FRAME
        assert len(posts.form(1)["lti_storage_state"]) == 64
        assert "lti1p3-state-" not in posts.cookie_header(0) + posts.cookie_header(1)
        assert not [c for c in page.context.cookies(demo.url) if c["name"].startswith("lti1p3-state-")]
        log = page.locator("#demo-log")
        expect(log).to_contain_text(f"[frame {STORAGE_FRAME}] put_data lti1p3_state_")
        expect(log).to_contain_text(f"[frame {STORAGE_FRAME}] get_data lti1p3_state_")
        first = seat_ids(committing_sessions, "maria-garcia")
        assert len(first) == 1
        expect(page.locator("#demo-seats-body tr").first).to_contain_text("★ Maria Garcia")

        # Relaunch: the same seat.
        with page.expect_response(lambda r: urlsplit(r.url).path == "/play"):
            launch(page, person="maria-garcia")
        assert wait_for_player(page, demo) == title
        assert seat_ids(committing_sessions, "maria-garcia") == first
        assert len(posts.requests) == 4
    finally:
        page.context.close()


def test_with_third_party_cookies_allowed_the_state_cookie_is_used(
        persistent_profile: Any, demo: LiveServer, committing_sessions: Sessions) -> None:
    context = persistent_profile(third_party_cookies=True)
    page = context.new_page()
    try:
        posts = LaunchPosts(page)
        open_demo(page, demo)
        launch(page, person="kenji-tanaka")
        wait_for_player(page, demo)
        # One launch POST, carrying the login's state cookie: no platform-storage round trip needed.
        assert len(posts.requests) == 1
        assert "lti1p3-state-" in posts.cookie_header(0)
        assert "lti_storage_state" not in posts.form(0)
        assert len(seat_ids(committing_sessions, "kenji-tanaka")) == 1
    finally:
        page.close()


def test_a_persistent_profile_that_blocks_third_party_cookies_uses_platform_storage(
        persistent_profile: Any, demo: LiveServer, committing_sessions: Sessions) -> None:
    context = persistent_profile(third_party_cookies=False)  # cookie_controls_mode 1
    page = context.new_page()
    try:
        posts = LaunchPosts(page)
        open_demo(page, demo)
        launch(page, person="amara-okafor")
        wait_for_player(page, demo)
        # The state cookie was blocked in the frame: the launch page posted the stored value instead.
        assert len(posts.requests) == 2
        assert "lti1p3-state-" not in posts.cookie_header(0) + posts.cookie_header(1)
        assert len(posts.form(1)["lti_storage_state"]) == 64
        assert len(seat_ids(committing_sessions, "amara-okafor")) == 1
    finally:
        page.close()


def test_an_admin_is_warned_before_taking_a_seat(chromium: Any, demo: LiveServer,
                                                  committing_sessions: Sessions) -> None:
    page = new_page(chromium)
    try:
        open_demo(page, demo)
        frame = launch(page, person="pat-morgan", role="admin")
        expect(frame.locator("h1")).to_have_text("Opening this course uses a seat")
        assert seat_ids(committing_sessions, "pat-morgan") == []
        frame.get_by_role("button", name="Continue and use a seat").click()
        wait_for_player(page, demo)
        assert len(seat_ids(committing_sessions, "pat-morgan")) == 1
    finally:
        page.context.close()


def test_a_course_the_license_does_not_cover_is_refused_in_the_frame(chromium: Any, demo: LiveServer,
                                                                     committing_sessions: Sessions) -> None:
    page = new_page(chromium)
    try:
        open_demo(page, demo)
        course = page.locator("#demo-course option", has_text="not in the Plus catalog").get_attribute("value")
        assert course
        page.select_option("#demo-course", course)
        expect(page.locator("#demo-license")).to_have_value("plus")
        with page.expect_response(lambda r: urlsplit(r.url).path == "/lti/launch" and r.status == 403):
            frame = launch(page, person="amara-okafor")
        # The learner reads the course's title, what happened and whom to ask; the catalog id and the
        # reason code stay out of the text (data attributes, for support).
        expect(frame.locator("h1")).to_contain_text("cannot be opened")
        expect(frame.locator("main")).to_contain_text("Ask your LMS administrator")
        expect(frame.locator("main")).not_to_contain_text(course)
        expect(frame.locator(".refusal")).to_have_attribute("data-reason", "not_covered")
        assert seat_ids(committing_sessions, "amara-okafor") == []
    finally:
        page.context.close()


def test_deep_linking_returns_links_that_launch_as_a_learner(chromium: Any, demo: LiveServer,
                                                             committing_sessions: Sessions) -> None:
    page = new_page(chromium)
    try:
        open_demo(page, demo)
        frame = launch(page, person="pat-morgan", role="admin", button="#demo-launch-deep-linking")
        # The tool's content picker, in the frame: the Plus courses, tick the first, add it.
        frame.locator("#dl-type").select_option("plus")
        frame.locator("#dl-search").click()
        expect(frame.locator("#dl-type")).to_have_value("plus")
        pick = frame.locator("input[name=pick]").first
        course = pick.get_attribute("value")
        pick.check()
        frame.locator("#dl-add").click()
        expect(frame.locator("#demo-returned-items li")).to_have_count(1)
        links = page.locator("#demo-links-list li")
        expect(links).to_have_count(1)
        expect(links.first).to_contain_text(f"course_id={course}")
        expect(links.first).to_contain_text("license_type=plus")
        page.select_option("#demo-person", "lucas-silva")
        links.first.get_by_role("button", name="Launch as learner").click()
        wait_for_player(page, demo)
        assert len(seat_ids(committing_sessions, "lucas-silva")) == 1
        assert seat_ids(committing_sessions, "pat-morgan") == []  # adding content takes no seat
    finally:
        page.context.close()


def _course_to_buy(sessions: Sessions) -> tuple[str, str]:
    """A demo course the Demo Organization holds nothing for and may buy as Volume."""
    from store.catalog.models import Bundle, Course
    from store.licenses.models import PpuLibraryEntry, VolumeLot

    with sessions() as session:
        row = session.execute(
            select(Course.catalog_id, Course.title).outerjoin(Bundle, Bundle.id == Course.bundle_id)
            .where(Course.is_plus.is_(False), Course.status == "active", Bundle.id.is_(None),
                   Course.id.not_in(select(VolumeLot.course_pk)), Course.id.not_in(select(PpuLibraryEntry.course_pk)))
            .order_by(Course.catalog_id)
        ).first()
    assert row is not None
    return str(row[0]), str(row[1])


def test_an_admin_goes_from_the_dashboard_to_a_course_price_in_the_store(
        chromium: Any, demo: LiveServer, committing_sessions: Sessions) -> None:
    catalog_id, title = _course_to_buy(committing_sessions)
    page = new_page(chromium, viewport={"width": 1000, "height": 900})  # third-party cookies blocked
    try:
        open_demo(page, demo)
        frame = launch(page, person="pat-morgan", role="admin", button="#demo-launch-navigation")
        # The whole login round trip (platform storage included) before the first page: a busy
        # machine may need more than expect's default 5 s.
        expect(frame.locator("h1")).to_have_text("Dashboard", timeout=20_000)
        bar = frame.get_by_role("navigation", name="Store")
        for name in ("Store", "Cart", "Dashboard", "Order History"):
            expect(bar.get_by_role("link", name=name, exact=True)).to_be_visible()
        expect(bar.get_by_role("link", name="Dashboard", exact=True)).to_have_attribute("aria-current", "page")

        bar.get_by_role("link", name="Store", exact=True).click()
        expect(frame.locator("h1")).to_have_text("Store")
        frame.get_by_label("Search courses").fill(title)
        frame.get_by_role("button", name="Search", exact=True).click()
        expect(frame.get_by_label("Search courses")).to_have_value(title)
        frame.get_by_role("link", name=title, exact=True).first.click()
        expect(frame.locator("h1")).to_have_text(title)
        expect(frame.locator("#store-course-status")).to_contain_text("Available")

        frame.get_by_role("link", name="Buy Now", exact=True).click()
        frame.get_by_label("Quantity").fill("30")
        frame.get_by_role("button", name="Show price", exact=True).click()
        expect(frame.locator("#store-price")).to_contain_text("30 seats:")
        expect(frame.locator("#store-price")).to_contain_text("10 % discount")
        expect(frame.get_by_role("button", name="Add to Cart", exact=True)).to_be_visible()
        # Every step ran in the frame, without a cookie: the session token rode in links and forms.
        tool_frame = page.frame(name="demo-tool-frame")
        assert tool_frame is not None and tool_frame.url.startswith(f"{demo.url}/store/courses/{catalog_id}?s=")
        assert not page.context.cookies(demo.url)
        course_url = tool_frame.url.split("#")[0]
    finally:
        page.context.close()

    phone = new_page(chromium, viewport={"width": 390, "height": 844})
    try:  # the same page on a phone: no horizontal scrolling
        phone.goto(course_url)
        expect(phone.locator("h1")).to_have_text(title)
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        phone.get_by_role("navigation", name="Store").get_by_role("link", name="Store", exact=True).click()
        expect(phone.locator("h1")).to_have_text("Store")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        phone.context.close()

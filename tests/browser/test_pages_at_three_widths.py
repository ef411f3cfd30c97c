"""Every page a newcomer, a learner and an LMS admin meet (issue 11), at 1280, 800 (an LMS iframe)
and 390 px (a phone), in a real Chromium with third-party cookies blocked: axe-core finds no
violation of **moderate** impact or worse, and the page never scrolls sideways.

``PAGES`` is the list of pages: ``(name, open)`` where ``open(site, page)`` brings the Playwright
page there and returns what to check (the page itself, or the tool's frame inside the demo LMS).
Append more pages to it (the dashboard's, say) and they get the same checks.

Then one check per point of the issue: error pages have the house layout (``main``) and a link
on; the SCORM player's content is reachable with one scroller at 390 px, and stops responding
after "Save and close"; "Selected (n)" follows the ticks; a failed quiz is never "completed".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from lti_tool import create_app
from lti_tool.player.content import content_store
from lti_tool.services import services_of
from store.base import utcnow
from store.catalog.models import Course
from store.content.models import CourseContentVersion
from store.demo import seed_demo
from tests.browser.a11y import assert_accessible
from tests.browser.conftest import LiveServer, new_page, serve_app
from tests.browser.test_lti_demo import FRAME, demo_url, launch, open_demo
from tests.web.conftest import settings_for
from tests.web.test_player import content_of

pytestmark = pytest.mark.browser

SECRET = "browser-width-tests-secret-" + "w" * 40
WIDTHS = (1280, 800, 390)
HEIGHT = 900

Sessions = sessionmaker[Session]


@dataclass(frozen=True)
class Site:
    server: LiveServer
    sessions: Sessions

    @property
    def tool(self) -> str:
        return self.server.url

    @property
    def demo(self) -> str:
        return demo_url(self.server)

    def course_with(self, scorm_version: str) -> str:
        """The demo course that plays an imported SCORM package of that version."""
        with self.sessions() as session:
            return str(session.scalars(
                select(Course.catalog_id).join(CourseContentVersion, CourseContentVersion.course_pk == Course.id)
                .where(CourseContentVersion.scorm_version == scorm_version)).first())


@pytest.fixture
def site(engine: Engine, committing_sessions: Sessions, tmp_path: Path) -> Iterator[Site]:
    def build(base_url: str) -> Any:
        settings = settings_for(engine, public_base_url=base_url, demo_platform=True, secret_key=SECRET,
                                content_dir=str(tmp_path / "content"))
        seed_demo(committing_sessions, utcnow(), courses=40, content=content_store(settings))
        return create_app(settings)

    with serve_app(build) as server:
        yield Site(server, committing_sessions)
    services_of(server.app).engine.dispose()


# ---------------------------------------------------------------- the pages


def tool_frame(page: Any) -> Any:
    """The tool's frame inside the demo LMS page, once it has loaded a page of the tool."""
    frame = page.frame(name="demo-tool-frame")
    assert frame is not None
    return frame


def in_frame(page: Any, heading_selector: str) -> Any:
    # The whole login round trip first (platform storage included): a busy machine needs time.
    page.frame_locator(FRAME).locator(heading_selector).first.wait_for(timeout=40_000)
    return tool_frame(page)


def at(address: Callable[[Site], str]) -> Callable[[Site, Any], Any]:
    """A page opened by its address, checked as it is."""
    def open_page(site: Site, page: Any) -> Any:
        page.goto(address(site))
        return page
    return open_page


open_tool_404 = at(lambda site: site.tool + "/no/such/page")
open_launch_405 = at(lambda site: site.tool + "/lti/launch")
open_nul_400 = at(lambda site: site.tool + "/lti/install?x=%00")
open_demo_404 = at(lambda site: site.demo + "/no-such-page")


def open_demo_lms(site: Site, page: Any) -> Any:
    open_demo(page, site.server)
    return page


def open_seat_warning(site: Site, page: Any) -> Any:
    open_demo(page, site.server)
    launch(page, person="pat-morgan", role="admin")
    return in_frame(page, "#seats-left")


def open_refusal(site: Site, page: Any) -> Any:
    open_demo(page, site.server)
    course = page.locator("#demo-course option", has_text="not in the Plus catalog").get_attribute("value")
    page.select_option("#demo-course", course)
    launch(page, person="maria-garcia")
    return in_frame(page, ".refusal h1")


def open_picker(site: Site, page: Any) -> Any:
    open_demo(page, site.server)
    launch(page, person="pat-morgan", role="admin", button="#demo-launch-deep-linking")
    return in_frame(page, "#dl-selected-heading")


def lessons_course(site: Site, page: Any) -> str:
    """A demo LMS Plus course without imported content: the player's own lessons and quiz."""
    scorm = {site.course_with("scorm12"), site.course_with("scorm2004")}
    options = page.locator("#demo-course option[data-license=plus]").evaluate_all("els => els.map(e => e.value)")
    return str(next(value for value in options if value not in scorm))


def open_lessons_player(site: Site, page: Any) -> Any:
    open_demo(page, site.server)
    page.select_option("#demo-course", lessons_course(site, page))
    launch(page, person="kenji-tanaka")
    return in_frame(page, ".player-nav")


def open_scorm_player(site: Site, page: Any) -> Any:
    open_demo(page, site.server)
    page.fill("#demo-course-other", site.course_with("scorm12"))
    launch(page, person="lucas-silva")
    frame = in_frame(page, "#scorm-frame")
    page.frame_locator(FRAME).frame_locator("#scorm-frame").locator("#sco-greeting", has_text="Hello").wait_for()
    return frame


PAGES: list[tuple[str, Callable[[Site, Any], Any]]] = [
    ("tool 404", open_tool_404),
    ("GET /lti/launch 405", open_launch_405),
    ("NUL 400", open_nul_400),
    ("demo LMS 404", open_demo_404),
    ("demo LMS", open_demo_lms),
    ("seat warning", open_seat_warning),
    ("refusal", open_refusal),
    ("deep-linking picker", open_picker),
    ("lessons player", open_lessons_player),
    ("SCORM player", open_scorm_player),
]


def scrolls_sideways(target: Any) -> bool:
    return bool(target.evaluate(
        "() => document.scrollingElement.scrollWidth > document.scrollingElement.clientWidth"))


@pytest.mark.parametrize(("name", "open_page"), PAGES, ids=[name for name, _ in PAGES])
def test_every_page_at_three_widths(chromium: Any, site: Site, name: str, open_page: Callable[[Site, Any], Any]) -> None:
    page = new_page(chromium, viewport={"width": WIDTHS[0], "height": HEIGHT})
    try:
        target = open_page(site, page)
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": HEIGHT})
            page.wait_for_timeout(150)  # layout and the frame's resize settle
            where = f"{name} at {width} px"
            assert_accessible(target, where, min_impact="moderate")
            if target is not page:
                assert_accessible(page, where + " (the demo LMS around it)", min_impact="moderate")
            assert not scrolls_sideways(page), f"{where}: the page scrolls sideways"
            assert not scrolls_sideways(target), f"{where}: the tool's frame scrolls sideways"
    finally:
        page.context.close()


# ---------------------------------------------------------------- one check per point


@pytest.mark.parametrize("open_page", [open_tool_404, open_launch_405, open_nul_400, open_demo_404])
def test_error_pages_have_the_house_layout_and_a_link_on(chromium: Any, site: Site,
                                                         open_page: Callable[[Site, Any], Any]) -> None:
    page = new_page(chromium)
    try:
        open_page(site, page)
        expect(page.locator("main h1")).to_have_count(1)
        link = page.locator("main a").first
        expect(link).to_be_visible()
        link.click()
        page.wait_for_load_state()
        assert page.url.endswith("/demo")  # "/" leads to the demo LMS here
    finally:
        page.context.close()


def test_an_error_inside_the_lms_frame_says_to_open_the_tool_from_the_lms(chromium: Any, site: Site) -> None:
    page = new_page(chromium)
    try:
        open_demo(page, site.server)
        page.evaluate(f"document.getElementById('demo-tool-frame').src = {site.tool + '/lti/launch'!r}")
        frame = page.frame_locator(FRAME)
        expect(frame.locator("main h1")).to_have_text("Open this course from your LMS")
        expect(frame.locator("main")).to_contain_text("Open the tool again from your LMS")
    finally:
        page.context.close()


def test_the_scorm_player_has_one_scroller_on_a_phone_and_stops_after_save_and_close(
        chromium: Any, site: Site) -> None:
    page = new_page(chromium, viewport={"width": 390, "height": 844})
    try:
        frame = open_scorm_player(site, page)
        content = page.frame_locator(FRAME).frame_locator("#scorm-frame")
        course = next(f for f in page.frames if f.parent_frame is frame)
        # The course's page fits its frame: nothing scrolls inside it, the tool's page scrolls instead.
        page.wait_for_timeout(300)
        assert course.evaluate("() => document.scrollingElement.scrollHeight <= document.scrollingElement.clientHeight + 1")
        assert frame.evaluate("() => document.scrollingElement.scrollHeight > 0")
        # The title shows once on screen: the package's heading (the tool's is for screen readers).
        title = content.locator("#sco-title").inner_text()
        expect(page.frame_locator(FRAME).locator("#course-title")).to_have_class("visually-hidden")
        assert title
        finish = content.locator("#sco-finish")
        finish.scroll_into_view_if_needed()
        expect(finish).to_be_in_viewport()
        finish.click()
        player = page.frame_locator(FRAME)
        expect(player.locator("#player-closed")).to_be_visible()
        expect(player.locator("#scorm-frame")).to_be_hidden()
        assert frame.evaluate("() => document.getElementById('scorm-frame').getAttribute('src')") == "about:blank"
    finally:
        page.context.close()


def test_selected_count_follows_the_ticks(chromium: Any, site: Site) -> None:
    page = new_page(chromium)
    try:
        open_picker(site, page)
        picker = page.frame_locator(FRAME)
        heading = picker.locator("#dl-selected-heading")
        expect(heading).to_have_text("Selected (0)")
        boxes = picker.locator("input[name=pick]")
        boxes.nth(0).check()
        expect(heading).to_have_text("Selected (1)")
        boxes.nth(1).check()
        expect(heading).to_have_text("Selected (2)")
        boxes.nth(0).uncheck()
        expect(heading).to_have_text("Selected (1)")
        expect(picker.get_by_role("button", name="Add to the LMS")).to_have_count(2)  # above and below the list
    finally:
        page.context.close()


def test_a_failed_quiz_is_never_completed(chromium: Any, site: Site) -> None:
    page = new_page(chromium)
    try:
        open_demo(page, site.server)
        course = lessons_course(site, page)
        page.select_option("#demo-course", course)
        launch(page, person="kenji-tanaka")
        in_frame(page, ".player-nav")
        player = page.frame_locator(FRAME)
        quiz_link = player.locator(".player-nav a[data-goto=quiz]")
        quiz_link.click()
        expect(player.locator("#quiz-title")).to_be_visible()
        expect(quiz_link).not_to_have_class("visited")  # looked at, not answered: no tick
        for question in content_of(site.sessions, course).questions:  # every answer wrong
            wrong = next(choice.id for choice in question.choices if choice.id != question.answer)
            player.locator(f'input[name="{question.id}"][value="{wrong}"]').check()
        player.locator("#quiz-submit").click()
        expect(player.locator("#quiz-result")).to_contain_text("You scored 0%")
        status = player.locator("#player-status")
        expect(status).to_have_text("Not passed yet — score 0%")
        expect(quiz_link).not_to_have_class("visited")
        assert player.locator("#player-progress").evaluate("e => e.value") < 100
    finally:
        page.context.close()

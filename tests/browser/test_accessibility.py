"""axe-core on the tool's pages as a browser renders them, at an LMS frame's width (800 px) and a
phone's (390 px): no violation of serious or critical impact, and no sideways scrolling."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.a11y import assert_accessible, violations
from tests.browser.conftest import LiveServer, new_page

pytestmark = pytest.mark.browser

WIDTHS = (800, 390)


def no_sideways_scroll(page: Any) -> None:
    overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"{page.url} scrolls sideways by {overflow}px at {page.viewport_size['width']}px"


@pytest.mark.parametrize("width", WIDTHS)
def test_public_pages(live_server: LiveServer, chromium: Any, width: int) -> None:
    page = new_page(chromium, viewport={"width": width, "height": 900})
    try:
        for path in ("/lti/install", "/lti/login", "/play"):
            page.goto(live_server.url + path)
            assert_accessible(page, f"{path} at {width}px")
            no_sideways_scroll(page)
    finally:
        page.context.close()


def test_the_checker_finds_a_violation(live_server: LiveServer, chromium: Any) -> None:
    """A page with an unlabeled field and an image without text is caught (the check can fail)."""
    page = new_page(chromium)
    try:
        page.goto(live_server.url + "/lti/install")
        page.evaluate("""() => { const i = document.createElement('input'); document.querySelector('main').appendChild(i);
                                 const b = document.createElement('button'); document.querySelector('main').appendChild(b); }""")
        found = {v["id"] for v in violations(page, min_impact="serious")}
        assert {"label", "button-name"} <= found
    finally:
        page.context.close()

"""The install page in a real browser (Debian's Chromium): no horizontal scrolling at the LMS
frame's 800 px nor on a phone, and the copy buttons work."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator

import pytest
from flask import Flask
from werkzeug.serving import make_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def live_url(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.mark.skipif(not shutil.which("chromium") and not __import__("os").path.exists(CHROMIUM),
                    reason="needs Debian's chromium (make browser)")
def test_install_page_fits_800px_and_phones_and_copies(live_url: str, engine) -> None:  # type: ignore[no-untyped-def]
    if engine.dialect.name != "sqlite":
        pytest.skip("layout does not depend on the database")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            for width in (800, 360):
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.goto(f"{live_url}/lti/install")
                overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                assert overflow <= 0, f"{overflow}px horizontal overflow at {width}px"
                assert page.locator("button.copy:visible").count() >= 20
                page.close()
            context = browser.new_context(viewport={"width": 800, "height": 900})
            context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_url)
            page = context.new_page()
            page.goto(f"{live_url}/lti/install")
            page.locator("#url-jwks button.copy").click()
            page.wait_for_function("document.querySelector('#url-jwks button.copy').textContent === 'Copied'")
            assert page.evaluate("navigator.clipboard.readText()") == "http://tool.test/lti/jwks"
            context.close()
        finally:
            browser.close()

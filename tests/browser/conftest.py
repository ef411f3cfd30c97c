"""Browser fixtures: Debian's Chromium driven by Playwright, against the app served for real.

- ``chromium``: one headless Chromium per test module (``/usr/bin/chromium``, no downloaded
  browsers; ``make browser`` installs it). Tests are skipped when it is missing.
- ``browser_app``: the app on the test database (tables emptied before and after, as in
  tests/web) with its own ``CONTENT_DIR`` under the test's tmp folder.
- ``live_server``: that app served by werkzeug on 127.0.0.1 (a free port) in a thread; gives
  ``.url`` (the base URL, no trailing slash) and ``.app``. Override ``browser_settings`` in a
  test module to serve with other settings. Its teardown waits for requests still running, so
  close pages (``page.context.close()``) inside the test, before it ends.
- ``browser_context`` / ``page``: a fresh incognito context per test (no state shared between
  tests), closed afterwards. ``new_page(chromium, **context_options)`` makes more.

- ``persistent_profile``: a factory of Chromium *persistent* contexts, each on a fresh
  user-data-dir whose ``Default/Preferences`` set the third-party cookie control
  (``profile.cookie_controls_mode``: 0 allows third-party cookies, 1 blocks them; incognito
  contexts from ``chromium`` block them, as Chromium does by default). Closed after the test.
- Backend: browser tests drive the pages, not the database layer (the web and integration tests
  run every query on both databases), so they run once: on PostgreSQL, the production database,
  when ``TEST_DATABASE_URL`` is set, else on SQLite. ``make test`` stays under 15 minutes.
- ``serve_app(build)``: serve an app that must know its own address (``PUBLIC_BASE_URL``): binds
  127.0.0.1 on a free port first, then calls ``build(base_url)`` for the app; a context manager
  giving a ``LiveServer``.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.serving import BaseWSGIServer, make_server

from config import Settings
from lti_tool import create_app
from lti_tool.services import services_of
from tests.web.conftest import settings_for

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
DEFAULT_TIMEOUT_MS = 10_000
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests on one backend: the last of the parametrized ones (PostgreSQL when set)."""
    from tests.conftest import BACKENDS

    if len(BACKENDS) < 2:
        return
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        in_browser = HERE in Path(str(item.path)).resolve().parents
        if in_browser and callspec is not None and callspec.params.get("engine", BACKENDS[-1]) != BACKENDS[-1]:
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


# Module scope: the Playwright sync API runs one driver per thread at a time, so a module's
# browser is stopped before another module (or a test elsewhere) starts its own.
@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[Any]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"browser tests need Debian's Chromium at {CHROMIUM} (make browser)")
    from playwright.sync_api import sync_playwright

    driver = sync_playwright().start()
    try:
        yield driver
    finally:
        driver.stop()


@pytest.fixture(scope="module")
def chromium(playwright_driver: Any) -> Iterator[Any]:
    browser = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    try:
        yield browser
    finally:
        browser.close()


def new_page(browser: Any, **context_options: Any) -> Any:
    """A page in a new incognito context (close it with ``page.context.close()``)."""
    context = browser.new_context(**context_options)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    return context.new_page()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    p = new_page(chromium)
    try:
        yield p
    finally:
        p.context.close()


@pytest.fixture
def browser_settings(engine: Engine, tmp_path: Path) -> Settings:
    return settings_for(engine, content_dir=str(tmp_path / "content"))


@pytest.fixture
def browser_app(browser_settings: Settings, committing_sessions: sessionmaker[Session]) -> Iterator[Flask]:
    application = create_app(browser_settings)
    try:
        yield application
    finally:
        services_of(application).engine.dispose()


@dataclass(frozen=True)
class LiveServer:
    url: str  # e.g. http://127.0.0.1:40123
    app: Flask


@pytest.fixture
def live_server(browser_app: Flask) -> Iterator[LiveServer]:
    server: BaseWSGIServer = make_server("127.0.0.1", 0, browser_app, threaded=True)
    # Wait for requests still running (a page's last beacon) before the tables are emptied.
    server.daemon_threads = False  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", browser_app)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@contextmanager
def serve_app(build: Callable[[str], Flask]) -> Iterator[LiveServer]:
    """Serve ``build(base_url)`` on 127.0.0.1 (a free port), for apps whose settings name their
    own public address. Close pages before leaving the block: shutting down waits for requests."""
    holder: dict[str, Flask] = {}

    def wsgi(environ: Any, start_response: Any) -> Any:
        return holder["app"](environ, start_response)

    server: BaseWSGIServer = make_server("127.0.0.1", 0, wsgi, threaded=True)
    server.daemon_threads = False  # type: ignore[attr-defined]
    base_url = f"http://127.0.0.1:{server.server_port}"
    holder["app"] = build(base_url)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(base_url, holder["app"])
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture
def persistent_profile(playwright_driver: Any, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """``make(third_party_cookies: bool)`` -> a persistent Chromium context on a fresh profile."""
    contexts: list[Any] = []

    def make(*, third_party_cookies: bool) -> Any:
        user_data_dir = tmp_path / f"chromium-profile-{len(contexts)}"
        (user_data_dir / "Default").mkdir(parents=True)
        preferences = {"profile": {"cookie_controls_mode": 0 if third_party_cookies else 1}}
        (user_data_dir / "Default" / "Preferences").write_text(json.dumps(preferences))
        context = playwright_driver.chromium.launch_persistent_context(
            str(user_data_dir), executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        contexts.append(context)
        return context

    try:
        yield make
    finally:
        for context in contexts:
            context.close()

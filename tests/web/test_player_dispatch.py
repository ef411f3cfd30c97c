"""The course player's page for SCORM dispatch launches, over HTTP on both databases: a dispatch
grant's page config carries the LMS origin recorded at launch (the origin the player's dispatch
bridge pins) and the page loads static/js/dispatch-bridge.js; an LTI grant's page has neither.
Both player pages (demo lessons and imported SCORM content) do the same."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from lti_tool import create_app
from lti_tool.player.content import content_store
from lti_tool.player.tokens import issue_player_token, verify_player_token
from lti_tool.services import services_of
from scorm_packages import service
from scorm_packages.tokens import make_launch_token
from store.licenses import service as licenses
from tests.factories.catalog import make_course
from tests.factories.content import import_generated
from tests.factories.licenses import make_account
from tests.web.conftest import settings_for

Sessions = sessionmaker[Session]
LMS = "https://lms.example.edu"
BRIDGE = re.compile(r'<script src="/static/js/dispatch-bridge\.js" defer></script>')


@pytest.fixture
def app(engine: Engine, committing_sessions: Sessions, tmp_path: Path) -> Iterator[Flask]:
    application = create_app(settings_for(engine, content_dir=str(tmp_path / "content")))
    try:
        yield application
    finally:
        services_of(application).engine.dispose()


@dataclass(frozen=True)
class Packaged:
    account_id: int
    package: service.PreparedPackage


def packaged(app: Flask, sessions: Sessions, course: str, tmp_path: Path | None = None) -> Packaged:
    now = datetime.now(UTC)
    account_id = make_account(sessions, f"Acme {course}", now).id
    with sessions.begin() as s:
        make_course(s, course, title='Fire & "Safety" <Evac>', is_plus=False)
    if tmp_path is not None:
        import_generated(sessions, content_store(services_of(app).settings), course, "scorm2004", now, tmp_path)
    licenses.grant_volume(sessions, account_id, course, 3, now)
    prepared = service.prepare_package(sessions, services_of(app).settings, account_id, course, "volume",
                                       "scorm12", now)
    return Packaged(account_id, prepared)


def launch(client: FlaskClient, package: service.PreparedPackage, *, origin: str | None = LMS,
           page_origin: str | None = LMS, learner: str = "lms-7") -> str:
    """A package launch through POST /dispatch/launch; returns the player URL it redirects to."""
    token = make_launch_token(package_key=package.view.key, generation=package.view.generation,
                              secret=package.secret, learner_id=learner, learner_name="Doe, Jane",
                              page_origin=page_origin, referrer_origin=page_origin, now=datetime.now(UTC))
    response = client.post("/dispatch/launch", data={"token": token}, headers={"Origin": origin} if origin else {})
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return response.headers["Location"]


def page_config(html: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="player-config">(.*?)</script>', html, re.S)
    assert match, "no player config in the page"
    return json.loads(match.group(1))


def open_player(client: FlaskClient, url: str) -> tuple[dict[str, Any], str]:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    html = response.get_data(as_text=True)
    return page_config(html), html


def grant_of(app: Flask, url: str):  # type: ignore[no-untyped-def]
    return verify_player_token(services_of(app).settings, parse_qs(urlsplit(url).query)["t"][0])


def test_a_dispatch_page_carries_the_launch_pages_origin_and_loads_the_bridge(
        app: Flask, client: FlaskClient, committing_sessions: Sessions) -> None:
    setup = packaged(app, committing_sessions, "VOL-1")
    url = launch(client, setup.package)
    config, html = open_player(client, url)
    assert config["origin"] == "dispatch"
    assert config["dispatch"] == {"lmsOrigin": LMS}
    assert len(BRIDGE.findall(html)) == 1
    assert html.index("js/player.js") < html.index("js/dispatch-bridge.js")  # PlayerBridge exists first
    # The bridge is a static asset of the product's origin (the page's CSP allows 'self' scripts only).
    with client.get("/static/js/dispatch-bridge.js") as script:
        assert script.status_code == 200 and "javascript" in script.headers["Content-Type"]
        source = script.get_data(as_text=True)
    posts = re.findall(r"postMessage\(([^;]*)\)", source)
    assert posts == ["message, lmsOrigin"]  # one call, to the pinned origin: never "*"


def test_the_browsers_origin_header_is_pinned_not_the_pages_own_claim(
        app: Flask, client: FlaskClient, committing_sessions: Sessions) -> None:
    setup = packaged(app, committing_sessions, "VOL-1")
    url = launch(client, setup.package, origin="https://real-lms.example.org", page_origin=LMS)
    assert open_player(client, url)[0]["dispatch"] == {"lmsOrigin": "https://real-lms.example.org"}
    # Without an Origin header (some browsers send "null"), the launch page's signed claim is used.
    url = launch(client, setup.package, origin="null", page_origin="https://Other-LMS.example.org:8443",
                 learner="lms-8")
    assert open_player(client, url)[0]["dispatch"] == {"lmsOrigin": "https://other-lms.example.org:8443"}


def test_a_dispatch_grant_without_a_recorded_origin_lets_the_bridge_pin_the_first_init(
        app: Flask, client: FlaskClient, committing_sessions: Sessions) -> None:
    # An account without domain restriction, a browser that sent no Origin, a page that made no
    # claim: the launch records no LMS origin.
    setup = packaged(app, committing_sessions, "VOL-1")
    url = launch(client, setup.package, origin=None, page_origin=None)
    config, html = open_player(client, url)
    assert config["dispatch"] == {"lmsOrigin": None}
    assert len(BRIDGE.findall(html)) == 1


def test_a_dispatch_grant_of_no_known_launch_is_refused(
        app: Flask, client: FlaskClient, committing_sessions: Sessions) -> None:
    """The player cannot tell whether such a grant's package is still live: it refuses it."""
    setup = packaged(app, committing_sessions, "VOL-1")
    grant = grant_of(app, launch(client, setup.package))
    settings = services_of(app).settings
    for launch_id in (None, "no-such-launch"):
        token = issue_player_token(settings, seat_id=grant.seat_id, catalog_id=grant.catalog_id,
                                   learner_id=grant.learner_id, launch_id=launch_id, origin="dispatch")
        page = client.get(f"/play?t={token}")
        assert page.status_code == 403 and "no longer exists" in page.get_data(as_text=True)
        api = client.get("/play/api/state", headers={"Authorization": f"Bearer {token}"})
        assert api.status_code == 403 and api.get_json()["error"] == "package_revoked"


def test_an_lti_page_has_no_dispatch_config_and_no_bridge(
        app: Flask, client: FlaskClient, committing_sessions: Sessions) -> None:
    setup = packaged(app, committing_sessions, "VOL-1")
    grant = grant_of(app, launch(client, setup.package))
    token = issue_player_token(services_of(app).settings, seat_id=grant.seat_id, catalog_id=grant.catalog_id,
                               learner_id=grant.learner_id, launch_id=grant.launch_id, origin="lti")
    config, html = open_player(client, f"/play?t={token}")
    assert config["origin"] == "lti" and "dispatch" not in config
    assert "dispatch-bridge" not in html and LMS not in html


def test_the_scorm_content_player_does_the_same(app: Flask, client: FlaskClient, committing_sessions: Sessions,
                                                tmp_path: Path) -> None:
    setup = packaged(app, committing_sessions, "SCO-1", tmp_path)
    url = launch(client, setup.package)
    config, html = open_player(client, url)
    assert config["scormVersion"] == "scorm2004" and config["dispatch"] == {"lmsOrigin": LMS}
    assert len(BRIDGE.findall(html)) == 1
    assert html.index("js/scorm-player.js") < html.index("js/dispatch-bridge.js")

    grant = grant_of(app, url)
    token = issue_player_token(services_of(app).settings, seat_id=grant.seat_id, catalog_id=grant.catalog_id,
                               learner_id=grant.learner_id, launch_id=None, origin="lti")
    config, html = open_player(client, f"/play?t={token}")
    assert config["scormVersion"] == "scorm2004" and "dispatch" not in config and "dispatch-bridge" not in html

"""LTI rows and launch helpers for tests: registrations/deployments written straight through the
models, and a driver that performs the real login → authorization → launch round trip against a
Flask test client with a TestPlatform."""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from lti_tool.lti.models import LtiDeployment, LtiLaunch, LtiLoginState, LtiRegistration, LtiUsedNonce
from lti_tool.lti.testplatform import AuthResponse, TestPlatform
from lti_tool.services import services_of
from store.accounts.models import Learner
from store.licenses.models import Seat

TOOL_BASE = "http://tool.test"
LAUNCH_URL = TOOL_BASE + "/lti/launch"


def make_registration(sessions: sessionmaker[Session], account_id: int, platform: TestPlatform, *,
                      deployment_status: str | None = "active", extra_origins: list[str] | None = None,
                      client_id: str | None = None) -> int:
    with sessions.begin() as session:
        reg = LtiRegistration(
            account_id=account_id, issuer=platform.issuer, client_id=client_id or platform.client_id,
            auth_login_url=platform.auth_login_url, auth_token_url=platform.auth_token_url,
            key_set_url=platform.key_set_url, extra_origins=extra_origins or [], label="Test LMS",
            created_via="cli",
        )
        session.add(reg)
        session.flush()
        if deployment_status is not None:
            session.add(LtiDeployment(registration_id=reg.id, deployment_id=platform.deployment_id,
                                      status=deployment_status))
        return reg.id


def count(sessions: sessionmaker[Session], model: Any) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


@dataclass(frozen=True)
class Counts:
    seats: int
    learners: int
    launches: int
    used_nonces: int
    login_states: int


def counts(sessions: sessionmaker[Session]) -> Counts:
    return Counts(count(sessions, Seat), count(sessions, Learner), count(sessions, LtiLaunch),
                  count(sessions, LtiUsedNonce), count(sessions, LtiLoginState))


_CONFIG = re.compile(r'<script type="application/json" id="lti-config">(.*?)</script>', re.S)


def page_config(response: TestResponse) -> dict[str, Any]:
    found = _CONFIG.search(response.get_data(as_text=True))
    assert found, "the page has no lti-config"
    return json.loads(html.unescape(found.group(1)))


@dataclass
class Login:
    response: TestResponse
    config: dict[str, Any]
    auth_url: str
    state: str
    cookie_name: str
    cookie_value: str | None


def login(client: FlaskClient, platform: TestPlatform, *, target: str = LAUNCH_URL, method: str = "GET",
          **params: Any) -> Login:
    """Start a login as the LMS would; returns the page's config and the state cookie."""
    query = platform.login_params(target, **params)
    if method == "GET":
        response = client.get("/lti/login", query_string=query)
    else:
        response = client.post("/lti/login", data=query)
    assert response.status_code == 200, response.get_data(as_text=True)
    config = page_config(response)
    auth_url = config["authUrl"]
    state = dict(p.split("=", 1) for p in urlsplit(auth_url).query.split("&"))["state"]
    cookie_name = "lti1p3-state-" + state
    cookie = client.get_cookie(cookie_name, domain="localhost", path="/lti/launch")
    return Login(response, config, auth_url, state, cookie_name, cookie.value if cookie else None)


def authorize(platform: TestPlatform, started: Login, **token_options: Any) -> AuthResponse:
    return platform.authorize(started.auth_url, LAUNCH_URL, **token_options)


def post_launch(client: FlaskClient, auth: AuthResponse, **extra: str) -> TestResponse:
    return client.post("/lti/launch", data={**auth.fields, **extra})


def launch(client: FlaskClient, platform: TestPlatform, **token_options: Any) -> TestResponse:
    """Login, authorization and launch in one go (cookie path)."""
    started = login(client, platform)
    return post_launch(client, authorize(platform, started, **token_options))


def course_custom(course_id: str, license_type: str) -> dict[str, str]:
    return {"course_id": course_id, "license_type": license_type}


# ---------------------------------------------------------------- fixture


@dataclass
class LtiEnv:
    """An app on the test database, an account with a registration for a TestPlatform whose JWKS
    is served over HTTP, and helpers to make more apps on the same database."""

    engine: Any
    sessions: sessionmaker[Session]
    server: Any  # PlatformServer
    account_id: int
    registration_id: int
    app: Any
    client: FlaskClient
    apps: list[Any]

    @property
    def platform(self) -> TestPlatform:
        return self.server.platform  # type: ignore[no-any-return]

    def make_app(self, **overrides: Any) -> Any:
        from lti_tool import create_app
        from tests.web.conftest import settings_for

        settings = settings_for(self.engine, **overrides)
        if "secret_key" not in overrides:
            settings = settings.with_overrides(secret_key=services_of(self.app).settings.secret_key)
        app = create_app(settings)
        self.apps.append(app)
        return app

    def counts(self) -> Counts:
        return counts(self.sessions)

"""A real local HTTP server for a TestPlatform: the tool fetches the platform's JWKS over HTTP.

``platform_server`` runs werkzeug's ``make_server`` on 127.0.0.1 (port 0) in a thread. It serves
``/jwks`` (the platform's current key set, so ``platform.rotate_key()`` is seen at once) and
counts the fetches. Tests import the fixture: ``from tests.factories.lti_server import
platform_server  # noqa: F401``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from lti_tool.lti.testplatform import TestPlatform
from lti_tool.services import services_of


@dataclass
class PlatformServer:
    platform: TestPlatform
    base_url: str = ""
    jwks_fetches: int = 0
    fail_jwks: bool = False
    redirect_jwks_to: str | None = None  # answer /jwks with a 302 to this URL
    paths: list[str] = field(default_factory=list)

    @property
    def jwks_url(self) -> str:
        return self.base_url + "/jwks"

    def wsgi(self, environ, start_response):  # type: ignore[no-untyped-def]
        request = Request(environ)
        self.paths.append(request.path)
        if request.path == "/jwks":
            self.jwks_fetches += 1
            if self.redirect_jwks_to:
                response = Response("", status=302, headers={"Location": self.redirect_jwks_to})
            elif self.fail_jwks:
                response = Response("unavailable", status=503)
            else:
                response = Response(json.dumps(self.platform.jwks()), mimetype="application/json")
        else:
            response = Response("not found", status=404)
        return response(environ, start_response)


def serve(platform: TestPlatform) -> tuple[PlatformServer, BaseWSGIServer, threading.Thread]:
    state = PlatformServer(platform)
    server = make_server("127.0.0.1", 0, state.wsgi, threaded=True)
    state.base_url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="lti-platform-server",
                              daemon=True)
    thread.start()
    return state, server, thread


@pytest.fixture
def platform_server() -> Iterator[PlatformServer]:
    """A TestPlatform (issuer https://lms.example.edu) whose JWKS is served over real HTTP."""
    state, server, thread = serve(TestPlatform())
    state.platform.key_set_url = state.jwks_url
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def lti_env(engine, committing_sessions, platform_server):  # type: ignore[no-untyped-def]
    """App + account + registration (active deployment) for ``platform_server.platform``."""
    from lti_tool import create_app
    from store.base import utcnow
    from tests.factories.licenses import make_account
    from tests.factories.lti import LtiEnv, make_registration
    from tests.web.conftest import settings_for

    account = make_account(committing_sessions, now=utcnow())
    registration_id = make_registration(committing_sessions, account.id, platform_server.platform)
    app = create_app(settings_for(engine))
    env = LtiEnv(engine, committing_sessions, platform_server, account.id, registration_id, app,
                 app.test_client(), [app])
    try:
        yield env
    finally:
        for application in env.apps:
            services_of(application).engine.dispose()

"""Scale out: two app processes (``lti-tool serve --workers 1``, i.e. gunicorn) on different
ports against one PostgreSQL database, as two hosts behind a load balancer. The OIDC login goes
to one and the launch to the other; a deep-linking request is opened, continued and answered
across both; the returned link is then launched across them again. PostgreSQL only (SQLite is
the one-host embedded default)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from lti_tool.lti import claims
from lti_tool.lti import content_items as ci
from lti_tool.lti.testplatform import ROLE_INSTRUCTOR
from lti_tool.services import services_of
from store.base import utcnow
from store.licenses.service import grant_plus, grant_volume
from tests.factories import lti as f
from tests.factories.catalog import make_course
from tests.factories.lti_server import lti_env, platform_server  # noqa: F401
from tests.factories.processes import stop_process
from tests.web.test_deeplink import RETURN_URL, _follow, _picker, _post, _returned, _verify

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"),
                                reason="two app hosts share a PostgreSQL database (TEST_DATABASE_URL)")


class HttpResponse:
    """A ``requests`` answer with the Flask test response's interface the deep-linking helpers use."""

    def __init__(self, response: requests.Response) -> None:
        self.status_code = response.status_code
        self.headers = response.headers
        self._text = response.text

    def get_data(self, as_text: bool = True) -> str:
        return self._text

    def get_json(self) -> Any:
        return json.loads(self._text)


@dataclass
class AppHost:
    """One app process, reached over HTTP by a browser whose cookie jar is ``jar`` (shared by
    the hosts: the load balancer's one address, to the browser)."""

    base_url: str
    jar: requests.Session

    def get(self, path: str, query_string: Any = None) -> HttpResponse:
        url = path if path.startswith("http") else self.base_url + _path(path)
        return HttpResponse(self.jar.get(url, params=query_string, allow_redirects=False, timeout=30))

    def post(self, path: str, data: Any = None) -> HttpResponse:
        pairs = list(data.items(multi=True)) if hasattr(data, "items") and hasattr(data, "getlist") else data
        return HttpResponse(self.jar.post(self.base_url + _path(path), data=pairs, allow_redirects=False, timeout=30))


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(process: subprocess.Popen[str], base_url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _out, err = process.communicate()
            pytest.fail(f"the app process exited: {err}")
        try:
            if requests.get(base_url + "/healthz", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            time.sleep(0.2)
    pytest.fail(f"the app at {base_url} did not come up")


@pytest.fixture
def env(lti_env):  # type: ignore[no-untyped-def]
    if lti_env.engine.dialect.name != "postgresql":
        pytest.skip("two app hosts share a PostgreSQL database")
    now = utcnow()
    with lti_env.sessions.begin() as session:
        make_course(session, "C-100", title="Workplace Safety", is_plus=True)
        make_course(session, "C-200", title="Advanced Forklift", is_plus=False)
    grant_plus(lti_env.sessions, lti_env.account_id, 5, "annual", now)
    grant_volume(lti_env.sessions, lti_env.account_id, "C-200", 5, now)
    return lti_env


@pytest.fixture
def hosts(env) -> Iterator[tuple[AppHost, AppHost]]:  # type: ignore[no-untyped-def]
    settings = services_of(env.app).settings
    environ = {**os.environ, "APP_ENV": "test", "APP_DATABASE_URL": settings.database_url,
               "APP_SECRET_KEY": settings.secret_key, "APP_PUBLIC_BASE_URL": f.TOOL_BASE,
               "APP_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
    processes, urls = [], []
    try:
        for _ in range(2):
            port = _free_port()
            processes.append(subprocess.Popen(
                [sys.executable, "-c", "from lti_tool.cli import main; main()", "serve", "--workers", "1",
                 "--host", "127.0.0.1", "--port", str(port)],
                cwd=ROOT, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
            urls.append(f"http://127.0.0.1:{port}")
        for process, url in zip(processes, urls, strict=True):
            _wait_until_up(process, url)
        jar = requests.Session()
        yield AppHost(urls[0], jar), AppHost(urls[1], jar)
    finally:
        for process in processes:
            stop_process(process)


def _login(host: AppHost, env: Any) -> str:
    """The OIDC login initiation on ``host``: the authorization URL (its state cookie is in the jar)."""
    page = host.get("/lti/login", query_string=env.platform.login_params(f.LAUNCH_URL))
    assert page.status_code == 200, page.get_data()
    config = json.loads(page.get_data().split('id="lti-config">', 1)[1].split("</script>", 1)[0])
    # The state cookie is Secure (SameSite=None); these hosts speak plain http behind the
    # "load balancer", so the browser's jar gets a copy it sends over http.
    for cookie in list(host.jar.cookies):
        if cookie.name.startswith("lti1p3-state-") and cookie.secure:
            host.jar.cookies.clear(cookie.domain, cookie.path, cookie.name)
            host.jar.cookies.set(cookie.name, cookie.value, domain=cookie.domain, path=cookie.path)
    return str(config["authUrl"])


def _launch(login_host: AppHost, launch_host: AppHost, env: Any, **token: Any) -> HttpResponse:
    auth = env.platform.authorize(_login(login_host, env), f.LAUNCH_URL, **token)
    return launch_host.post("/lti/launch", data=auth.fields)


def test_logins_on_one_host_and_launches_on_the_other(env, hosts) -> None:  # type: ignore[no-untyped-def]
    a, b = hosts
    for i, (login_host, launch_host) in enumerate([(a, b), (b, a), (a, b)]):
        launched = _launch(login_host, launch_host, env, custom=f.course_custom("C-100", "plus"), sub=f"learner-{i}")
        assert launched.status_code == 303, launched.get_data()
        assert urlsplit(launched.headers["Location"]).path.startswith("/play")
    assert env.counts().seats == 3
    # A relaunch across the hosts reuses the seat.
    again = _launch(b, a, env, custom=f.course_custom("C-100", "plus"), sub="learner-0")
    assert again.status_code == 303 and env.counts().seats == 3


def test_deep_linking_across_the_two_hosts(env, hosts) -> None:  # type: ignore[no-untyped-def]
    a, b = hosts
    settings = env.platform.deep_linking_settings(return_url=RETURN_URL)
    started = _launch(a, b, env, message_type=claims.DEEP_LINKING_REQUEST, roles=[ROLE_INSTRUCTOR], sub="admin-1",
                      deep_linking=settings)
    assert started.status_code == 303, started.get_data()
    location = started.headers["Location"]
    page = _picker(a.get(location))  # the picker on A
    assert page.status == 200 and {"C-100", "C-200"} <= {value for value, _kind, _checked in page.picks}
    page = _follow(env, _post(env, page, picks=["C-200"], client=b), client=a)  # ticked on B, shown by A
    assert page.licenses == {"C-200": "volume"}
    _action, token = _returned(_post(env, page, action="respond", client=b))
    env.client = a  # the LMS reads the tool's keys from the load balancer: either host
    body = _verify(env, token)
    [item] = body[ci.CONTENT_ITEMS]
    assert item["custom"] == {"course_id": "C-200", "license_type": "volume"}
    # The LMS launches the returned link: login on B, launch on A.
    launched = _launch(b, a, env, custom=item["custom"], sub="learner-7", target_link_uri=item["url"])
    assert launched.status_code == 303 and urlsplit(launched.headers["Location"]).path.startswith("/play")
    assert _post(env, page, action="respond", client=a).status_code == 409  # answered once, for both hosts

"""Stateless app servers: a login handled by one app and the launch by another must work,
because state, nonce, platform keys and sessions live in the database."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from lti_tool.lti.models import WebSession
from lti_tool.lti.websession import token_hash
from lti_tool.services import services_of
from store.base import utcnow
from store.licenses.service import grant_plus
from tests.factories import lti as f
from tests.factories.catalog import make_course
from tests.factories.lti_server import lti_env, platform_server  # noqa: F401
from tests.factories.processes import stop_process

ROOT = Path(__file__).resolve().parents[2]
COURSE = f.course_custom("C-100", "plus")

SERVER = textwrap.dedent("""
    import sys
    from werkzeug.serving import make_server
    from config import load_settings
    from lti_tool import create_app

    app = create_app(load_settings())
    server = make_server("127.0.0.1", 0, app, threaded=True)
    print(server.server_port, flush=True)
    server.serve_forever(poll_interval=0.05)
""")


@pytest.fixture
def env(lti_env):  # type: ignore[no-untyped-def]
    with lti_env.sessions.begin() as session:
        make_course(session, "C-100")
    grant_plus(lti_env.sessions, lti_env.account_id, 5, "annual", utcnow())
    return lti_env


def test_login_on_one_app_and_launch_on_another(env) -> None:
    app_a, app_b = env.make_app(), env.make_app()
    client_a, client_b = app_a.test_client(), app_b.test_client()
    started = f.login(client_a, env.platform)
    # The browser carries the state cookie to whichever process answers the launch.
    client_b.set_cookie(started.cookie_name, started.cookie_value or "", domain="localhost", path="/lti/launch")
    response = f.post_launch(client_b, f.authorize(env.platform, started, custom=COURSE))
    assert response.status_code == 303, response.get_data(as_text=True)
    assert env.counts().seats == 1

    # The admin flow crosses processes too: warning page on A, confirmation (session + CSRF) on B.
    started = f.login(client_a, env.platform)
    response = f.post_launch(client_a, f.authorize(env.platform, started, custom=COURSE, sub="admin-1",
                                                   roles=["http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"]))
    assert response.status_code == 200
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', response.get_data(as_text=True)))
    confirmed = client_b.post("/lti/launch/confirm", data=form)
    assert confirmed.status_code == 303, confirmed.get_data(as_text=True)
    assert env.counts().seats == 2


@pytest.fixture
def subprocess_app(env) -> Iterator[str]:  # type: ignore[no-untyped-def]
    settings = services_of(env.app).settings
    environ = {**os.environ, "APP_ENV": "test", "APP_DATABASE_URL": settings.database_url,
               "APP_SECRET_KEY": settings.secret_key, "APP_PUBLIC_BASE_URL": settings.public_base_url,
               "APP_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-c", SERVER], cwd=ROOT, env=environ, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline() if process.stdout else ""
        if not line.strip().isdigit():
            process.kill()
            _out, err = process.communicate(timeout=10)
            pytest.fail(f"the app server did not start: {line!r}\n{err}")
        yield f"http://127.0.0.1:{int(line)}"
    finally:
        stop_process(process, timeout=10)


def test_login_in_a_separate_server_process_then_launch_here(env, subprocess_app: str) -> None:
    query = env.platform.login_params(f.LAUNCH_URL)
    with requests.get(subprocess_app + "/lti/login", params=query, timeout=10) as response:
        assert response.status_code == 200, response.text
        config_text = response.text.split('id="lti-config">', 1)[1].split("</script>", 1)[0]
        cookies = {c.name: c.value for c in response.cookies}
        set_cookie = response.headers["Set-Cookie"]
    config = json.loads(config_text)
    state = next(p.split("=", 1)[1] for p in config["authUrl"].split("?", 1)[1].split("&") if p.startswith("state="))
    cookie_name = "lti1p3-state-" + state
    assert cookie_name in set_cookie
    cookie_value = cookies.get(cookie_name) or set_cookie.split(cookie_name + "=", 1)[1].split(";", 1)[0]

    client = env.app.test_client()  # this process: it never saw the login
    client.set_cookie(cookie_name, cookie_value, domain="localhost", path="/lti/launch")
    auth = env.platform.authorize(config["authUrl"], f.LAUNCH_URL, custom=COURSE,
                                  target_link_uri="https://tool.test/lti/launch")
    response = client.post("/lti/launch", data=auth.fields)
    assert response.status_code == 303, response.get_data(as_text=True)
    assert env.counts().seats == 1

    # And the other way round: the session started here is usable by the other process.
    launched = f.launch(client, env.platform, target_link_uri="https://tool.test/lti/launch", sub="learner-9")
    token = launched.headers["Location"].split("s=", 1)[1]
    with env.sessions() as db:
        assert db.scalars(select(WebSession.id).where(WebSession.id == token_hash(token))).one()
    with requests.get(subprocess_app + "/lti/my-courses", params={"s": token}, timeout=10) as page:
        assert page.status_code == 200 and "My courses" in page.text

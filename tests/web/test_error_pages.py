"""Every HTTP error in the house style (lti_tool/error_pages.py): the base layout with its ``main``
landmark, a heading, a plain sentence and a next step; JSON for the player's API and the dispatch
runtime's JSON endpoints; ``/`` redirects somewhere useful."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Blueprint, Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from config.defaults import PRODUCT_NAME
from lti_tool import create_app
from lti_tool.lti.testplatform import ROLE_LEARNER
from lti_tool.services import services_of
from tests.factories import lti as f
from tests.factories.lti_server import lti_env, platform_server  # noqa: F401
from tests.web.conftest import settings_for

TOOL = "http://127.0.0.1:5000"
DEMO = "http://localhost:5000"


def house_page(response, status: int, heading: str) -> str:  # type: ignore[no-untyped-def]
    html = response.get_data(as_text=True)
    assert response.status_code == status, html[:500]
    assert response.mimetype == "text/html"
    assert re.search(r"<main\b", html) and f"<h1>{heading}</h1>" in html, html
    assert f"<title>{heading} · {PRODUCT_NAME}</title>" in html
    assert "Traceback" not in html and "Werkzeug" not in html
    return html


def links(html: str) -> list[str]:
    return re.findall(r'<a href="([^"]*)"', html)


def test_an_unknown_url_on_the_tool_is_a_house_404_with_a_way_on(client: FlaskClient) -> None:
    html = house_page(client.get("/no/such/page"), 404, "Page not found")
    assert "There is no page at this address" in html
    assert links(html) == ["/"] and "Go to the start page" in html
    assert "Open the tool again from your LMS" not in html


def test_inside_an_lms_frame_the_next_step_is_the_lms(client: FlaskClient) -> None:
    html = house_page(client.get("/no/such/page", headers={"Sec-Fetch-Dest": "iframe"}), 404, "Page not found")
    assert "Open the tool again from your LMS" in html
    assert links(html) == []  # no session: the LMS is the only way back


def test_a_learner_with_a_session_gets_a_link_back_to_their_courses(lti_env) -> None:  # type: ignore[no-untyped-def]
    response = f.launch(lti_env.client, lti_env.platform, roles=[ROLE_LEARNER], target_link_uri="https://tool.test/")
    token = parse_qs(urlsplit(response.headers["Location"]).query)["s"][0]
    html = house_page(lti_env.client.get(f"/lti/nothing-here?s={token}"), 404, "Page not found")
    assert "Open the tool again from your LMS" in html
    assert links(html) == [f"/lti/my-courses?s={token}"] and "Back to my courses" in html


def test_get_on_the_launch_url_says_to_open_the_course_from_the_lms(client: FlaskClient) -> None:
    response = client.get("/lti/launch")
    html = house_page(response, 405, "Open this course from your LMS")
    assert "only receives launches that your LMS sends" in html
    assert "POST" in response.headers["Allow"]
    assert "frame-ancestors *" in response.headers["Content-Security-Policy"]  # readable inside any LMS frame


def test_a_nul_byte_gets_the_house_400(client: FlaskClient) -> None:
    html = house_page(client.get("/lti/install?x=%00"), 400, "This request could not be accepted")
    assert "NUL" in html and links(html) == ["/"]


def test_an_unexpected_exception_is_a_house_500_without_details(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    failing = Blueprint("failing_probe", __name__)

    @failing.get("/probe/fail")
    def fail() -> str:
        raise RuntimeError("secret detail 42")

    app.register_blueprint(failing)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: the handler answers
    html = house_page(app.test_client().get("/probe/fail"), 500, "Something went wrong on our side")
    assert "secret detail 42" not in html and links(html) == ["/"]
    assert "secret detail 42" in caplog.text  # logged for the operator


@pytest.mark.parametrize(("method", "path", "status"), [
    ("get", "/play/api/session", 405),
    ("post", "/play/api/no-such-call", 404),
    ("post", "/dispatch/time", 405),
    ("get", "/dispatch/nothing", 404),
])
def test_json_endpoints_keep_json_errors(client: FlaskClient, method: str, path: str, status: int) -> None:
    response = getattr(client, method)(path)
    assert response.status_code == status
    assert response.is_json and response.get_json()["error"] == f"http_{status}"
    assert response.get_json()["result"] == "false" and response.get_json()["message"]


def test_an_unknown_url_on_the_demo_lms_is_a_house_404(engine: Engine, committing_sessions) -> None:  # type: ignore[no-untyped-def]
    app = create_app(settings_for(engine, public_base_url=TOOL, demo_platform=True))
    try:
        client = app.test_client()
        house_page(client.get("/demo/no-such-page", base_url=DEMO), 404, "Page not found")
        start = client.get("/", base_url=DEMO)
        assert start.status_code == 302 and start.headers["Location"].endswith("/demo")
    finally:
        services_of(app).engine.dispose()


def test_the_start_page_redirects_to_the_install_page_without_the_demo_lms(client: FlaskClient) -> None:
    start = client.get("/")
    assert start.status_code == 302 and start.headers["Location"].endswith("/lti/install")
    assert client.get(start.headers["Location"]).status_code == 200

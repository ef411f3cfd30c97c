"""The app-wide input rule (lti_tool/request_text.py) on both databases: NUL, lone surrogates and
invalid UTF-8 in the path, the query string, form fields, headers and JSON bodies (keys too, at any
depth) get a 400 with a reason before any view runs; unparseable JSON is a 400 too. Before, a NUL
in e.g. the LTI login's ``iss`` reached a PostgreSQL query and answered 500."""

from __future__ import annotations

import json
import logging

import pytest
from flask import Flask
from flask.testing import FlaskClient

from lti_tool import request_text


def assert_page(response, *words: str) -> str:  # type: ignore[no-untyped-def]
    html = response.get_data(as_text=True)
    assert response.status_code == 400, html[:500]
    assert response.mimetype == "text/html"
    for word in words:
        assert word in html, (word, html)
    assert "Traceback" not in html
    assert "frame-ancestors *" in response.headers["Content-Security-Policy"]  # shown inside any LMS frame
    return html


@pytest.mark.parametrize("query", [
    "iss=https://lms.example.edu%00&login_hint=u1",  # NUL in a value
    "iss=https://lms.example.edu&login_hint=u%00",
    "iss%00=x&login_hint=u1",  # NUL in a name
])
def test_nul_in_the_query_string_is_refused_before_the_view(client: FlaskClient, query: str) -> None:
    assert_page(client.get(f"/lti/login?{query}"), "invalid_text", "NUL")


def test_invalid_utf8_in_the_query_string_is_refused(client: FlaskClient) -> None:
    # %ED%A0%80 is a UTF-8 encoded surrogate (CESU), %FF no UTF-8 at all.
    for query in ("iss=%ED%A0%80&login_hint=u1", "login_hint=%FF"):
        assert_page(client.get(f"/lti/login?{query}"), "invalid_text", "not valid UTF-8")


def test_nul_in_a_form_field_is_refused(client: FlaskClient) -> None:
    response = client.post("/lti/login", data={"iss": "https://lms.example.edu\x00", "login_hint": "u1"})
    html = assert_page(response, "invalid_text", "form field", "iss", "NUL")
    assert "lms.example.edu" not in html  # the value is never echoed


def test_nul_in_the_path_is_refused(client: FlaskClient) -> None:
    assert_page(client.get("/play/content/tok/a%00b.html"), "invalid_text", "the path")


@pytest.mark.parametrize("body", [
    '{"location": "a\\u0000"}',
    '{"a": [{"b": {"c": "\\ud800"}}]}',
    '{"a": {"k\\u0000ey": 1}}',
    '["\\udfff"]',
])
def test_json_bodies_are_checked_at_every_depth(client: FlaskClient, body: str) -> None:
    # Any endpoint: the check runs before routing's view (here the LTI launch, which takes a form).
    response = client.post("/lti/launch", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_text"
    assert "\x00" not in response.get_data(as_text=True)


def test_unparseable_json_is_a_400(client: FlaskClient) -> None:
    for body in ("{nope", b"\xff\xfe{}", "[" * 5000):
        response = client.post("/lti/launch", data=body, content_type="application/json")
        assert response.status_code == 400 and response.get_json()["error"] == "invalid_json"
    assert client.post("/lti/launch", data="", content_type="application/json").status_code != 500


def test_good_requests_pass_unchanged(client: FlaskClient) -> None:
    assert client.get("/healthz?x=%C3%A9t%C3%A9%20%E6%97%A5%E6%9C%AC&y=").status_code == 200
    assert client.get("/dispatch/time", headers={"X-Note": "caf\u00e9"}).status_code == 200


def test_the_refusal_is_logged_on_one_escaped_line(client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="lti_tool.request_text"):
        client.get("/lti/login%0A%1B[31mforged?login_hint=%00")
    lines = [r.getMessage() for r in caplog.records if r.name == "lti_tool.request_text"]
    assert len(lines) == 1 and "\n" not in lines[0] and "\x1b" not in lines[0] and "\\x0a" in lines[0]


def test_the_check_runs_first(app: Flask) -> None:
    assert app.before_request_funcs[None][0] is request_text.refuse_invalid_request_text


def test_headers_with_nul_are_refused(app: Flask) -> None:
    # The test client refuses to build such a header; a raw WSGI environ is what a server passes on.
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/healthz", "HTTP_ORIGIN": "https://lms\x00.example",
               "SERVER_NAME": "tool.test", "SERVER_PORT": "80", "wsgi.url_scheme": "http"}
    with app.request_context(environ):
        response = request_text.refuse_invalid_request_text()
    assert response is not None and response.status_code == 400
    assert "header Origin contains a NUL" in response.get_data(as_text=True)


def test_player_api_refusals_are_json(client: FlaskClient) -> None:
    response = client.get("/play/api/state?x=%00")
    assert response.status_code == 400
    assert response.get_json() == {"error": "invalid_text", "result": "false",
                                   "message": "query parameter 'x' contains a NUL character"}
    assert json.loads(response.get_data(as_text=True))["error"] == "invalid_text"

"""The install page, the Canvas developer-key JSON and the JWKS endpoints."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import jwt
from flask import Flask
from flask.testing import FlaskClient

from lti_tool.lti import ags, keys
from lti_tool.services import services_of

BASE = "http://tool.test"


def test_jwks_is_served_at_both_addresses_and_lists_the_signing_key(app: Flask, client: FlaskClient) -> None:
    first = client.get("/lti/jwks")
    assert first.status_code == 200 and first.mimetype == "application/json"
    assert first.headers["Access-Control-Allow-Origin"] == "*"
    assert "max-age=" in first.headers["Cache-Control"]
    well_known = client.get("/.well-known/jwks.json")
    assert well_known.status_code == 200 and well_known.get_json() == first.get_json()
    published = first.get_json()["keys"]
    assert len(published) == 1 and set(published[0]) == {"kty", "e", "n", "kid", "alg", "use"}

    sessions, settings = services_of(app).sessions, services_of(app).settings
    token = keys.current_signing_key(sessions, settings).sign({"aud": "x"})
    jwt.decode(token, jwt.PyJWK.from_dict(published[0]).key, algorithms=["RS256"], audience="x")

    rotated = keys.rotate_keys(sessions, settings)
    kids = [k["kid"] for k in client.get("/lti/jwks").get_json()["keys"]]
    assert kids == [rotated.new_kid, published[0]["kid"]]


def test_canvas_json_is_a_valid_lti13_developer_key_configuration(client: FlaskClient) -> None:
    response = client.get("/lti/config/canvas.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    config = json.loads(response.get_data(as_text=True))
    assert config["title"] and config["description"]
    assert config["oidc_initiation_url"] == f"{BASE}/lti/login"
    assert config["target_link_uri"] == f"{BASE}/lti/launch"
    assert config["public_jwk_url"] == f"{BASE}/lti/jwks"
    assert set(config["scopes"]) == {ags.SCOPE_LINEITEM, ags.SCOPE_SCORE, ags.SCOPE_RESULT_READONLY}
    (extension,) = config["extensions"]
    assert extension["platform"] == "canvas.instructure.com" and extension["privacy_level"] == "public"
    assert extension["domain"] == "tool.test"
    placements = {p["placement"]: p for p in extension["settings"]["placements"]}
    assert set(placements) == {"course_navigation", "link_selection", "assignment_selection"}
    assert placements["link_selection"]["message_type"] == "LtiDeepLinkingRequest"
    assert placements["assignment_selection"]["message_type"] == "LtiDeepLinkingRequest"
    assert placements["course_navigation"]["message_type"] == "LtiResourceLinkRequest"
    assert all(p["target_link_uri"] == f"{BASE}/lti/launch" for p in placements.values())
    assert all(isinstance(v, str) for v in config["custom_fields"].values())


def test_install_page_has_every_url_and_each_lms(client: FlaskClient) -> None:
    response = client.get("/lti/install")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for url in ("/lti/login", "/lti/launch", "/lti/jwks", "/.well-known/jwks.json", "/lti/register",
                "/lti/config/canvas.json"):
        assert f"{BASE}{url}" in page, url
    for section in ("moodle", "canvas", "brightspace", "blackboard", "schoology", "urls", "custom", "register"):
        assert f'id="{section}"' in page, section
    for text in ("course_id=", "license_type", "plus", "volume", "ppu", "Send Institution Role",
                 "--auth-audience https://api.brightspace.com/auth/token", "https://blackboard.com",
                 "LTI Tool Providers", "no Dynamic Registration", "Share launcher&#39;s email with tool",
                 "privacy level <strong>public</strong>", "lti-tool platform add", "registration code",
                 "By Client ID", "Deployment ID"):
        assert text in page, text
    assert page.count("lti-tool platform add --account") >= 5  # one command per LMS
    # the Canvas JSON shown is the one served
    shown = re.search(r'<details class="json">.*?<pre>(.*?)</pre>', page, re.S)
    assert shown is not None
    assert json.loads(html.unescape(shown.group(1))) == client.get("/lti/config/canvas.json").get_json()
    # layout: viewport meta, copy buttons progressive (hidden without script), assets served
    assert 'name="viewport"' in page and 'class="button secondary copy"' in page
    for asset in ("/lti/install/assets/install.css", "/lti/install/assets/copy.js"):
        assert asset in page
        with client.get(asset) as served:
            assert served.status_code == 200 and served.get_data()


def test_install_stylesheet_has_no_fixed_width_beyond_the_lms_frame() -> None:
    css = (Path(__file__).parents[2] / "lti_tool/templates/install/assets/install.css").read_text()
    widths = [int(n) for n in re.findall(r"(?:^|[\s;{])(?:min-)?width:\s*(\d+)px", css)]
    assert widths == [] or max(widths) <= 320
    assert "white-space: pre-wrap" in css and "word-break: break-all" in css


def test_the_grade_passback_listener_is_registered(app: Flask) -> None:
    hooks = services_of(app).player
    assert getattr(hooks.registered("lti").on_progress, "__name__", "") == "ags_on_progress"
    assert hooks.registered("dispatch").on_progress is None  # a SCORM package reports to its LMS itself

"""LTI Dynamic Registration against a fake LMS on a real local HTTP server: the happy paths
(new account, existing account with its code, Canvas without a deployment id, Brightspace's
token audience) and every failure (a clear 4xx page, nothing stored)."""

from __future__ import annotations

import html
import json
import re
import atexit
import socket
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from config import Settings, load_settings
from lti_tool import create_app
from lti_tool.lti import keys, registrations
from lti_tool.lti.models import LtiDeployment, LtiRegistration
from lti_tool.services import services_of
from store.accounts.models import Account
from store.accounts.service import create_account
from store.base import utcnow
from tests.factories.fake_lms import FakeLms
from tests.factories.tcp import answer, tcp_server
from tests.web.conftest import settings_for

TOOL_CONFIG = "https://purl.imsglobal.org/spec/lti-tool-configuration"


@pytest.fixture
def lms(app: Flask) -> Iterator[FakeLms]:
    sessions, settings = services_of(app).sessions, services_of(app).settings
    with FakeLms(jwks_provider=lambda: keys.public_jwks(sessions, settings)) as fake:
        yield fake


def start_url(lms: FakeLms, **overrides: str) -> str:
    params = {"openid_configuration": lms.openid_configuration_url, "registration_token": lms.registration_token}
    params.update(overrides)
    return "/lti/register?" + urlencode({k: v for k, v in params.items() if v is not None})


def hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match is not None, f"no hidden field {name}"
    return html.unescape(match.group(1))


def open_form(client: FlaskClient, lms: FlaskClient | FakeLms, **headers: str) -> tuple[str, dict[str, str]]:
    assert isinstance(lms, FakeLms)
    response = client.get(start_url(lms), headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    page = response.get_data(as_text=True)
    # every hidden field, as a browser would post it (csrf_token, the session token "s", ...)
    fields = {name: html.unescape(value) for name, value in
              re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)}
    assert {"csrf_token", "openid_configuration", "registration_token", "platform_origin"} <= set(fields)
    return page, fields


def stored(app: Flask) -> tuple[int, int, int]:
    with services_of(app).sessions() as s:
        return tuple(s.scalar(select(func.count()).select_from(m)) or 0  # type: ignore[return-value]
                     for m in (LtiRegistration, LtiDeployment, Account))


def test_registration_with_a_new_account(app: Flask, client: FlaskClient, lms: FakeLms) -> None:
    page, fields = open_form(client, lms, Referer="https://school.lms.example/admin/tools")
    assert lms.issuer in page and "moodle" in page and "Registration code" in page
    assert fields["platform_origin"] == "https://school.lms.example"
    assert not lms.registrations  # nothing is sent to the platform before the admin confirms

    done = client.post("/lti/register", data={**fields, "account_choice": "new", "new_account_name": "Acme U"})
    body = done.get_data(as_text=True)
    assert done.status_code == 200, body
    assert done.headers["Cache-Control"] == "no-store" and done.headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors" in done.headers["Content-Security-Policy"]

    (sent,) = lms.registrations
    assert sent.headers["Authorization"] == f"Bearer {lms.registration_token}"
    metadata: dict[str, Any] = sent.body
    assert metadata["application_type"] == "web" and metadata["response_types"] == ["id_token"]
    assert metadata["grant_types"] == ["implicit", "client_credentials"]
    assert metadata["initiate_login_uri"] == "http://tool.test/lti/login"
    assert metadata["redirect_uris"] == ["http://tool.test/lti/launch"]
    assert metadata["jwks_uri"] == "http://tool.test/lti/jwks"
    assert metadata["token_endpoint_auth_method"] == "private_key_jwt" and metadata["client_name"]
    assert set(metadata["scope"].split()) == {
        "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
        "https://purl.imsglobal.org/spec/lti-ags/scope/score",
        "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"}
    tool = metadata[TOOL_CONFIG]
    assert tool["domain"] == "tool.test" and tool["target_link_uri"] == "http://tool.test/lti/launch"
    assert set(tool["claims"]) >= {"iss", "sub", "name", "email", "given_name", "family_name"}
    messages = {m["type"]: m for m in tool["messages"]}
    assert set(messages) == {"LtiResourceLinkRequest", "LtiDeepLinkingRequest"}
    assert messages["LtiDeepLinkingRequest"]["placements"] and messages["LtiDeepLinkingRequest"]["target_link_uri"]

    (view,) = registrations.list_registrations(services_of(app).sessions)
    assert view.account_name == "Acme U" and view.created_via == "dynamic"
    assert view.issuer == lms.issuer and view.client_id.startswith("dyn-client-")
    assert view.auth_login_url == lms.auth_login_url and view.auth_token_url == lms.token_url
    assert view.key_set_url == lms.key_set_url and view.auth_audience is None
    assert [(d.deployment_id, d.status) for d in view.deployments] == [("dep-dyn-1", "active")]

    assert view.client_id in body and "Acme U" in body
    origins = json.loads(html.unescape(re.search(r"data-origins='([^']*)'", body).group(1)))  # type: ignore[union-attr]
    assert origins == [lms.base_url, "https://school.lms.example"] and "*" not in origins
    assert "/lti/register/assets/close.js" in body
    with client.get("/lti/register/assets/close.js") as script:
        source = script.get_data(as_text=True)
    assert "org.imsglobal.lti.close" in source and "window.opener || " in source and "'*'" not in source and '"*"' not in source


def test_registration_with_an_existing_account_needs_its_code(app: Flask, client: FlaskClient, lms: FakeLms) -> None:
    sessions, settings = services_of(app).sessions, services_of(app).settings
    acme = create_account(sessions, "Acme", utcnow())
    _, fields = open_form(client, lms)

    refused = client.post("/lti/register", data={**fields, "account_choice": "existing", "account": "Acme",
                                                 "registration_code": "guess"})
    assert refused.status_code == 400 and "registration code is not valid" in refused.get_data(as_text=True)
    unknown = client.post("/lti/register", data={**fields, "account_choice": "existing", "account": "Nobody",
                                                 "registration_code": "x"})
    assert unknown.status_code == 404 and "unknown account" in unknown.get_data(as_text=True)
    taken = client.post("/lti/register", data={**fields, "account_choice": "new", "new_account_name": "Acme"})
    assert taken.status_code == 400 and "already exists" in taken.get_data(as_text=True)
    nothing = client.post("/lti/register", data={**fields})
    assert nothing.status_code == 400
    assert not lms.registrations and stored(app) == (0, 0, 1)  # the platform was never asked

    code = registrations.make_registration_code(settings, acme.id, utcnow())
    done = client.post("/lti/register", data={**fields, "account_choice": "existing", "account": str(acme.id),
                                              "registration_code": code})
    assert done.status_code == 200, done.get_data(as_text=True)
    (view,) = registrations.list_registrations(sessions, "Acme")
    assert view.account_id == acme.id and stored(app) == (1, 1, 1)


def test_canvas_like_platform_without_deployment_id_and_with_a_host_name_audience(
        app: Flask, client: FlaskClient, lms: FakeLms) -> None:
    lms.product = "canvas"
    lms.registration_deployment_id = None
    lms.config_overrides = {"authorization_server": "canvas.instructure.com",
                            "https://purl.imsglobal.org/spec/lti-platform-configuration": {
                                "product_family_code": "canvas", "version": "vCloud",
                                "https://canvas.instructure.com/lti/account_name": "Test University"}}
    _, fields = open_form(client, lms)
    done = client.post("/lti/register", data={**fields, "account_choice": "new", "new_account_name": "Test U"})
    assert done.status_code == 200
    assert "arrives with the first launch" in done.get_data(as_text=True)
    (view,) = registrations.list_registrations(services_of(app).sessions)
    assert view.deployments == () and view.auth_audience is None  # Canvas checks the token URL as audience
    assert "canvas" in view.label and "Test University" in view.label


def test_brightspace_like_token_audience_is_kept(app: Flask, client: FlaskClient, lms: FakeLms) -> None:
    lms.config_overrides = {"authorization_server": "https://api.brightspace.com/auth/token"}
    _, fields = open_form(client, lms)
    assert client.post("/lti/register", data={**fields, "account_choice": "new",
                                              "new_account_name": "D2L U"}).status_code == 200
    (view,) = registrations.list_registrations(services_of(app).sessions)
    assert view.auth_audience == "https://api.brightspace.com/auth/token"


# A port that stays closed for the whole run: bound (so the kernel gives it to no other server)
# but never listening (so every connection to it is refused).
_CLOSED = socket.socket()
_CLOSED.bind(("127.0.0.1", 0))
atexit.register(_CLOSED.close)


def closed_port() -> int:
    return int(_CLOSED.getsockname()[1])


@pytest.mark.parametrize(
    ("setup", "params", "status", "fragment"),
    [
        (None, {"openid_configuration": None}, 400, "no openid_configuration parameter"),
        (None, {"openid_configuration": "not a url"}, 400, "must be an absolute https:// URL"),
        (None, {"openid_configuration": "ftp://127.0.0.1/x"}, 400, "must be an absolute https:// URL"),
        (None, {"openid_configuration": "http://lms.example.edu/x"}, 400, "must use https://"),
        (None, {"openid_configuration": f"http://127.0.0.1:{closed_port()}/x"}, 400, "could not be fetched"),
        (None, {"registration_token": "wrong"}, 400, "answered HTTP 401"),
        (lambda lms: lms.fail_next("config", 500), {}, 400, "answered HTTP 500"),
        (lambda lms: setattr(lms, "config_raw_body", "<html>login</html>"), {}, 400, "is not JSON"),
        (lambda lms: lms.config_overrides.update(issuer="https://elsewhere.example"), {}, 400, "issuer must be"),
        (lambda lms: lms.config_overrides.update(issuer=lms.base_url[:-1]), {}, 400, "issuer must be"),
        (lambda lms: lms.config_overrides.update(issuer=None), {}, 400, "has no issuer"),
        (lambda lms: lms.config_overrides.update(registration_endpoint=None), {}, 400, "has no registration_endpoint"),
        (lambda lms: lms.config_overrides.update(token_endpoint="/token"), {}, 400, "token_endpoint must be"),
        (lambda lms: lms.config_overrides.update(
            {"https://purl.imsglobal.org/spec/lti-platform-configuration": None}), {}, 400, "not an LTI platform"),
    ],
)
def test_start_failures_are_clear_pages(app: Flask, client: FlaskClient, lms: FakeLms, setup, params,  # type: ignore[no-untyped-def]
                                        status: int, fragment: str) -> None:
    if setup is not None:
        setup(lms)
    response = client.get(start_url(lms, **params))
    page = response.get_data(as_text=True)
    assert response.status_code == status and html.unescape(page).count(fragment) >= 1, page
    assert "Traceback" not in page and "Nothing was recorded" in page
    assert not lms.registrations and stored(app) == (0, 0, 0)


@pytest.mark.parametrize(
    ("setup", "fragment"),
    [
        (lambda lms: lms.fail_next("register", 400), "refused the registration (HTTP 400)"),
        (lambda lms: lms.fail_next("register", 503), "refused the registration (HTTP 503)"),
        (lambda lms: lms.registration_answer_overrides.update(client_id=None), "has no client_id"),
        (lambda lms: lms.registration_answer_overrides.update(client_id="  "), "has no client_id"),
    ],
)
def test_platform_refusals_store_nothing(app: Flask, client: FlaskClient, lms: FakeLms, setup,  # type: ignore[no-untyped-def]
                                         fragment: str) -> None:
    _, fields = open_form(client, lms)
    setup(lms)
    response = client.post("/lti/register", data={**fields, "account_choice": "new", "new_account_name": "Acme"})
    assert response.status_code == 400 and fragment in html.unescape(response.get_data(as_text=True))
    assert stored(app) == (0, 0, 0)


def test_post_checks_csrf_and_the_configuration_again(app: Flask, client: FlaskClient, lms: FakeLms) -> None:
    _, fields = open_form(client, lms)
    no_csrf = client.post("/lti/register", data={**fields, "csrf_token": "", "account_choice": "new",
                                                 "new_account_name": "Acme"})
    assert no_csrf.status_code == 400 and "could not be verified" in no_csrf.get_data(as_text=True)
    lms.config_overrides["issuer"] = "https://elsewhere.example"  # the configuration changed since the form
    tampered = client.post("/lti/register", data={**fields, "account_choice": "new", "new_account_name": "Acme"})
    assert tampered.status_code == 400 and "issuer_mismatch" in tampered.get_data(as_text=True)
    assert not lms.registrations and stored(app) == (0, 0, 0)


def test_a_client_id_already_registered_is_a_conflict(app: Flask, client: FlaskClient, lms: FakeLms) -> None:
    lms.registration_answer_overrides["client_id"] = "same-client"
    _, fields = open_form(client, lms)
    first = client.post("/lti/register", data={**fields, "account_choice": "new", "new_account_name": "One"})
    assert first.status_code == 200
    _, fields = open_form(client, lms)
    second = client.post("/lti/register", data={**fields, "account_choice": "new", "new_account_name": "Two"})
    assert second.status_code == 409 and "already registered" in html.unescape(second.get_data(as_text=True))
    assert stored(app) == (1, 1, 1)  # the second account was not created either


# ---------------------------------------------------------------- abuse: rate limit, review, SSRF


@pytest.fixture
def limited(engine, lms: FakeLms) -> Iterator[Callable[..., FlaskClient]]:  # type: ignore[no-untyped-def]
    """Test clients of apps with other limits, on the same database; each client its own IP."""
    apps: list[Flask] = []

    def make(ip: str = "203.0.113.7", **overrides: Any) -> FlaskClient:
        application = create_app(settings_for(engine, secret_key="s" * 40, **overrides))  # one secret, as in production
        apps.append(application)
        client = application.test_client()
        client.environ_base["REMOTE_ADDR"] = ip
        return client

    yield make
    for application in apps:
        services_of(application).engine.dispose()


def config_requests(lms: FakeLms) -> int:
    return len([r for r in lms.requests if r.path == "/lti/openid-configuration"])


def test_anonymous_registrations_are_limited_per_client_per_hour(lms: FakeLms, limited) -> None:  # type: ignore[no-untyped-def]
    client = limited(lti_register_per_ip_per_hour=2, lti_register_per_hour=100)
    for _ in range(2):
        assert client.get(start_url(lms)).status_code == 200
    refused = client.get(start_url(lms))
    page = refused.get_data(as_text=True)
    assert refused.status_code == 429 and "Too many registrations were started from your network" in page
    assert 0 < int(refused.headers["Retry-After"]) <= 3600 and "rate_limited" in page and "Traceback" not in page
    assert config_requests(lms) == 2  # the refused attempt fetched nothing
    same_ipv6_net = limited("2001:db8:1:2::5", lti_register_per_ip_per_hour=1, lti_register_per_hour=100)
    assert same_ipv6_net.get(start_url(lms)).status_code == 200
    assert limited("2001:db8:1:2::99", lti_register_per_ip_per_hour=1, lti_register_per_hour=100) \
        .get(start_url(lms)).status_code == 429  # one /64 is one client
    assert limited("198.51.100.1", lti_register_per_ip_per_hour=2, lti_register_per_hour=100) \
        .get(start_url(lms)).status_code == 200  # another client has its own count


def test_anonymous_registrations_are_limited_in_total(lms: FakeLms, limited) -> None:  # type: ignore[no-untyped-def]
    for i in range(3):
        assert limited(f"198.51.100.{i}", lti_register_per_hour=3).get(start_url(lms)).status_code == 200
    refused = limited("198.51.100.9", lti_register_per_hour=3).get(start_url(lms))
    assert refused.status_code == 429 and "on this server" in refused.get_data(as_text=True)
    assert config_requests(lms) == 3


def test_a_staff_registration_code_is_not_limited_and_not_flagged_for_review(
        app: Flask, lms: FakeLms, limited) -> None:  # type: ignore[no-untyped-def]
    client = limited(lti_register_per_ip_per_hour=1, lti_register_per_hour=1)
    sessions, settings = services_of(client.application).sessions, services_of(client.application).settings
    acme = create_account(sessions, "Acme", utcnow())
    code = registrations.make_registration_code(settings, acme.id, utcnow())
    # the URL staff hand out carries the code: not counted, and the form comes filled in
    for _ in range(3):
        page = client.get(start_url(lms, registration_code=code))
        assert page.status_code == 200
    body = page.get_data(as_text=True)
    fields = {name: html.unescape(value) for name, value in
              re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', body)}
    assert f'value="{acme.id}"' in body and code in html.unescape(body)
    assert re.search(r'value="existing"\s+checked', body)
    done = client.post("/lti/register", data={**fields, "account_choice": "existing", "account": str(acme.id),
                                              "registration_code": code})
    assert done.status_code == 200, done.get_data(as_text=True)
    (view,) = registrations.list_registrations(sessions)
    assert view.account_id == acme.id and not view.needs_review

    # without a code the first anonymous attempt uses the whole (tiny) allowance
    assert client.get(start_url(lms)).status_code == 200
    anonymous = client.post("/lti/register", data={**fields, "account_choice": "new", "new_account_name": "Anon"})
    assert anonymous.status_code == 429
    bad_code = client.post("/lti/register", data={**fields, "account_choice": "existing", "account": str(acme.id),
                                                  "registration_code": "guess"})
    assert bad_code.status_code == 429  # a wrong code counts as anonymous
    assert len(lms.registrations) == 1


def test_a_new_account_made_anonymously_waits_for_review(app: Flask, client: FlaskClient, lms: FakeLms) -> None:
    _, fields = open_form(client, lms)
    assert client.post("/lti/register", data={**fields, "account_choice": "new",
                                              "new_account_name": "Nobody Knows U"}).status_code == 200
    (view,) = registrations.list_registrations(services_of(app).sessions, needs_review=True)
    assert view.account_name == "Nobody Knows U" and view.created_via == "dynamic" and view.reviewed_at is None


def _production(engine) -> Settings:  # type: ignore[no-untyped-def]
    url = engine.url.render_as_string(hide_password=False)
    return load_settings({"ENV": "production", "SECRET_KEY": "p" * 40, "DATABASE_URL": url,
                          "PUBLIC_BASE_URL": "https://tool.example.com", "OUTBOUND_ALLOW_PRIVATE": "true",
                          "PAYMENTS_TEST_MODE": "true"})


def _message(page: str) -> str:
    found = re.search(r'<div class="notice error" role="alert">\s*<p>(.*?)</p>', page, re.S)
    assert found is not None, page
    return html.unescape(found.group(1))


def test_in_production_internal_addresses_are_refused_and_look_like_any_unreachable_server(
        engine, committing_sessions, lms: FakeLms) -> None:  # type: ignore[no-untyped-def]
    """The issue's port scanner: numeric spellings of 127.0.0.1 reached internal ports, and the
    page named SSLError or ConnectionError. Now nothing is fetched and every refusal reads the
    same as a server that cannot be reached."""
    production = create_app(_production(engine))
    test_app = create_app(settings_for(engine))
    try:
        port = lms.base_url.rsplit(":", 1)[1]
        closed = closed_port()
        messages: dict[str, str] = {}
        for host in ("2130706433", "127.1", "0x7f000001", "017700000001"):
            url = f"https://{host}:{port}/lti/openid-configuration"
            response = production.test_client().get(start_url(lms, openid_configuration=url))
            assert response.status_code == 400
            messages[host] = _message(response.get_data(as_text=True)).replace(url, "URL")
        # where private addresses are allowed (tests), a closed port and a port that speaks no TLS
        for name, url in (("closed", f"http://127.0.0.1:{closed}/x"), ("not tls", f"https://127.0.0.1:{port}/x")):
            response = test_app.test_client().get(start_url(lms, openid_configuration=url))
            assert response.status_code == 400
            messages[name] = _message(response.get_data(as_text=True)).replace(url, "URL")
        assert set(messages.values()) == {"The platform's OpenID configuration at URL could not be fetched: the "
                                          "server could not be reached."}, messages
        assert config_requests(lms) == 0 and not lms.requests
    finally:
        for application in (production, test_app):
            services_of(application).engine.dispose()


def test_a_registration_endpoint_that_redirects_is_not_followed(app: Flask, client: FlaskClient,
                                                               lms: FakeLms) -> None:
    with tcp_server(answer("302 Found", headers={"Location": f"{lms.base_url}/lti/registrations"})) as jump:
        lms.config_overrides["registration_endpoint"] = f"{jump.url}/register"
        _, fields = open_form(client, lms)
        response = client.post("/lti/register", data={**fields, "account_choice": "new", "new_account_name": "Acme"})
        assert jump.connections == 1
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "answered with a redirect" in page and "platform_redirected" in page
    assert not lms.registrations and stored(app) == (0, 0, 0)

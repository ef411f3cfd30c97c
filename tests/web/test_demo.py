"""The demo LMS (/demo): development only, registers itself once, acts as a platform that checks
the tool's authorization request, and verifies what the tool sends back (deep-linking response,
OAuth2 client assertion) against the tool's JWKS."""

from __future__ import annotations

import html
import re
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from config import load_settings
from lti_tool import create_app
from lti_tool.demo import platform as dp
from lti_tool.demo.keys import demo_private_key, key_id
from lti_tool.demo.setup import ensure_demo_registration, find_demo_account
from lti_tool.lti import claims
from lti_tool.lti import content_items as ci
from lti_tool.lti.keys import current_signing_key
from lti_tool.lti.models import AppSecret, LtiDeployment, LtiPlatformKeySet, LtiRegistration
from lti_tool.lti.testplatform import ROLE_INSTRUCTOR, ROLE_LEARNER, SigningKey
from lti_tool.services import services_of
from store.base import utcnow
from store.demo import seed_demo
from store.licenses.models import Seat
from tests.factories.lti import page_config
from tests.web.conftest import settings_for

TOOL = "http://127.0.0.1:5000"
DEMO = "http://localhost:5000"
ISSUER = DEMO + "/demo/platform"
SECRET = "demo-web-tests-secret-" + "k" * 40  # fixed: the derived platform key is computed once per run

Sessions = sessionmaker[Session]


def demo_settings(engine: Engine, **overrides: Any) -> Any:
    values: dict[str, Any] = {"public_base_url": TOOL, "demo_platform": True, "secret_key": SECRET}
    values.update(overrides)
    return settings_for(engine, **values)


@pytest.fixture
def seeded(committing_sessions: Sessions) -> Sessions:
    seed_demo(committing_sessions, utcnow(), courses=40)
    return committing_sessions


@pytest.fixture
def demo_app(engine: Engine, seeded: Sessions) -> Iterator[Flask]:
    app = create_app(demo_settings(engine))
    try:
        yield app
    finally:
        services_of(app).engine.dispose()


@pytest.fixture
def client(demo_app: Flask) -> FlaskClient:
    return demo_app.test_client()


def registrations(sessions: Sessions) -> list[LtiRegistration]:
    with sessions() as session:
        return list(session.scalars(select(LtiRegistration)))


def count(sessions: Sessions, model: Any) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


# ---------------------------------------------------------------- only in development


def test_demo_is_not_served_in_production_or_when_disabled(engine: Engine, seeded: Sessions) -> None:
    production = settings_for(engine, env="production", demo_platform=True, secret_key="p" * 48,
                              public_base_url=TOOL, payments_test_mode=True)
    disabled = settings_for(engine, public_base_url=TOOL)  # test settings: off unless enabled
    assert disabled.demo_platform is False
    for settings in (production, disabled):
        app = create_app(settings)
        try:
            c = app.test_client()
            for path in ("/demo", "/demo/start?kind=navigation", "/demo/platform/jwks", "/demo/platform/storage",
                         "/demo/seats.json"):
                assert c.get(path, base_url=DEMO).status_code == 404, path
            assert c.post("/demo/platform/deep-link-return", base_url=DEMO, data={"JWT": "x"}).status_code == 404
            assert c.post("/demo/platform/token", base_url=DEMO).status_code == 404
        finally:
            services_of(app).engine.dispose()
    assert registrations(seeded) == []
    # The settings never turn it on in production, whatever DEMO_PLATFORM says; development has it by default.
    assert load_settings({"ENV": "production", "SECRET_KEY": "s" * 40, "DEMO_PLATFORM": "true",
                         "PAYMENTS_TEST_MODE": "true"}).demo_platform is False
    assert load_settings({"ENV": "development", "SECRET_KEY": "s" * 40}).demo_platform is True


def test_the_tool_origin_sends_the_browser_to_the_other_loopback_name(client: FlaskClient, seeded: Sessions) -> None:
    response = client.get("/demo", base_url=TOOL)
    assert response.status_code == 302
    assert response.headers["Location"] == DEMO + "/demo"
    assert registrations(seeded) == []  # nothing registered for the tool's own origin


def test_the_demo_lms_runs_on_loopback_names_only(client: FlaskClient, seeded: Sessions) -> None:
    response = client.get("/demo", base_url="http://evil.example:5000")
    assert response.status_code == 400
    assert "loopback" in response.get_data(as_text=True)
    assert client.get("/demo/start?kind=navigation", base_url="http://evil.example").status_code == 400
    assert registrations(seeded) == []


def test_without_demo_data_the_page_says_to_seed(engine: Engine, committing_sessions: Sessions) -> None:
    app = create_app(demo_settings(engine))
    try:
        response = app.test_client().get("/demo", base_url=DEMO)
    finally:
        services_of(app).engine.dispose()
    assert response.status_code == 200
    assert "lti-tool demo seed" in response.get_data(as_text=True)
    assert registrations(committing_sessions) == []


def test_origin_resolution() -> None:
    assert dp.resolve_origins(TOOL, DEMO + "/") == dp.Origins(TOOL, DEMO)
    assert dp.resolve_origins(TOOL, TOOL + "/").redirect_to == DEMO
    assert dp.resolve_origins("http://localhost:8000", "http://localhost:8000/").redirect_to == "http://127.0.0.1:8000"
    assert dp.resolve_origins("http://localhost:8000", "http://127.0.0.1:8000/").demo == "http://127.0.0.1:8000"
    assert dp.resolve_origins("http://[::1]:5000", "http://localhost:5000/").demo == "http://localhost:5000"
    tool_elsewhere = dp.resolve_origins("https://tool.example.com", "https://tool.example.com/")
    assert tool_elsewhere.demo is None and tool_elsewhere.redirect_to is None and tool_elsewhere.problem
    assert dp.resolve_origins("https://tool.example.com", "http://localhost:5000/").demo == DEMO
    assert dp.resolve_origins(TOOL, "http://10.0.0.5:5000/").demo is None


# ---------------------------------------------------------------- the page and its registration


def test_the_page_registers_the_demo_lms_once(engine: Engine, client: FlaskClient, seeded: Sessions) -> None:
    response = client.get("/demo", base_url=DEMO)
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    assert 'name="demo-tool-frame"' in page and f'name="{dp.STORAGE_FRAME}"' in page
    assert DEMO in page and TOOL in page
    assert client.get("/demo", base_url=DEMO).status_code == 200
    # A second app (another process) on the same database finds it.
    other = create_app(demo_settings(engine))
    try:
        assert other.test_client().get("/demo", base_url=DEMO).status_code == 200
    finally:
        services_of(other).engine.dispose()
    account = find_demo_account(seeded)
    assert account is not None
    [reg] = registrations(seeded)
    assert (reg.issuer, reg.client_id, reg.created_via, reg.account_id) == (ISSUER, dp.CLIENT_ID, "demo", account.id)
    assert (reg.auth_login_url, reg.key_set_url, reg.auth_token_url) == (
        ISSUER + "/auth", ISSUER + "/jwks", ISSUER + "/token")
    with seeded() as session:
        deployments = list(session.execute(select(LtiDeployment.deployment_id, LtiDeployment.status)))
    assert deployments == [(dp.DEPLOYMENT_ID, "active")]
    # The demo origin may frame the pages of its launches at once; other pages keep to 'self'.
    assert DEMO in services_of(client.application).frame_policy.origins_for_registration(reg.id)
    framed = client.get("/lti/install", base_url=TOOL)
    assert framed.headers["Content-Security-Policy"].endswith("; frame-ancestors 'self'")


def test_concurrent_first_visits_make_one_registration(engine: Engine, seeded: Sessions) -> None:
    account = find_demo_account(seeded)
    assert account is not None
    apps = [create_app(demo_settings(engine)) for _ in range(4)]
    platform = dp.make_platform(demo_private_key(seeded, services_of(apps[0]).settings), DEMO)
    barrier = threading.Barrier(len(apps))
    errors: list[BaseException] = []

    def visit(app: Flask) -> None:
        try:
            barrier.wait(timeout=10)
            ensure_demo_registration(services_of(app).sessions, account.id, platform, utcnow())
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=visit, args=(app,)) for app in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for app in apps:
        services_of(app).engine.dispose()
    assert errors == []
    assert count(seeded, LtiRegistration) == 1
    assert count(seeded, LtiDeployment) == 1


def test_a_registration_that_is_not_the_demos_is_never_taken_over(client: FlaskClient, seeded: Sessions) -> None:
    account = find_demo_account(seeded)
    assert account is not None
    with seeded.begin() as session:
        session.add(LtiRegistration(account_id=account.id, issuer=ISSUER, client_id=dp.CLIENT_ID,
                                    auth_login_url="https://elsewhere.example/auth",
                                    auth_token_url="https://elsewhere.example/token",
                                    key_set_url="https://elsewhere.example/jwks", extra_origins=[], created_via="cli"))
    response = client.get("/demo", base_url=DEMO)
    assert response.status_code == 400
    assert "registered already" in response.get_data(as_text=True)
    [reg] = registrations(seeded)
    assert reg.key_set_url == "https://elsewhere.example/jwks"


def test_the_platform_key_is_made_once_stored_encrypted_and_shared(engine: Engine, seeded: Sessions) -> None:
    apps = [create_app(demo_settings(engine)) for _ in range(4)]
    barrier = threading.Barrier(len(apps))
    keys_seen: list[str] = []

    def first_use(app: Flask) -> None:
        barrier.wait(timeout=10)
        keys_seen.append(key_id(demo_private_key(services_of(app).sessions, services_of(app).settings)))

    threads = [threading.Thread(target=first_use, args=(app,)) for app in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    settings = services_of(apps[0]).settings
    for app in apps:
        services_of(app).engine.dispose()
    assert len(keys_seen) == 4 and len(set(keys_seen)) == 1
    first = dp.make_platform(demo_private_key(seeded, settings), DEMO)
    again = dp.make_platform(demo_private_key(seeded, settings), "http://127.0.0.1:5001")
    assert first.key.kid == again.key.kid == keys_seen[0] and first.jwks()["keys"] == again.jwks()["keys"]
    assert first.key.private_key.key_size == 2048
    with seeded() as session:
        [stored] = session.scalars(select(AppSecret.value_encrypted)).all()
    assert "PRIVATE KEY" not in stored  # encrypted at rest
    # Keys unreadable after SECRET_KEY changed: a new key replaces the old one.
    other = settings.with_overrides(secret_key="another-secret-" + "z" * 40)
    assert key_id(demo_private_key(seeded, other)) != first.key.kid


def test_seats_json_lists_the_demo_accounts_seats(client: FlaskClient, seeded: Sessions) -> None:
    account = find_demo_account(seeded)
    assert account is not None
    with seeded() as session:
        expected = session.scalar(select(func.count()).select_from(Seat).where(Seat.account_id == account.id))
    data = client.get("/demo/seats.json", base_url=DEMO).get_json()
    assert data["total"] == expected
    assert data["total"] >= 8 and len(data["seats"]) <= 12
    assert not any(seat["via_demo_lms"] for seat in data["seats"])


# ---------------------------------------------------------------- a launch through the demo platform


def _fields(page: str) -> dict[str, str]:
    return {name: html.unescape(value) for name, value in re.findall(r'name="([^"]+)" value="([^"]*)"', page)}


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


def _start(client: FlaskClient, **params: str) -> str:
    """/demo/start: the login initiation URL the frame is sent to."""
    response = client.get("/demo/start?" + urlencode(params), base_url=DEMO)
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"]


def _auth_url(client: FlaskClient, **params: str) -> str:
    login_url = _start(client, **params)
    page = client.get(login_url)
    assert page.status_code == 200, page.get_data(as_text=True)
    return page_config(page)["authUrl"]


def _cache_demo_jwks(client: FlaskClient, sessions: Sessions) -> None:
    """The tool fetches the platform's JWKS over HTTP; the test client has no socket, so put the
    key set the demo platform serves where the tool caches it."""
    jwks = client.get("/demo/platform/jwks", base_url=DEMO).get_json()
    with sessions.begin() as session:
        session.add(LtiPlatformKeySet(key_set_url=ISSUER + "/jwks", jwks=jwks, fetched_at=utcnow()))


def test_start_builds_the_login_initiation_with_platform_storage(client: FlaskClient, seeded: Sessions) -> None:
    client.get("/demo", base_url=DEMO)
    location = _start(client, kind="course", role="learner", person="kenji-tanaka", course="CRS-000002",
                      license="plus")
    assert location.startswith(TOOL + "/lti/login?")
    query = _query(location)
    assert query["iss"] == ISSUER and query["client_id"] == dp.CLIENT_ID
    assert query["lti_deployment_id"] == dp.DEPLOYMENT_ID
    assert query["login_hint"] == "demo-kenji-tanaka"
    assert query["lti_storage_target"] == dp.STORAGE_FRAME
    assert query["target_link_uri"] == TOOL + "/lti/launch"
    choice = dp.load_choice(SECRET, query["lti_message_hint"])
    assert choice.custom == {"course_id": "CRS-000002", "license_type": "plus"}
    # What the page cannot ask for.
    for bad in ({"kind": "other"}, {"role": "root"}, {"person": "mallory"}, {"license": "gold", "course": "X"},
                {"course": "", "license": "plus"}, {"custom": "[1, 2]"}, {"custom": "{not json"}):
        params = {"kind": "course", "role": "learner", "person": "maria-garcia", "course": "CRS-000002",
                  "license": "plus", **bad}
        response = client.get("/demo/start?" + urlencode(params), base_url=DEMO)
        assert response.status_code == 400, bad


def test_the_auth_endpoint_checks_the_request_like_a_platform(client: FlaskClient, seeded: Sessions) -> None:
    client.get("/demo", base_url=DEMO)
    auth_url = _auth_url(client, kind="course", role="learner", person="maria-garcia", course="CRS-000002",
                         license="plus")
    assert auth_url.startswith(ISSUER + "/auth?")
    query = _query(auth_url)
    path = "/demo/platform/auth?"

    def refused(**changes: str | None) -> str:
        params = {k: v for k, v in {**query, **changes}.items() if v is not None}
        response = client.get(path + urlencode(params), base_url=DEMO)
        assert response.status_code == 400, changes
        assert "demo-autopost" not in response.get_data(as_text=True)
        return response.get_data(as_text=True)

    assert "redirect_uri" in refused(redirect_uri="https://attacker.example/lti/launch")
    assert "client_id" in refused(client_id="someone-else")
    assert "response_type" in refused(response_type="code")
    assert "nonce" in refused(nonce=None)
    assert "lti_message_hint" in refused(lti_message_hint="forged")
    assert "login_hint" in refused(login_hint="demo-kenji-tanaka")
    # On the tool's origin the platform does not answer (it is not the registered login URL).
    assert client.get(path + urlencode(query), base_url=TOOL).status_code == 400

    response = client.get(path + urlencode(query), base_url=DEMO)
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    assert response.headers["Cache-Control"] == "no-store"
    assert f'action="{TOOL}/lti/launch"' in page
    fields = _fields(page)
    assert fields["state"] == query["state"] and fields["lti_storage_target"] == dp.STORAGE_FRAME
    jwks = client.get("/demo/platform/jwks", base_url=DEMO).get_json()
    header = jwt.get_unverified_header(fields["id_token"])
    [jwk] = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
    body = jwt.decode(fields["id_token"], jwt.PyJWK(jwk).key, algorithms=["RS256"], audience=dp.CLIENT_ID,
                      issuer=ISSUER)
    assert body["nonce"] == query["nonce"] and body["sub"] == "demo-maria-garcia"
    assert body["name"] == "Maria Garcia" and body[claims.ROLES][0] == ROLE_LEARNER
    assert body[claims.CUSTOM] == {"course_id": "CRS-000002", "license_type": "plus"}
    assert body[claims.DEPLOYMENT_ID] == dp.DEPLOYMENT_ID


def test_a_launch_through_the_demo_platform_takes_a_seat_once(client: FlaskClient, seeded: Sessions) -> None:
    client.get("/demo", base_url=DEMO)
    _cache_demo_jwks(client, seeded)
    before = count(seeded, Seat)
    seat_ids = []
    for _ in range(2):
        auth_url = _auth_url(client, kind="course", role="learner", person="new-0a1b2c3d", course="CRS-000002",
                             license="plus")
        fields = _fields(client.get(auth_url).get_data(as_text=True))
        launch = client.post(TOOL + "/lti/launch", data=fields)  # the state cookie came with it
        assert launch.status_code == 303, launch.get_data(as_text=True)
        assert "/play?t=" in launch.headers["Location"]
        seat_ids.append(count(seeded, Seat))
    assert seat_ids == [before + 1, before + 1]
    seats = client.get("/demo/seats.json", base_url=DEMO).get_json()["seats"]
    assert seats[0]["learner"] == "New Learner 0A1B2C3D" and seats[0]["via_demo_lms"] is True


def test_an_admin_deep_linking_launch_carries_the_return_url(client: FlaskClient, seeded: Sessions) -> None:
    client.get("/demo", base_url=DEMO)
    auth_url = _auth_url(client, kind="deep_linking", role="learner", person="pat-morgan")
    fields = _fields(client.get(auth_url).get_data(as_text=True))
    body = jwt.decode(fields["id_token"], options={"verify_signature": False})
    assert body[claims.MESSAGE_TYPE] == claims.DEEP_LINKING_REQUEST
    assert body[claims.ROLES][0] == ROLE_INSTRUCTOR  # deep linking is always an admin launch
    settings = body[claims.DEEP_LINKING_SETTINGS]
    assert settings["deep_link_return_url"] == ISSUER + "/deep-link-return"
    assert settings["accept_multiple"] is True and settings["data"]


# ---------------------------------------------------------------- what the tool sends back


def _deep_link_response(demo_app: Flask, **changes: Any) -> str:
    settings = services_of(demo_app).settings
    sessions = services_of(demo_app).sessions
    picks = [ci.Pick("CRS-000002", "Records Management", "plus", "Keep records."),
             ci.Pick("CRS-000010", "Forklift", "volume")]
    body = ci.response_claims(client_id=dp.CLIENT_ID, platform_issuer=ISSUER, deployment_id=dp.DEPLOYMENT_ID,
                              items=ci.content_items(picks, TOOL + "/lti/launch"),
                              settings={"data": dp.deep_link_data(SECRET)}, nonce="n-1", now=utcnow(), msg="2 added")
    sign_with = changes.pop("sign_with", None)
    body.update(changes)
    body = {k: v for k, v in body.items() if v is not None}
    if sign_with is not None:
        return jwt.encode(body, sign_with.private_pem.decode(), algorithm="RS256", headers={"kid": sign_with.kid})
    return current_signing_key(sessions, settings).sign(body)


def test_the_deep_link_return_verifies_the_response(demo_app: Flask, client: FlaskClient) -> None:
    client.get("/demo", base_url=DEMO)
    response = client.post("/demo/platform/deep-link-return", base_url=DEMO,
                           data={"JWT": _deep_link_response(demo_app)})
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    assert "Records Management — Plus" in page and "Forklift — Volume" in page
    config = page_config_of(page, "demo-return-config")
    assert [item["custom"] for item in config["items"]] == [
        {"course_id": "CRS-000002", "license_type": "plus"}, {"course_id": "CRS-000010", "license_type": "volume"}]
    assert config["demoOrigin"] == DEMO

    stranger = SigningKey.generate()
    bad = {
        "signature": _deep_link_response(demo_app)[:-6] + "AAAAAA",
        "key id": _deep_link_response(demo_app, sign_with=stranger),
        "audience": _deep_link_response(demo_app, aud="https://other-lms.example"),
        "issuer": _deep_link_response(demo_app, iss="another-client"),
        "expired": _deep_link_response(demo_app, iat=int(time.time()) - 900, exp=int(time.time()) - 600),
        "message type": _deep_link_response(demo_app, **{claims.MESSAGE_TYPE: claims.RESOURCE_LINK_REQUEST}),
        "deployment": _deep_link_response(demo_app, **{claims.DEPLOYMENT_ID: "other"}),
        "data": _deep_link_response(demo_app, **{ci.DATA: "not-ours"}),
        "no data": _deep_link_response(demo_app, **{ci.DATA: None}),
        "empty": "",
        "garbage": "not.a.jwt",
    }
    for name, token in bad.items():
        response = client.post("/demo/platform/deep-link-return", base_url=DEMO, data={"JWT": token})
        assert response.status_code == 400, name
        assert "verified" not in response.get_data(as_text=True), name
    alg_none = jwt.encode({"iss": dp.CLIENT_ID}, None, algorithm="none")
    assert client.post("/demo/platform/deep-link-return", base_url=DEMO, data={"JWT": alg_none}).status_code == 400


def page_config_of(page: str, element_id: str) -> dict[str, Any]:
    import json

    found = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', page, re.S)
    assert found, element_id
    return json.loads(html.unescape(found.group(1)))


def test_the_token_endpoint_checks_the_client_assertion(demo_app: Flask, client: FlaskClient) -> None:
    settings = services_of(demo_app).settings
    key = current_signing_key(services_of(demo_app).sessions, settings)
    now = int(time.time())

    def assertion(**changes: Any) -> str:
        body = {"iss": dp.CLIENT_ID, "sub": dp.CLIENT_ID, "aud": ISSUER + "/token", "iat": now, "exp": now + 300,
                "jti": "jti-1", **changes}
        return key.sign({k: v for k, v in body.items() if v is not None})

    def post(token: str, **form: str) -> Any:
        data = {"grant_type": "client_credentials", "client_assertion_type": dp.CLIENT_ASSERTION_TYPE,
                "client_assertion": token, "scope": "https://purl.imsglobal.org/spec/lti-ags/scope/score", **form}
        return client.post("/demo/platform/token", base_url=DEMO, data=data)

    ok = post(assertion())
    assert ok.status_code == 200, ok.get_data(as_text=True)
    assert ok.get_json()["token_type"] == "Bearer" and ok.get_json()["access_token"]
    assert ok.get_json()["scope"] == "https://purl.imsglobal.org/spec/lti-ags/scope/score"
    for bad in (post(assertion(sub="x")), post(assertion(aud="https://elsewhere/token")), post(assertion(jti=None)),
                post(assertion(exp=now - 600, iat=now - 900)), post(assertion(), grant_type="password"),
                post(assertion()[:-4] + "AAAA"), post("")):
        assert bad.status_code == 400
        assert bad.get_json()["error"] in ("invalid_client", "invalid_request")


def test_the_storage_frame_answers_only_the_tool_origin(client: FlaskClient) -> None:
    response = client.get("/demo/platform/storage", base_url=DEMO)
    assert response.status_code == 200
    config = page_config_of(response.get_data(as_text=True), "demo-storage-config")
    assert config == {"toolOrigin": TOOL, "frameName": dp.STORAGE_FRAME, "demoOrigin": DEMO}

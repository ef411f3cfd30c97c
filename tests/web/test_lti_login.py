"""OIDC third-party initiated login: registration lookup, server-side state, the authorization
request, the state cookie and the login page (cookie check / platform storage / new window)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select, update

from lti_tool.lti import registrations
from lti_tool.lti.login import purge_expired
from lti_tool.lti.models import LtiLoginState, LtiRegistration
from lti_tool.lti.testplatform import TestPlatform
from lti_tool.services import services_of
from store.base import utcnow
from tests.factories import lti as f
from tests.factories.lti_server import lti_env, platform_server  # noqa: F401

JS = Path(__file__).resolve().parents[2] / "lti_tool" / "static" / "js" / "lti-storage.js"


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_login_stores_state_and_builds_the_authorization_request(lti_env, method: str) -> None:
    platform = lti_env.platform
    started = f.login(lti_env.client, platform, method=method)
    query = _query(started.auth_url)
    assert started.auth_url.startswith(platform.auth_login_url + "?")
    assert query["scope"] == "openid"
    assert query["response_type"] == "id_token"
    assert query["response_mode"] == "form_post"
    assert query["prompt"] == "none"
    assert query["client_id"] == platform.client_id
    assert query["redirect_uri"] == "http://tool.test/lti/launch"
    assert query["login_hint"] == "user-hint-1"
    assert query["lti_message_hint"] == "message-hint-1"
    assert len(query["state"]) >= 40 and len(query["nonce"]) >= 40
    with lti_env.sessions() as session:
        row = session.scalars(select(LtiLoginState).where(LtiLoginState.state == query["state"])).one()
    assert row.nonce == query["nonce"]
    assert row.registration_id == lti_env.registration_id
    assert row.target_link_uri == f.LAUNCH_URL
    ttl = services_of(lti_env.app).settings.lti_login_state_ttl_seconds
    assert abs((row.expires_at - row.created_at) - timedelta(seconds=ttl)) < timedelta(seconds=1)
    assert row.expires_at > utcnow()
    # The platform accepts the request as it is.
    platform.check_auth_request(started.auth_url, f.LAUNCH_URL)


def test_state_cookie_is_samesite_none_secure_on_http(lti_env) -> None:
    started = f.login(lti_env.client, lti_env.platform)
    header = next(h for h in started.response.headers.getlist("Set-Cookie") if h.startswith(started.cookie_name))
    attributes = {part.strip().split("=")[0].lower() for part in header.split(";")}
    assert {"secure", "httponly", "samesite", "path"} <= attributes
    assert "SameSite=None" in header and "Path=/lti/launch" in header
    assert "partitioned" not in attributes
    assert started.cookie_value and started.cookie_value != started.state  # derived, not the state itself
    assert started.response.headers["Cache-Control"] == "no-store"


def test_state_cookie_is_partitioned_on_https(lti_env) -> None:
    app = lti_env.make_app(public_base_url="https://tool.test")
    response = app.test_client().get("/lti/login", query_string=lti_env.platform.login_params(f.LAUNCH_URL),
                                     base_url="https://tool.test")
    header = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("lti1p3-state-"))
    assert "Partitioned" in header and "Secure" in header and "SameSite=None" in header
    assert _query(f.page_config(response)["authUrl"])["redirect_uri"] == "https://tool.test/lti/launch"


def test_client_id_may_be_absent_with_a_single_registration(lti_env) -> None:
    started = f.login(lti_env.client, lti_env.platform, send_client_id=False, send_deployment_id=False,
                      lti_message_hint=None)
    query = _query(started.auth_url)
    assert query["client_id"] == lti_env.platform.client_id
    assert "lti_message_hint" not in query


def test_several_registrations_for_one_issuer_need_the_client_id(lti_env) -> None:
    other = TestPlatform(issuer=lti_env.platform.issuer, client_id="second-client")
    f.make_registration(lti_env.sessions, lti_env.account_id, other)
    response = lti_env.client.get("/lti/login", query_string=lti_env.platform.login_params(
        f.LAUNCH_URL, send_client_id=False))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Several registrations share the issuer" in page and "client_id" in page
    assert "ambiguous_registration" in page
    assert f.count(lti_env.sessions, LtiLoginState) == 0
    # With the client id each registration is found.
    for client_id in (lti_env.platform.client_id, "second-client"):
        response = lti_env.client.get("/lti/login", query_string={
            **lti_env.platform.login_params(f.LAUNCH_URL), "client_id": client_id})
        assert response.status_code == 200
        assert _query(f.page_config(response)["authUrl"])["client_id"] == client_id


@pytest.mark.parametrize(("change", "expected"), [
    ({"iss": "https://unknown.example"}, "No LMS is registered with issuer &#39;https://unknown.example&#39;"),
    ({"client_id": "nope"}, "and client id &#39;nope&#39;"),
    ({"iss": ""}, "no &#39;iss&#39;"),
    ({"login_hint": ""}, "no &#39;login_hint&#39;"),
])
def test_bad_login_requests_get_a_400_page(lti_env, change: dict[str, str], expected: str) -> None:
    params = {**lti_env.platform.login_params(f.LAUNCH_URL), **change}
    response = lti_env.client.get("/lti/login", query_string=params)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert expected in page
    assert "Traceback" not in page
    assert f.count(lti_env.sessions, LtiLoginState) == 0
    assert not [h for h in response.headers.getlist("Set-Cookie") if h.startswith("lti1p3-state-")]


def test_login_page_checks_cookies_and_offers_a_new_window(lti_env) -> None:
    started = f.login(lti_env.client, lti_env.platform)
    config = started.config
    assert config["mode"] == "login"
    assert config["storageTarget"] is None
    page = started.response.get_data(as_text=True)
    assert 'id="lti-new-window"' in page and "Open in a new window" in page
    assert "/static/js/lti-storage.js" in page
    new_window = next(part for part in page.split('"') if "lti1p3_new_window=1" in part).replace("&amp;", "&")
    assert new_window.startswith("http://tool.test/lti/login?")
    params = _query(new_window)
    assert params["iss"] == lti_env.platform.issuer and params["login_hint"] == "user-hint-1"
    assert params["lti_message_hint"] == "message-hint-1" and params["client_id"] == lti_env.platform.client_id


def test_new_window_login_redirects_top_level(lti_env) -> None:
    params = {**lti_env.platform.login_params(f.LAUNCH_URL), "lti1p3_new_window": "1"}
    response = lti_env.client.get("/lti/login", query_string=params)
    assert response.status_code == 302
    lti_env.platform.check_auth_request(response.headers["Location"], f.LAUNCH_URL)
    assert any(h.startswith("lti1p3-state-") for h in response.headers.getlist("Set-Cookie"))


def test_platform_storage_login_page_targets_the_platform_origin(lti_env) -> None:
    started = f.login(lti_env.client, lti_env.platform, storage_target="post_message_forwarding")
    config = started.config
    assert config["storageTarget"] == "post_message_forwarding"
    assert config["platformOrigin"] == "https://lms.example.edu"  # from the registered auth_login_url
    assert config["storageKey"] == "lti1p3_state_" + started.state
    assert config["storageValue"] == started.cookie_value
    assert 2000 <= config["timeoutMs"] <= 3000
    script = JS.read_text()
    # Every postMessage goes to the configured platform origin; replies are checked by origin.
    assert script.count("postMessage(") == 1 and "postMessage(payload, cfg.platformOrigin)" in script
    assert "event.origin !== cfg.platformOrigin" in script
    assert '"*"' not in script and "'*'" not in script
    for subject in ("lti.capabilities", "lti.put_data", "lti.get_data"):
        assert subject in script
    assert 'window.parent.frames[name]' in script and '"_parent"' in script


def test_a_login_sweeps_nothing_and_an_expired_state_is_refused_until_the_cleanup_job_deletes_it(lti_env) -> None:
    first = f.login(lti_env.client, lti_env.platform)
    with lti_env.sessions.begin() as session:
        row = session.scalars(select(LtiLoginState).where(LtiLoginState.state == first.state)).one()
        row.expires_at = utcnow() - timedelta(seconds=1)
    second = f.login(lti_env.client, lti_env.platform)
    with lti_env.sessions() as session:
        assert set(session.scalars(select(LtiLoginState.state))) == {first.state, second.state}
    # Still there, and refused all the same.
    response = f.post_launch(lti_env.client, f.authorize(lti_env.platform, first, custom=f.course_custom("C-1", "plus")))
    assert response.status_code == 401 and "expired" in response.get_data(as_text=True)
    assert purge_expired(lti_env.sessions, utcnow()) == 1
    with lti_env.sessions() as session:
        assert set(session.scalars(select(LtiLoginState.state))) == {second.state}


# ---------------------------------------------------------------- no open redirect for unreviewed registrations


def _unreviewed(lti_env) -> None:  # type: ignore[no-untyped-def]
    """As if the registration had been made by an anonymous Dynamic Registration."""
    with lti_env.sessions.begin() as session:
        session.execute(update(LtiRegistration).where(LtiRegistration.id == lti_env.registration_id)
                        .values(needs_review=True))


def _fallback_link(lti_env) -> dict[str, str]:  # type: ignore[no-untyped-def]
    page = f.login(lti_env.client, lti_env.platform).response.get_data(as_text=True)
    link = next(part for part in page.split('"') if "lti1p3_new_window=1" in part).replace("&amp;", "&")
    return _query(link)


def test_the_fallback_link_carries_an_hmac_of_the_login_parameters(lti_env) -> None:
    params = _fallback_link(lti_env)
    assert params["lti1p3_new_window"] == "1" and len(params["lti1p3_nw_sig"]) == 64
    assert int(params["lti1p3_nw_exp"]) > utcnow().timestamp()


def test_an_unreviewed_registration_never_redirects_a_top_level_login_by_itself(lti_env) -> None:
    _unreviewed(lti_env)
    forged = {**lti_env.platform.login_params(f.LAUNCH_URL), "lti1p3_new_window": "1"}
    response = lti_env.client.get("/lti/login", query_string=forged, headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 200 and "Location" not in response.headers
    page = response.get_data(as_text=True)
    assert "Continue to https://lms.example.edu" in page
    auth_url = next(part for part in page.split('"') if part.startswith("https://lms.example.edu/")).replace("&amp;", "&")
    lti_env.platform.check_auth_request(auth_url, f.LAUNCH_URL)  # the button still finishes the login
    assert any(h.startswith("lti1p3-state-") for h in response.headers.getlist("Set-Cookie"))
    assert f.login(lti_env.client, lti_env.platform).config["confirmTopLevel"] is True


@pytest.mark.parametrize(("change", "fetch_site", "redirects"), [
    ({}, "same-origin", True),                       # the tool's own link, clicked on the tool's page
    ({}, "cross-site", False),                       # the same link sent from elsewhere
    ({}, "none", False),                             # pasted or opened from an e-mail
    ({}, None, False),                               # a browser without Fetch Metadata
    ({"login_hint": "someone-else"}, "same-origin", False),
    ({"lti1p3_nw_sig": "0" * 64}, "same-origin", False),
    ({"lti1p3_nw_exp": "1700000000"}, "same-origin", False),
])
def test_the_new_window_redirect_of_an_unreviewed_registration_needs_our_link_from_our_page(
        lti_env, change: dict[str, str], fetch_site: str | None, redirects: bool) -> None:
    _unreviewed(lti_env)
    params = {**_fallback_link(lti_env), **change}
    headers = {"Sec-Fetch-Site": fetch_site} if fetch_site else {}
    response = lti_env.client.get("/lti/login", query_string=params, headers=headers)
    assert (response.status_code == 302) is redirects, response.get_data(as_text=True)
    if redirects:
        lti_env.platform.check_auth_request(response.headers["Location"], f.LAUNCH_URL)


def test_a_reviewed_registration_redirects_again(lti_env) -> None:
    _unreviewed(lti_env)
    registrations.mark_reviewed(lti_env.sessions, lti_env.registration_id, utcnow())
    params = {**lti_env.platform.login_params(f.LAUNCH_URL), "lti1p3_new_window": "1"}
    assert lti_env.client.get("/lti/login", query_string=params).status_code == 302
    assert f.login(lti_env.client, lti_env.platform).config["confirmTopLevel"] is False


def test_the_login_script_asks_for_a_click_only_top_level() -> None:
    script = JS.read_text()
    assert "cfg.confirmTopLevel && isTopLevel()" in script and 'show("lti-continue")' in script
    assert "window.top === window.self" in script

"""Every check of the launch (1EdTech Security Framework) with real signed tokens: each refusal
is a 4xx page naming the problem, and writes no seat, learner, launch or used nonce (the login
state stays unconsumed)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from lti_tool.lti import claims
from lti_tool.lti.models import LtiDeployment, LtiLoginState, LtiPlatformKeySet, LtiRegistration
from lti_tool.lti.testplatform import ROLE_INSTRUCTOR, SigningKey
from lti_tool.services import services_of
from store.base import utcnow
from store.licenses.service import grant_plus
from tests.factories import lti as f
from tests.factories.catalog import make_course
from tests.factories.lti_server import lti_env, platform_server  # noqa: F401
from tests.factories.tcp import answer, tcp_server

COURSE = f.course_custom("C-100", "plus")


@pytest.fixture
def env(lti_env):  # type: ignore[no-untyped-def]
    with lti_env.sessions.begin() as session:
        make_course(session, "C-100", title="Workplace Safety")
    grant_plus(lti_env.sessions, lti_env.account_id, 5, "annual", utcnow())
    return lti_env


def _nothing_written(env: Any, login_states: int = 1) -> None:
    counts = env.counts()
    assert (counts.seats, counts.learners, counts.launches, counts.used_nonces) == (0, 0, 0, 0), counts
    assert counts.login_states == login_states


def _refused(response: Any, status: int, *texts: str) -> str:
    page = response.get_data(as_text=True)
    assert response.status_code == status, page
    for text in texts:
        assert text in page, f"{text!r} not in page:\n{page}"
    assert "Traceback" not in page and "Exception" not in page
    assert response.mimetype == "text/html"
    return page


BAD_TOKENS: list[tuple[str, dict[str, Any], int, tuple[str, ...]]] = [
    ("expired", {"exp_in": -120}, 401, ("token_expired", "The launch token expired at")),
    ("alg none", {"alg": "none"}, 401, ("alg_not_allowed", "signed with algorithm &#39;none&#39;", "RS256")),
    ("alg HS256 with the public key", {"alg": "HS256"}, 401, ("alg_not_allowed", "&#39;HS256&#39;")),
    ("no kid", {"kid": None}, 401, ("missing_kid",)),
    ("wrong aud", {"aud": "another-tool"}, 401,
     ("wrong_audience", "The launch token&#39;s audience does not include this tool&#39;s client id "
                        "&#39;tool-client-1&#39;")),
    ("several aud without azp", {"aud": ["tool-client-1", "another-tool"]}, 401, ("missing_azp",)),
    ("several aud, wrong azp", {"aud": ["tool-client-1", "another-tool"], "azp": "another-tool"}, 401,
     ("wrong_azp", "&#39;another-tool&#39;")),
    ("one aud, wrong azp", {"azp": "another-tool"}, 401, ("wrong_azp",)),
    ("wrong issuer", {"iss": "https://evil.example"}, 401,
     ("wrong_issuer", "&#39;https://evil.example&#39;", "https://lms.example.edu")),
    ("tampered body", {"tamper": True}, 401, ("bad_signature", "signature does not verify")),
    ("nonce of another login", {"extra": {"nonce": "not-the-login-nonce"}}, 401, ("nonce_mismatch",)),
    ("no nonce", {"remove": ["nonce"]}, 400, ("missing_claim", "no nonce")),
    ("iat in the future", {"iat_offset": 600}, 401, ("token_not_yet_valid", "issued in the future")),
    ("nbf in the future", {"nbf_offset": 600}, 401, ("token_not_yet_valid", "not valid before")),
    ("issued before the login", {"iat_offset": -900, "exp_in": 1200}, 401, ("token_too_old",)),
    ("no exp", {"remove": ["exp"]}, 400, ("missing_claim", "&#39;exp&#39;")),
    ("no iat", {"remove": ["iat"]}, 400, ("missing_claim", "&#39;iat&#39;")),
    ("exp not a number", {"extra": {"exp": "soon"}}, 400, ("invalid_claim",)),
    ("bad version", {"version": "1.1.0"}, 400, ("bad_version", "&#39;1.1.0&#39;")),
    ("unsupported message type", {"message_type": "LtiSubmissionReviewRequest"}, 400,
     ("unsupported_message_type", "LtiSubmissionReviewRequest")),
    ("no message type", {"remove": [claims.MESSAGE_TYPE]}, 400, ("unsupported_message_type",)),
    ("no deployment_id", {"remove": [claims.DEPLOYMENT_ID]}, 400, ("missing_claim", "deployment_id")),
    ("no target_link_uri", {"remove": [claims.TARGET_LINK_URI]}, 400, ("missing_claim", "target_link_uri")),
    ("no resource_link.id", {"resource_link_id": None}, 400, ("missing_claim", "resource_link.id")),
    ("no roles claim", {"remove": [claims.ROLES]}, 400, ("missing_claim", "roles")),
    ("roles not a list", {"extra": {claims.ROLES: "Learner"}}, 400, ("missing_claim", "roles")),
    ("sub too long", {"sub": "x" * 256}, 400, ("invalid_claim",)),
    # The input rule (store.text): no NUL or lone surrogate in any claim, named, never echoed.
    ("sub with a lone surrogate", {"sub": "learner-\ud800"}, 400, ("invalid_text", "claim sub contains invalid")),
    ("sub with NUL", {"sub": "learner-\x00-1"}, 400, ("invalid_text", "claim sub contains a NUL")),
    ("name with a lone surrogate", {"name": "Lee \udfff"}, 400, ("invalid_text", "claim name")),
    ("name with NUL", {"name": "Lee\x00"}, 400, ("invalid_text", "claim name contains a NUL")),
    ("context title with NUL", {"extra": {claims.CONTEXT: {"id": "c1", "title": "Safety\x00 101"}}}, 400,
     ("invalid_text", "context.title contains a NUL")),
    ("custom key with a surrogate", {"custom": {**COURSE, "x\ud800": "1"}}, 400,
     ("invalid_text", "a key in https://purl.imsglobal.org/spec/lti/claim/custom")),
    ("kid with NUL", {"kid": "k\x00"}, 400, ("invalid_text", "header.kid")),
    ("custom not an object", {"extra": {claims.CUSTOM: "course_id=C-100"}}, 400, ("invalid_claim",)),
    ("deep linking without return url", {"message_type": claims.DEEP_LINKING_REQUEST, "roles": [ROLE_INSTRUCTOR],
                                         "deep_linking": {"accept_types": ["ltiResourceLink"]}},
     400, ("missing_claim", "deep_link_return_url")),
    ("deep linking without ltiResourceLink", {"message_type": claims.DEEP_LINKING_REQUEST,
                                              "roles": [ROLE_INSTRUCTOR],
                                              "deep_linking": {"deep_link_return_url": "https://lms.example.edu/r",
                                                               "accept_types": ["file"]}},
     400, ("unsupported_deep_link",)),
    ("anonymous launch", {"sub": None, "name": None, "email": None}, 403,
     ("anonymous_launch", "without a user id", "no seat can be given")),
    ("course link without custom course_id", {"custom": {"license_type": "plus"}}, 400,
     ("missing_course_id", "course_id=&lt;catalog id&gt;", "license_type=plus|volume|ppu")),
    ("course link with a bad license type", {"custom": {"course_id": "C-100", "license_type": "gold"}}, 400,
     ("invalid_license_type", "&#39;gold&#39;", "plus, volume or ppu")),
    ("course link without any custom parameter", {"custom": None, "target_link_uri": "https://tool.test/lti/course"},
     400, ("missing_course_id", "no custom parameter course_id")),
    ("deep linking by a learner", {"message_type": claims.DEEP_LINKING_REQUEST}, 403,
     ("deep_linking_not_allowed",)),
]


@pytest.mark.parametrize(("options", "status", "texts"), [c[1:] for c in BAD_TOKENS], ids=[c[0] for c in BAD_TOKENS])
def test_bad_launches_are_refused_and_write_nothing(env, options: dict[str, Any], status: int,
                                                    texts: tuple[str, ...]) -> None:
    options = {"custom": COURSE, **options}
    if options["custom"] is None:
        del options["custom"]
    started = f.login(env.client, env.platform)
    response = f.post_launch(env.client, f.authorize(env.platform, started, **options))
    _refused(response, status, *texts)
    _nothing_written(env)


def test_a_refusal_leaves_one_warning_line(env, caplog) -> None:  # type: ignore[no-untyped-def]
    started = f.login(env.client, env.platform)
    with caplog.at_level("WARNING", logger="lti_tool.lti.views"):
        response = f.post_launch(env.client, f.authorize(env.platform, started, custom=COURSE,
                                                         kid="evil\nINFO forged log line"))
    assert response.status_code == 401
    lines = [r.getMessage() for r in caplog.records if r.name == "lti_tool.lti.views"]
    assert len(lines) == 1 and "unknown_kid" in lines[0] and "\n" not in lines[0]
    assert caplog.records[-1].levelname == "WARNING"


def test_several_audiences_with_our_azp_are_accepted(env) -> None:
    response = f.launch(env.client, env.platform, custom=COURSE, aud=["tool-client-1", "another-tool"],
                        azp="tool-client-1")
    assert response.status_code == 303, response.get_data(as_text=True)
    assert env.counts().seats == 1


def test_signature_by_a_key_outside_the_jwks_under_a_known_kid_is_refused(env) -> None:
    impostor = SigningKey.generate(kid=env.platform.key.kid)
    started = f.login(env.client, env.platform)
    response = f.post_launch(env.client, f.authorize(env.platform, started, custom=COURSE, sign_with=impostor))
    _refused(response, 401, "bad_signature")
    _nothing_written(env)


def test_malformed_token_and_missing_fields(env) -> None:
    started = f.login(env.client, env.platform)
    _refused(env.client.post("/lti/launch", data={"id_token": "not.a.jwt", "state": started.state}), 400,
             "malformed_token")
    _refused(env.client.post("/lti/launch", data={"id_token": "abc", "state": started.state}), 400, "malformed_token")
    _refused(env.client.post("/lti/launch", data={"state": started.state}), 400, "missing_id_token")
    auth = f.authorize(env.platform, started, custom=COURSE)
    _refused(env.client.post("/lti/launch", data={"id_token": auth.fields["id_token"]}), 400, "missing_state")
    _refused(env.client.post("/lti/launch", data={"error": "login_required", "error_description": "Sign in first"}),
             400, "platform_error", "login_required", "Sign in first")
    assert env.client.get("/lti/launch").status_code == 405
    _nothing_written(env)


# ---------------------------------------------------------------- replay, state


def test_replayed_id_token_is_refused(env) -> None:
    started = f.login(env.client, env.platform)
    auth = f.authorize(env.platform, started, custom=COURSE)
    assert f.post_launch(env.client, auth).status_code == 303
    before = env.counts()
    # The consumed login state made the nonce single-use; the launch row (its id derived from the
    # nonce) records it: no separate used-nonce row.
    assert before.launches == 1 and before.used_nonces == 0 and before.login_states == 0
    # The successful launch removed the state cookie; the replay is refused with or without it.
    assert env.client.get_cookie(started.cookie_name, domain="localhost", path="/lti/launch") is None
    _refused(f.post_launch(env.client, auth), 401, "replay", "already used")
    env.client.set_cookie(started.cookie_name, started.cookie_value or "", domain="localhost", path="/lti/launch")
    _refused(f.post_launch(env.client, auth), 401, "replay")
    assert env.counts() == before


def test_replay_racing_the_first_post_is_refused_by_the_single_delete(env) -> None:
    """Two posts of one id_token that both found the login state: only one consumes it."""
    from lti_tool.lti.launch import find_login, record_launch, verify_launch

    started = f.login(env.client, env.platform)
    token = f.authorize(env.platform, started, custom=COURSE).fields["id_token"]
    settings = services_of(env.app).settings
    now = utcnow()
    login_binding = find_login(env.sessions, started.state, token, now)
    verified = verify_launch(env.sessions, settings, token, login_binding, now)
    first = record_launch(env.sessions, settings, verified, login_binding, now)
    assert first.id
    with pytest.raises(Exception) as refused:
        record_launch(env.sessions, settings, verified, login_binding, now)
    assert getattr(refused.value, "code", None) == "replay"
    assert env.counts().launches == 1


def test_tampered_or_foreign_state_is_refused(env) -> None:
    first = f.login(env.client, env.platform)
    second = f.login(env.client, env.platform)
    auth = f.authorize(env.platform, first, custom=COURSE)
    # A state this tool never issued.
    tampered = ("y" if first.state.startswith("x") else "x") + first.state[1:]
    _refused(env.client.post("/lti/launch", data={**auth.fields, "state": tampered}), 401, "unknown_state")
    # The state of another login of this browser: its nonce is not the token's.
    _refused(env.client.post("/lti/launch", data={**auth.fields, "state": second.state}), 401, "nonce_mismatch")
    # A state cookie that does not match.
    env.client.set_cookie(first.cookie_name, "0" * 64, domain="localhost", path="/lti/launch")
    _refused(f.post_launch(env.client, auth), 401, "state_mismatch")
    _nothing_written(env, login_states=2)


def test_expired_login_state_is_refused(env) -> None:
    started = f.login(env.client, env.platform)
    auth = f.authorize(env.platform, started, custom=COURSE)
    with env.sessions.begin() as session:
        session.execute(update(LtiLoginState).values(expires_at=utcnow() - timedelta(seconds=1)))
    _refused(f.post_launch(env.client, auth), 401, "login_expired", "Launch again")
    _nothing_written(env)


def test_launch_without_cookie_or_platform_storage_is_refused(env) -> None:
    started = f.login(env.client, env.platform)
    env.client.delete_cookie(started.cookie_name, domain="localhost", path="/lti/launch")
    _refused(f.post_launch(env.client, f.authorize(env.platform, started, custom=COURSE)), 401,
             "browser_not_bound", "new window")
    _nothing_written(env)


# ---------------------------------------------------------------- platform keys


def test_jwks_is_cached_in_the_database(env) -> None:
    assert f.launch(env.client, env.platform, custom=COURSE).status_code == 303
    assert f.launch(env.client, env.platform, custom=COURSE, sub="learner-2").status_code == 303
    assert env.server.jwks_fetches == 1
    with env.sessions() as session:
        cached = session.scalars(select(LtiPlatformKeySet)).one()
    assert cached.key_set_url == env.server.jwks_url
    assert [k["kid"] for k in cached.jwks["keys"]] == [env.platform.key.kid]
    # Another app process uses the same cache.
    other = env.make_app().test_client()
    assert f.launch(other, env.platform, custom=COURSE, sub="learner-3").status_code == 303
    assert env.server.jwks_fetches == 1


def test_jwks_ttl_is_honoured(env) -> None:
    client = env.make_app(lti_platform_jwks_ttl_seconds=0).test_client()
    for sub in ("a", "b"):
        assert f.launch(client, env.platform, custom=COURSE, sub=sub).status_code == 303
    assert env.server.jwks_fetches == 2


def test_unknown_kid_refetches_once_and_accepts_a_rotated_key(env) -> None:
    assert f.launch(env.client, env.platform, custom=COURSE).status_code == 303
    env.platform.rotate_key()
    response = f.launch(env.client, env.platform, custom=COURSE, sub="learner-2")
    assert response.status_code == 303, response.get_data(as_text=True)
    assert env.server.jwks_fetches == 2


def test_unknown_kid_missing_after_the_refetch_is_refused(env) -> None:
    assert f.launch(env.client, env.platform, custom=COURSE).status_code == 303
    before = env.counts()
    started = f.login(env.client, env.platform)
    response = f.post_launch(env.client, f.authorize(env.platform, started, custom=COURSE, kid="ghost-key"))
    _refused(response, 401, "unknown_kid", "&#39;ghost-key&#39;", env.server.jwks_url)
    assert env.server.jwks_fetches == 2  # one refetch, no more
    after = env.counts()
    assert (after.seats, after.learners, after.launches, after.used_nonces) == (
        before.seats, before.learners, before.launches, before.used_nonces)


def test_unknown_kid_refetches_at_most_once_per_registration_per_interval(env) -> None:
    """A random kid must not make the tool fetch the platform's JWKS on every launch: the refetch
    is claimed in the database (every process sees it), then refused without a fetch until the
    interval (LTI_JWKS_REFETCH_INTERVAL_SECONDS, 60 s) has passed."""
    assert f.launch(env.client, env.platform, custom=COURSE).status_code == 303
    for attempt in range(3):
        started = f.login(env.client, env.platform)
        response = f.post_launch(env.client, f.authorize(env.platform, started, custom=COURSE, kid=f"random-{attempt}"))
        _refused(response, 401, "unknown_kid")
    assert env.server.jwks_fetches == 2  # the first launch, one refetch; then none
    assert "at most once every 60 seconds" in response.get_data(as_text=True)
    other_process = env.make_app().test_client()
    started = f.login(other_process, env.platform)
    _refused(f.post_launch(other_process, f.authorize(env.platform, started, custom=COURSE, kid="random-9")), 401,
             "unknown_kid")
    assert env.server.jwks_fetches == 2
    # a known kid still launches meanwhile, from the cache
    assert f.launch(env.client, env.platform, custom=COURSE, sub="learner-2").status_code == 303
    # after the interval, a rotated key is picked up by the next refetch
    with env.sessions.begin() as session:
        session.execute(update(LtiRegistration).where(LtiRegistration.id == env.registration_id)
                        .values(jwks_refetched_at=utcnow() - timedelta(seconds=61)))
    env.platform.rotate_key()
    assert f.launch(env.client, env.platform, custom=COURSE, sub="learner-3").status_code == 303
    assert env.server.jwks_fetches == 3


def test_a_key_set_url_that_redirects_is_not_followed(env) -> None:
    with tcp_server(answer("200 OK", b'{"keys": []}')) as inside:
        env.server.redirect_jwks_to = f"http://127.0.0.1:{inside.port}/internal"
        started = f.login(env.client, env.platform)
        page = _refused(f.post_launch(env.client, f.authorize(env.platform, started, custom=COURSE)), 401,
                        "key_set_unavailable", "answered with a redirect")
        assert inside.connections == 0 and env.server.jwks_fetches == 1
    assert "127.0.0.1:" + str(inside.port) not in page
    _nothing_written(env)


def test_unreachable_key_set_is_a_clear_401(env) -> None:
    env.server.fail_jwks = True
    started = f.login(env.client, env.platform)
    _refused(f.post_launch(env.client, f.authorize(env.platform, started, custom=COURSE)), 401,
             "key_set_unavailable", "HTTP 503")
    _nothing_written(env)


# ---------------------------------------------------------------- clock leeway


@pytest.mark.parametrize(("options", "accepted"), [
    ({"exp_in": -30}, True),             # expired 30 s ago, leeway 60 s
    ({"exp_in": -90}, False),
    ({"iat_offset": 30}, True),          # issued 30 s in the future
    ({"iat_offset": 90, "exp_in": 300}, False),
    ({"nbf_offset": 30}, True),
    ({"nbf_offset": 90}, False),
])
def test_clock_leeway(env, options: dict[str, Any], accepted: bool) -> None:
    started = f.login(env.client, env.platform)
    response = f.post_launch(env.client, f.authorize(env.platform, started, custom=COURSE, **options))
    assert (response.status_code == 303) is accepted, response.get_data(as_text=True)


def test_leeway_comes_from_the_settings(env) -> None:
    client = env.make_app(lti_clock_leeway_seconds=0).test_client()
    started = f.login(client, env.platform)
    _refused(f.post_launch(client, f.authorize(env.platform, started, custom=COURSE, exp_in=-5)), 401,
             "token_expired", "allowed clock difference 0 s")


# ---------------------------------------------------------------- deployments


def test_unknown_deployment_is_accepted_and_recorded_by_default(env) -> None:
    response = f.launch(env.client, env.platform, custom=COURSE, deployment_id="new-deployment")
    assert response.status_code == 303
    with env.sessions() as session:
        status = session.scalars(select(LtiDeployment.status).where(
            LtiDeployment.deployment_id == "new-deployment")).one()
    assert status == "active"


def test_unknown_deployment_waits_for_approval_when_not_auto_accepted(env) -> None:
    client = env.make_app(lti_auto_accept_deployments=False).test_client()
    for _ in range(2):
        started = f.login(client, env.platform)
        response = f.post_launch(client, f.authorize(env.platform, started, custom=COURSE,
                                                     deployment_id="canvas-42"))
        _refused(response, 403, "deployment_pending", "waiting for approval", "&#39;canvas-42&#39;")
    with env.sessions() as session:
        rows = session.execute(select(LtiDeployment.deployment_id, LtiDeployment.status)
                               .where(LtiDeployment.deployment_id == "canvas-42")).all()
    assert rows == [("canvas-42", "pending")]
    _nothing_written(env, login_states=2)
    # Approved: the next launch works.
    with env.sessions.begin() as session:
        session.execute(update(LtiDeployment).where(LtiDeployment.deployment_id == "canvas-42")
                        .values(status="active"))
    assert f.launch(client, env.platform, custom=COURSE, deployment_id="canvas-42").status_code == 303


def test_disabled_deployment_is_refused(env) -> None:
    with env.sessions.begin() as session:
        session.execute(update(LtiDeployment).values(status="disabled"))
    started = f.login(env.client, env.platform)
    _refused(f.post_launch(env.client, f.authorize(env.platform, started, custom=COURSE)), 403,
             "deployment_disabled")
    _nothing_written(env)


# ---------------------------------------------------------------- garbage never gives a 500

ODD_CLAIMS: list[dict[str, Any]] = [
    {"exp": float("nan")}, {"exp": float("inf")}, {"exp": 1e300}, {"iat": -1e300}, {"nbf": "later"},
    {"aud": {"client": "tool-client-1"}}, {"iss": 5}, {"nonce": 5}, {"azp": ["tool-client-1"]},
    {claims.ROLES: [1, None]}, {claims.CUSTOM: {"course_id": ["C-100"], "license_type": {"x": 1}}},
    {"name": 5, "email": ["x"], "given_name": {"a": 1}}, {"sub": 5}, {claims.DEPLOYMENT_ID: 5},
    {claims.MESSAGE_TYPE: 5}, {claims.RESOURCE_LINK: "link"}, {claims.VERSION: 1.3}, {claims.EXT: "x"},
    {claims.LIS: 5}, {claims.TARGET_LINK_URI: ["https://tool.test"]}, {claims.DEPLOYMENT_ID: "d" * 10_000},
    {"sub": "s" * 255, "name": "n" * 5_000, "email": "e" * 400 + "@example.edu"},
]


@pytest.mark.parametrize("odd", ODD_CLAIMS, ids=[",".join(o)[-40:] for o in ODD_CLAIMS])
def test_odd_claims_signed_by_the_platform_are_4xx_or_accepted_never_500(env, odd: dict[str, Any]) -> None:
    started = f.login(env.client, env.platform)
    query = env.platform.check_auth_request(started.auth_url, f.LAUNCH_URL)
    body = {**env.platform.claims_for(query["nonce"], custom=COURSE), **odd}
    response = env.client.post("/lti/launch", data={"id_token": env.platform.id_token(None, body=body),
                                                    "state": started.state})
    assert response.status_code in (303, 400, 401, 403), response.get_data(as_text=True)


@pytest.mark.parametrize("token", [
    "a.b.c", "..", "e30.e30.", "W10.e30.c2ln", "eyJhbGciOlsiUlMyNTYiXX0.e30.c2ln", "x" * 300_000,
    "eyJhbGciOiJSUzI1NiIsImtpZCI6NX0.e30.c2ln",  # kid is a number
])
def test_garbage_tokens_are_4xx(env, token: str) -> None:
    started = f.login(env.client, env.platform)
    response = env.client.post("/lti/launch", data={"id_token": token, "state": started.state})
    assert 400 <= response.status_code < 500
    _nothing_written(env)

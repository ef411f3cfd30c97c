"""The pure parts of launch validation: token checks, what a launch asks for, who launches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lti_tool.lti import claims
from lti_tool.lti.errors import LaunchError
from lti_tool.lti.launch import binding_value, identity_of, is_bound, parse_intent, username_of
from lti_tool.lti.security import (
    Expected,
    LoginBinding,
    check_audience,
    check_message,
    check_times,
    verify_id_token,
)
from lti_tool.lti.testplatform import ROLE_INSTRUCTOR, SigningKey, TestPlatform

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
PLATFORM = TestPlatform()
LOGIN = LoginBinding("state-1", "nonce-1", 1, NOW - timedelta(seconds=5), NOW + timedelta(minutes=10))
EXPECTED = Expected(PLATFORM.issuer, PLATFORM.client_id)


def _body(**options: Any) -> dict[str, Any]:
    options.setdefault("custom", {"course_id": "C-1", "license_type": "plus"})
    return PLATFORM.claims_for("nonce-1", now=NOW.timestamp(), **options)


def _code(call: Any, *args: Any) -> tuple[int, str]:
    with pytest.raises(LaunchError) as refused:
        call(*args)
    return refused.value.status, refused.value.code


def _resolver(platform: TestPlatform) -> Any:
    def resolve(kid: str) -> dict[str, Any]:
        for key in platform.jwks()["keys"]:
            if key["kid"] == kid:
                return key
        raise LaunchError(401, "unknown_kid", kid)
    return resolve


def test_a_good_token_verifies() -> None:
    token = PLATFORM.id_token("nonce-1", now=NOW.timestamp())
    verified = verify_id_token(token, EXPECTED, LOGIN, NOW, 60, _resolver(PLATFORM))
    assert verified.body["sub"] == "learner-1" and verified.deployment_id == PLATFORM.deployment_id


def test_forged_tokens_never_reach_the_key_lookup() -> None:
    looked_up: list[str] = []

    def resolve(kid: str) -> dict[str, Any]:
        looked_up.append(kid)
        return _resolver(PLATFORM)(kid)

    for options in ({"alg": "none"}, {"alg": "HS256"}, {"aud": "x"}, {"iss": "https://evil"}, {"exp_in": -3600}):
        token = PLATFORM.id_token("nonce-1", now=NOW.timestamp(), **options)
        with pytest.raises(LaunchError):
            verify_id_token(token, EXPECTED, LOGIN, NOW, 60, resolve)
    assert looked_up == []


def test_signature_checks() -> None:
    def verify(token: str) -> None:
        verify_id_token(token, EXPECTED, LOGIN, NOW, 60, _resolver(PLATFORM))

    assert _code(verify, PLATFORM.id_token("nonce-1", now=NOW.timestamp(), tamper=True)) == (401, "bad_signature")
    impostor = SigningKey.generate(kid=PLATFORM.key.kid)
    assert _code(verify, PLATFORM.id_token("nonce-1", now=NOW.timestamp(), sign_with=impostor)) == (
        401, "bad_signature")


def test_unusable_platform_keys_are_refused() -> None:
    token = PLATFORM.id_token("nonce-1", now=NOW.timestamp())
    good = PLATFORM.jwks()["keys"][0]
    for bad in ({**good, "alg": "RS512"}, {**good, "use": "enc"}, {"kty": "oct", "kid": good["kid"], "k": "c2VjcmV0"}):
        assert _code(verify_id_token, token, EXPECTED, LOGIN, NOW, 60, lambda kid, bad=bad: bad) == (
            401, "unusable_key")


@pytest.mark.parametrize(("aud", "azp", "code"), [
    ("tool-client-1", None, None),
    (["tool-client-1"], None, None),
    (["tool-client-1", "x"], "tool-client-1", None),
    (["x", "tool-client-1"], "tool-client-1", None),
    ("x", None, "wrong_audience"),
    (["x", "y"], "tool-client-1", "wrong_audience"),
    (["tool-client-1", "x"], None, "missing_azp"),
    (["tool-client-1", "x"], "x", "wrong_azp"),
    ("tool-client-1", "x", "wrong_azp"),
    ([], None, "invalid_claim"),
    (None, None, "invalid_claim"),
    ([1, 2], None, "invalid_claim"),
])
def test_audience_and_authorized_party(aud: Any, azp: Any, code: str | None) -> None:
    body: dict[str, Any] = {"aud": aud}
    if azp is not None:
        body["azp"] = azp
    if code is None:
        check_audience(body, "tool-client-1")
    else:
        assert _code(check_audience, body, "tool-client-1")[1] == code


@pytest.mark.parametrize(("exp", "iat", "nbf", "code"), [
    (300, 0, None, None),
    (-59, 0, None, None),
    (-60, 0, None, "token_expired"),
    (300, 59, None, None),
    (300, 61, None, "token_not_yet_valid"),
    (300, 0, 61, "token_not_yet_valid"),
    (300, 0, 59, None),
    (300, -64, None, None),  # 5 s before the login started + 59 s leeway
    (300, -66, None, "token_too_old"),
])
def test_times_with_leeway(exp: int, iat: int, nbf: int | None, code: str | None) -> None:
    t = NOW.timestamp()
    body: dict[str, Any] = {"exp": t + exp, "iat": t + iat}
    if nbf is not None:
        body["nbf"] = t + nbf
    if code is None:
        check_times(body, NOW, 60, LOGIN.created_at)
    else:
        assert _code(check_times, body, NOW, 60, LOGIN.created_at)[1] == code


def test_message_claims() -> None:
    check_message(_body())
    check_message(_body(message_type=claims.DEEP_LINKING_REQUEST, roles=[ROLE_INSTRUCTOR]))
    check_message(_body(sub=None))  # anonymous launches are valid messages (refused later)
    check_message(_body(roles=[]))  # roles may be empty
    for options in ({"sub": ""}, {"sub": "   "}, {"deployment_id": "d" * 256}, {"target_link_uri": "not a url"},
                    {"extra": {claims.TARGET_LINK_URI: 5}}):
        assert _code(check_message, _body(**options))[0] == 400


def test_parse_intent() -> None:
    assert parse_intent(_body()).kind == "course"
    assert parse_intent(_body(custom={"course_id": " C-9 ", "license_type": "Volume"})) == parse_intent(
        _body(custom={"course_id": "C-9", "license_type": "volume"}))
    assert parse_intent(_body(message_type=claims.DEEP_LINKING_REQUEST)).kind == "deep_linking"
    for target in ("https://tool.test", "https://tool.test/", "https://tool.test/lti/launch",
                   "https://tool.test/lti/launch/", "https://tool.test/lti/home"):
        body = _body(target_link_uri=target)
        del body[claims.CUSTOM]
        assert parse_intent(body).kind == "navigation", target
    for custom, code in (({"course_id": "C-1"}, "invalid_license_type"),
                         ({"license_type": "ppu"}, "missing_course_id"),
                         ({"course_id": "$Canvas.course.id", "license_type": "ppu"}, "missing_course_id"),
                         ({"course_id": 7, "license_type": "ppu"}, "missing_course_id"),
                         ({"course_id": "C" * 201, "license_type": "ppu"}, "missing_course_id"),
                         ({"course_id": "C-1", "license_type": "gold"}, "invalid_license_type")):
        assert _code(parse_intent, _body(custom=custom)) == (400, code)


def test_identity_and_username() -> None:
    identity = identity_of(_body(name=None, extra={"given_name": "Ada", "family_name": "Lovelace",
                                                   claims.LIS: {"person_sourcedid": "sis-42"}}))
    assert identity is not None
    assert (identity.source, identity.external_id, identity.name, identity.username) == (
        "lti:https://lms.example.edu", "learner-1", "Ada Lovelace", "sis-42")
    assert identity_of(_body(sub=None)) is None
    assert identity_of(_body(email="not-an-email")).email is None  # type: ignore[union-attr]
    assert identity_of(_body(name="n" * 400)).name == "n" * 300  # type: ignore[union-attr]
    assert username_of({claims.EXT: {"user_username": "moodle-user"}, "preferred_username": "oidc"}) == "moodle-user"
    assert username_of({"preferred_username": "oidc"}) == "oidc"
    assert username_of({claims.CUSTOM: {"canvas_user_login_id": "$Canvas.user.loginId"},
                        claims.LIS: {"person_sourcedid": "sis"}}) == "sis"
    assert username_of({claims.CUSTOM: {"canvas_user_login_id": "jdoe"}}) == "jdoe"
    assert username_of({}) is None


def test_browser_binding_value() -> None:
    value = binding_value("secret", "state-1")
    assert value != "state-1" and len(value) == 64
    assert is_bound("secret", "state-1", value)
    assert not is_bound("secret", "state-2", value)
    assert not is_bound("other-secret", "state-1", value)
    assert not is_bound("secret", "state-1", None) and not is_bound("secret", "state-1", "")

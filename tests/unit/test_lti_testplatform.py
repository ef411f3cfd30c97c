"""The test platform answers only well-formed authorization requests, like a real platform."""

from __future__ import annotations

from urllib.parse import urlencode

import jwt
import pytest

from lti_tool.lti.testplatform import PlatformError, TestPlatform

REDIRECT = "https://tool.test/lti/launch"


def _auth_url(platform: TestPlatform, **changes: str) -> str:
    params = {"scope": "openid", "response_type": "id_token", "response_mode": "form_post", "prompt": "none",
              "client_id": platform.client_id, "redirect_uri": REDIRECT, "login_hint": "hint", "state": "s1",
              "nonce": "n1", **changes}
    return platform.auth_login_url + "?" + urlencode({k: v for k, v in params.items() if v is not None})


def test_authorize_echoes_state_and_signs_the_nonce() -> None:
    platform = TestPlatform()
    answer = platform.authorize(_auth_url(platform), REDIRECT, roles=[], custom={"course_id": "C-1"})
    assert answer.action == REDIRECT and answer.fields["state"] == "s1"
    key = jwt.PyJWK(platform.jwks()["keys"][0]).key
    body = jwt.decode(answer.fields["id_token"], key, algorithms=["RS256"], audience=platform.client_id,
                      issuer=platform.issuer)
    assert body["nonce"] == "n1" and body["https://purl.imsglobal.org/spec/lti/claim/custom"] == {"course_id": "C-1"}


@pytest.mark.parametrize("changes", [
    {"scope": "profile"}, {"response_type": "code"}, {"response_mode": "query"}, {"prompt": "login"},
    {"client_id": "other"}, {"redirect_uri": "https://evil.example/launch"}, {"state": None}, {"nonce": None},
    {"login_hint": None},
])
def test_bad_authorization_requests_are_refused(changes: dict[str, str]) -> None:
    platform = TestPlatform()
    with pytest.raises(PlatformError):
        platform.authorize(_auth_url(platform, **changes), REDIRECT)


def test_rotation_replaces_or_keeps_the_old_key() -> None:
    platform = TestPlatform()
    first = platform.key.kid
    platform.rotate_key(keep_old=True)
    assert [k["kid"] for k in platform.jwks()["keys"]] == [first, platform.key.kid]
    platform.rotate_key()
    assert [k["kid"] for k in platform.jwks()["keys"]] == [platform.key.kid]

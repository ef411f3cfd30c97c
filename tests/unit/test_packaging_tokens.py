"""Package keys, secrets at rest and the signed launch token."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from config import load_settings
from scorm_packages.tokens import (
    LaunchTokenError,
    SecretUnreadable,
    decrypt_secret,
    encrypt_secret,
    make_launch_token,
    new_public_key,
    new_secret,
    peek_launch_token,
    read_launch_token,
)

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SECRET = "k" * 43
KEY = "dpk_abcdefghijklmnopqrstuvwx"


def token(**overrides: object) -> str:
    values: dict[str, object] = {"package_key": KEY, "generation": 2, "secret": SECRET, "learner_id": "u-1",
                                 "learner_name": "Doe,  Jane", "page_origin": "https://lms.example.edu",
                                 "referrer_origin": None, "now": NOW}
    values.update(overrides)
    return make_launch_token(**values)  # type: ignore[arg-type]


def read(value: str, now: datetime = NOW, secret: str = SECRET, key: str = KEY):  # type: ignore[no-untyped-def]
    return read_launch_token(value, package_key=key, secret=secret, now=now, leeway_seconds=60)


def test_keys_are_random_and_safe_everywhere() -> None:
    keys = {new_public_key() for _ in range(200)}
    assert len(keys) == 200
    assert all(re.fullmatch(r"dpk_[a-z2-7]{24}", k) for k in keys)
    assert len(new_secret()) >= 43


def test_secrets_are_encrypted_and_survive_a_kek_being_added() -> None:
    plain = load_settings({"ENV": "test", "SECRET_KEY": "a" * 40})
    stored = encrypt_secret(plain, SECRET)
    assert SECRET not in stored
    assert decrypt_secret(plain, stored) == SECRET
    assert decrypt_secret(plain.with_overrides(key_encryption_key="b" * 40), stored) == SECRET
    with pytest.raises(SecretUnreadable, match="build the package again"):
        decrypt_secret(plain.with_overrides(secret_key="c" * 40), stored)


def test_a_good_token_reads_back() -> None:
    claims = read(token())
    assert claims.package_key == KEY and claims.generation == 2 and claims.learner_id == "u-1"
    assert claims.learner_name == "Doe, Jane" and claims.page_origin == "https://lms.example.edu"
    assert claims.expires_at - claims.issued_at == 300
    assert peek_launch_token(token()).package_key == KEY and peek_launch_token(token()).generation == 2


def test_the_token_is_a_standard_hs256_jwt() -> None:
    header = json.loads(base64.urlsafe_b64decode(token().split(".")[0] + "=="))
    assert header == {"alg": "HS256", "typ": "JWT", "kid": KEY}


@pytest.mark.parametrize("value, reason", [
    (None, "malformed"), ("", "malformed"), ("abc", "malformed"), ("a.b.c", "malformed"), ("x" * 20_000, "malformed"),
])
def test_peek_refuses_garbage(value: str | None, reason: str) -> None:
    with pytest.raises(LaunchTokenError) as err:
        peek_launch_token(value)
    assert err.value.reason == reason


def test_wrong_secret_altered_claims_and_other_package() -> None:
    with pytest.raises(LaunchTokenError) as err:
        read(token(), secret="z" * 43)
    assert err.value.reason == "bad_signature"
    header, body, signature = token().split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    claims["sub"] = "someone-else"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(LaunchTokenError) as err:
        read(f"{header}.{forged}.{signature}")
    assert err.value.reason == "bad_signature"
    with pytest.raises(LaunchTokenError) as err:
        read(token(), key="dpk_other")
    assert err.value.reason == "malformed"  # issuer mismatch


def test_unsigned_and_other_algorithms_are_refused() -> None:
    none = jwt.encode({"iss": KEY, "sub": "u", "iat": 1, "exp": 2, "gen": 1}, None, algorithm="none",
                      headers={"kid": KEY})
    with pytest.raises(LaunchTokenError):
        read(none)


def test_expiry_uses_the_given_clock_with_leeway() -> None:
    value = token()
    assert read(value, now=NOW + timedelta(seconds=300 + 59)).learner_id == "u-1"
    with pytest.raises(LaunchTokenError) as err:
        read(value, now=NOW + timedelta(seconds=300 + 60))
    assert err.value.reason == "expired"
    with pytest.raises(LaunchTokenError) as err:
        read(value, now=NOW - timedelta(seconds=61))  # made in the future: a wrong clock
    assert err.value.reason == "expired"


def test_long_lived_tokens_are_refused() -> None:
    with pytest.raises(LaunchTokenError, match="lifetime"):
        read(token(ttl_seconds=3600))


@pytest.mark.parametrize("learner_id", ["", "   ", "x" * 4001])
def test_bad_learner_ids(learner_id: str) -> None:
    with pytest.raises(LaunchTokenError) as err:
        read(token(learner_id=learner_id))
    assert err.value.reason == "bad_learner"


def test_long_names_are_cut_and_blank_names_dropped() -> None:
    assert read(token(learner_name="n" * 500)).learner_name == "n" * 300
    assert read(token(learner_name="   ")).learner_name is None
    assert read(token(learner_name=None)).learner_name is None

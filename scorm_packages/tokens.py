"""Package keys, per-package secrets and the dispatch launch token (pure: no database, no I/O).

Threat model (what the secret can and cannot do). A dispatch package is a zip that the customer
uploads to an LMS; the LMS serves its files to every learner's browser. Whatever the package
holds, every learner (view source) and every LMS administrator can read. So the per-package
secret is not a secret from them. What it does:

- It keeps out anyone who only knows the public package key. The key shows up in reports
  (``package:<key>`` learners), CSV exports, support tickets and logs; the secret is only in
  the zip and, encrypted, in our database.
- The launch page signs a short-lived token (HS256 JWT: package key, package generation,
  learner id and name, LMS origin, issued-at, 5-minute expiry, and a random id ``jti`` made
  fresh for every launch). A captured launch request cannot be altered for another learner, nor
  replayed: the server accepts each ``jti`` once (``scorm_packages.service`` keeps the used ids
  in the database until the token expires).
- Revocation and replacement work per copy: a revoked package, or a copy of an older
  generation (the package was rebuilt after a revocation), is refused.

What it cannot do: stop someone who holds the zip (a learner, an LMS admin) from forging
launches with any learner id. Against that: the seat limits themselves (no license, no seat),
the allowed LMS domains per account (checked against the browser's ``Origin`` header, which
page scripts cannot change), the per-package rate limit on new learners, and revocation.

Storage: the secret is stored encrypted by ``store.encryption`` (Fernet under a key derived from
``KEY_ENCRYPTION_KEY`` when set, else ``SECRET_KEY``; decryption tries both). If both change the
secrets become unreadable: launches then get a clear "download the package again" page and the
next build of that package makes a new secret (same key: learners keep their seats).
"""

from __future__ import annotations

import base64
import math
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt

from config import Settings
from store import encryption
from store.errors import StoreError
from store.text import find_invalid_text

KEY_PREFIX = "dpk_"
ALGORITHM = "HS256"
TOKEN_TTL_SECONDS = 300  # what the launch page asks for
MAX_TOKEN_LIFETIME_SECONDS = 900  # exp - iat above this is refused
MAX_TOKEN_CHARS = 16_000
MAX_LEARNER_ID_CHARS = 4000  # SCORM 2004 cmi.learner_id
MAX_LEARNER_NAME_CHARS = 300
MIN_TOKEN_ID_CHARS = 8  # dispatch.js sends 16 (12 random bytes, base64url)
MAX_TOKEN_ID_CHARS = 128


class SecretUnreadable(StoreError):
    reason = "package_secret_unreadable"


class LaunchTokenError(StoreError):
    """A launch token that cannot be accepted; ``reason`` is one of ``malformed`` (a missing or
    odd ``jti`` too), ``bad_signature``, ``expired``, ``bad_learner``, ``invalid_text``."""

    reason = "malformed"


# ---------------------------------------------------------------- keys and secrets


def new_public_key() -> str:
    """``dpk_`` + 24 lowercase base32 characters (120 random bits): safe in URLs, file names and
    XML identifiers."""
    return KEY_PREFIX + base64.b32encode(secrets.token_bytes(15)).decode("ascii").lower()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def encrypt_secret(settings: Settings, secret: str) -> str:
    try:
        return encryption.encrypt(settings, secret, context=encryption.DISPATCH_SECRETS)
    except encryption.SecretUnreadable as exc:
        raise SecretUnreadable(exc.message) from None


def decrypt_secret(settings: Settings, ciphertext: str) -> str:
    try:
        return encryption.decrypt(settings, ciphertext, context=encryption.DISPATCH_SECRETS)
    except encryption.SecretUnreadable:
        raise SecretUnreadable(
            "this package's signing secret cannot be decrypted (SECRET_KEY or KEY_ENCRYPTION_KEY changed); "
            "build the package again and upload the new copy"
        ) from None


# ---------------------------------------------------------------- the launch token


@dataclass(frozen=True)
class LaunchClaims:
    package_key: str
    generation: int
    learner_id: str
    learner_name: str | None
    page_origin: str | None  # the launch page's origin, as the page says (location.origin)
    referrer_origin: str | None  # the LMS page that framed it (document.referrer's origin)
    issued_at: int
    expires_at: int
    token_id: str = ""  # the jti: accepted once


def make_launch_token(*, package_key: str, generation: int, secret: str, learner_id: str,
                      learner_name: str | None, page_origin: str | None, referrer_origin: str | None,
                      now: datetime, ttl_seconds: int = TOKEN_TTL_SECONDS) -> str:
    """What the launch page's script builds (``dispatch.js`` ``signLaunch``); used by tests and
    tools that play a package without a browser."""
    issued = math.floor(now.timestamp())
    claims: dict[str, Any] = {
        "iss": package_key, "gen": generation, "sub": learner_id, "name": learner_name,
        "org": page_origin, "ref": referrer_origin, "iat": issued, "exp": issued + ttl_seconds,
        "jti": secrets.token_urlsafe(12),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM, headers={"kid": package_key})


@dataclass(frozen=True)
class UnverifiedLaunch:
    package_key: str
    generation: int | None


def peek_launch_token(token: str | None) -> UnverifiedLaunch:
    """The package key and generation a token claims, before its signature is checked (to
    find the secret to check it with). Raises ``LaunchTokenError('malformed')``."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
        raise LaunchTokenError("the launch request carries no valid launch token", reason="malformed")
    try:
        header = jwt.get_unverified_header(token)
        body = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise LaunchTokenError("the launch token is malformed", reason="malformed") from None
    # The input rule (store.text): no NUL or surrogate in the learner's id or name, nor anywhere
    # else in the token, before any of it is used (even to look the package up).
    problem = find_invalid_text(header, "header") or find_invalid_text(body)
    if problem is not None:
        raise LaunchTokenError(f"the launch token holds text the server cannot accept: {problem}",
                               reason="invalid_text")
    key = header.get("kid")
    if not isinstance(key, str) or not key or len(key) > 40:
        raise LaunchTokenError("the launch token names no package key", reason="malformed")
    generation = body.get("gen")
    return UnverifiedLaunch(key, generation if isinstance(generation, int) and not isinstance(generation, bool)
                            else None)


def read_launch_token(token: str, *, package_key: str, secret: str, now: datetime,
                      leeway_seconds: int) -> LaunchClaims:
    """Verify the signature (HS256 with the package's secret), issuer, shape, and expiry against
    ``now`` (with ``leeway_seconds`` for clock drift)."""
    try:
        body = jwt.decode(
            token, secret, algorithms=[ALGORITHM], issuer=package_key,
            options={"require": ["iss", "sub", "iat", "exp"], "verify_exp": False, "verify_iat": False,
                     "verify_nbf": False},
        )
    except jwt.InvalidSignatureError:
        raise LaunchTokenError("the launch token's signature does not match this package", reason="bad_signature") \
            from None
    except jwt.PyJWTError as exc:
        raise LaunchTokenError(f"the launch token is not valid: {exc}", reason="malformed") from None
    issued, expires = body["iat"], body["exp"]
    if not isinstance(issued, int) or not isinstance(expires, int) or isinstance(issued, bool) \
            or isinstance(expires, bool) or not 0 < expires - issued <= MAX_TOKEN_LIFETIME_SECONDS:
        raise LaunchTokenError("the launch token's lifetime is not valid for a launch", reason="malformed")
    current = now.timestamp()
    if current >= expires + leeway_seconds or issued > current + leeway_seconds:
        raise LaunchTokenError("the launch token has expired (or the computer's clock is wrong)", reason="expired")
    learner_id = body.get("sub")
    if not isinstance(learner_id, str) or not learner_id.strip():
        raise LaunchTokenError("the LMS gave no learner id", reason="bad_learner")
    if len(learner_id) > MAX_LEARNER_ID_CHARS:
        raise LaunchTokenError(f"the LMS learner id is longer than {MAX_LEARNER_ID_CHARS} characters",
                               reason="bad_learner")
    raw_name = body.get("name")
    name = " ".join(raw_name.split())[:MAX_LEARNER_NAME_CHARS] if isinstance(raw_name, str) else ""
    generation = body.get("gen")
    if not isinstance(generation, int) or isinstance(generation, bool):
        raise LaunchTokenError("the launch token names no package generation", reason="malformed")
    token_id = body.get("jti")
    if not isinstance(token_id, str) or not MIN_TOKEN_ID_CHARS <= len(token_id) <= MAX_TOKEN_ID_CHARS \
            or not token_id.isascii() or not token_id.isprintable():
        raise LaunchTokenError("the launch token has no valid id (jti)", reason="malformed")
    return LaunchClaims(
        package_key=package_key, generation=generation, learner_id=learner_id.strip(), learner_name=name or None,
        page_origin=_text(body.get("org")), referrer_origin=_text(body.get("ref")),
        issued_at=issued, expires_at=expires, token_id=token_id,
    )


def _text(value: Any) -> str | None:
    return value[:300] if isinstance(value, str) and value else None

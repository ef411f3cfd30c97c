"""The tool's own RSA signing keys: made on first need, encrypted at rest, rotated by CLI.

- A key is generated the first time one is needed (the first JWKS request, the first signature).
  Two processes doing that at once still end with one active key: creation and rotation run
  under a table lock (PostgreSQL) or SQLite's single writer (``BEGIN IMMEDIATE``), and re-check
  for an active key once they hold it.
- The private key PEM is encrypted at rest by ``store.encryption`` (Fernet under a key derived
  from ``KEY_ENCRYPTION_KEY`` when set, otherwise from ``SECRET_KEY``; decryption tries both, so
  setting ``KEY_ENCRYPTION_KEY`` later keeps existing keys readable). Changing ``SECRET_KEY``
  without a ``KEY_ENCRYPTION_KEY`` makes the stored private keys unreadable: restore the old
  value, or run ``lti-tool keys rotate`` (a new key is made; LMSs fetch the new JWKS by itself).
- ``rotate_keys`` adds a new key and retires the previous one; a retired key stays in the JWKS
  for ``TOOL_KEY_OVERLAP_DAYS`` so tokens signed just before the rotation still verify. The
  signing key is always the newest active key.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from lti_tool.lti.models import ToolKey
from store import encryption
from store.base import require_aware, utcnow
from store.errors import StoreError

KEY_SIZE = 2048
ALGORITHM = "RS256"


class ToolKeyUnreadable(StoreError):
    reason = "tool_key_unreadable"


# ---------------------------------------------------------------- encryption at rest


def encrypt_secret(settings: Settings, plaintext: str) -> str:
    """Encrypt a secret for storage (tool private keys, cached service tokens)."""
    try:
        return encryption.encrypt(settings, plaintext, context=encryption.LTI_SECRETS)
    except encryption.SecretUnreadable as exc:
        raise ToolKeyUnreadable(exc.message) from None


def decrypt_secret(settings: Settings, ciphertext: str) -> str:
    """Decrypt what ``encrypt_secret`` made; ``ToolKeyUnreadable`` when the keys changed."""
    try:
        return encryption.decrypt(settings, ciphertext, context=encryption.LTI_SECRETS)
    except encryption.SecretUnreadable:
        raise ToolKeyUnreadable(
            "a stored secret cannot be decrypted: SECRET_KEY (or KEY_ENCRYPTION_KEY) changed since it was "
            "stored. Restore the previous value, or run `lti-tool keys rotate` to make a new signing key"
        ) from None


# ---------------------------------------------------------------- keys


class SigningKey(NamedTuple):
    """The key to sign with: ``kid, pem = current_signing_key(...)``."""

    kid: str
    private_key_pem: str

    @property
    def private_key(self) -> rsa.RSAPrivateKey:
        key = serialization.load_pem_private_key(self.private_key_pem.encode("ascii"), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return key

    def sign(self, claims: dict[str, Any], headers: dict[str, Any] | None = None) -> str:
        """An RS256 JWT with this key's ``kid`` in the header."""
        return jwt.encode(claims, self.private_key_pem, algorithm=ALGORITHM,
                          headers={**(headers or {}), "kid": self.kid})


@dataclass(frozen=True)
class ToolKeyView:
    kid: str
    created_at: datetime
    retired_at: datetime | None
    state: str  # "signing" | "active" | "retired" (still published) | "expired" (not published)
    published_until: datetime | None  # for retired keys: when it leaves the JWKS


@dataclass(frozen=True)
class RotationResult:
    new_kid: str
    retired_kids: tuple[str, ...]
    purged_kids: tuple[str, ...]


def _new_key_row(settings: Settings, now: datetime) -> ToolKey:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)
    pem = private_key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    ).decode("ascii")
    kid = secrets.token_urlsafe(16)
    jwk = RSAAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
    public_jwk = {"kty": "RSA", "e": jwk["e"], "n": jwk["n"], "kid": kid, "alg": ALGORITHM, "use": "sig"}
    return ToolKey(kid=kid, private_key_encrypted=encrypt_secret(settings, pem), public_jwk=public_jwk,
                   created_at=now, retired_at=None)


def _lock_keys(session: Session) -> None:
    """Serialize key creation and rotation. SQLite transactions here start with BEGIN IMMEDIATE
    (one writer at a time), so only PostgreSQL needs an explicit lock. SHARE ROW EXCLUSIVE
    conflicts with itself and with writers, not with readers of the JWKS."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE lti_tool_keys IN SHARE ROW EXCLUSIVE MODE"))


def _newest_active(session: Session) -> ToolKey | None:
    return session.scalars(
        select(ToolKey).where(ToolKey.retired_at.is_(None)).order_by(ToolKey.created_at.desc(), ToolKey.id.desc())
    ).first()


def ensure_tool_key(sessions: sessionmaker[Session], settings: Settings, now: datetime | None = None) -> str:
    """The kid of the active signing key, creating the first key if there is none."""
    now = require_aware(now or utcnow())
    with sessions() as session:
        found = _newest_active(session)
        if found is not None:
            return found.kid
    candidate = _new_key_row(settings, now)  # the slow part, outside any lock
    with sessions.begin() as session:
        _lock_keys(session)
        found = _newest_active(session)  # another process may have won meanwhile
        if found is not None:
            return found.kid
        session.add(candidate)
        session.flush()
        return candidate.kid


def rotate_keys(sessions: sessionmaker[Session], settings: Settings, now: datetime | None = None) -> RotationResult:
    """Add a new signing key, retire the active one(s), and delete keys whose overlap ended."""
    now = require_aware(now or utcnow())
    candidate = _new_key_row(settings, now)
    overlap = timedelta(days=settings.tool_key_overlap_days)
    with sessions.begin() as session:
        _lock_keys(session)
        retired = tuple(session.scalars(select(ToolKey.kid).where(ToolKey.retired_at.is_(None))))
        session.execute(update(ToolKey).where(ToolKey.retired_at.is_(None)).values(retired_at=now))
        expired = tuple(session.scalars(select(ToolKey.kid).where(ToolKey.retired_at < now - overlap)))
        if expired:
            session.execute(delete(ToolKey).where(ToolKey.kid.in_(expired)))
        session.add(candidate)
        session.flush()
        return RotationResult(candidate.kid, retired, expired)


def current_signing_key(sessions: sessionmaker[Session], settings: Settings,
                        now: datetime | None = None) -> SigningKey:
    """The newest active key (made on first need), decrypted. ``ToolKeyUnreadable`` when the
    encryption secret changed."""
    found: tuple[str, str] | None = None
    for _ in range(2):
        with sessions() as session:
            row = _newest_active(session)
            found = (row.kid, row.private_key_encrypted) if row is not None else None
        if found is not None:
            break
        ensure_tool_key(sessions, settings, now)  # first need: make the first key
    if found is None:
        raise ToolKeyUnreadable("no active tool key could be made")
    return SigningKey(found[0], decrypt_secret(settings, found[1]))


def public_jwks(sessions: sessionmaker[Session], settings: Settings, now: datetime | None = None) -> dict[str, Any]:
    """``{"keys": [...]}``: the active key(s) and retired keys still inside the overlap period,
    newest first (made on first need)."""
    now = require_aware(now or utcnow())
    published_after = now - timedelta(days=settings.tool_key_overlap_days)
    query = (
        select(ToolKey.public_jwk, ToolKey.retired_at)
        .where((ToolKey.retired_at.is_(None)) | (ToolKey.retired_at > published_after))
        .order_by(ToolKey.created_at.desc(), ToolKey.id.desc())
    )
    with sessions() as session:
        rows = session.execute(query).all()
    if not any(retired_at is None for _, retired_at in rows):
        ensure_tool_key(sessions, settings, now)  # first need: make the first key
        with sessions() as session:
            rows = session.execute(query).all()
    return {"keys": [dict(jwk) for jwk, _ in rows]}


def list_keys(sessions: sessionmaker[Session], settings: Settings, now: datetime | None = None) -> list[ToolKeyView]:
    """Every stored key, newest first, with whether it signs and until when it is published."""
    now = require_aware(now or utcnow())
    overlap = timedelta(days=settings.tool_key_overlap_days)
    with sessions() as session:
        rows = session.scalars(select(ToolKey).order_by(ToolKey.created_at.desc(), ToolKey.id.desc())).all()
        views = []
        signing_seen = False
        for row in rows:
            if row.retired_at is None:
                state = "active" if signing_seen else "signing"
                signing_seen = True
                views.append(ToolKeyView(row.kid, row.created_at, None, state, None))
            else:
                until = row.retired_at + overlap
                views.append(ToolKeyView(row.kid, row.created_at, row.retired_at,
                                         "retired" if until > now else "expired", until))
        return views

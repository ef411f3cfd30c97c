"""The demo platform's RSA signing key: generated once by ``cryptography``, stored encrypted in
``app_secrets`` (with the tool keys' at-rest encryption), and read by every app process, so a
login started on one process and a launch verified on another agree on it.

Two processes generating at the same time both insert with ON CONFLICT DO NOTHING and then read
the one row that won. When the stored key can no longer be decrypted (SECRET_KEY and
KEY_ENCRYPTION_KEY changed), a new key replaces it: the tool meets an unknown ``kid`` at the next
demo launch and refetches the demo platform's JWKS by itself. This key signs demo launches only.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from lti_tool.lti.keys import ToolKeyUnreadable, decrypt_secret, encrypt_secret
from lti_tool.lti.models import AppSecret
from store.base import utcnow
from store.database import upsert_insert

SECRET_NAME = "demo_platform_rsa_key"
# (ciphertext, the secrets that decrypt it) → key: decrypting and parsing once per process.
_loaded: dict[tuple[str, str, str], rsa.RSAPrivateKey] = {}


def _new_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode("ascii")


def _stored(sessions: sessionmaker[Session]) -> str | None:
    with sessions() as session:
        return session.scalars(select(AppSecret.value_encrypted).where(AppSecret.name == SECRET_NAME)).first()


def demo_private_key(sessions: sessionmaker[Session], settings: Settings, now: datetime | None = None) -> rsa.RSAPrivateKey:
    """The demo platform's RSA-2048 key, made on first use."""
    ciphertext = _stored(sessions)
    if ciphertext is None:
        with sessions.begin() as session:
            session.execute(
                upsert_insert(session)(AppSecret)
                .values(name=SECRET_NAME, value_encrypted=encrypt_secret(settings, _new_key_pem()),
                        created_at=now or utcnow())
                .on_conflict_do_nothing(index_elements=["name"])
            )
        ciphertext = _stored(sessions)
        assert ciphertext is not None
    cache_key = (ciphertext, settings.key_encryption_key, settings.secret_key)
    if cache_key in _loaded:
        return _loaded[cache_key]
    try:
        pem = decrypt_secret(settings, ciphertext)
    except ToolKeyUnreadable:
        with sessions.begin() as session:
            session.execute(update(AppSecret).where(AppSecret.name == SECRET_NAME, AppSecret.value_encrypted == ciphertext)
                            .values(value_encrypted=encrypt_secret(settings, _new_key_pem())))
        return demo_private_key(sessions, settings, now)
    key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    _loaded[cache_key] = key
    return key


def key_id(private_key: rsa.RSAPrivateKey) -> str:
    modulus = private_key.public_key().public_numbers().n
    return "demo-" + hashlib.sha256(modulus.to_bytes(256, "big")).hexdigest()[:16]

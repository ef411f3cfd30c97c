"""Secrets at rest (pure: no database, no I/O; the caller stores the result): the one
definition of how the product encrypts what it stores secretly (the tool's private signing keys,
cached LMS access tokens, the demo LMS key, dispatch package secrets).

Fernet (AES-128-CBC + HMAC-SHA256) under a key derived with HKDF-SHA256 from
``KEY_ENCRYPTION_KEY`` when it is set, else from ``SECRET_KEY``. New values are encrypted with
the ``KEY_ENCRYPTION_KEY``-derived key when there is one; decryption tries both, so setting
``KEY_ENCRYPTION_KEY`` later keeps existing values readable. Each kind of secret uses its own
``context`` (the HKDF salt), so a value of one kind never decrypts as another.
"""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from config import Settings
from store.errors import StoreError

# The contexts in use (changing one makes its stored values unreadable).
LTI_SECRETS = b"lti-tool/encryption-at-rest/v1"
DISPATCH_SECRETS = b"scorm-packages/dispatch-secret/v1"


class SecretUnreadable(StoreError):
    """A stored secret cannot be decrypted: the keys it was encrypted with are gone."""

    reason = "secret_unreadable"


@lru_cache(maxsize=32)
def _derive(material: str, context: bytes, purpose: bytes) -> Fernet:
    """The Fernet of a key, context and purpose (derived once per process: an export encrypts
    tens of thousands of package secrets)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=context, info=purpose)
    return Fernet(base64.urlsafe_b64encode(hkdf.derive(material.encode("utf-8"))))


def _fernet(settings: Settings, context: bytes) -> MultiFernet:
    keys = []
    if settings.key_encryption_key:
        keys.append(_derive(settings.key_encryption_key, context, b"kek"))
    if settings.secret_key:
        keys.append(_derive(settings.secret_key, context, b"secret-key"))
    if not keys:
        raise SecretUnreadable("neither KEY_ENCRYPTION_KEY nor SECRET_KEY is set: nothing to encrypt secrets with")
    return MultiFernet(keys)


def encrypt(settings: Settings, plaintext: str, *, context: bytes) -> str:
    return _fernet(settings, context).encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(settings: Settings, ciphertext: str, *, context: bytes) -> str:
    """What ``encrypt`` made with the same context; ``SecretUnreadable`` when the keys changed
    (or the value was never one of ours)."""
    try:
        return _fernet(settings, context).decrypt(ciphertext.encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError, UnicodeError):
        raise SecretUnreadable("a stored secret cannot be decrypted: SECRET_KEY or KEY_ENCRYPTION_KEY changed "
                               "since it was stored") from None

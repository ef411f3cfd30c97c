"""Encryption at rest of the tool's secrets (no database)."""

from __future__ import annotations

import pytest

from config import load_settings
from lti_tool.lti.keys import ToolKeyUnreadable, decrypt_secret, encrypt_secret

PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"


def settings(**overrides: str):  # type: ignore[no-untyped-def]
    return load_settings({"ENV": "test", "SECRET_KEY": "s" * 40, **overrides})


def test_round_trip_and_the_ciphertext_does_not_contain_the_plaintext() -> None:
    s = settings()
    token = encrypt_secret(s, PEM)
    assert "PRIVATE KEY" not in token and "MIIEvQ" not in token
    assert decrypt_secret(s, token) == PEM
    assert encrypt_secret(s, PEM) != token  # random IV each time


def test_changing_the_secret_key_makes_old_secrets_unreadable_with_a_recovery_hint() -> None:
    token = encrypt_secret(settings(), PEM)
    with pytest.raises(ToolKeyUnreadable) as raised:
        decrypt_secret(settings(SECRET_KEY="t" * 40), token)
    assert "lti-tool keys rotate" in raised.value.message and raised.value.reason == "tool_key_unreadable"


def test_key_encryption_key_is_used_when_set_and_is_independent_of_secret_key() -> None:
    with_kek = settings(KEY_ENCRYPTION_KEY="k" * 40)
    token = encrypt_secret(with_kek, PEM)
    # SECRET_KEY may change freely once KEY_ENCRYPTION_KEY is set
    assert decrypt_secret(settings(SECRET_KEY="u" * 40, KEY_ENCRYPTION_KEY="k" * 40), token) == PEM
    with pytest.raises(ToolKeyUnreadable):
        decrypt_secret(settings(), token)  # the SECRET_KEY-derived key alone cannot read it
    with pytest.raises(ToolKeyUnreadable):
        decrypt_secret(settings(KEY_ENCRYPTION_KEY="j" * 40), token)


def test_setting_a_key_encryption_key_later_keeps_old_secrets_readable() -> None:
    old = encrypt_secret(settings(), PEM)
    assert decrypt_secret(settings(KEY_ENCRYPTION_KEY="k" * 40), old) == PEM


def test_garbage_is_unreadable_not_a_crash() -> None:
    with pytest.raises(ToolKeyUnreadable):
        decrypt_secret(settings(), "not-a-fernet-token")

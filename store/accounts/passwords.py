"""Password hashes: Argon2id through argon2-cffi (the maintained binding of the reference
implementation), with its default parameters (RFC 9106's low-memory profile: 64 MiB, 3 passes,
4 lanes). A hash records its own parameters, so raising them later only rehashes at the next
sign-in (``needs_rehash``)."""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    try:
        return _HASHER.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


@functools.cache
def _dummy_hash() -> str:
    return _HASHER.hash("no login has this password: it only costs the same time")


def verify_nothing(password: str) -> None:
    """Spend what verifying a real password costs, for an unknown email address: sign-in then
    takes as long whether the address has a login or not."""
    verify_password(_dummy_hash(), password)

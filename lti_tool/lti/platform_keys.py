"""Platform public keys (JWKS), cached in the database for every app process.

A launch names its signing key by ``kid``. The key set of the registration's ``key_set_url`` is
read from ``LtiPlatformKeySet``; it is fetched over HTTP (``store.outbound``: total deadline, no
redirects, size cap, public addresses only in production) when missing or older than
``lti_platform_jwks_ttl_seconds``, and refetched when the ``kid`` is not in it (Brightspace
rotates keys often) — at most once per registration per ``lti_jwks_refetch_interval_seconds``,
claimed with one guarded UPDATE of ``lti_registrations.jwks_refetched_at`` so every process
sees it: a token with a random ``kid`` cannot make the tool fetch on every launch. Fetches
happen outside any transaction; the result is upserted.

Each process also keeps the keys it has used in memory (``cached_platform_key``) for at most
``MEMORY_SECONDS`` and never past the stored copy's own TTL, so a launch usually verifies its
token without a statement. Only the one-transaction launch reads that memory; when its key does
not verify, the launch is decided again by the path above, which reads the database and
refreshes the memory (a key the platform replaced is trusted by a process at most
``MEMORY_SECONDS`` longer).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.lti.errors import unauthorized
from lti_tool.lti.models import LtiPlatformKeySet, LtiRegistration
from store.database import upsert_insert
from store.outbound import OutboundClient, OutboundError

log = logging.getLogger(__name__)

JwksFetcher = Callable[[str], dict[str, Any]]
MEMORY_SECONDS = 60.0
MEMORY_MAX_ENTRIES = 1_000
_memory: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}
_memory_lock = threading.Lock()


def cached_platform_key(key_set_url: str, kid: str) -> dict[str, Any] | None:
    """The key this process last used for (key set URL, kid), if still fresh; never a fetch."""
    found = _memory.get((key_set_url, kid))
    return found[1] if found is not None and found[0] > time.monotonic() else None


def _remember(key_set_url: str, kid: str, key: dict[str, Any], seconds_left: float) -> dict[str, Any]:
    with _memory_lock:
        if len(_memory) >= MEMORY_MAX_ENTRIES:
            _memory.clear()
        _memory[(key_set_url, kid)] = (time.monotonic() + max(0.0, min(MEMORY_SECONDS, seconds_left)), key)
    return key


class KeySetFetchError(Exception):
    """The key set could not be had; the message is safe to show (no exception details)."""


def jwks_fetcher(client: OutboundClient) -> JwksFetcher:
    """A fetcher that GETs a JWKS document through ``client``."""

    def fetch(url: str) -> dict[str, Any]:
        try:
            response = client.get(url, headers={"Accept": "application/json, application/jwk-set+json"})
        except OutboundError as exc:
            raise KeySetFetchError(f"{url}: {exc.message}") from None
        if response.status != 200:
            raise KeySetFetchError(f"{url} answered HTTP {response.status}")
        try:
            data = response.json()
        except ValueError:
            raise KeySetFetchError(f"{url} did not answer JSON") from None
        if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
            raise KeySetFetchError(f"{url} did not answer a JWKS (an object with a 'keys' list)")
        return data

    return fetch


def _find_kid(jwks: dict[str, Any], kid: str) -> dict[str, Any] | None:
    for key in jwks.get("keys", []):
        if isinstance(key, dict) and key.get("kid") == kid:
            return key
    return None


def _load(sessions: sessionmaker[Session], url: str) -> tuple[dict[str, Any], datetime] | None:
    with sessions() as session:
        row = session.execute(
            select(LtiPlatformKeySet.jwks, LtiPlatformKeySet.fetched_at).where(LtiPlatformKeySet.key_set_url == url)
        ).first()
        return (row[0], row[1]) if row else None


def _store(sessions: sessionmaker[Session], url: str, jwks: dict[str, Any], now: datetime) -> None:
    with sessions.begin() as session:
        insert = upsert_insert(session)
        stmt = insert(LtiPlatformKeySet).values(key_set_url=url, jwks=jwks, fetched_at=now)
        session.execute(stmt.on_conflict_do_update(
            index_elements=["key_set_url"], set_={"jwks": stmt.excluded.jwks, "fetched_at": stmt.excluded.fetched_at}
        ))


def _claim_refetch(sessions: sessionmaker[Session], registration_id: int, now: datetime,
                   interval_seconds: int) -> bool:
    """Take this registration's refetch for the interval (one guarded UPDATE); False when
    another launch had it less than ``interval_seconds`` ago."""
    with sessions.begin() as session:
        taken = session.execute(
            update(LtiRegistration)
            .where(LtiRegistration.id == registration_id,
                   or_(LtiRegistration.jwks_refetched_at.is_(None),
                       LtiRegistration.jwks_refetched_at <= now - timedelta(seconds=interval_seconds)))
            .values(jwks_refetched_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
    return taken == 1


def _fetch(fetcher: JwksFetcher, url: str) -> dict[str, Any]:
    try:
        return fetcher(url)
    except KeySetFetchError as exc:
        log.warning("platform JWKS fetch failed: %s", exc)
        raise unauthorized(
            "key_set_unavailable",
            f"The platform's public keys could not be fetched to verify the launch: {exc}.",
            "Check the registration's key set URL (`lti-tool platform list`) and that the LMS is reachable "
            "from this server.",
        ) from None


def _unknown_kid(kid: str, key_set_url: str, jwks: dict[str, Any], when: str) -> Exception:
    known = ", ".join(repr(k.get("kid")) for k in jwks["keys"] if isinstance(k, dict)) or "none"
    return unauthorized(
        "unknown_kid",
        f"The launch token is signed with key id '{kid}', which the platform's key set at {key_set_url} "
        f"does not contain ({when}; it lists {known}).",
        "The LMS may be misconfigured or the token forged. Check the registration's key set URL.",
    )


def find_platform_key(sessions: sessionmaker[Session], registration_id: int, key_set_url: str, kid: str,
                      now: datetime, ttl_seconds: int, refetch_interval_seconds: int,
                      fetcher: JwksFetcher) -> dict[str, Any]:
    """The platform's public JWK named ``kid``; fetches/refetches as described above.

    Raises a 401 LaunchError when the key set cannot be fetched, or has no such ``kid`` after
    one refetch, or when the refetch was used up less than the interval ago.
    """
    cached = _load(sessions, key_set_url)
    fresh = cached is not None and cached[1] > now - timedelta(seconds=ttl_seconds)
    if cached is not None and fresh:
        key = _find_kid(cached[0], kid)
        if key is not None:
            return _remember(key_set_url, kid, key, (cached[1] + timedelta(seconds=ttl_seconds) - now).total_seconds())
        if not _claim_refetch(sessions, registration_id, now, refetch_interval_seconds):
            log.warning("kid %r not in the cached JWKS of %s; refetched less than %ss ago: refused without a fetch",
                        kid, key_set_url, refetch_interval_seconds)
            raise _unknown_kid(kid, key_set_url, cached[0],
                               f"fetched at {cached[1]:%H:%M:%S} UTC; it is refetched at most once every "
                               f"{refetch_interval_seconds} seconds")
        log.info("kid %r not in the cached JWKS of %s: refetching once", kid, key_set_url)
    jwks = _fetch(fetcher, key_set_url)
    _store(sessions, key_set_url, jwks, now)
    key = _find_kid(jwks, kid)
    if key is None:
        raise _unknown_kid(kid, key_set_url, jwks, "fetched just now")
    return _remember(key_set_url, kid, key, ttl_seconds)

"""Platform public keys (JWKS), cached in the database for every app process.

A launch names its signing key by ``kid``. The key set of the registration's ``key_set_url`` is
read from ``LtiPlatformKeySet``; it is fetched over HTTP when missing or older than
``lti_platform_jwks_ttl_seconds``, and refetched once when the ``kid`` is not in it (Brightspace
rotates keys often). Fetches happen outside any transaction; the result is upserted.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.lti.errors import unauthorized
from lti_tool.lti.models import LtiPlatformKeySet
from store.database import upsert_insert

log = logging.getLogger(__name__)

FETCH_TIMEOUT_SECONDS = (3.05, 5.0)  # connect, read
MAX_JWKS_BYTES = 512 * 1024

JwksFetcher = Callable[[str], dict[str, Any]]


class KeySetFetchError(Exception):
    pass


def fetch_jwks(url: str) -> dict[str, Any]:
    """GET a JWKS document; raises KeySetFetchError with a readable reason."""
    if not url.startswith(("https://", "http://")):
        raise KeySetFetchError(f"the key set URL {url!r} is not an http(s) URL")
    try:
        with requests.get(url, timeout=FETCH_TIMEOUT_SECONDS, stream=True,
                          headers={"Accept": "application/json, application/jwk-set+json"}) as resp:
            if resp.status_code != 200:
                raise KeySetFetchError(f"{url} answered HTTP {resp.status_code}")
            body = resp.raw.read(MAX_JWKS_BYTES + 1, decode_content=True)
    except requests.RequestException as exc:
        raise KeySetFetchError(f"{url} could not be fetched: {exc.__class__.__name__}") from exc
    if len(body) > MAX_JWKS_BYTES:
        raise KeySetFetchError(f"{url} answered more than {MAX_JWKS_BYTES} bytes")
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise KeySetFetchError(f"{url} did not answer JSON") from exc
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise KeySetFetchError(f"{url} did not answer a JWKS (an object with a 'keys' list)")
    return data


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
        ) from exc


def find_platform_key(sessions: sessionmaker[Session], key_set_url: str, kid: str, now: datetime,
                      ttl_seconds: int, fetcher: JwksFetcher = fetch_jwks) -> dict[str, Any]:
    """The platform's public JWK named ``kid``; fetches/refetches as described above.

    Raises a 401 LaunchError when the key set cannot be fetched or has no such ``kid`` even
    after one refetch.
    """
    cached = _load(sessions, key_set_url)
    fresh = cached is not None and cached[1] > now - timedelta(seconds=ttl_seconds)
    if cached is not None and fresh:
        key = _find_kid(cached[0], kid)
        if key is not None:
            return key
        log.info("kid %r not in the cached JWKS of %s: refetching once", kid, key_set_url)
    jwks = _fetch(fetcher, key_set_url)
    _store(sessions, key_set_url, jwks, now)
    key = _find_kid(jwks, kid)
    if key is None:
        known = ", ".join(repr(k.get("kid")) for k in jwks["keys"] if isinstance(k, dict)) or "none"
        raise unauthorized(
            "unknown_kid",
            f"The launch token is signed with key id '{kid}', which the platform's key set at {key_set_url} "
            f"does not contain (fetched just now; it lists {known}).",
            "The LMS may be misconfigured or the token forged. Check the registration's key set URL.",
        )
    return key

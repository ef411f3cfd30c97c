"""Grades back to the LMS (LTI Assignment and Grade Services).

- **Outbox**: ``enqueue_score`` writes an ``LtiScorePost`` row inside the caller's transaction;
  ``send_pending_scores`` posts due rows after the commit, never inside a transaction. 429, 5xx
  and network errors are retried with exponential backoff (``Retry-After`` honoured) up to
  ``AGS_MAX_ATTEMPTS``, then the row is ``failed`` with the last error. Other 4xx answers fail
  at once. A 401 drops the cached access token and retries once with a new one.
- **Access tokens**: OAuth2 client credentials with a ``private_key_jwt`` client assertion signed
  with the tool key, cached in ``lti_service_tokens`` per (issuer, client id, token URL, scopes)
  — two registrations of one issuer never share a token — and reused until shortly before
  they expire. Tokens are encrypted at rest like the tool keys.
- **Line items**: when the launch carried no ``lineitem`` (Canvas sometimes ignores the one
  given in deep linking), the first score finds the line item of the resource link through
  ``lineitems`` (following ``rel="next"`` pages) or creates it (score maximum 100, label = the
  course title), and remembers it on the outbox rows.
- **Progress listener**: ``make_progress_listener(app)`` turns player ``ProgressEvent``s of
  launches that carry the AGS claim with the score scope into score posts, then sends them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from lti_tool.lti import keys
from lti_tool.lti.models import LtiLaunch, LtiRegistration, LtiScorePost, LtiServiceToken
from store.base import require_aware, utcnow
from store.catalog.models import Course
from store import outbound
from store.database import upsert_insert
from store.outbound import OutboundError, OutboundResponse
from store.text import printable

log = logging.getLogger(__name__)

AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
RESOURCE_LINK_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/resource_link"
CUSTOM_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/custom"
SCOPE_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCOPE_LINEITEM_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
SCOPE_RESULT_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
SCOPE_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
# What the tool asks for when registered (Canvas JSON, Dynamic Registration).
AGS_SCOPES = (SCOPE_LINEITEM, SCOPE_SCORE, SCOPE_RESULT_READONLY)

SCORE_MEDIA_TYPE = "application/vnd.ims.lis.v1.score+json"
LINEITEM_MEDIA_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
LINEITEM_CONTAINER_MEDIA_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

TOKEN_REUSE_MARGIN = timedelta(seconds=60)  # get a new token this long before the old one expires
DEFAULT_TOKEN_LIFETIME = 300  # when the platform sends no expires_in
BACKOFF_BASE_SECONDS = 15
BACKOFF_MAX_SECONDS = 3600
SEND_LEASE = timedelta(minutes=5)  # a row being sent is not picked by another sender meanwhile
LINEITEM_SCORE_MAXIMUM = 100
MAX_LINEITEM_PAGES = 20
MAX_ERROR_LENGTH = 1000
LINEITEM_SPEC_KEY = "_lineitem"  # kept with the outbox row's payload, never sent


# ---------------------------------------------------------------- plumbing


class Clock(Protocol):
    def now(self) -> datetime: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return utcnow()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class ServiceError(Exception):
    """A failed call to an LMS service. ``retryable``: worth trying again later."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after


class HttpClient(Protocol):
    """What the AGS client needs of ``store.outbound.OutboundClient`` (total deadline, no
    redirects, size cap, public addresses only in production)."""

    def get(self, url: str, **kwargs: Any) -> OutboundResponse: ...

    def post(self, url: str, **kwargs: Any) -> OutboundResponse: ...


def _retryable_status(status: int) -> bool:
    return status == 429 or status >= 500


def _retry_after(response: OutboundResponse, now: datetime) -> float | None:
    value = response.header("Retry-After")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _error_from(response: OutboundResponse, what: str, now: datetime) -> ServiceError:
    body = printable((response.text or "")[:300])  # LMS text: stored in last_error, logged, printed by the CLI
    return ServiceError(f"{what}: HTTP {response.status} {body}".strip(),
                        retryable=_retryable_status(response.status), status=response.status,
                        retry_after=_retry_after(response, now))


def _call(what: str, func: Callable[[], OutboundResponse]) -> OutboundResponse:
    """The answer; a ServiceError when there is none. Connection failures and timeouts are worth
    retrying; a redirect, an answer too large or a refused address or URL are not."""
    try:
        return func()
    except OutboundError as exc:
        raise ServiceError(f"{what}: {exc.message} [{exc.reason}]", retryable=exc.reason in ("unreachable", "timeout")) \
            from None


def with_path_suffix(url: str, suffix: str) -> str:
    """``<lineitem>/scores`` keeping the line item URL's query string (some LMSs put the line
    item id there)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + suffix, parts.query, ""))


def with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


# ---------------------------------------------------------------- access tokens


@dataclass(frozen=True)
class Platform:
    """What the AGS client needs of a registration."""

    registration_id: int
    issuer: str
    client_id: str
    auth_token_url: str
    auth_audience: str | None


def _platform(session: Session, registration_id: int) -> Platform | None:
    reg = session.get(LtiRegistration, registration_id)
    if reg is None:
        return None
    return Platform(reg.id, reg.issuer, reg.client_id, reg.auth_token_url, reg.auth_audience)


def token_cache_key(issuer: str, client_id: str, token_url: str, scopes: Iterable[str]) -> str:
    """One cached token per (issuer, client id, token URL, scopes)."""
    material = json.dumps([issuer, client_id, token_url, sorted(set(scopes))], separators=(",", ":"))
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def client_assertion(sessions: sessionmaker[Session], settings: Settings, platform: Platform,
                     now: datetime) -> str:
    """The ``private_key_jwt`` client assertion (RFC 7523) signed with the tool key."""
    issued = int(now.timestamp())
    claims = {
        "iss": platform.client_id,
        "sub": platform.client_id,
        "aud": platform.auth_audience or platform.auth_token_url,
        "iat": issued,
        "exp": issued + 300,
        "jti": uuid.uuid4().hex,
    }
    return keys.current_signing_key(sessions, settings, now).sign(claims)


def get_access_token(sessions: sessionmaker[Session], settings: Settings, platform: Platform,
                     scopes: Iterable[str], now: datetime, http: HttpClient) -> str:
    """A cached token still valid for a while, or a new one from the platform's token URL."""
    scopes = sorted(set(scopes))
    cache_key = token_cache_key(platform.issuer, platform.client_id, platform.auth_token_url, scopes)
    with sessions() as session:
        row = session.scalars(select(LtiServiceToken).where(LtiServiceToken.cache_key == cache_key)).first()
        cached = (row.access_token, row.expires_at) if row is not None else None
    if cached is not None and cached[1] - TOKEN_REUSE_MARGIN > now:
        try:
            return keys.decrypt_secret(settings, cached[0])
        except keys.ToolKeyUnreadable:
            pass  # encrypted under an old secret: fetch a new one

    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": client_assertion(sessions, settings, platform, now),
        "scope": " ".join(scopes),
    }
    what = f"access token from {platform.auth_token_url}"
    response = _call(what, lambda: http.post(platform.auth_token_url, form=form, headers={"Accept": "application/json"}))
    if not response.ok:
        error = _error_from(response, what, now)
        error.retryable = True  # a key the LMS has not fetched yet, a tool not yet enabled: retry later
        raise error
    try:
        body = response.json()
        token = body["access_token"]
        if not isinstance(token, str) or not token:
            raise ValueError("empty access_token")
    except (ValueError, KeyError, TypeError) as exc:
        raise ServiceError(f"{what}: unreadable answer ({exc})", retryable=True) from exc
    try:
        lifetime = int(body.get("expires_in") or DEFAULT_TOKEN_LIFETIME)
    except (TypeError, ValueError):
        lifetime = DEFAULT_TOKEN_LIFETIME
    _store_token(sessions, settings, cache_key, token, now + timedelta(seconds=max(lifetime, 0)))
    return token


def _store_token(sessions: sessionmaker[Session], settings: Settings, cache_key: str, token: str,
                 expires_at: datetime) -> None:
    with sessions.begin() as session:
        insert = upsert_insert(session)
        stmt = insert(LtiServiceToken).values(cache_key=cache_key, access_token=keys.encrypt_secret(settings, token),
                                              expires_at=expires_at)
        session.execute(stmt.on_conflict_do_update(
            index_elements=["cache_key"],
            set_={"access_token": stmt.excluded.access_token, "expires_at": stmt.excluded.expires_at},
        ))


def drop_access_token(sessions: sessionmaker[Session], platform: Platform, scopes: Iterable[str]) -> None:
    cache_key = token_cache_key(platform.issuer, platform.client_id, platform.auth_token_url, scopes)
    with sessions.begin() as session:
        session.execute(delete(LtiServiceToken).where(LtiServiceToken.cache_key == cache_key))


def _authorized(sessions: sessionmaker[Session], settings: Settings, platform: Platform, scopes: list[str],
                now: datetime, http: HttpClient, what: str,
                send: Callable[[str], OutboundResponse]) -> OutboundResponse:
    """Call ``send(token)``; on 401 drop the cached token and try once more with a new one."""
    token = get_access_token(sessions, settings, platform, scopes, now, http)
    response = _call(what, lambda: send(token))
    if response.status == 401:
        drop_access_token(sessions, platform, scopes)
        token = get_access_token(sessions, settings, platform, scopes, now, http)
        response = _call(what, lambda: send(token))
    return response


# ---------------------------------------------------------------- line items


def _lineitem_spec(payload: dict[str, Any]) -> dict[str, Any]:
    spec = payload.get(LINEITEM_SPEC_KEY)
    return spec if isinstance(spec, dict) else {}


def _matches(item: dict[str, Any], spec: dict[str, Any]) -> bool:
    if spec.get("resourceLinkId") and item.get("resourceLinkId") not in (None, spec["resourceLinkId"]):
        return False
    for key in ("resourceId", "tag"):
        if spec.get(key) and item.get(key) != spec[key]:
            return False
    return bool(item.get("id"))


_NEXT_LINK = re.compile(r'<([^>]*)>\s*;\s*rel="?next"?', re.IGNORECASE)


def find_or_create_lineitem(sessions: sessionmaker[Session], settings: Settings, platform: Platform,
                            lineitems_url: str, spec: dict[str, Any], now: datetime, http: HttpClient) -> str:
    """The line item URL for this resource link: found in ``lineitems`` or created there."""
    scopes = [SCOPE_LINEITEM]
    # Look for an existing line item only when it can be told apart from the tool's others.
    url: str | None = lineitems_url if spec.get("resourceId") or spec.get("resourceLinkId") else None
    if spec.get("resourceLinkId"):
        url = with_query(lineitems_url, {"resource_link_id": str(spec["resourceLinkId"])})
    for _ in range(MAX_LINEITEM_PAGES):
        if not url:
            break
        page_url = url
        response = _authorized(sessions, settings, platform, scopes, now, http, f"line items at {page_url}",
                               lambda token: http.get(page_url, headers={
                                   "Authorization": f"Bearer {token}", "Accept": LINEITEM_CONTAINER_MEDIA_TYPE}))
        if not response.ok:
            raise _error_from(response, f"line items at {page_url}", now)
        try:
            items = response.json()
        except ValueError:
            items = []
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict) and _matches(item, spec):
                return str(item["id"])
        match = _NEXT_LINK.search(response.header("Link") or "")
        url = match.group(1) if match else None

    body = {"scoreMaximum": LINEITEM_SCORE_MAXIMUM, "label": spec.get("label") or "Course"}
    for key in ("resourceId", "tag", "resourceLinkId"):
        if spec.get(key):
            body[key] = spec[key]
    response = _authorized(sessions, settings, platform, scopes, now, http, f"new line item at {lineitems_url}",
                           lambda token: http.post(lineitems_url, body=json.dumps(body),
                                                   headers={"Authorization": f"Bearer {token}",
                                                            "Content-Type": LINEITEM_MEDIA_TYPE,
                                                            "Accept": LINEITEM_MEDIA_TYPE}))
    if not response.ok:
        raise _error_from(response, f"new line item at {lineitems_url}", now)
    try:
        created = response.json()
        return str(created["id"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ServiceError(f"new line item at {lineitems_url}: answer without an id ({exc})", retryable=True) from exc


def _remember_lineitem(session: Session, registration_id: int, lineitems_url: str, spec: dict[str, Any],
                       lineitem_url: str) -> None:
    rows = session.scalars(select(LtiScorePost).where(
        LtiScorePost.registration_id == registration_id, LtiScorePost.lineitems_url == lineitems_url,
        LtiScorePost.lineitem_url == "", LtiScorePost.status == "pending")).all()
    for row in rows:
        if _lineitem_spec(row.payload) == spec:
            row.lineitem_url = lineitem_url


def _known_lineitem(session: Session, registration_id: int, lineitems_url: str, spec: dict[str, Any]) -> str | None:
    rows = session.scalars(select(LtiScorePost).where(
        LtiScorePost.registration_id == registration_id, LtiScorePost.lineitems_url == lineitems_url,
        LtiScorePost.lineitem_url != "").order_by(LtiScorePost.id.desc()).limit(200)).all()
    for row in rows:
        if _lineitem_spec(row.payload) == spec:
            return row.lineitem_url
    return None


# ---------------------------------------------------------------- outbox


def enqueue_score(session: Session, registration_id: int, seat_id: int | None, lineitem_url: str | None,
                  lineitems_url: str | None, payload: dict[str, Any], *, now: datetime | None = None,
                  lineitem_spec: dict[str, Any] | None = None) -> int:
    """Add a score post to the outbox inside the caller's transaction; returns its id.

    ``payload`` is the AGS score (``userId``, ``scoreGiven``, ``activityProgress``, …). Without a
    ``lineitem_url``, ``lineitems_url`` and ``lineitem_spec`` (label, resourceId, tag,
    resourceLinkId) say how to find or create the line item at the first send. A pending post
    for the same user and line item that was not sent yet is replaced (the newer score wins).
    """
    now = require_aware(now or utcnow())
    if not lineitem_url and not lineitems_url:
        raise ValueError("a score post needs a line item URL or a line items URL")
    if not payload.get("userId"):
        raise ValueError("a score needs a userId")
    lineitem_url = lineitem_url or ""
    stored = dict(payload)
    spec = dict(lineitem_spec or {})
    if not lineitem_url:
        stored[LINEITEM_SPEC_KEY] = spec
        lineitem_url = _known_lineitem(session, registration_id, lineitems_url or "", spec) or ""
    superseded = [
        row.id for row in session.scalars(select(LtiScorePost).where(
            LtiScorePost.registration_id == registration_id, LtiScorePost.status == "pending",
            LtiScorePost.lineitems_url == lineitems_url if not lineitem_url else LtiScorePost.lineitem_url == lineitem_url))
        if row.payload.get("userId") == payload["userId"]
        and (lineitem_url or _lineitem_spec(row.payload) == spec)
    ]
    if superseded:
        session.execute(delete(LtiScorePost).where(LtiScorePost.id.in_(superseded)))
    row = LtiScorePost(registration_id=registration_id, seat_id=seat_id, lineitem_url=lineitem_url,
                       lineitems_url=lineitems_url, payload=stored, status="pending", attempts=0,
                       next_attempt_at=now, created_at=now)
    session.add(row)
    session.flush()
    return row.id


@dataclass(frozen=True)
class SendReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0


@dataclass(frozen=True)
class _Claimed:
    id: int
    registration_id: int
    lineitem_url: str
    lineitems_url: str | None
    payload: dict[str, Any]
    attempts: int


def backoff_seconds(attempts: int) -> float:
    """Delay before the next try after ``attempts`` failed tries: 15 s, 30 s, 60 s, … ≤ 1 h."""
    return float(min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_MAX_SECONDS))


def _due_ids(session: Session, now: datetime, only_ids: Iterable[int] | None, limit: int = 100) -> list[int]:
    query = select(LtiScorePost.id).where(LtiScorePost.status == "pending", LtiScorePost.next_attempt_at <= now)
    if only_ids is not None:
        query = query.where(LtiScorePost.id.in_(list(only_ids)))
    return list(session.scalars(query.order_by(LtiScorePost.next_attempt_at, LtiScorePost.id).limit(limit)))


def _claim(sessions: sessionmaker[Session], post_id: int, now: datetime) -> _Claimed | None:
    """Take a due row with one guarded UPDATE (a concurrent sender gets rowcount 0)."""
    with sessions.begin() as session:
        taken = session.execute(
            update(LtiScorePost)
            .where(LtiScorePost.id == post_id, LtiScorePost.status == "pending", LtiScorePost.next_attempt_at <= now)
            .values(next_attempt_at=now + SEND_LEASE)
            .execution_options(synchronize_session=False)
        ).rowcount
        if taken != 1:
            return None
        row = session.get(LtiScorePost, post_id)
        assert row is not None
        return _Claimed(row.id, row.registration_id, row.lineitem_url, row.lineitems_url, dict(row.payload),
                        row.attempts)


def _finish(sessions: sessionmaker[Session], settings: Settings, post: _Claimed, now: datetime,
            error: ServiceError | None) -> str:
    attempts = post.attempts + 1
    with sessions.begin() as session:
        row = session.get(LtiScorePost, post.id)
        if row is None or row.status != "pending":
            return "gone"  # replaced by a newer score or removed meanwhile
        row.attempts = attempts
        if error is None:
            row.status, row.sent_at, row.last_error = "sent", now, None
            return "sent"
        row.last_error = str(error)[:MAX_ERROR_LENGTH]
        if not error.retryable or attempts >= settings.ags_max_attempts:
            row.status = "failed"
            log.warning("score post %s failed after %s attempt(s): %s", post.id, attempts, row.last_error)
            return "failed"
        delay = max(backoff_seconds(attempts), min(error.retry_after or 0.0, BACKOFF_MAX_SECONDS))
        row.next_attempt_at = now + timedelta(seconds=delay)
        return "retrying"


def _send_one(sessions: sessionmaker[Session], settings: Settings, post: _Claimed, now: datetime,
              http: HttpClient) -> None:
    with sessions() as session:
        platform = _platform(session, post.registration_id)
    if platform is None:
        raise ServiceError("the registration was removed", retryable=False)
    lineitem_url = post.lineitem_url
    spec = _lineitem_spec(post.payload)
    if not lineitem_url:
        if not post.lineitems_url:
            raise ServiceError("no line item and no line items URL", retryable=False)
        lineitem_url = find_or_create_lineitem(sessions, settings, platform, post.lineitems_url, spec, now, http)
        with sessions.begin() as session:
            row = session.get(LtiScorePost, post.id)
            if row is not None:
                row.lineitem_url = lineitem_url
            _remember_lineitem(session, post.registration_id, post.lineitems_url, spec, lineitem_url)
    body = {k: v for k, v in post.payload.items() if k != LINEITEM_SPEC_KEY}
    scores_url = with_path_suffix(lineitem_url, "/scores")
    what = f"score post to {scores_url}"
    response = _authorized(sessions, settings, platform, [SCOPE_SCORE], now, http, what,
                           lambda token: http.post(scores_url, body=json.dumps(body),
                                                   headers={"Authorization": f"Bearer {token}",
                                                            "Content-Type": SCORE_MEDIA_TYPE}))
    if not response.ok:
        raise _error_from(response, what, now)


def send_pending_scores(sessions: sessionmaker[Session], settings: Settings, now: datetime | None = None,
                        http: HttpClient | None = None, *, clock: Clock | None = None, wait_seconds: float = 0,
                        only_ids: Iterable[int] | None = None) -> SendReport:
    """Post due score posts (call it after the commit that enqueued them).

    One pass by default; with ``wait_seconds`` it sleeps (``clock.sleep``) until the next retry is
    due and goes on, for at most that long. ``only_ids`` limits it to some rows (the listener
    sends what it just enqueued; ``lti-tool ags flush`` sends everything due).
    """
    clock = clock or SystemClock()
    current = require_aware(now or clock.now())
    deadline = current + timedelta(seconds=wait_seconds)
    only = list(only_ids) if only_ids is not None else None
    counts = {"sent": 0, "retrying": 0, "failed": 0, "gone": 0}
    client: HttpClient = outbound.client_for(settings) if http is None else http
    while True:
        with sessions() as session:
            due = _due_ids(session, current, only)
        for post_id in due:
            post = _claim(sessions, post_id, current)
            if post is None:
                continue
            error: ServiceError | None = None
            try:
                _send_one(sessions, settings, post, current, client)
            except ServiceError as exc:
                error = exc
            except keys.ToolKeyUnreadable as exc:
                error = ServiceError(str(exc), retryable=True)
            except Exception as exc:  # noqa: BLE001 - one bad row must not stop the others
                log.exception("score post %s: unexpected error", post.id)
                error = ServiceError(f"unexpected error: {exc!r}", retryable=True)
            counts[_finish(sessions, settings, post, current, error)] += 1
        with sessions() as session:
            query = select(LtiScorePost.next_attempt_at).where(LtiScorePost.status == "pending")
            if only is not None:
                query = query.where(LtiScorePost.id.in_(only))
            next_due = session.scalar(query.order_by(LtiScorePost.next_attempt_at).limit(1))
        if next_due is None or next_due > deadline:
            break
        if next_due > current:
            clock.sleep((next_due - current).total_seconds())
        current = max(require_aware(clock.now()), next_due)
    with sessions() as session:
        query = select(LtiScorePost.id).where(LtiScorePost.status == "pending")
        if only is not None:
            query = query.where(LtiScorePost.id.in_(only))
        still_pending = len(session.scalars(query).all())
    return SendReport(sent=counts["sent"], retrying=still_pending, failed=counts["failed"])


@dataclass(frozen=True)
class ScorePostView:
    id: int
    registration_id: int
    status: str
    attempts: int
    lineitem_url: str
    lineitems_url: str | None
    user_id: str | None
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


def list_score_posts(sessions: sessionmaker[Session], status: str | None = None, limit: int = 50) -> list[ScorePostView]:
    with sessions() as session:
        query = select(LtiScorePost).order_by(LtiScorePost.id.desc()).limit(limit)
        if status is not None:
            query = query.where(LtiScorePost.status == status)
        return [ScorePostView(r.id, r.registration_id, r.status, r.attempts, r.lineitem_url, r.lineitems_url,
                              r.payload.get("userId"), r.next_attempt_at, r.last_error, r.created_at, r.sent_at)
                for r in session.scalars(query)]


# ---------------------------------------------------------------- from player progress to a score


def _iso(value: datetime) -> str:
    return require_aware(value).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def build_score(event: Any, user_id: str, now: datetime) -> dict[str, Any]:
    """The AGS score for a player ``ProgressEvent`` (duck-typed: completion_status, score_raw,
    score_max, score_scaled, occurred_at)."""
    completed = getattr(event, "completion_status", None) == "completed"
    score: dict[str, Any] = {
        "userId": user_id,
        "timestamp": _iso(getattr(event, "occurred_at", None) or now),
        "activityProgress": "Completed" if completed else "InProgress",
        "gradingProgress": "FullyGraded" if completed else "Pending",
    }
    raw, maximum, scaled = (getattr(event, name, None) for name in ("score_raw", "score_max", "score_scaled"))
    maximum = float(maximum) if maximum not in (None, 0) and float(maximum) > 0 else float(LINEITEM_SCORE_MAXIMUM)
    given: float | None = None
    if raw is not None:
        given = float(raw)
    elif scaled is not None:
        given = float(scaled) * maximum
    if given is not None:
        score["scoreGiven"] = min(max(given, 0.0), maximum)
        score["scoreMaximum"] = maximum
    return score


def _same_score(a: dict[str, Any], b: dict[str, Any]) -> bool:
    fields = ("userId", "scoreGiven", "scoreMaximum", "activityProgress", "gradingProgress")
    return all(a.get(f) == b.get(f) for f in fields)


def _course_title(session: Session, course_ref: Any) -> tuple[str | None, str | None]:
    """(title, catalog id) of the event's course: a courses.id or a catalog id."""
    course = None
    if isinstance(course_ref, int):
        course = session.get(Course, course_ref)
    elif isinstance(course_ref, str) and course_ref:
        course = session.scalars(select(Course).where(Course.catalog_id == course_ref)).first()
    return (course.title, course.catalog_id) if course is not None else (None, None)


def enqueue_progress_score(sessions: sessionmaker[Session], event: Any, now: datetime | None = None) -> int | None:
    """One transaction: when the event's launch carries the AGS claim with the score scope,
    add its score to the outbox. Returns the post id, or None (no AGS, or nothing changed)."""
    now = require_aware(now or utcnow())
    launch_id = getattr(event, "launch_id", None)
    if not launch_id:
        return None  # not an LTI launch (SCORM dispatch)
    with sessions.begin() as session:
        launch = session.get(LtiLaunch, str(launch_id))
        if launch is None:
            return None
        claims = launch.claims or {}
        endpoint = claims.get(AGS_CLAIM)
        if not isinstance(endpoint, dict) or SCOPE_SCORE not in (endpoint.get("scope") or []):
            return None
        user_id = claims.get("sub")
        if not user_id:
            return None  # anonymous launch: nobody to grade
        lineitem = endpoint.get("lineitem") or None
        lineitems = endpoint.get("lineitems") or None
        if not lineitem and not (lineitems and SCOPE_LINEITEM in (endpoint.get("scope") or [])):
            return None
        payload = build_score(event, str(user_id), now)
        last = session.scalars(
            select(LtiScorePost).where(
                LtiScorePost.registration_id == launch.registration_id,
                LtiScorePost.status.in_(("pending", "sent")),
                LtiScorePost.lineitem_url == lineitem if lineitem else LtiScorePost.lineitems_url == lineitems,
            ).order_by(LtiScorePost.id.desc()).limit(50)
        ).all()
        spec: dict[str, Any] | None = None
        if not lineitem:
            title, catalog_id = _course_title(session, event.catalog_id)
            custom = claims.get(CUSTOM_CLAIM) or {}
            link = claims.get(RESOURCE_LINK_CLAIM) or {}
            spec = {
                "label": title or link.get("title") or "Course",
                "resourceId": catalog_id or str(custom.get("course_id") or "") or None,
                "tag": str(custom.get("license_type") or "") or "grade",
                "resourceLinkId": link.get("id"),
            }
            spec = {k: v for k, v in spec.items() if v}
        for row in last:
            if row.payload.get("userId") != payload["userId"]:
                continue
            if spec is not None and _lineitem_spec(row.payload) != spec:
                continue
            if _same_score(row.payload, payload):
                return None  # nothing new for the LMS
            break
        return enqueue_score(session, launch.registration_id, getattr(event, "seat_id", None), lineitem, lineitems,
                             payload, now=now, lineitem_spec=spec)


def make_progress_listener(sessions: sessionmaker[Session], settings: Settings,
                           http_factory: Callable[[], HttpClient] | None = None) -> Callable[[Any], None]:
    """The LTI launch origin's progress listener (registered by ``create_app``): enqueue (one transaction),
    then send right away after the commit; what fails waits for the retry (``lti-tool ags flush``)."""

    def on_progress(event: Any) -> None:
        try:
            post_id = enqueue_progress_score(sessions, event)
            if post_id is None:
                return
            http = http_factory() if http_factory is not None else None
            send_pending_scores(sessions, settings, http=http, only_ids=[post_id])
        except Exception:  # noqa: BLE001 - grade passback must never break the learner's page
            log.exception("grade passback for launch %s failed", getattr(event, "launch_id", None))

    on_progress.__name__ = "ags_on_progress"
    return on_progress

"""Player tokens: a signed, expiring grant to play one course under one seat, with no cookie.

The launch (LTI, later SCORM dispatch) issues a token and sends the browser to
``/play?t=TOKEN``; the page's script then sends it as ``Authorization: Bearer TOKEN`` on every
API call (and in the body of ``navigator.sendBeacon``, which cannot set headers). The token is
signed with the app's secret key (itsdangerous, HMAC-SHA1 with a purpose-specific salt, so no
other signed value of the app can pass for one) and carries its own expiry. It is a bearer
credential: player responses set ``Referrer-Policy: no-referrer`` so it does not leak.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from itsdangerous import BadData, URLSafeSerializer

from config import Settings

SALT = "lti_tool.player.token.v1"
ORIGINS = ("lti", "dispatch", "login", "invite")
MAX_TOKEN_CHARS = 2000


@dataclass(frozen=True)
class PlayerGrant:
    seat_id: int
    catalog_id: str  # catalog id
    learner_id: int
    launch_id: str | None  # the LtiLaunch id (LTI) or the dispatch launch's id; None if none
    origin: str  # "lti", "dispatch", "login" (an independent learner's My courses) or "invite" (an emailed link)
    issued_at: datetime
    expires_at: datetime
    # LTI: the launch's registration, so the page's frame-ancestors need no read of the launch.
    registration_id: int | None = None


class PlayerTokenError(Exception):
    """A missing, malformed, tampered or expired player token. ``reason`` is one of
    ``missing``, ``invalid``, ``expired``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _serializer(settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(settings.secret_key, salt=SALT)


def issue_player_token(settings: Settings, *, seat_id: int, catalog_id: str, learner_id: int,
                       launch_id: str | None, origin: str, now: datetime | None = None,
                       registration_id: int | None = None) -> str:
    """A token for ``/play?t=...`` valid ``settings.player_token_ttl_seconds`` from ``now``."""
    if origin not in ORIGINS:
        raise ValueError(f"origin must be one of {', '.join(ORIGINS)}, got {origin!r}")
    if not catalog_id:
        raise ValueError("catalog_id must be the course's catalog id")
    issued = int((now or datetime.now(UTC)).timestamp())
    payload = {
        "s": int(seat_id), "c": catalog_id, "l": int(learner_id), "k": launch_id, "o": origin,
        "iat": issued, "exp": issued + int(settings.player_token_ttl_seconds),
    }
    if registration_id is not None:
        payload["r"] = int(registration_id)
    return _serializer(settings).dumps(payload)


def verify_player_token(settings: Settings, token: str | None, now: datetime | None = None) -> PlayerGrant:
    """The grant a token carries, or PlayerTokenError."""
    if not token:
        raise PlayerTokenError("missing", "No course player token was given.")
    if len(token) > MAX_TOKEN_CHARS:
        raise PlayerTokenError("invalid", "The course player token is malformed.")
    try:
        data = _serializer(settings).loads(token)
    except BadData:
        raise PlayerTokenError("invalid", "The course player token is not valid (altered, or signed by "
                                          "another server).") from None
    try:
        grant = PlayerGrant(
            seat_id=_int(data["s"]), catalog_id=_str(data["c"]), learner_id=_int(data["l"]),
            launch_id=None if data["k"] is None else _str(data["k"]), origin=_str(data["o"]),
            issued_at=datetime.fromtimestamp(_int(data["iat"]), UTC),
            expires_at=datetime.fromtimestamp(_int(data["exp"]), UTC),
            registration_id=_int(data["r"]) if "r" in data else None,
        )
    except (KeyError, TypeError, ValueError, OverflowError):
        raise PlayerTokenError("invalid", "The course player token is malformed.") from None
    if grant.origin not in ORIGINS:
        raise PlayerTokenError("invalid", "The course player token is malformed.")
    if (now or datetime.now(UTC)) >= grant.expires_at:
        raise PlayerTokenError("expired", "This course player link has expired.")
    return grant


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("not an int")
    return value


def _str(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError("not a string")
    return value

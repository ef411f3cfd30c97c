"""Web sessions without cookies: a Flask ``SessionInterface`` backed by the ``web_sessions`` table.

Pages inside an LMS iframe cannot count on cookies (third-party cookies are blocked by Safari,
Chrome's tracking protection and many managed browsers), so the session token travels with the
page: the ``s`` query argument, the ``s`` form field or an ``X-Session`` header. On HTTPS the
token is also set as a ``SameSite=None; Secure; Partitioned`` cookie, used when present.

Pages an independent learner opens top-level on the tool's own site (sign-in, the store outside an
LMS) start their session with ``regenerate(data, top_level=True)``: on HTTPS its cookie is then a
first-party ``SameSite=Lax; Secure; HttpOnly`` one (``TOP_COOKIE_NAME``, preferred over the
partitioned cookie when both arrive). Over plain http (development, tests) the token in links and
forms carries it, as everywhere. ``end()`` ends a session (sign-out): its row is deleted and its
cookies cleared.

Only ``sha256(token)`` is stored. Templates keep the token in links and forms with
``url_for_s(endpoint, **values)`` and ``session_field()``; Flask-WTF's CSRF token lives in the
session like any other key, so ``{{ csrf_token() }}`` works unchanged.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from flask import Flask, Request, Response, request, session, url_for
from flask.sessions import SessionInterface, SessionMixin
from markupsafe import Markup, escape
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.datastructures import CallbackDict

from config import Settings
from lti_tool.lti.models import WebSession
from store.base import utcnow

TOKEN_ARG = "s"
TOKEN_HEADER = "X-Session"
COOKIE_NAME = "lti_session"
TOP_COOKIE_NAME = "lti_session_top"  # first-party, SameSite=Lax: sessions of top-level pages
TOP_LEVEL_KEY = "top_level"  # in a session's data: it was started top-level (see regenerate)
MAX_TOKEN_CHARS = 100


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class DbSession(CallbackDict, SessionMixin):  # type: ignore[type-arg]
    """Session data plus its token. A new session gets its token at once (so a page can put it in
    links before the response is saved) but is stored only if it holds data at the end."""

    def __init__(self, data: dict[str, Any] | None = None, token: str | None = None, *, stored: bool = False) -> None:
        def on_update(_self: Any) -> None:
            self.modified = True

        super().__init__(data or {}, on_update)
        self.token = token or secrets.token_urlsafe(32)
        self.stored = stored
        self.modified = False
        self.new = not stored
        self.ended = False

    def regenerate(self, data: dict[str, Any], *, top_level: bool = False) -> None:
        """Start a fresh session (new token) holding ``data``: used after a launch or a sign-in, so
        a token someone planted in a URL never gains the identity. ``top_level``: a session of
        pages opened on the tool's own site (not in an LMS frame): its cookie is first-party."""
        self.token = secrets.token_urlsafe(32)
        self.stored = False
        self.new = True
        self.ended = False
        self.clear()
        self.update(data)
        if top_level:
            self[TOP_LEVEL_KEY] = True
        self.modified = True

    def end(self) -> None:
        """End this session (sign-out): its stored row is deleted and its cookies are cleared
        when the response is saved; its token then opens nothing."""
        self.clear()
        self.ended = True
        self.modified = True

    @property
    def is_top_level(self) -> bool:
        return self.get(TOP_LEVEL_KEY) is True


def session_ttl(settings: Settings) -> timedelta:
    # Pages inside the LMS stay usable as long as a course player link does.
    return timedelta(seconds=settings.player_token_ttl_seconds)


class DbSessionInterface(SessionInterface):
    """``create_app`` sets one as ``app.session_interface``, with the app's settings and sessions."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session]) -> None:
        self._settings = settings
        self._sessions = sessions

    def _is_https(self, request: Request) -> bool:
        return request.is_secure or self._settings.public_base_url.startswith("https://")

    def _token_from(self, request: Request) -> str | None:
        token = request.args.get(TOKEN_ARG) or request.headers.get(TOKEN_HEADER)
        if not token and request.method == "POST" and request.mimetype in (
            "application/x-www-form-urlencoded", "multipart/form-data"
        ):
            token = request.form.get(TOKEN_ARG)
        if not token and self._is_https(request):
            # A first-party session cookie (never sent inside an LMS frame: SameSite=Lax) wins
            # over the partitioned one an anonymous page of the same site may have left.
            token = request.cookies.get(TOP_COOKIE_NAME) or request.cookies.get(COOKIE_NAME)
        if not token or len(token) > MAX_TOKEN_CHARS:
            return None
        return token

    def open_session(self, app: Flask, request: Request) -> DbSession:
        token = self._token_from(request)
        if token is None:
            return DbSession()
        with self._sessions() as db:
            data = db.scalars(
                select(WebSession.data).where(WebSession.id == token_hash(token), WebSession.expires_at > utcnow())
            ).first()
        if data is None:
            return DbSession()  # unknown or expired: a fresh, empty session
        return DbSession(dict(data), token, stored=True)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:  # type: ignore[override]
        if not isinstance(session, DbSession) or not session.modified:
            return
        if session.ended:
            if session.stored:
                with self._sessions.begin() as db:
                    db.execute(delete(WebSession).where(WebSession.id == token_hash(session.token)))
                session.stored = False
            if self._is_https(request):
                response.delete_cookie(TOP_COOKIE_NAME, path="/", secure=True, httponly=True, samesite="Lax")
                response.delete_cookie(COOKIE_NAME, path="/", secure=True, httponly=True, samesite="None",
                                       partitioned=True)
            return
        if not session.stored and not session:
            return
        now = utcnow()
        with self._sessions.begin() as db:
            if session.stored:
                db.execute(update(WebSession).where(WebSession.id == token_hash(session.token))
                           .values(data=dict(session)))
            else:
                db.add(WebSession(id=token_hash(session.token), data=dict(session), created_at=now,
                                  expires_at=now + session_ttl(self._settings)))
        session.stored = True
        if self._is_https(request):
            max_age = int(session_ttl(self._settings).total_seconds())
            if session.is_top_level:
                response.set_cookie(TOP_COOKIE_NAME, session.token, max_age=max_age, path="/", secure=True,
                                    httponly=True, samesite="Lax")
            else:
                response.set_cookie(COOKIE_NAME, session.token, max_age=max_age, path="/", secure=True, httponly=True,
                                    samesite="None", partitioned=True)


def end_sessions(sessions: sessionmaker[Session], key: str, value: int) -> int:
    """Delete every stored session whose data holds ``key: value`` (e.g. every session of a
    login whose password was just reset); returns how many."""
    with sessions.begin() as db:
        result = db.execute(delete(WebSession).where(WebSession.data[key].as_integer() == value))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


# ---------------------------------------------------------------- template helpers


def current_token() -> str | None:
    return session.token if isinstance(session, DbSession) and not session.ended else None


def url_for_s(endpoint: str, **values: Any) -> str:
    """``url_for`` that keeps the session token (``s``) in the link."""
    if isinstance(session, DbSession) and not session.ended and (session.stored or session):
        values.setdefault(TOKEN_ARG, session.token)
    return url_for(endpoint, **values)


def session_field() -> Markup:
    """A hidden ``s`` field carrying the session token, for forms."""
    token = current_token()
    if not token:
        return Markup("")
    return Markup('<input type="hidden" name="{}" value="{}">').format(TOKEN_ARG, escape(token))


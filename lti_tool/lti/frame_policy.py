"""The security headers of every response, and ``Content-Security-Policy: frame-ancestors`` per
launch.

Every response gets ``X-Content-Type-Options: nosniff``. Every HTML page gets a content security
policy: ``BASE_POLICY`` (scripts, styles, images, fetches only from the tool itself; no plugins, no
``<base>``), merged with whatever directives the view set (a view's own directive wins, e.g. the
demo LMS's ``frame-src``), plus ``frame-ancestors`` as follows.

An HTML page of the tool may be framed by the tool itself and by the LMS of the launch it
belongs to: the origins of that registration's issuer, login URL and ``extra_origins``. Which
registration a page belongs to comes from the request: the web session of a launch
(``session["registration_id"]``), or what a view has just learned (``note_registration``: the
login knows it from ``iss``/``client_id``, the launch from its login state). So one customer's
registration never widens another customer's policy, and the header stays a few origins long.

- A page with no registration is framed by the tool only (``'self'``) — except an error page
  (status 400 and up), which may be shown in any frame (``*``): it carries no action to hijack,
  and the learner inside an LMS frame must read why a launch failed.
- A view that sets its own ``frame-ancestors`` (the course player, dispatch pages) keeps it.

Origins per registration are cached in the process for a few seconds (the database stays the
source of truth; a changed registration is picked up after ``CACHE_SECONDS``).
"""

from __future__ import annotations

import re
import threading
import time
from functools import lru_cache

from flask import Response, g, session
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.lti.login import origin_of
from lti_tool.lti.models import LtiLaunch, LtiRegistration

BASE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
               "object-src 'none'; base-uri 'none'")
CACHE_SECONDS = 30.0
CACHE_MAX_ENTRIES = 10_000
_G_KEY = "frame_registration_id"
# A CSP source for an extra origin: scheme://host[:port], host may start with "*." (no paths,
# no spaces or semicolons that could smuggle other directives).
_SOURCE = re.compile(r"^https?://(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*(:\d{1,5})?$")


def registration_origins(issuer: str | None, login_url: str | None, extra: object) -> tuple[str, ...]:
    """The frame origins of one registration: its issuer's and login URL's origins and the valid
    ``extra_origins`` entries."""
    found: set[str] = set()
    for url in (issuer, login_url):
        origin = origin_of(url or "")
        if origin:
            found.add(origin)
    for item in extra if isinstance(extra, list) else []:
        if isinstance(item, str):
            candidate = item.strip().rstrip("/").lower()
            if _SOURCE.match(candidate):
                found.add(candidate)
    return tuple(sorted(found))


class FramePolicy:
    """Who may frame a page, per registration (read from the database, cached briefly)."""

    def __init__(self, read_sessions: sessionmaker[Session]) -> None:
        self._sessions = read_sessions
        self._lock = threading.Lock()
        self._cache: dict[int, tuple[float, tuple[str, ...]]] = {}

    def origins_for_registration(self, registration_id: int) -> tuple[str, ...]:
        cached = self._cache.get(registration_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        with self._sessions() as db:
            row = db.execute(
                select(LtiRegistration.issuer, LtiRegistration.auth_login_url, LtiRegistration.extra_origins)
                .where(LtiRegistration.id == registration_id)
            ).first()
        origins = registration_origins(*row) if row is not None else ()
        with self._lock:
            if len(self._cache) >= CACHE_MAX_ENTRIES:
                self._cache.clear()
            self._cache[registration_id] = (time.monotonic() + CACHE_SECONDS, origins)
        return origins

    def origins_for_lti_launch(self, launch_id: str | None) -> tuple[str, ...]:
        """The frame origins of a stored LTI launch's registration (none for an unknown launch)."""
        if not launch_id:
            return ()
        with self._sessions() as db:
            registration_id = db.scalar(select(LtiLaunch.registration_id).where(LtiLaunch.id == launch_id))
        return self.origins_for_registration(registration_id) if registration_id is not None else ()

    def apply(self, response: Response) -> Response:
        """After each request: ``nosniff`` everywhere; on HTML responses the base policy merged
        with the view's own directives, and frame-ancestors unless the view named its own."""
        response.headers.pop("X-Frame-Options", None)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if response.mimetype != "text/html":
            return response
        view_policy = response.headers.get("Content-Security-Policy", "")
        frame_ancestors = (None if "frame-ancestors" in _directives(view_policy)
                           else " ".join(self._sources(response.status_code)))
        response.headers["Content-Security-Policy"] = _merged_policy(view_policy, frame_ancestors)
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    def _sources(self, status: int) -> tuple[str, ...]:
        registration_id = g.get(_G_KEY)
        if registration_id is None:
            registration_id = session.get("registration_id")
        if isinstance(registration_id, int):
            return ("'self'", *self.origins_for_registration(registration_id))
        return ("*",) if status >= 400 else ("'self'",)


# The merged header is a pure function of the view's policy and the frame-ancestors sources: made
# once per distinct pair, not parsed and joined again on every response.
@lru_cache(maxsize=1024)
def _directives(view_policy: str) -> dict[str, str]:
    """The base policy's directives updated with the view's own (cached: callers only read it)."""
    directives = parse_policy(BASE_POLICY)
    directives.update(parse_policy(view_policy))
    return directives


@lru_cache(maxsize=1024)
def _merged_policy(view_policy: str, frame_ancestors: str | None) -> str:
    """The base policy merged with the view's own directives; ``frame_ancestors`` added when the
    view named none."""
    directives = _directives(view_policy)
    if "frame-ancestors" not in directives and frame_ancestors is not None:
        directives = {**directives, "frame-ancestors": frame_ancestors}
    return "; ".join(f"{name} {value}".strip() for name, value in directives.items())


def parse_policy(policy: str) -> dict[str, str]:
    """``"a x; b y"`` → ``{"a": "x", "b": "y"}`` in order (directive names lowercased)."""
    out: dict[str, str] = {}
    for part in policy.split(";"):
        name, _, value = part.strip().partition(" ")
        if name:
            out[name.lower()] = value.strip()
    return out


def note_registration(registration_id: int) -> None:
    """A view tells the policy which registration this response belongs to (before the web
    session knows it: the login and the launch itself)."""
    setattr(g, _G_KEY, registration_id)

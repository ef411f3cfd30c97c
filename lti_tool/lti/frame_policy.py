"""``Content-Security-Policy: frame-ancestors`` for every HTML page: the tool may be framed by
itself and by the registered LMSs (origins of each registration's issuer, login URL and
``extra_origins``). The origin list is read from the database and cached per app process for
a few seconds, so a new registration is allowed everywhere shortly after it is added."""

from __future__ import annotations

import re
import threading
import time

from flask import Flask, Response
from sqlalchemy import select

from lti_tool.lti.login import origin_of
from lti_tool.lti.models import LtiRegistration

CACHE_SECONDS = 30.0
EXTENSION_KEY = "lti_frame_origins"
# A CSP source for an extra origin: scheme://host[:port], host may start with "*." (no paths,
# no spaces or semicolons that could smuggle other directives).
_SOURCE = re.compile(r"^https?://(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*(:\d{1,5})?$")


class FrameOrigins:
    """Per-process cache of the allowed frame ancestors (the database is the source of truth)."""

    def __init__(self, app: Flask) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._value: tuple[float, tuple[str, ...]] | None = None

    def get(self) -> tuple[str, ...]:
        cached = self._value
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        with self._lock:
            origins = self._load()
            self._value = (time.monotonic() + CACHE_SECONDS, origins)
            return origins

    def _load(self) -> tuple[str, ...]:
        with self._app.extensions["sessions"]() as session:
            rows = session.execute(
                select(LtiRegistration.issuer, LtiRegistration.auth_login_url, LtiRegistration.extra_origins)
            ).all()
        found: set[str] = set()
        for issuer, login_url, extra in rows:
            for url in (issuer, login_url):
                origin = origin_of(url or "")
                if origin:
                    found.add(origin)
            for item in extra or []:
                if isinstance(item, str):
                    candidate = item.strip().rstrip("/").lower()
                    if _SOURCE.match(candidate):
                        found.add(candidate)
        return tuple(sorted(found))


def frame_ancestors(app: Flask) -> str:
    origins: FrameOrigins = app.extensions[EXTENSION_KEY]
    return " ".join(("frame-ancestors", "'self'", *origins.get()))


def apply(app: Flask, response: Response) -> Response:
    """Set frame-ancestors on HTML responses (merging into a CSP a view already set)."""
    response.headers.pop("X-Frame-Options", None)
    if response.mimetype != "text/html":
        return response
    policy = response.headers.get("Content-Security-Policy")
    if policy and "frame-ancestors" in policy:
        return response
    directive = frame_ancestors(app)
    response.headers["Content-Security-Policy"] = f"{policy.rstrip('; ')}; {directive}" if policy else directive
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def install(app: Flask) -> None:
    app.extensions[EXTENSION_KEY] = FrameOrigins(app)

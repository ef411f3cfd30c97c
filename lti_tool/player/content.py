"""Serving imported course files to the player's content frame.

A course's own pages, scripts and media load in an iframe that cannot send an Authorization
header with every request, and the player uses no cookies. So each file URL carries a
**content token** as its first path segment: ``/play/content/<token>/<path inside the package>``.
Relative links between the course's files keep working, since they all share that prefix.

The token is derived from the player grant: signed with the app's secret under its own salt
(no player token or other signed value passes for one), naming the seat, course, learner, the
package folder the learner's attempt plays and the origins that may frame the player (the
frame ancestors its launch path registered with the player, e.g. the LMS), and expiring with the
grant. Serving checks only the signature, the expiry and the folder: no database read per file.

Files are sent with ``send_from_directory`` (``safe_join``: nothing outside the package folder),
an explicit MIME type per extension, ``X-Content-Type-Options: nosniff``, no referrer (the URL
holds a bearer token) and a CSP that lets the course run its own scripts (inline and eval
included, as authoring tools need) but load nothing from other origins. ``frame-ancestors``
checks every ancestor, so it names the player's origin and the player's own ancestors (the LMS
window around it); when the player has no such rule, the files have none either.

The course's scripts run in the player's origin: that is what SCORM's API discovery needs (the
course calls ``window.parent.API``), and it means an imported package is trusted code, as in
any LMS. Only staff import packages (``lti-tool content import``).
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from itsdangerous import BadData, URLSafeSerializer

from config import Settings
from lti_tool.player.tokens import PlayerGrant
from store.content.archive import ImportLimits
from store.content.service import ContentStore

SALT = "lti_tool.player.content.v1"
MAX_TOKEN_CHARS = 3000

CONTENT_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; media-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    "frame-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action 'self'"
)


def content_csp(frame_ancestors: list[str] | None) -> str:
    """The files' CSP; ``frame_ancestors`` are the player's own (None: no rule, as the player)."""
    if frame_ancestors is None:
        return CONTENT_CSP
    return CONTENT_CSP + "; frame-ancestors " + " ".join(["'self'", *frame_ancestors])

# Explicit types for what courses ship (the platform's mime.types varies); anything else by
# the standard library's table, else application/octet-stream.
MIME_TYPES = {
    ".html": "text/html", ".htm": "text/html", ".xhtml": "application/xhtml+xml",
    ".js": "text/javascript", ".mjs": "text/javascript", ".json": "application/json", ".map": "application/json",
    ".css": "text/css", ".xml": "application/xml", ".xsd": "application/xml", ".txt": "text/plain",
    ".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
    ".webp": "image/webp", ".ico": "image/x-icon", ".bmp": "image/bmp",
    ".mp4": "video/mp4", ".m4v": "video/mp4", ".webm": "video/webm", ".ogv": "video/ogg",
    ".mp3": "audio/mpeg", ".m4a": "audio/mp4", ".wav": "audio/wav", ".ogg": "audio/ogg", ".oga": "audio/ogg",
    ".vtt": "text/vtt", ".srt": "text/plain",
    ".woff": "font/woff", ".woff2": "font/woff2", ".ttf": "font/ttf", ".otf": "font/otf", ".eot": "application/vnd.ms-fontobject",
    ".pdf": "application/pdf", ".swf": "application/x-shockwave-flash", ".wasm": "application/wasm",
    ".zip": "application/zip", ".csv": "text/csv",
}


def content_store(settings: Settings) -> ContentStore:
    """The content store the settings name (CONTENT_DIR and the CONTENT_MAX_* limits)."""
    return ContentStore(
        Path(settings.content_dir).expanduser().resolve(),
        ImportLimits(settings.content_max_bytes, settings.content_max_file_bytes, settings.content_max_files),
    )


def mime_type(path: str) -> str:
    suffix = Path(path).suffix.lower()
    return MIME_TYPES.get(suffix) or mimetypes.guess_type(path)[0] or "application/octet-stream"


@dataclass(frozen=True)
class ContentGrant:
    seat_id: int
    catalog_id: str
    learner_id: int
    content_id: int
    storage_key: str
    expires_at: datetime
    frame_ancestors: list[str] | None = None


class ContentTokenError(Exception):
    pass


def _serializer(settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(settings.secret_key, salt=SALT)


def issue_content_token(settings: Settings, grant: PlayerGrant, *, content_id: int, storage_key: str,
                        frame_ancestors: list[str] | None = None) -> str:
    """A token for the package folder the grant's attempt plays; it expires with the grant."""
    payload = {"s": grant.seat_id, "c": grant.catalog_id, "l": grant.learner_id, "v": int(content_id),
               "k": storage_key, "exp": int(grant.expires_at.timestamp()), "fa": frame_ancestors}
    return _serializer(settings).dumps(payload)


def verify_content_token(settings: Settings, token: str, now: datetime | None = None) -> ContentGrant:
    if not token or len(token) > MAX_TOKEN_CHARS:
        raise ContentTokenError("malformed")
    try:
        data = _serializer(settings).loads(token)
        grant = ContentGrant(
            seat_id=int(data["s"]), catalog_id=str(data["c"]), learner_id=int(data["l"]), content_id=int(data["v"]),
            storage_key=str(data["k"]), expires_at=datetime.fromtimestamp(int(data["exp"]), UTC),
            frame_ancestors=None if data.get("fa") is None else [str(origin) for origin in data["fa"]],
        )
    except (BadData, KeyError, TypeError, ValueError, OverflowError):
        raise ContentTokenError("invalid") from None
    if len(grant.storage_key) != 64 or any(c not in "0123456789abcdef" for c in grant.storage_key):
        raise ContentTokenError("invalid")
    if (now or datetime.now(UTC)) >= grant.expires_at:
        raise ContentTokenError("expired")
    return grant

"""The input rule (``store.text``) applied to every request, before any view (and before the CSRF
check) runs.

Checked: the path, the query string (which must be valid UTF-8), form fields (urlencoded or
multipart; the web session may have parsed them already, replacing invalid UTF-8 with U+FFFD,
which is harmless), header values (no NUL), and JSON bodies (``application/json`` or ``+json``):
a body that does not parse is refused with ``invalid_json``, and every string in it, keys
included and at any depth, must keep the rule. NUL and surrogates are refused with
``invalid_text``; nothing is echoed. The answer is a 400: JSON (``{"error", "message"}``) for JSON
requests and the player's API, otherwise a small page that may be shown in any frame (it holds
only the message).

Bodies are read here only when their length is known and at most ``MAX_CHECKED_BODY_BYTES``;
larger ones are left to the views, which refuse them (413) or check what they parse themselves
(the player's API parses any content type, since ``sendBeacon`` posts ``text/plain``).
Lengths are not checked here: they belong to the field that stores the text.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from urllib.parse import parse_qsl

from flask import Flask, Request, Response, jsonify, render_template, request

from store.text import find_invalid_text, has_invalid_text, printable, text_problem

log = logging.getLogger(__name__)

MAX_CHECKED_BODY_BYTES = 4_000_000  # above the largest body a view accepts (the player's CMI commits)
JSON_PATH_PREFIXES = ("/play/api/",)
PAGE_CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'none'; base-uri 'none'; "
            "frame-ancestors *")


@dataclass(frozen=True)
class _Page:
    """What templates/lti/error.html shows."""

    title: str
    message: str
    hint: str
    code: str
    status: int = 400


class RequestTextError(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _invalid(where: str, value: str) -> RequestTextError | None:
    problem = text_problem(value)
    return RequestTextError("invalid_text", f"{printable(where[:80])} {problem}") if problem else None


def _check_pairs(pairs: list[tuple[str, str]], what: str) -> None:
    for key, value in pairs:
        if has_invalid_text(key):
            raise RequestTextError("invalid_text", f"a {what} name {text_problem(key)}")
        if has_invalid_text(value):  # the message (and its field name) only for a refusal
            error = _invalid(f"{what} {key!r}", value)
            if error is not None:
                raise error


def _strict_pairs(raw: bytes, what: str) -> list[tuple[str, str]]:
    try:
        return parse_qsl(raw.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise RequestTextError("invalid_text", f"the {what} is not valid UTF-8") from None


def _readable(req: Request) -> bool:
    return req.content_length is not None and req.content_length <= MAX_CHECKED_BODY_BYTES


def check_request(req: Request) -> None:
    """Raise RequestTextError for the first part of ``req`` that breaks the input rule."""
    error = _invalid("the path", req.path)
    if error is not None:
        raise error
    _check_pairs(_strict_pairs(req.query_string, "query string"), "query parameter")
    for name, value in req.headers.items():
        if "\x00" in value:
            raise RequestTextError("invalid_text", f"header {printable(name[:80])} contains a NUL character")
    if req.method in ("GET", "HEAD", "OPTIONS"):
        return
    if req.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        _check_pairs(list(req.form.items(multi=True)), "form field")
        for field, upload in req.files.items(multi=True):
            if upload.filename and has_invalid_text(upload.filename):
                raise RequestTextError("invalid_text", f"the file name of {printable(field[:80])!r} "
                                                       f"{text_problem(upload.filename)}")
    elif req.is_json and _readable(req):
        _check_json(req.get_data(cache=True))


def _check_json(raw: bytes) -> None:
    if not raw.strip():
        return
    try:
        document = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise RequestTextError("invalid_json", "the request body is not valid JSON (not UTF-8)") from None
    except (ValueError, RecursionError):
        raise RequestTextError("invalid_json", "the request body is not valid JSON") from None
    problem = find_invalid_text(document)
    if problem is not None:
        raise RequestTextError("invalid_text", f"in the JSON body, {problem}")


def _wants_json(req: Request) -> bool:
    if req.is_json or req.path.startswith(JSON_PATH_PREFIXES):
        return True
    best = req.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def _refusal(error: RequestTextError) -> Response:
    if _wants_json(request):
        # "result"/"errorCode" keep SCORM runtimes calling /play/api/cmi on their error path.
        response = jsonify(error=error.reason, message=error.message, result="false")
    else:
        page = _Page("This request could not be accepted", f"The request could not be accepted: {error.message}.",
                     "Go back and try again; if it happens again, tell the site's support what you did.",
                     error.reason)
        response = Response(render_template("lti/error.html", error=page), mimetype="text/html")
        response.headers["Content-Security-Policy"] = PAGE_CSP
    response.status_code = 400
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def refuse_invalid_request_text() -> Response | None:
    try:
        check_request(request)
    except RequestTextError as error:
        log.warning("request to %s refused (%s): %s", printable(request.path[:200]), error.reason,
                    printable(error.message))
        return _refusal(error)
    return None


def install(app: Flask) -> None:
    """Run the check first among the app's before-request functions (before CSRF, sessions' use
    and every view)."""
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_invalid_request_text)

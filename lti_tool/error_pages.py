"""Every HTTP error in the house style: one template (``templates/lti/error.html``) for the app's
own refusals (``LaunchError``, the input rule) and for every error Flask or a view raises (400, 401,
403, 404, 405, 413, 429, 500…): the base layout with its ``main`` landmark, a heading, a plain
sentence and a next step (``next_step``).

The next step: inside an LMS frame (the browser says ``Sec-Fetch-Dest: iframe``, or the request
carries the web session of an LTI launch) the page says to open the tool again from the LMS, and links back to the
person's start page in the tool while the session lasts; outside a frame it links to ``/``.

JSON clients keep JSON errors: the player's API (``/play/api/``) and the dispatch runtime's JSON
endpoints answer ``{"error", "message"}`` (plus ``"result": "false"`` like the input rule's answer,
so SCORM runtimes take their error path), as their views do.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import Flask, Response, jsonify, render_template, request, session
from werkzeug.exceptions import HTTPException

from lti_tool.lti.websession import url_for_s

log = logging.getLogger(__name__)

JSON_PATH_PREFIXES = ("/play/api/", "/dispatch/")
HTML_PATHS = ("/dispatch/launch",)  # a page the package's frame shows

# status -> (title, plain sentence, what to do); the reason code is the status's short name.
_WORDING: dict[int, tuple[str, str, str]] = {
    400: ("This request could not be accepted", "The page received something it could not use.",
          "Go back and try again."),
    401: ("Your session has ended", "This page needs a session with the tool, and there is none (any more).",
          "Open the tool again."),
    403: ("This page is not open to you", "Your account may not open this page.",
          "Ask your administrator if you need it."),
    404: ("Page not found", "There is no page at this address: the link may be old or mistyped.",
          "Check the address, or start again from the tool's start page."),
    405: ("This page cannot be opened this way", "This address does not answer this kind of request.",
          "Start again from the tool's start page."),
    413: ("Too much data", "What was sent is larger than this page accepts.",
          "Send less (a smaller file or shorter text) and try again."),
    429: ("Too many requests", "Too many requests arrived from here in a short time.",
          "Wait a minute, then try again."),
    500: ("Something went wrong on our side", "The tool failed to answer this request. Nothing you did caused it, "
          "and it has been logged.", "Try again in a moment."),
    503: ("Try again in a moment", "The tool cannot answer right now.", "Try again in a moment."),
}
# Addresses that are never opened by hand: what a person who lands there should know.
_SPECIAL: dict[tuple[int, str], tuple[str, str, str]] = {
    (405, "/lti/launch"): ("Open this course from your LMS",
                           "This address only receives launches that your LMS sends when you open a course there.",
                           "Go to your LMS and open the course (or the tool) from there."),
}


@dataclass(frozen=True)
class ErrorPage:
    """What templates/lti/error.html shows (``LaunchError`` has the same attributes)."""

    status: int
    code: str
    title: str
    message: str
    hint: str | None = None


@dataclass(frozen=True)
class NextStep:
    in_lms_frame: bool
    link_url: str | None
    link_label: str | None


def _has_lti_session() -> bool:
    """A web session made by an LTI launch (a signed-in independent learner's has no launch)."""
    try:
        return isinstance(session.get("account_id"), int) and bool(session.get("launch_id"))
    except Exception:  # noqa: BLE001 - an error page must render whatever state the session is in
        return False


def is_in_lms_frame() -> bool:
    return request.headers.get("Sec-Fetch-Dest") == "iframe" or _has_lti_session()


def _session_start_url() -> tuple[str, str] | None:
    """The person's start page in the tool while their LTI web session lasts."""
    try:
        if not _has_lti_session():
            return None
        if session.get("is_admin"):
            return url_for_s("lti_launch.home"), "Back to the tool's start page"
        return url_for_s("lti_launch.my_courses"), "Back to my courses"
    except Exception:  # noqa: BLE001
        return None


def next_step() -> NextStep:
    """Where a person on an error page goes next (a template global)."""
    start = _session_start_url()
    if is_in_lms_frame():
        return NextStep(True, *(start or (None, None)))
    return NextStep(False, *(start or ("/", "Go to the start page")))


def page_for(status: int, path: str) -> ErrorPage:
    title, message, hint = _SPECIAL.get((status, path)) or _WORDING.get(status) or _WORDING[
        500 if status >= 500 else 400]
    return ErrorPage(status=status, code=f"http_{status}", title=title, message=message, hint=hint)


def wants_json(path: str) -> bool:
    return path.startswith(JSON_PATH_PREFIXES) and path not in HTML_PATHS


def render_error(page: ErrorPage) -> Response:
    if wants_json(request.path):
        response = jsonify(error=page.code, message=page.message, result="false")
    else:
        response = Response(render_template("lti/error.html", error=page), mimetype="text/html")
    response.status_code = page.status
    response.headers["Cache-Control"] = "no-store"
    return response


def render_http_error(error: HTTPException) -> Response:
    status = error.code or 500
    response = render_error(page_for(status, request.path))
    for name, value in error.get_headers():  # Allow (405), Retry-After (429, 503)
        if name != "Content-Type":
            response.headers[name] = value
    return response


def install(app: Flask) -> None:
    """Every HTTPException, and every unhandled exception (Flask wraps it in an
    InternalServerError after logging it; no detail of it reaches the page)."""
    app.register_error_handler(HTTPException, render_http_error)
    app.jinja_env.globals["next_step"] = next_step

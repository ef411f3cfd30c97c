"""The course player: ``GET /play?t=TOKEN`` and its JSON API under ``/play/api/``.

No cookies anywhere: the page gets its token from the URL, the script sends it back as
``Authorization: Bearer TOKEN`` (in the body for ``/play/api/beacon``, since
``navigator.sendBeacon`` cannot set headers). The API views are exempt from CSRF because a
bearer token, not a cookie, authenticates them. Each call re-checks the seat (still there, same
learner, admitted to the course) inside the service's transaction, and the course's content:
without imported content and with ``DEMO_CONTENT`` off it is "not available yet" (409
``content_not_available``; nothing is saved or scored).

The player knows nothing of the launch paths that use it: each registers with
``services().player`` (``lti_tool.services.PlayerHooks``) whether a grant may still play (asked on
every page load and API call: a dispatch grant is refused with 403 ``package_revoked`` once its
package is revoked), who may frame its launches' pages, what extra configuration their pages
get, and what happens after a progress commit (LTI: grade passback).

A course with imported SCORM content (``lti-tool content import``) plays in the same page: the
page loads the scorm-again runtime (``static/vendor``, installed by ``make install``) and
``js/scorm-player.js``, which starts the session (``/play/api/session`` then also returns the
runtime's starting CMI and the content URL), provides ``window.API`` / ``window.API_1484_11``
and loads the course in an iframe from ``/play/content/<content token>/...`` (see
``lti_tool.player.content``). The course's commits go to ``POST /play/api/cmi``.

A SCORM dispatch launch (grant origin ``dispatch``) plays in the same pages; its registered
page configuration adds ``dispatch: {lmsOrigin}`` (the origin of the package's launch page), and
then the page also loads ``js/dispatch-bridge.js``, which relays the player's status to that
origin by postMessage. LTI pages have neither.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request, send_from_directory, url_for
from werkzeug.exceptions import NotFound as HTTPNotFound

from lti_tool.extensions import csrf
from lti_tool.player import content as content_files
from lti_tool.player import rules as progress_rules
from lti_tool.player.tokens import PlayerGrant, PlayerTokenError, verify_player_token
from lti_tool.services import services
from store.base import utcnow
from store.content import (
    NOT_AVAILABLE_TITLE,
    QUIZ_LOCATION,
    ContentNotAvailable,
    ContentPackage,
    CourseContent,
    visited_locations,
)
from store.errors import AccessDenied, InvalidInput, NotFound, StoreError
from store.progress import scorm, service
from store.progress.queries import ProgressView
from store.progress.rules import ProgressUpdate
from store.progress.service import CourseNotCovered, ProgressEvent, SeatGone, SeatNotYours
from store.text import find_invalid_text

log = logging.getLogger(__name__)

bp = Blueprint("player", __name__)

MAX_BODY_BYTES = 400_000  # suspend data (64000 chars, up to 4 bytes each) + cmi, with room
COMMIT_FIELDS = frozenset({
    "location", "suspend_data", "session_time_seconds", "completion_status", "success_status",
    "score_raw", "score_min", "score_max", "cmi",
})
QUIZ_FIELDS = frozenset({"answers", "session_time_seconds", "location", "suspend_data"})
CMI_FIELDS = frozenset({"scorm_version", "session", "seq", "cmi", "final", "player_seconds"})
MAX_CMI_BODY_BYTES = 2_600_000  # a SCORM runtime's whole state (see rules.MAX_SCORM_CMI_*)
RUNTIME_SCRIPTS = {  # scorm-again's browser builds (globals Scorm12API / Scorm2004API)
    "scorm12": "vendor/node_modules/scorm-again/dist/scorm12.min.js",
    "scorm2004": "vendor/node_modules/scorm-again/dist/scorm2004.min.js",
}


class ApiError(Exception):
    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message


# ---------------------------------------------------------------- helpers


def _secure_headers(response: Response, frame_ancestors: Iterable[str] | None = None, *,
                    frames_content: bool = False) -> Response:
    csp = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
           "connect-src 'self'; form-action 'none'; base-uri 'none'")
    if frames_content:  # the imported course's frame (same origin, /play/content/...)
        csp += "; frame-src 'self'"
    if frame_ancestors is not None:
        csp += "; frame-ancestors " + (" ".join(frame_ancestors) or "'none'")
    response.headers["Content-Security-Policy"] = csp
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the URL carries a bearer token
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


_TOKEN_PAGES = {
    "missing": ("No course link", "This page needs a course link from your LMS or SCORM package.",
                "Open the course again from your LMS."),
    "invalid": ("Course link not valid", "This course link is not valid: it was altered, cut short, or "
                "issued by another server.", "Open the course again from your LMS."),
    "expired": ("Course link expired", "This course link has expired.",
                "Open the course again from your LMS; your progress is saved."),
}


def _error_page(status: int, title: str, message: str, ask: str) -> Response:
    response = Response(render_template("player/error.html", title=title, message=message, ask=ask), status)
    return _secure_headers(response)


def _store_error_page(exc: StoreError) -> Response:
    status, title, message, ask = _store_error_parts(exc)
    return _error_page(status, title, message, ask)


def _store_error_parts(exc: StoreError) -> tuple[int, str, str, str]:
    if isinstance(exc, AccessDenied):
        return (403, exc.title, exc.message, exc.ask)
    if isinstance(exc, SeatGone):
        return (410, "Seat no longer available", "The seat this course link was opened with no longer exists.",
                "Open the course again from your LMS; if this persists, ask your LMS administrator.")
    if isinstance(exc, SeatNotYours):
        return (401, "Course link not valid", "This course link belongs to a different learner.",
                "Open the course again from your LMS.")
    if isinstance(exc, ContentNotAvailable):
        return (409, NOT_AVAILABLE_TITLE, "This course's content is not available yet: nothing can be played or "
                "scored for it.", "Try again later; if this persists, tell your LMS administrator.")
    if isinstance(exc, CourseNotCovered):
        return (403, "Course not available", "Your seat does not cover this course.",
                "Open the course from your LMS; if this persists, ask your LMS administrator.")
    if isinstance(exc, NotFound):
        return (404, "Course not found", "This course is no longer in the catalog.",
                "Ask your LMS administrator.")
    if isinstance(exc, InvalidInput):
        return (400, "Not accepted", exc.message, "")
    return (503, "Try again", exc.message, "Try again in a moment.")


def _demo_content() -> bool:
    """Whether courses without imported content play demo lessons here (``DEMO_CONTENT``)."""
    return services().settings.demo_content


def _frame_ancestors(grant: PlayerGrant) -> Iterable[str] | None:
    return services().player.frame_ancestors(grant)


def _with_launch_config(config: dict[str, Any], grant: PlayerGrant) -> dict[str, Any]:
    """What the grant's launch path adds to the page configuration (dispatch: ``dispatch``)."""
    config.update(services().player.page_config(grant))
    return config


def _bearer_grant() -> PlayerGrant:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "token_missing", "Send the player token as 'Authorization: Bearer <token>'.")
    return _grant(token.strip())


def _grant(token: Any) -> PlayerGrant:
    """The API call's grant, once its launch path says it may still play (``AccessDenied``)."""
    try:
        grant = verify_player_token(services().settings, token if isinstance(token, str) else None)
    except PlayerTokenError as exc:
        raise ApiError(401, f"token_{exc.reason}", exc.message) from None
    services().player.check_access(grant)
    return grant


def _json_body(limit: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """The JSON object in the body, whatever its content type (``sendBeacon`` posts text/plain);
    413 above ``limit``, 400 when it does not parse or breaks the input rule (store.text)."""
    if request.content_length is not None:
        if request.content_length > limit:
            raise ApiError(413, "body_too_large", f"the request body is larger than {limit} bytes")
        raw = request.get_data(cache=True)  # the app-wide check may have read it already
    else:
        raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        raise ApiError(413, "body_too_large", f"the request body is larger than {limit} bytes")
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ApiError(400, "invalid_json", "the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "the request body must be a JSON object")
    problem = find_invalid_text(body)
    if problem is not None:
        raise ApiError(400, "invalid_text", f"in the request body, {problem}")
    return body


def _only(body: dict[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ApiError(400, "unknown_field", f"unknown field(s): {', '.join(unknown)[:200]}")


def _optional_str(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise ApiError(400, f"invalid_{key}", f"{key} must be text")
    return value


def _update_from(body: dict[str, Any]) -> ProgressUpdate:
    cmi = body.get("cmi")
    if cmi is not None and not isinstance(cmi, dict):
        raise ApiError(400, "invalid_cmi", "cmi must be an object of cmi.* keys")
    return ProgressUpdate(
        location=_optional_str(body, "location"),
        suspend_data=_optional_str(body, "suspend_data"),
        completion_status=_optional_str(body, "completion_status"),
        success_status=_optional_str(body, "success_status"),
        score_raw=body.get("score_raw"),
        score_min=body.get("score_min"),
        score_max=body.get("score_max"),
        session_time_seconds=0 if body.get("session_time_seconds") is None else body["session_time_seconds"],
        cmi=cmi,
    )


def _state_json(view: ProgressView) -> dict[str, Any]:
    return {
        "location": view.location,
        "suspend_data": view.suspend_data,
        "completion_status": view.completion_status,
        "success_status": view.success_status,
        "score_raw": view.score_raw,
        "score_max": view.score_max,
        "score_percent": view.score_percent,
        "total_time_seconds": view.total_time_seconds,
        "session_count": view.session_count,
        # What the status line says (player/rules.py: a failed attempt is never "completed").
        "label": progress_rules.status_label(view.completion_status, view.success_status, view.score_percent),
        "is_done": progress_rules.is_done(view.completion_status, view.success_status),
    }


def _notify(view: ProgressView, grant: PlayerGrant, now: datetime) -> None:
    event = ProgressEvent.of(view, launch_id=grant.launch_id, origin=grant.origin, occurred_at=now)
    services().player.notify_progress(event)


def _api(fn: Callable[[], Response | tuple[Any, int] | dict[str, Any]]) -> Response:
    try:
        result = fn()
        response = result if isinstance(result, Response) else jsonify(result)
    except ApiError as exc:
        response = jsonify(error=exc.error, message=exc.message)
        response.status_code = exc.status
    except StoreError as exc:
        status, _title, message, ask = _store_error_parts(exc)
        body = {"error": exc.reason, "message": message if status != 400 else exc.message}
        if ask:
            body["ask"] = ask  # who can help: the page shows it instead of "open the course again"
        response = jsonify(body)
        response.status_code = status
    return _secure_headers(response)


# ---------------------------------------------------------------- the page


@bp.get("/play")
def play() -> Response:
    try:
        grant = verify_player_token(services().settings, request.args.get("t"))
    except PlayerTokenError as exc:
        title, message, ask = _TOKEN_PAGES[exc.reason]
        return _error_page(401, title, message, ask)
    try:
        services().player.check_access(grant)
        player = service.open_player(services().read_sessions, grant.seat_id, grant.catalog_id,
                                     demo_content=_demo_content(), learner_id=grant.learner_id)
    except StoreError as exc:
        return _store_error_page(exc)
    content, progress = player.content, player.progress
    if content.package is not None:
        return _scorm_page(grant, content, progress)
    location = progress.location if content.is_location(progress.location) and progress.location else (
        content.locations[0])
    visited = set(visited_locations(progress.suspend_data, content)) | {location}
    done = progress_rules.done_locations(content.locations, visited, QUIZ_LOCATION, progress.completion_status,
                                         progress.success_status)
    config = {
        "token": request.args["t"],
        "origin": grant.origin,
        "courseId": grant.catalog_id,
        "api": {
            "session": url_for("player.api_session"),
            "state": url_for("player.api_state"),
            "commit": url_for("player.api_commit"),
            "quiz": url_for("player.api_quiz"),
            "beacon": url_for("player.api_beacon"),
        },
        "locations": list(content.locations),
        "location": location,
        "state": _state_json(progress),
        "masteryPercent": round(content.mastery_score * 100),
        "quizLocation": QUIZ_LOCATION,
    }
    _with_launch_config(config, grant)
    html = render_template(
        "player/play.html", content=content, progress=progress, location=location, config=config,
        done=done, mastery_percent=round(content.mastery_score * 100), quiz_location=QUIZ_LOCATION,
        progress_percent=progress_rules.progress_percent(content.locations, done),
    )
    return _secure_headers(Response(html, 200), _frame_ancestors(grant))


def _runtime_installed(version: str) -> bool:
    return (Path(current_app.static_folder or "") / RUNTIME_SCRIPTS[version]).is_file()


def _scorm_page(grant: PlayerGrant, content: CourseContent, progress: ProgressView) -> Response:
    package = content.package
    assert package is not None
    if not _runtime_installed(package.scorm_version):
        log.error("scorm-again is not installed under static/%s: run `make install`",
                  RUNTIME_SCRIPTS[package.scorm_version])
        return _error_page(503, "Course player not installed",
                           "This server cannot play imported SCORM courses yet: its SCORM runtime is missing.",
                           "Ask the server's operator to run `make install` (it installs scorm-again from npm).")
    config = {
        "token": request.args["t"],
        "origin": grant.origin,
        "courseId": grant.catalog_id,
        "scormVersion": package.scorm_version,
        "api": {
            "session": url_for("player.api_session"),
            "state": url_for("player.api_state"),
            "cmi": url_for("player.api_cmi"),
        },
        "limits": scorm.LIMITS[package.scorm_version],
        "errors": {"commit": scorm.COMMIT_ERROR[package.scorm_version],
                   "setValue": scorm.SET_VALUE_ERROR[package.scorm_version]},
        "state": _state_json(progress),
    }
    _with_launch_config(config, grant)
    html = render_template("player/scorm.html", content=content, progress=progress, config=config,
                           runtime_script=RUNTIME_SCRIPTS[package.scorm_version])
    return _secure_headers(Response(html, 200), _frame_ancestors(grant), frames_content=True)


def _launch_url(grant: PlayerGrant, package: ContentPackage) -> str:
    ancestors = _frame_ancestors(grant)
    token = content_files.issue_content_token(services().settings, grant, content_id=package.id,
                                              storage_key=package.storage_key,
                                              frame_ancestors=None if ancestors is None else list(ancestors))
    return url_for("player.content_root", token=token) + package.launch_href


# ---------------------------------------------------------------- the API


@bp.post("/play/api/session")
def api_session() -> Response:
    """Start a player session: counts it, marks the course started, returns where to resume."""

    def run() -> dict[str, Any]:
        grant = _bearer_grant()
        now = utcnow()
        resume = service.start_session(services().sessions, grant.seat_id, grant.catalog_id, now,
                                       demo_content=_demo_content(), learner_id=grant.learner_id)
        _notify(resume.progress, grant, now)
        result: dict[str, Any] = {"state": _state_json(resume.progress), "entry": resume.entry}
        package = resume.content.package if resume.content is not None else None
        if package is not None:
            result["scorm"] = {
                "version": package.scorm_version,
                "session": resume.progress.session_count,
                "launch_url": _launch_url(grant, package),
                "cmi": resume.cmi or {},
            }
        return result

    return _api(run)


@bp.get("/play/api/state")
def api_state() -> Response:
    def run() -> dict[str, Any]:
        grant = _bearer_grant()
        player = service.open_player(services().read_sessions, grant.seat_id, grant.catalog_id,
                                     demo_content=_demo_content(), learner_id=grant.learner_id)
        return {"state": _state_json(player.progress)}

    return _api(run)


def _commit(grant: PlayerGrant, body: dict[str, Any]) -> ProgressView:
    now = utcnow()
    view = service.record_progress(services().sessions, grant.seat_id, grant.catalog_id, _update_from(body), now,
                                   demo_content=_demo_content(), learner_id=grant.learner_id)
    _notify(view, grant, now)
    return view


@bp.post("/play/api/commit")
def api_commit() -> Response:
    """Save location, suspend data and session time (JSON body; see COMMIT_FIELDS)."""

    def run() -> dict[str, Any]:
        grant = _bearer_grant()
        body = _json_body()
        _only(body, COMMIT_FIELDS)
        return {"state": _state_json(_commit(grant, body))}

    return _api(run)


@bp.post("/play/api/beacon")
def api_beacon() -> Response:
    """The final commit from ``navigator.sendBeacon`` on pagehide: the token is in the body
    (``{"token": ..., <commit fields>}``, any content type). Answers 204 when saved."""

    def run() -> Response:
        body = _json_body()
        grant = _grant(body.pop("token", None))
        _only(body, COMMIT_FIELDS)
        _commit(grant, body)
        return Response(status=204)

    return _api(run)


@bp.post("/play/api/quiz")
def api_quiz() -> Response:
    """Grade the quiz on the server from the chosen answers (``{"answers": {qid: choice}}``).

    The answer says how many answers were right, the score and pass/fail, never which answers
    were right: per-question results would let a learner find every answer in a few attempts."""

    def run() -> dict[str, Any]:
        grant = _bearer_grant()
        body = _json_body()
        _only(body, QUIZ_FIELDS)
        answers = body.get("answers")
        if not isinstance(answers, dict) or not all(isinstance(v, str) for v in answers.values()):
            raise ApiError(400, "invalid_answers", "answers must be an object {question id: choice id}")
        session_time = body.get("session_time_seconds")
        now = utcnow()
        outcome = service.submit_quiz(
            services().sessions, grant.seat_id, grant.catalog_id, answers, now, demo_content=_demo_content(),
            learner_id=grant.learner_id,
            session_time_seconds=0 if session_time is None else session_time,
            location=_optional_str(body, "location"), suspend_data=_optional_str(body, "suspend_data"),
        )
        _notify(outcome.progress, grant, now)
        result = outcome.result
        return {
            "state": _state_json(outcome.progress),
            "result": {
                "correct": result.correct,
                "total": result.total,
                "score_percent": round(result.score_scaled * 100),
                "passed": result.is_passed,
                "is_best_score": outcome.is_best_score,
            },
        }

    return _api(run)


@bp.post("/play/api/cmi")
def api_cmi() -> Response:
    """Store an imported SCORM course's commit: ``{"scorm_version", "session", "seq", "cmi":
    {flattened cmi.* values}, "final", "player_seconds"}`` with the bearer token, or with
    ``"token"`` in the body (``navigator.sendBeacon`` on pagehide). ``seq`` numbers the page's
    commits: one that arrives after a later one of the same session is ignored (beacons sent
    together may arrive in any order); a commit of an earlier session is refused
    (``stale_session``: the course was opened again elsewhere). Answers ``{"result": "true",
    "errorCode": 0, "state"}``; a refused commit answers 4xx with ``result "false"`` and the SCORM error code
    the course then gets from GetLastError, plus the reason."""
    version = "scorm12"

    def run() -> dict[str, Any]:
        nonlocal version
        body = _json_body(MAX_CMI_BODY_BYTES)
        token = body.pop("token", None)
        grant = _bearer_grant() if request.headers.get("Authorization") else _grant(token)
        _only(body, CMI_FIELDS)
        if body.get("scorm_version") in scorm.VERSIONS:
            version = body["scorm_version"]
        session_number, seq = body.get("session"), body.get("seq")
        for name, value in (("session", session_number), ("seq", seq)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ApiError(400, f"invalid_{name}", f"{name} must be a whole number (see /play/api/session)")
        commit = scorm.CmiCommit(scorm_version=body.get("scorm_version"), values=body.get("cmi") or {},
                                 session=session_number, player_seconds=body.get("player_seconds"), seq=seq)
        now = utcnow()
        view = service.record_cmi(services().sessions, grant.seat_id, grant.catalog_id, commit, now,
                                  demo_content=_demo_content(), learner_id=grant.learner_id)
        _notify(view, grant, now)
        return {"result": "true", "errorCode": 0, "state": _state_json(view)}

    response = _api(run)
    if response.status_code >= 400:
        data = response.get_json(silent=True) or {}
        data.update(result="false", errorCode=scorm.COMMIT_ERROR[version])
        response.set_data(json.dumps(data))
    return response


# ---------------------------------------------------------------- the course's files


def _content_response(response: Response, frame_ancestors: list[str] | None = None) -> Response:
    response.headers["Content-Security-Policy"] = content_files.content_csp(frame_ancestors)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"  # the URL carries a token
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


def _content_error(status: int, message: str) -> Response:
    response = Response(message + "\n", status, mimetype="text/plain")
    response.headers["Cache-Control"] = "no-store"
    return _content_response(response, [])


@bp.get("/play/content/<token>/")
def content_root(token: str) -> Response:
    """The prefix of a package's files; the folder itself is not listed."""
    return _content_error(404, "Not found.")


@bp.get("/play/content/<token>/<path:file>")
def content_file(token: str, file: str) -> Response:
    """One file of the imported package the content token names (see lti_tool.player.content)."""
    try:
        grant = content_files.verify_content_token(services().settings, token)
    except content_files.ContentTokenError as exc:
        return _content_error(401, "This course link has expired; open the course again from your LMS."
                              if str(exc) == "expired" else "This course link is not valid.")
    folder = content_files.content_store(services().settings).folder(grant.storage_key)
    try:
        response = send_from_directory(folder, file, mimetype=content_files.mime_type(file), max_age=3600,
                                       conditional=True)
    except HTTPNotFound:
        return _content_error(404, "Not found.")
    except OSError:  # unreadable on disk (permissions, a shared volume gone): not the learner's fault
        log.exception("content file %s of %s cannot be read", file[:200], grant.storage_key)
        return _content_error(503, "This course file cannot be read right now; try again in a moment.")
    # Only the file decides its encoding (an HTML file's <meta charset>): no charset added here.
    response.headers["Content-Type"] = content_files.mime_type(file)
    response.headers["Cache-Control"] = "private, max-age=3600"
    return _content_response(response, grant.frame_ancestors)


for _view in (api_session, api_state, api_commit, api_beacon, api_quiz, api_cmi):
    csrf.exempt(_view)

"""The course player: ``GET /play?t=TOKEN`` and its JSON API under ``/play/api/``.

No cookies anywhere: the page gets its token from the URL, the script sends it back as
``Authorization: Bearer TOKEN`` (in the body for ``/play/api/beacon``, since
``navigator.sendBeacon`` cannot set headers). The API views are exempt from CSRF because a
bearer token, not a cookie, authenticates them. Each call re-checks the seat (still there, same
learner, admitted to the course) inside the service's transaction.

After each successful progress commit every callable in
``current_app.extensions["progress_listeners"]`` gets a ``ProgressEvent`` (grade passback
registers one); a listener that raises is logged and the learner's commit still succeeds.

A deployment may register ``app.extensions["player_frame_ancestors"]``: a callable taking the
``PlayerGrant`` and returning the origins allowed to frame the page (the LMS of the launch);
without it the page sets no ``frame-ancestors`` (it is useless without a valid token anyway).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request, url_for
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from lti_tool.extensions import csrf
from lti_tool.player.tokens import PlayerGrant, PlayerTokenError, verify_player_token
from store.base import utcnow
from store.content import QUIZ_LOCATION, visited_locations
from store.errors import InvalidInput, NotFound, StoreError
from store.progress import service
from store.progress.queries import ProgressView
from store.progress.rules import ProgressUpdate
from store.progress.service import CourseNotCovered, ProgressEvent, SeatGone, SeatNotYours

log = logging.getLogger(__name__)

bp = Blueprint("player", __name__)

MAX_BODY_BYTES = 400_000  # suspend data (64000 chars, up to 4 bytes each) + cmi, with room
COMMIT_FIELDS = frozenset({
    "location", "suspend_data", "session_time_seconds", "completion_status", "success_status",
    "score_raw", "score_min", "score_max", "cmi",
})
QUIZ_FIELDS = frozenset({"answers", "session_time_seconds", "location", "suspend_data"})


class ApiError(Exception):
    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message


# ---------------------------------------------------------------- helpers


def _settings() -> Settings:
    return current_app.extensions["settings"]


def _sessions() -> sessionmaker[Session]:
    return current_app.extensions["sessions"]


def _read_sessions() -> sessionmaker[Session]:
    """For reads only: on SQLite they don't take the write lock (deferred BEGIN)."""
    return current_app.extensions.get("read_sessions") or current_app.extensions["sessions"]


def _secure_headers(response: Response, frame_ancestors: Iterable[str] | None = None) -> Response:
    csp = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
           "connect-src 'self'; form-action 'none'; base-uri 'none'")
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
    if isinstance(exc, SeatGone):
        return (410, "Seat no longer available", "The seat this course link was opened with no longer exists.",
                "Open the course again from your LMS; if this persists, ask your LMS administrator.")
    if isinstance(exc, SeatNotYours):
        return (401, "Course link not valid", "This course link belongs to a different learner.",
                "Open the course again from your LMS.")
    if isinstance(exc, CourseNotCovered):
        return (403, "Course not available", "Your seat does not cover this course.",
                "Open the course from your LMS; if this persists, ask your LMS administrator.")
    if isinstance(exc, NotFound):
        return (404, "Course not found", "This course is no longer in the catalog.",
                "Ask your LMS administrator.")
    if isinstance(exc, InvalidInput):
        return (400, "Not accepted", exc.message, "")
    return (503, "Try again", exc.message, "Try again in a moment.")


def _frame_ancestors(grant: PlayerGrant) -> Iterable[str] | None:
    hook: Callable[[PlayerGrant], Iterable[str] | None] | None = current_app.extensions.get(
        "player_frame_ancestors")
    return hook(grant) if hook is not None else None


def _bearer_grant() -> PlayerGrant:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "token_missing", "Send the player token as 'Authorization: Bearer <token>'.")
    return _grant(token.strip())


def _grant(token: Any) -> PlayerGrant:
    try:
        return verify_player_token(_settings(), token if isinstance(token, str) else None)
    except PlayerTokenError as exc:
        raise ApiError(401, f"token_{exc.reason}", exc.message) from None


def _json_body() -> dict[str, Any]:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise ApiError(413, "body_too_large", f"the request body is larger than {MAX_BODY_BYTES} bytes")
    raw = request.stream.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(413, "body_too_large", f"the request body is larger than {MAX_BODY_BYTES} bytes")
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ApiError(400, "invalid_json", "the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "the request body must be a JSON object")
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
    }


def _notify(view: ProgressView, grant: PlayerGrant, now: datetime) -> None:
    event = ProgressEvent.of(view, launch_id=grant.launch_id, origin=grant.origin, occurred_at=now)
    service.notify_listeners(current_app.extensions.get("progress_listeners", ()), event)


def _api(fn: Callable[[], Response | tuple[Any, int] | dict[str, Any]]) -> Response:
    try:
        result = fn()
        response = result if isinstance(result, Response) else jsonify(result)
    except ApiError as exc:
        response = jsonify(error=exc.error, message=exc.message)
        response.status_code = exc.status
    except StoreError as exc:
        status, _title, message, _ask = _store_error_parts(exc)
        response = jsonify(error=exc.reason, message=message if status != 400 else exc.message)
        response.status_code = status
    return _secure_headers(response)


# ---------------------------------------------------------------- the page


@bp.get("/play")
def play() -> Response:
    try:
        grant = verify_player_token(_settings(), request.args.get("t"))
    except PlayerTokenError as exc:
        title, message, ask = _TOKEN_PAGES[exc.reason]
        return _error_page(401, title, message, ask)
    try:
        player = service.open_player(_read_sessions(), grant.seat_id, grant.course_id, learner_id=grant.learner_id)
    except StoreError as exc:
        return _store_error_page(exc)
    content, progress = player.content, player.progress
    location = progress.location if content.is_location(progress.location) and progress.location else (
        content.locations[0])
    visited = set(visited_locations(progress.suspend_data, content)) | {location}
    if progress.is_completed:
        visited.add(QUIZ_LOCATION)
    config = {
        "token": request.args["t"],
        "origin": grant.origin,
        "courseId": grant.course_id,
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
    }
    html = render_template(
        "player/play.html", content=content, progress=progress, location=location, config=config,
        visited=visited, mastery_percent=round(content.mastery_score * 100), quiz_location=QUIZ_LOCATION,
        progress_percent=round(100 * len(visited & set(content.locations)) / max(1, len(content.locations))),
    )
    return _secure_headers(Response(html, 200), _frame_ancestors(grant))


# ---------------------------------------------------------------- the API


@bp.post("/play/api/session")
def api_session() -> Response:
    """Start a player session: counts it, marks the course started, returns where to resume."""

    def run() -> dict[str, Any]:
        grant = _bearer_grant()
        now = utcnow()
        resume = service.start_session(_sessions(), grant.seat_id, grant.course_id, now,
                                       learner_id=grant.learner_id)
        _notify(resume.progress, grant, now)
        return {"state": _state_json(resume.progress), "entry": resume.entry}

    return _api(run)


@bp.get("/play/api/state")
def api_state() -> Response:
    def run() -> dict[str, Any]:
        grant = _bearer_grant()
        player = service.open_player(_read_sessions(), grant.seat_id, grant.course_id, learner_id=grant.learner_id)
        return {"state": _state_json(player.progress)}

    return _api(run)


def _commit(grant: PlayerGrant, body: dict[str, Any]) -> ProgressView:
    now = utcnow()
    view = service.record_progress(_sessions(), grant.seat_id, grant.course_id, _update_from(body), now,
                                   learner_id=grant.learner_id)
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
    """Grade the quiz on the server from the chosen answers (``{"answers": {qid: choice}}``)."""

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
            _sessions(), grant.seat_id, grant.course_id, answers, now, learner_id=grant.learner_id,
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
                "questions": [{"id": q.id, "correct": q.is_correct} for q in result.questions],
            },
        }

    return _api(run)


for _view in (api_session, api_state, api_commit, api_beacon, api_quiz):
    csrf.exempt(_view)

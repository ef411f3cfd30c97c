"""LTI login and launch pages (blueprint ``lti_launch``).

Views parse the request, call one service, and render; every refusal is a ``LaunchError``
rendered by ``render_launch_error`` (registered app-wide by ``create_app``) as a 4xx page with a
warning log line.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError

from lti_tool.extensions import csrf
from lti_tool.lti.errors import LaunchError, bad_request, forbidden, unauthorized
from lti_tool.lti.frame_policy import note_registration
from lti_tool.lti.launch import RecordedLaunch, binding_value, find_login, is_bound, record_launch, verify_launch
from lti_tool.lti.login import (
    NEW_WINDOW_PARAM,
    STATE_COOKIE_PREFIX,
    STORAGE_KEY_PREFIX,
    LoginRequest,
    new_window_link_is_ours,
    new_window_params,
    origin_of,
    start_login,
)
from lti_tool.lti.onepass import launch_once
from lti_tool.lti.service import CourseOpening, learner_courses, open_course
from lti_tool.lti.tool_conf import get_registration
from lti_tool.lti.websession import url_for_s
from lti_tool.services import services
from store.base import utcnow

log = logging.getLogger(__name__)

bp = Blueprint("lti_launch", __name__)

STORAGE_TIMEOUT_MS = 2500


def render_launch_error(error: LaunchError) -> tuple[str, int]:
    message = error.message.replace("\r", "\\r").replace("\n", "\\n")  # one log line, whatever the input
    log.warning("LTI %s refused (HTTP %d, %s): %s", request.path, error.status, error.code, message)
    return render_template("lti/error.html", error=error), error.status


@bp.errorhandler(CSRFError)
def _csrf_error(error: CSRFError) -> tuple[str, int]:
    return render_launch_error(bad_request(
        "csrf_failed", f"The form could not be accepted: {error.description}",
        "Go back, reload the page and submit it again; or open the course again from the LMS.",
    ))


def _is_https() -> bool:
    return request.is_secure or services().settings.public_base_url.startswith("https://")


def _public_url(endpoint: str, **values: Any) -> str:
    return services().settings.public_base_url + url_for(endpoint, **values)


# ---------------------------------------------------------------- login


@bp.route("/lti/login", methods=["GET", "POST"])
@csrf.exempt
def login() -> Response | str:
    params = request.values  # query string (GET) or form body and query string (POST)
    login_request = LoginRequest.parse(params)
    settings = services().settings
    start = start_login(services().sessions, login_request, _public_url("lti_launch.launch"),
                        settings.lti_login_state_ttl_seconds, utcnow())
    note_registration(start.registration.id)
    binding = binding_value(settings.secret_key, start.state)
    now = utcnow()
    # A registration nobody at the vendor has reviewed (self-made by an anonymous Dynamic
    # Registration) declared its login URL itself: the tool must not become a redirector to it.
    # Its top-level logins need a click on a button naming where it goes, unless the request is
    # the tool's own "Open in a new window" link (valid HMAC) clicked on the tool's page
    # (Sec-Fetch-Site: same-origin). Logins inside the LMS frame run as before.
    trusted = not start.registration.needs_review
    if params.get(NEW_WINDOW_PARAM) == "1":
        # Opened top-level by the fallback page: cookies are first-party here.
        from_our_page = (new_window_link_is_ours(settings.secret_key, login_request, params, now)
                         and request.headers.get("Sec-Fetch-Site") == "same-origin")
        if trusted or from_our_page:
            response = redirect(start.auth_url, 302)
        else:
            response = Response(render_template("lti/login_continue.html", auth_url=start.auth_url,
                                                platform_origin=start.platform_origin))
    else:
        new_window_url = (_public_url("lti_launch.login") + "?" + urlencode(
            new_window_params(settings.secret_key, login_request, now, settings.lti_login_state_ttl_seconds)))
        config = {
            "mode": "login",
            "authUrl": start.auth_url,
            "platformOrigin": start.platform_origin,
            "storageTarget": login_request.lti_storage_target,
            "storageKey": start.storage_key,
            "storageValue": binding,
            "timeoutMs": STORAGE_TIMEOUT_MS,
            "confirmTopLevel": not trusted,
        }
        response = Response(render_template("lti/login.html", config=config, auth_url=start.auth_url,
                                            new_window_url=new_window_url, platform_origin=start.platform_origin))
    response.set_cookie(start.state_cookie_name, binding, max_age=settings.lti_login_state_ttl_seconds,
                        path=url_for("lti_launch.launch"), secure=True, httponly=True, samesite="None",
                        partitioned=_is_https())
    response.headers["Cache-Control"] = "no-store"
    return response


# ---------------------------------------------------------------- launch


@bp.post("/lti/launch")
@csrf.exempt
def launch() -> Response | str | tuple[str, int]:
    form = request.form
    if form.get("error"):
        raise bad_request(
            "platform_error",
            f"The LMS refused the login: {form.get('error')[:200]}"
            + (f" — {form.get('error_description', '')[:500]}" if form.get("error_description") else ""),
            "Check that the tool is enabled for this course and that you are signed in to the LMS.",
        )
    id_token = form.get("id_token", "")
    state = form.get("state", "")
    if not id_token:
        raise bad_request("missing_id_token", "The launch request has no id_token.",
                          "The LMS must form-post the launch to this URL after the login.")
    settings = services().settings
    sessions = services().sessions
    now = utcnow()
    cookie_name = STATE_COOKIE_PREFIX + state
    refusal = _browser_binding_refusal(settings.secret_key, state, form, request.cookies.get(cookie_name))
    if refusal is not None:
        # The login's own refusals (unknown, expired, replayed) come first, as they always did.
        login_binding = find_login(sessions, state, id_token, now, settings.secret_key)
        note_registration(login_binding.registration_id)
        storage_target = form.get("lti_storage_target", "")[:200]
        if refusal.code == "browser_not_bound" and storage_target:
            return _launch_storage_page(id_token, state, storage_target, login_binding.registration_id)
        raise refusal
    fast = launch_once(sessions, settings, id_token, state, now)
    if fast is not None:
        recorded, opening = fast.recorded, fast.opening
        note_registration(recorded.registration_id)
    else:
        login_binding = find_login(sessions, state, id_token, now, settings.secret_key)
        note_registration(login_binding.registration_id)
        verified = verify_launch(sessions, settings, id_token, login_binding, now)
        recorded, opening = record_launch(sessions, settings, verified, login_binding, now), None
    log.info("LTI launch %s: %s for account %s (registration %s, admin=%s)", recorded.id, recorded.intent.kind,
             recorded.account_id, recorded.registration_id, recorded.is_admin)
    if opening is not None and opening.outcome == "seat":
        # Straight to the player with its signed token: the pages after need no web session.
        response = _show_opening(opening, recorded.registration_id)
    else:
        session.regenerate(recorded.session_data())  # type: ignore[attr-defined]
        response = _show_opening(opening, recorded.registration_id) if opening else _after_launch(recorded)
    response.delete_cookie(cookie_name, path=url_for("lti_launch.launch"), secure=True, httponly=True,
                           samesite="None", partitioned=_is_https())
    return response


def _browser_binding_refusal(secret_key: str, state: str, form: Any, cookie_value: str | None) -> LaunchError | None:
    """Whether this browser started the launch's login (its state cookie, or the value our launch
    page read from the LMS's platform storage); the refusal when it did not. Reads nothing."""
    storage_value = form.get("lti_storage_state")
    if cookie_value is not None:
        if not is_bound(secret_key, state, cookie_value):
            return unauthorized("state_mismatch", "This browser's login cookie does not match the launch's state.",
                                "Launch again from the LMS.")
        return None
    if storage_value is not None:
        # Only our launch page posts this, from our own origin. Browsers say where a request comes
        # from (Fetch Metadata); a cross-site page replaying a login's value into a victim's
        # browser is refused. Browsers without Fetch Metadata send no header.
        if request.headers.get("Sec-Fetch-Site", "same-origin") != "same-origin":
            return unauthorized(
                "cross_site_launch",
                "The platform-storage confirmation of this launch was posted from another site.",
                "Launch again from the LMS.",
            )
        if not is_bound(secret_key, state, storage_value):
            return unauthorized(
                "state_mismatch",
                "The login kept in the LMS's platform storage does not match the launch's state.",
                "Launch again from the LMS.",
            )
        return None
    # No binding: the launch page tries the LMS's platform storage when it offered one.
    return unauthorized(
        "browser_not_bound",
        "No login cookie arrived with this launch and the LMS offered no platform storage, so the tool cannot "
        "tell that this browser started the login.",
        "Your browser blocks this tool's cookies inside the LMS. Open the link in a new window, or allow "
        "cookies for this site.",
    )


def _launch_storage_page(id_token: str, state: str, storage_target: str, registration_id: int) -> Response:
    with services().read_sessions() as db:
        registration = get_registration(db, registration_id)
    origin = origin_of(registration.auth_login_url) if registration else None
    if registration is None or origin is None:
        raise unauthorized("unknown_registration", "The registration this login was for has been removed.")
    config = {
        "mode": "launch",
        "platformOrigin": origin,
        "storageTarget": storage_target,
        "storageKey": STORAGE_KEY_PREFIX + state,
        "timeoutMs": STORAGE_TIMEOUT_MS,
    }
    response = Response(render_template("lti/launch_storage.html", config=config, id_token=id_token, state=state,
                                        storage_target=storage_target, launch_url=url_for("lti_launch.launch")))
    response.headers["Cache-Control"] = "no-store"
    return response


def _after_launch(recorded: RecordedLaunch) -> Response:
    token = session.token  # type: ignore[attr-defined]
    if recorded.intent.kind == "deep_linking":
        return redirect(url_for("deeplink.picker", launch=recorded.id, s=token), 303)
    if recorded.intent.kind == "navigation":
        endpoint = "dashboard.index" if recorded.is_admin else "lti_launch.my_courses"
        return redirect(url_for(endpoint, s=token), 303)
    opening = open_course(services().sessions, recorded.id, utcnow(), confirmed=False,
                          demo_content=services().settings.demo_content)
    return _show_opening(opening, recorded.registration_id)


def _player_url(*, seat_id: int, catalog_id: str, learner_id: int, launch_id: str,
                registration_id: int | None) -> str:
    token = services().issue_player_token(seat_id=seat_id, catalog_id=catalog_id, learner_id=learner_id,
                                          launch_id=launch_id, origin="lti", registration_id=registration_id)
    return url_for("player.play", t=token)


def _show_opening(opening: CourseOpening, registration_id: int | None) -> Response:
    if opening.outcome == "unavailable":
        log.warning("launch %s: course %s has no content to play (no imported package, DEMO_CONTENT off): no seat "
                    "taken", opening.launch_id, opening.catalog_id)
        return Response(render_template("lti/content_unavailable.html", opening=opening), status=409)
    if opening.outcome == "confirm":
        return Response(render_template("lti/confirm_seat.html", opening=opening))
    if opening.outcome == "refused":
        log.info("launch %s refused (%s): course %s, %s, account %s", opening.launch_id, opening.reason,
                 opening.catalog_id, opening.license_type, opening.account_id)
        return Response(render_template("lti/refusal.html", opening=opening, refusal=opening.refusal), status=403)
    assert opening.seat is not None
    return redirect(_player_url(seat_id=opening.seat.id, catalog_id=opening.catalog_id,
                                learner_id=opening.learner_id, launch_id=opening.launch_id,
                                registration_id=registration_id), 303)


@bp.post("/lti/launch/confirm")
def confirm_seat() -> Response:
    launch_id = request.form.get("launch", "")
    if not session.get("is_admin") or not launch_id or session.get("launch_id") != launch_id:
        raise forbidden("confirmation_mismatch",
                        "This confirmation does not belong to your current launch.",
                        "Open the course again from the LMS.")
    registration_id = session.get("registration_id")
    return _show_opening(open_course(services().sessions, launch_id, utcnow(), confirmed=True,
                                     demo_content=services().settings.demo_content),
                         registration_id if isinstance(registration_id, int) else None)


# ---------------------------------------------------------------- launch without a course


def _require_session() -> tuple[int, int]:
    account_id, learner_id = session.get("account_id"), session.get("learner_id")
    if not isinstance(account_id, int) or not isinstance(learner_id, int):
        raise unauthorized("no_session", "Your session with this tool has ended (or this link is incomplete).",
                           "Open the tool again from your LMS.")
    return account_id, learner_id


@bp.get("/lti/home")
def home() -> Response:
    """Admins: the dashboard (``/dashboard``), keeping the session token; learners: 403."""
    _require_session()
    if not session.get("is_admin"):
        raise forbidden("admins_only", "This page is for your organization's LMS administrators and instructors.")
    return redirect(url_for_s("dashboard.index"), 303)


@bp.get("/lti/my-courses")
def my_courses() -> str:
    account_id, learner_id = _require_session()
    launch_id = str(session.get("launch_id", ""))
    courses = [
        {"title": c.title, "license_type": c.license_type, "expires_at": c.expires_at,
         "url": _player_url(seat_id=c.seat_id, catalog_id=c.catalog_id, learner_id=learner_id, launch_id=launch_id,
                            registration_id=None)}
        for c in learner_courses(services().read_sessions, account_id, learner_id, utcnow())
    ]
    return render_template("lti/my_courses.html", courses=courses)

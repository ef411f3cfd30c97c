"""Pages of independent learners (blueprint ``signin``): **Sign up**, **Sign in**, **Sign out**,
**Forgot password?** (**Send reset link**), **Set new password**, and **My courses**.

They are opened top-level on the tool's own site, not inside an LMS. Sign-in starts a fresh web
session (``session.regenerate``, top-level: a first-party ``SameSite=Lax`` cookie on HTTPS, the
token in links and forms everywhere) holding ``account_id``, ``learner_id``, ``login_id`` and
``is_admin: True`` (an independent learner administers their own account), so the store treats
them as the buyer of their own account. Views parse the form, call one service, and render; a
form problem comes back next to its field (4xx) and changes nothing.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from flask import Blueprint, Response, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError

from lti_tool.lti.websession import TOKEN_ARG, DbSession, end_sessions
from lti_tool.services import services
from lti_tool.signin import service
from store.accounts import rules
from store.accounts.logins import (
    FormProblems,
    LoginView,
    ResetLinkInvalid,
    SignInFailed,
    Throttle,
    get_login,
    request_password_reset,
    reset_link_is_valid,
    reset_password,
    sign_in,
    sign_up,
)
from store.base import utcnow
from store.errors import StoreError
from store.ratelimit.keys import client_network
from store.ratelimit.service import RateLimited
from store.text import check_text

log = logging.getLogger(__name__)

bp = Blueprint("signin", __name__)

AFTER_SIGNIN = "/store"
MAX_QUERY_CHARS = 200


# ---------------------------------------------------------------- helpers


def _client() -> str:
    return client_network(request.remote_addr)


def _throttle() -> Throttle:
    return Throttle.from_settings(services().settings)


def _path_with_session(path: str) -> str:
    """A path of another blueprint (the store's, by path) keeping the session token, as
    ``url_for_s`` does for endpoints."""
    if isinstance(session, DbSession) and not session.ended and (session.stored or session):
        return _with_token(path)
    return path


def _page(template: str, status: int = 200, **context: Any) -> Response:
    context.setdefault("store_link", _path_with_session(AFTER_SIGNIN))
    context.setdefault("errors", {})
    context.setdefault("form", {})
    context.setdefault("requirements", rules.PASSWORD_REQUIREMENTS)
    response = Response(render_template(f"signin/{template}", **context), status=status)
    response.headers["Cache-Control"] = "no-store"  # tokens in links; forms with what was typed
    # Top-level pages of this site only, error answers with their forms included (the frame
    # policy would let any site frame a 4xx page).
    response.headers["Content-Security-Policy"] = "frame-ancestors 'self'"
    return response


def _error(status: int, title: str, message: str, hint: str = "", code: str = "") -> Response:
    return _page("message.html", status, title=title, message=message, hint=hint, code=code)


def _safe_next(value: str | None) -> str:
    """Where to go after sign-in: a page of the store on this site, nothing else (no open redirect)."""
    if not value or len(value) > 500 or "\\" in value or any(ord(c) < 0x21 for c in value):
        return AFTER_SIGNIN
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not (parts.path == "/store" or parts.path.startswith("/store/")) \
            or parts.path.startswith(("/store/signout", "/store/signin")):
        return AFTER_SIGNIN
    # The old session's token must not come along: the first ``s`` of a URL is the one used.
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != TOKEN_ARG])
    return parts.path + (f"?{query}" if query else "")


def _with_token(path: str) -> str:
    token = session.token  # type: ignore[attr-defined]
    return f"{path}{'&' if '?' in path else '?'}{urlencode({TOKEN_ARG: token})}"


def _signed_in() -> LoginView | None:
    """The login of this session, if it is an independent learner's and the login still exists."""
    login_id, account_id = session.get("login_id"), session.get("account_id")
    if not isinstance(login_id, int) or not isinstance(account_id, int):
        return None
    with services().read_sessions() as db:
        login = get_login(db, login_id)
    return login if login is not None and login.account_id == account_id else None


def _field(name: str) -> str:
    return request.form.get(name, "")


def _rate_limited(exc: RateLimited, template: str, **context: Any) -> Response:
    minutes = max(1, (exc.retry_after_seconds + 59) // 60)
    response = _page(template, 429, notice_error=(
        f"Too many attempts for this email address or from your network. Try again in {minutes} "
        f"minute{'s' if minutes != 1 else ''}."), **context)
    response.headers["Retry-After"] = str(exc.retry_after_seconds)
    return response


@bp.errorhandler(CSRFError)
def _csrf_failed(exc: CSRFError) -> Response:
    return _error(400, "The form has expired",
                  f"The form could not be accepted ({exc.description}).",
                  "Go back, reload the page and send it again.", "csrf_failed")


# ---------------------------------------------------------------- sign-up


@bp.get("/store/signup")
def signup_form() -> Response:
    return _page("signup.html")


@bp.post("/store/signup")
def signup() -> Response:
    form = {"name": _field("name"), "email": _field("email")}
    try:
        sign_up(services().sessions, _throttle(), _client(), form["name"], form["email"], _field("password"),
                utcnow())
    except FormProblems as exc:
        return _page("signup.html", 409 if exc.reason == "email_taken" else 400, form=form, errors=exc.problems)
    except RateLimited as exc:
        return _rate_limited(exc, "signup.html", form=form)
    log.info("independent learner signed up (account created)")
    return redirect(url_for("signin.signin_form", created=1), 303)


# ---------------------------------------------------------------- sign-in


def _signin_page(status: int = 200, **context: Any) -> Response:
    context.setdefault("next", _safe_next(request.values.get("next")))
    notices = {"created": "Your account is ready. Sign in with your email address and password.",
               "reset": "Your password has been changed. Sign in with your new password.",
               "signed_out": "You have signed out."}
    context.setdefault("notice", next((text for key, text in notices.items() if request.args.get(key)), None))
    return _page("signin.html", status, current=_signed_in(), **context)


@bp.get("/store/signin")
def signin_form() -> Response:
    return _signin_page()


@bp.post("/store/signin")
def signin() -> Response:
    form = {"email": _field("email")}
    try:
        login = sign_in(services().sessions, _throttle(), _client(), form["email"], _field("password"), utcnow())
    except FormProblems as exc:
        return _signin_page(400, form=form, errors=exc.problems)
    except RateLimited as exc:
        return _rate_limited(exc, "signin.html", form=form, next=_safe_next(request.form.get("next")))
    except SignInFailed:
        return _signin_page(401, form=form, notice_error="The email address or the password is not correct.")
    session.regenerate({  # type: ignore[attr-defined]
        "account_id": login.account_id, "learner_id": login.learner_id, "login_id": login.id, "is_admin": True,
    }, top_level=True)
    return redirect(_with_token(_safe_next(request.form.get("next"))), 303)


# ---------------------------------------------------------------- sign-out


@bp.get("/store/signout")
def signout_page() -> Response:
    return _page("signout.html", current=_signed_in())


@bp.post("/store/signout")
def signout() -> Response:
    if isinstance(session, DbSession):
        session.end()
    return redirect(url_for("signin.signin_form", signed_out=1), 303)


# ---------------------------------------------------------------- password reset


def _reset_link(token: str) -> str:
    return services().settings.public_base_url + url_for("signin.new_password", token=token)


@bp.get("/store/reset")
def reset_form() -> Response:
    return _page("reset.html")


@bp.post("/store/reset")
def reset_request() -> Response:
    form = {"email": _field("email")}
    settings = services().settings
    try:
        request_password_reset(services().sessions, services().mail, _throttle(), _client(), form["email"],
                               _reset_link, settings.password_reset_ttl_seconds, utcnow())
    except FormProblems as exc:
        return _page("reset.html", 400, form=form, errors=exc.problems)
    except RateLimited as exc:
        return _rate_limited(exc, "reset.html", form=form)
    minutes = max(1, settings.password_reset_ttl_seconds // 60)
    return _page("reset_sent.html", minutes=minutes)


def _token_page(response: Response) -> Response:
    # The token is in this page's URL: keep it out of referrers (and caches: _page says no-store).
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _invalid_link() -> Response:
    return _token_page(_error(400, "This reset link is not valid",
                              "The password reset link was used already, has expired, or is incomplete.",
                              "Ask for a new link with Forgot password? on the sign-in page.",
                              ResetLinkInvalid.reason))


@bp.get("/store/reset/<token>")
def new_password_form(token: str) -> Response:
    with services().read_sessions() as db:
        valid = reset_link_is_valid(db, token, utcnow())
    if not valid:
        return _invalid_link()
    return _token_page(_page("new_password.html", token=token))


@bp.post("/store/reset/<token>")
def new_password(token: str) -> Response:
    try:
        login = reset_password(services().sessions, token, _field("password"), utcnow())
    except ResetLinkInvalid:
        return _invalid_link()
    except FormProblems as exc:
        return _token_page(_page("new_password.html", 400, token=token, errors=exc.problems))
    # Whoever was signed in with the old password is signed out everywhere.
    ended = end_sessions(services().sessions, "login_id", login.id)
    log.info("login %s: password reset; %d web session(s) ended", login.id, ended)
    if isinstance(session, DbSession):
        session.end()
    return _token_page(redirect(url_for("signin.signin_form", reset=1), 303))


# ---------------------------------------------------------------- my courses


def _require_login() -> LoginView | Response:
    login = _signed_in()
    if login is not None:
        return login
    if isinstance(session.get("account_id"), int):  # an LMS launch's session: not a sign-in
        return _error(403, "This page is for independent learners",
                      "My courses here lists the courses of learners who signed in on this site.",
                      "Inside your LMS, open your courses from your LMS course.", "not_signed_in")
    return redirect(url_for("signin.signin_form", next=_safe_next(request.full_path.rstrip("?"))), 303)


@bp.get("/store/my-courses")
def my_courses() -> Response:
    login = _require_login()
    if isinstance(login, Response):
        return login
    query = request.args.get("q", "")[:MAX_QUERY_CHARS]
    raw_page = request.args.get("page", "1")
    if not raw_page.isdigit() or not 1 <= int(raw_page) <= 100_000:
        return _error(400, "This page does not exist", "The page number must be a whole number from 1.",
                      code="invalid_page")
    found = service.my_courses(services().read_sessions, login, query, int(raw_page), utcnow())
    return _page("my_courses.html", login=login, found=found, query=query)


@bp.post("/store/my-courses/start")
def start_course() -> Response:
    login = _require_login()
    if isinstance(login, Response):
        return login
    catalog_id = request.form.get("course", "")
    try:
        check_text(catalog_id, "course", max_chars=200)
    except StoreError:
        catalog_id = ""
    if not catalog_id:
        return _error(400, "No course was chosen", "Choose a course on My courses and press Start course.",
                      code="missing_course")
    try:
        started = service.start_course(services().sessions, login, catalog_id, utcnow(),
                                       demo_content=services().settings.demo_content)
    except StoreError as exc:
        return _error(409, "The course could not be started", f"Try again in a moment ({exc.message}).",
                      code=exc.reason)
    if started.outcome == "seat":
        assert started.seat is not None
        token = services().issue_player_token(seat_id=started.seat.id, catalog_id=started.catalog_id,
                                              learner_id=login.learner_id, launch_id=None, origin="login")
        return redirect(url_for("player.play", t=token), 303)
    if started.outcome == "unavailable":
        return _error(409, "This course's content is not available yet",
                      "The course has nothing to play yet. No seat was used.",
                      "Try again later, or contact support.", "content_not_available")
    message, hint = service.refusal_text(started.reason or started.outcome)
    status = 404 if started.outcome == "unknown_course" else 403
    return _error(status, "This course cannot be opened", message, hint, started.reason or started.outcome)

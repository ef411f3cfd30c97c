"""Blueprint ``dispatch``: the server side of SCORM dispatch packages.

- ``POST /dispatch/launch`` (form field ``token``): the package's launch page posts its signed
  launch token here, into its player iframe. A seat gives a 303 to the course player
  (``/play?t=...``, token issued with ``origin="dispatch"``); anything else renders a page that
  says what happened and whom to ask (4xx), inside the LMS window. No cookie is read or set.
- ``GET /dispatch/time``: the server's clock (``{"now": <unix seconds>}``), so the launch page
  can date its token even when the learner's computer clock is off. Public, no cookies.
- ``GET /packages/download?course_id=&license_type=&format=``: the package zip for the
  current web session's account, for admins (``session["account_id"]``, ``session["is_admin"]``).

Pages under ``/dispatch/`` may be framed by any origin (``frame-ancestors *``): they are
refusal messages shown in whatever LMS hosts the package. How the course player treats dispatch
launches (``player_check_access``: refused once the package is revoked or replaced;
``player_frame_ancestors``: the account's allowed LMS domains, any when it lists none;
``player_page_config``: the origin of the package's launch page) is registered with the player by
``create_app``; registering this blueprint has no other effect.

The views use the app's services object (built by ``lti_tool.create_app``) through the
structural type ``RuntimeServices``: this package does not import ``lti_tool``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any, Protocol, cast, runtime_checkable

from flask import Blueprint, Response, current_app, jsonify, redirect, render_template, request, session, url_for
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from scorm_packages import service
from scorm_packages.manifest import FORMATS
from store.licenses.labels import LICENSE_LABELS, license_label
from scorm_packages.packaging import PackagingError
from store.base import utcnow
from store.errors import InvalidInput, NotFound, StoreError

log = logging.getLogger(__name__)

bp = Blueprint("dispatch", __name__)

MAX_FORM_BYTES = 64_000
PAGE_CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'none'; base-uri 'none'; "
            "frame-ancestors *")


@runtime_checkable
class RuntimeServices(Protocol):
    """What these views need of the app's services object (``lti_tool.services.Services``)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def sessions(self) -> sessionmaker[Session]: ...

    @property
    def read_sessions(self) -> sessionmaker[Session]: ...

    def issue_player_token(self, *, seat_id: int, catalog_id: str, learner_id: int, launch_id: str | None,
                           origin: str) -> str: ...


def runtime_services() -> RuntimeServices:
    found = current_app.extensions.get("services")
    if not isinstance(found, RuntimeServices):
        raise RuntimeError("this app was not built by lti_tool.create_app (no services object)")
    return cast(RuntimeServices, found)


# Views that create_app exempts from CSRF: the launch POST carries its own signed token and no
# cookie, so CSRF protection (app-wide, Flask-WTF) has nothing to protect there.
def csrf_exempt_views() -> tuple[Any, ...]:
    return (launch,)


# ---------------------------------------------------------------- what dispatch launches tell the player


def player_check_access(read_sessions: sessionmaker[Session]) -> Any:
    """The player's ``check_access`` hook for dispatch grants: ``service.PackageRevoked`` (an
    ``AccessDenied``, reason ``package_revoked``) once the launch's package is revoked, replaced
    by a newer generation or deleted."""

    def check_access(grant: Any) -> None:
        service.check_player_launch(read_sessions, grant.launch_id)

    return check_access


def player_frame_ancestors(read_sessions: sessionmaker[Session]) -> Any:
    """The player's ``frame_ancestors`` hook for dispatch grants: the account's allowed LMS
    domains (and their subdomains), any origin when it lists none."""

    def frame_ancestors(grant: Any) -> Iterable[str]:
        return service.frame_ancestors_for_launch(read_sessions, grant.launch_id)

    return frame_ancestors


def player_page_config(read_sessions: sessionmaker[Session]) -> Any:
    """The player's ``page_config`` hook for dispatch grants: the origin of the package's launch
    page recorded at launch (None if none was); ``js/dispatch-bridge.js`` accepts the launch
    page's messages only from it and posts the player's status only to it."""

    def page_config(grant: Any) -> Mapping[str, Any]:
        return {"dispatch": {"lmsOrigin": service.lms_origin_for_launch(read_sessions, grant.launch_id)}}

    return page_config


def _page(status: int, title: str, message: str, ask: str, *, details: dict[str, str] | None = None,
          framed_anywhere: bool = True) -> Response:
    html = render_template("dispatch/message.html", title=title, message=message, ask=ask, details=details or {})
    response = Response(html, status)
    if framed_anywhere:
        response.headers["Content-Security-Policy"] = PAGE_CSP
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# ---------------------------------------------------------------- the launch


@bp.post("/dispatch/launch")
def launch() -> Response:
    if request.content_length is not None and request.content_length > MAX_FORM_BYTES:
        return _page(413, "This launch is too large", "The course package sent a launch request that is too large.",
                     "Ask your LMS administrator.")
    outcome = service.dispatch_launch(
        runtime_services().sessions, runtime_services().settings,
        service.LaunchRequest(token=request.form.get("token"), origin_header=request.headers.get("Origin"),
                              referrer_header=request.headers.get("Referer")),
        utcnow(), new_learners_per_minute=runtime_services().settings.dispatch_new_learners_per_minute,
    )
    if outcome.ok:
        # The one course player, shared with LTI launches; the app's services issue its links
        # (imports point one way: lti_tool → scorm_packages → store).
        assert outcome.seat is not None and outcome.learner_id is not None and outcome.package is not None
        token = runtime_services().issue_player_token(seat_id=outcome.seat.id, catalog_id=outcome.package.catalog_id,
                                                      learner_id=outcome.learner_id, launch_id=outcome.launch_id,
                                                      origin="dispatch")
        response = redirect(url_for("player.play", t=token), 303)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response
    if outcome.status >= 400 and outcome.kind not in ("refused",):
        log.warning("dispatch launch refused (HTTP %d, %s): %s", outcome.status, outcome.reason, outcome.message)
    details = {"reason": outcome.reason}
    if outcome.package is not None:
        details.update(package=outcome.package.key, course=outcome.package.catalog_id,
                       license=license_label(outcome.package.license_type))
    return _page(outcome.status, outcome.title, outcome.message, outcome.ask, details=details)


@bp.get("/dispatch/launch")
def launch_get() -> Response:
    return _page(400, "Open the course from your LMS",
                 "This address is where course packages open their course; it does nothing on its own.",
                 "Open the course from your LMS.", details={"reason": "not_a_launch"})


@bp.get("/dispatch/time")
def server_time() -> Response:
    response = jsonify(now=int(utcnow().timestamp()))
    response.headers["Access-Control-Allow-Origin"] = "*"  # public, cookie-less: the time only
    response.headers["Cache-Control"] = "no-store"
    return response


# ---------------------------------------------------------------- the admin download


@bp.get("/packages/download")
def download() -> Response:
    account_id, is_admin = session.get("account_id"), session.get("is_admin")
    if not isinstance(account_id, int) or isinstance(account_id, bool):
        return _page(401, "Your session has ended", "This download needs your session with the tool, and it has "
                     "ended (or this link is incomplete).", "Open the tool again from your LMS.",
                     framed_anywhere=False)
    if is_admin is not True:
        return _page(403, "For administrators only", "Only your organization's LMS administrators and "
                     "instructors can download course packages.", "Ask your LMS administrator.",
                     framed_anywhere=False)
    catalog_id = (request.args.get("course_id") or "").strip()
    license_type = (request.args.get("license_type") or "").strip()
    fmt = (request.args.get("format") or "").strip()
    problems = []
    if not catalog_id:
        problems.append("course_id is missing")
    if license_type not in LICENSE_LABELS:
        problems.append(f"license_type must be one of {', '.join(LICENSE_LABELS)}")
    if fmt not in FORMATS:
        problems.append(f"format must be one of {', '.join(FORMATS)}")
    if problems:
        return _page(400, "This download link is not valid", "; ".join(problems) + ".",
                     "Go back and choose the course, license and SCORM version again.", framed_anywhere=False)
    try:
        prepared, built = service.build_package_zip(runtime_services().sessions, runtime_services().settings, account_id, catalog_id, license_type,
                                                    fmt, utcnow())
    except NotFound as exc:
        return _page(404, "Not found", exc.message, "Go back and choose another course.", framed_anywhere=False)
    except (service.LicenseNotHeld, service.BundleExcluded, service.CourseRetired) as exc:
        return _page(403, "No package for this license", exc.message,
                     "Buy a license for this course first, or choose the license your organization holds.",
                     details={"reason": exc.reason}, framed_anywhere=False)
    except (InvalidInput, PackagingError) as exc:
        return _page(400, "This package cannot be made", str(getattr(exc, "message", exc)),
                     "Ask vendor support.", framed_anywhere=False)
    except StoreError as exc:
        return _page(503, "Try again", exc.message, "Try again in a moment.", framed_anywhere=False)
    log.info("package %s downloaded by an admin of account %s (%s)", prepared.view.key, account_id, built.filename)
    response = Response(built.data, 200, mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{built.filename}"'
    response.headers["Cache-Control"] = "no-store"  # the zip holds the package's signing secret
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response

"""The delivery pages (blueprint ``delivery``; see the package docstring for the URLs).

Every page but the invitation link is for the account's administrators (``current_admin``: 403 for
learners, 401 or the sign-in page without a session); every page first resolves the selection
(``service.resolve_selection``) and shows its problems, or the **License** question, instead of
anything else. Pages work inside an LMS iframe without cookies: links and forms keep the session
token; POST forms carry a CSRF token.

*Decisions.* The three methods are links to sub-pages (a ``nav`` "Delivery method" on each, the
current one marked). With no remembered format, **SCORM 1.2** is preselected (the version every
LMS plays). A selection of several courses downloads as ``courses-N__<format>.zip`` holding each
package's own zip under its CLI file name; its response says how many packages it holds
(``X-Package-Count``) and about how large it will be (``X-Estimated-Length``: the first package's
size times the count, plus the zip's overhead), which ``js/delivery-download.js`` uses to drive a
``<progress>`` while it reads the stream (without scripts the form downloads as usual).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.datastructures import MultiDict

from lti_tool.dashboard.access import current_admin
from lti_tool.dashboard.tabs import DASHBOARD_PATH, SETTINGS_PATH
from lti_tool.delivery import service
from lti_tool.lti.install import tool_urls
from lti_tool.lti.websession import url_for_s
from lti_tool.services import services
from lti_tool.storefront.access import Buyer
from lti_tool.storefront.nav import path_s
from lti_tool.storefront.views import csrf_error
from scorm_packages import service as packages
from scorm_packages.manifest import FORMATS
from scorm_packages.packaging import (
    BuiltPackage,
    PackagingError,
    build_package,
    estimated_zip_of_zips_size,
    normalize_base_url,
    stream_zip_of_zips,
    unique_member_name,
    zip_of_zips_name,
)
from store.base import utcnow
from store.dashboard.service import set_package_format
from store.errors import NotFound, StoreError
from store.invitations import rules as invitation_rules
from store.invitations.service import InvitationNotFound, InvitationRefused, open_invitation

log = logging.getLogger(__name__)

bp = Blueprint("delivery", __name__)
bp.register_error_handler(CSRFError, csrf_error)

FORMAT_LABELS = {"scorm12": "SCORM 1.2", "scorm2004": "SCORM 2004"}
DEFAULT_FORMAT = "scorm12"
METHODS = (("lti", "LTI link", "delivery.lti_link"), ("download", "Download Packages", "delivery.download_page"),
           ("invitations", "Invitations", "delivery.invitations_page"))


def _selection(buyer: Buyer, values: MultiDict[str, str]) -> service.Selection:
    wanted = service.Wanted.from_args(values.getlist("course"), values.get("license_type"), values)
    return service.resolve_selection(services().read_sessions, buyer.account_id, wanted, utcnow())


def _url_args(selection: service.Selection) -> dict[str, list[str]]:
    args: dict[str, list[str]] = {}
    for key, value in selection.query():
        args.setdefault(key, []).append(value)
    return args


def _render(template: str, selection: service.Selection, *, status: int = 200, method: str | None = None,
            **context: Any) -> Response:
    args = _url_args(selection)
    methods = [(key, label, url_for_s(endpoint, **args), key == method) for key, label, endpoint in METHODS]
    page = render_template(template, selection=selection, methods=methods, method=method,
                           choose_url=url_for_s("delivery.choose", **args), dashboard_url=path_s(DASHBOARD_PATH),
                           **context)
    response = Response(page, status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _choose(selection: service.Selection) -> Response:
    status = selection.status if selection.problems else 200
    return _render("delivery/choose.html", selection, status=status)


@bp.get("/dashboard/deliver")
def choose() -> Response:
    return _choose(_selection(current_admin(), request.args))


# ---------------------------------------------------------------- LTI link


def _base_url() -> str:
    return services().settings.public_base_url or request.host_url.rstrip("/")


@bp.get("/dashboard/deliver/lti")
def lti_link() -> Response:
    selection = _selection(current_admin(), request.args)
    if not selection.is_ready:
        return _choose(selection)
    urls = tool_urls(services().settings)
    return _render("delivery/lti.html", selection, method="lti", launch_url=urls.launch, install_url=urls.install)


# ---------------------------------------------------------------- Download Packages


def _download_page(buyer: Buyer, selection: service.Selection, fmt: str | None, *, status: int = 200,
                   error: str | None = None) -> Response:
    remembered = service.remembered_format(services().read_sessions, buyer.account_id)
    return _render("delivery/download.html", selection, status=status, method="download",
                   fmt=fmt or remembered or DEFAULT_FORMAT, remembered=remembered, formats=FORMAT_LABELS,
                   error=error, settings_url=path_s(SETTINGS_PATH))


@bp.get("/dashboard/deliver/download")
def download_page() -> Response:
    buyer = current_admin()
    selection = _selection(buyer, request.args)
    if not selection.is_ready:
        return _choose(selection)
    return _download_page(buyer, selection, None)


def _zip_response(body: bytes | Iterator[bytes], filename: str) -> Response:
    response = Response(body, 200, mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"  # the zips hold the packages' signing secrets
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _streamed(prepared: list[packages.PreparedPackage], base: str, fmt: str) -> Response:
    """The zip of zips: the first package is built now (its size gives the estimate), each other
    one when the stream reaches it."""
    first = build_package(prepared[0].spec(base))

    def members() -> Iterator[tuple[str, bytes]]:
        taken: set[str] = set()
        built: BuiltPackage = first
        for index, item in enumerate(prepared):
            if index:
                built = build_package(item.spec(base))
            yield unique_member_name(built, item.view.catalog_id, taken), built.data

    response = _zip_response(stream_zip_of_zips(members()), zip_of_zips_name(len(prepared), fmt))
    response.headers["X-Package-Count"] = str(len(prepared))
    response.headers["X-Estimated-Length"] = str(estimated_zip_of_zips_size(len(prepared), first))
    return response


@bp.post("/dashboard/deliver/download")
def download() -> Response:
    buyer = current_admin()
    selection = _selection(buyer, request.form)
    if not selection.is_ready:
        return _choose(selection)
    fmt = request.form.get("format", "")
    if fmt not in FORMATS:
        return _download_page(buyer, selection, None, status=400, error="Choose SCORM 1.2 or SCORM 2004.")
    settings = services().settings
    try:
        base = normalize_base_url(_base_url())
        prepared = packages.prepare_packages(services().sessions, settings, buyer.account_id, selection.items, fmt,
                                             utcnow())
    except NotFound as exc:
        return _download_page(buyer, selection, fmt, status=404, error=exc.message)
    except (packages.LicenseNotHeld, packages.BundleExcluded, packages.CourseRetired) as exc:
        return _download_page(buyer, selection, fmt, status=403, error=f"No package was made: {exc.message}.")
    except PackagingError as exc:
        log.error("packages cannot be built: %s", exc)
        return _download_page(buyer, selection, fmt, status=503,
                              error="Packages cannot be made on this server right now; please tell vendor support.")
    except StoreError as exc:
        return _download_page(buyer, selection, fmt, status=503, error=f"Try again in a moment ({exc.message}).")
    set_package_format(services().sessions, buyer.account_id, fmt)
    log.info("%d package(s) (%s) downloaded by an admin of account %s", len(prepared), fmt, buyer.account_id)
    if len(prepared) == 1:
        built = build_package(prepared[0].spec(base))
        return _zip_response(built.data, built.filename)
    return _streamed(prepared, base, fmt)


# ---------------------------------------------------------------- Invitations


def _invitations_page(buyer: Buyer, selection: service.Selection, *, status: int = 200, **context: Any) -> Response:
    settings = services().settings
    overview = service.invitations_overview(services().read_sessions, buyer.account_id,
                                            settings.mail_backend == "outbox", utcnow())
    context.setdefault("emails", "")
    return _render("delivery/invitations.html", selection, status=status, method="invitations", overview=overview,
                   max_batch=invitation_rules.MAX_BATCH, **context)


@bp.get("/dashboard/deliver/invitations")
def invitations_page() -> Response:
    buyer = current_admin()
    selection = _selection(buyer, request.args)
    if not selection.is_ready:
        return _choose(selection)
    return _invitations_page(buyer, selection)


def _invite_link(token: str) -> str:
    return _base_url() + url_for("delivery.invite", token=token)


@bp.post("/dashboard/deliver/invitations")
def send() -> Response:
    buyer = current_admin()
    selection = _selection(buyer, request.form)
    if not selection.is_ready:
        return _choose(selection)
    emails = request.form.get("emails", "")
    parsed = invitation_rules.parse_addresses(emails)
    if parsed.problems:
        return _invitations_page(buyer, selection, status=400, emails=emails[:invitation_rules.EMAILS_MAX_CHARS],
                                 problems=parsed.problems)
    results = service.invite_to_courses(services().sessions, services().mail, buyer.account_id, buyer.learner_id,
                                        selection.choices, emails, utcnow(), link_for=_invite_link,
                                        demo_content=services().settings.demo_content)
    return _invitations_page(buyer, selection, results=results)


# ---------------------------------------------------------------- the invitation's link


def _invite_message(status: int, title: str, message: str, ask: str) -> Response:
    response = Response(render_template("delivery/invite_message.html", title=title, message=message, ask=ask),
                        status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in this page's URL
    return response


@bp.get("/invite/<token>")
def invite(token: str) -> Response:
    try:
        opened = open_invitation(services().sessions, token, utcnow())
    except InvitationNotFound as exc:
        return _invite_message(404, "This invitation link is not valid", f"{exc.message[:1].upper()}{exc.message[1:]}.",
                               "Ask the person who invited you to send the invitation again.")
    except InvitationRefused as exc:
        return _invite_message(403, exc.title, exc.message, exc.ask)
    except StoreError as exc:
        return _invite_message(503, "The course could not be opened", f"Try again in a moment ({exc.message}).",
                               "If it keeps happening, ask the person who invited you.")
    player = services().issue_player_token(seat_id=opened.seat.id, catalog_id=opened.catalog_id,
                                           learner_id=opened.learner_id, launch_id=None, origin="invite")
    response = redirect(url_for("player.play", t=player), 303)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


__all__ = ["bp"]

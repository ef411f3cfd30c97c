"""Deep linking: the content picker an LMS admin sees after "add content" (blueprint ``deeplink``)
and the signed ``LtiDeepLinkingResponse`` it sends back.

- ``GET /lti/deep-link?launch=ID&s=TOKEN`` (``deeplink.picker``): the account's licensed courses,
  searched with the catalog's full-text search, filtered by license type, paged; the current
  selection with a license-type choice per course. Only the admin web session started by that
  deep-linking launch may open it (403 otherwise; 404 when the launch expired).
- ``POST /lti/deep-link`` (``deeplink.update``): one form does everything, so ticks survive
  searches and page changes without scripts or cookies: the ticks of the courses shown on the
  page, the license choices, then the button pressed (search, page, remove, *add*, *cancel*).
  The selection lives in the server-side web session, keyed by the launch.
- *Add* validates the selection against what the account can deliver now (a tampered form or a
  license that expired meanwhile gets the page again with the problem named, nothing sent),
  builds the content items, signs the response with the tool key, consumes the launch (the row
  is deleted: one response per deep-linking request) and auto-posts ``JWT`` to the LMS's
  ``deep_link_return_url``. *Cancel* sends an empty ``content_items`` with a ``msg``.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.datastructures import MultiDict

from lti_tool.lti import claims
from lti_tool.lti import content_items as ci
from lti_tool.lti.errors import LaunchError, bad_request, forbidden
from lti_tool.lti.keys import current_signing_key
from lti_tool.lti.launch import get_launch
from lti_tool.lti.models import LtiLaunch
from lti_tool.lti.tool_conf import get_registration
from lti_tool.lti.views import render_launch_error
from lti_tool.services import services
from store.base import utcnow
from store.licenses import offers
from store.licenses.labels import LICENSE_TYPES

log = logging.getLogger(__name__)

bp = Blueprint("deeplink", __name__)

PER_PAGE = 20
MAX_ITEMS = 50  # courses in one response
MAX_QUERY_CHARS = 200
SESSION_KEY = "deeplink"  # {"launch": <launch id>, "items": [[catalog id, license type or ""], ...]}
ANSWERED_KEY = "deeplink_answered"  # the launch id this session already answered
REOPEN_HINT = "Open “add content” (the tool's content picker) again in your LMS."


# ---------------------------------------------------------------- the request being answered


@dataclass(frozen=True)
class DeepLinkRequest:
    launch_id: str
    account_id: int
    registration_id: int
    deployment_id: str
    platform_issuer: str  # the response's aud
    client_id: str  # the response's iss
    return_url: str
    accept_multiple: bool
    settings: Mapping[str, Any]  # deep_linking_settings as received (``data`` is echoed from it)


def load_request(sessions: sessionmaker[Session], launch_id: str, account_id: int,
                 now: datetime) -> DeepLinkRequest | None:
    """The deep-linking launch ``launch_id`` of the account, if it is still open (not expired,
    not answered yet)."""
    with sessions() as db:
        launch = get_launch(db, launch_id, now)
        if (launch is None or launch.message_type != claims.DEEP_LINKING_REQUEST
                or launch.account_id != account_id):
            return None
        registration = get_registration(db, launch.registration_id)
        body = launch.claims
        deployment_id = launch.deployment_id
    settings = body.get(claims.DEEP_LINKING_SETTINGS) if isinstance(body, dict) else None
    if registration is None or not isinstance(settings, dict) or not isinstance(settings.get("deep_link_return_url"),
                                                                                 str):
        return None
    # accept_multiple absent: one item, which every platform accepts.
    return DeepLinkRequest(launch_id, account_id, registration.id, deployment_id, registration.issuer,
                           registration.client_id, settings["deep_link_return_url"],
                           settings.get("accept_multiple") is True, dict(settings))


def consume_request(sessions: sessionmaker[Session], launch_id: str, now: datetime) -> bool:
    """Use the deep-linking launch up: one guarded DELETE, so of two simultaneous submits only
    one sends a response. False when it was already used or expired."""
    with sessions.begin() as db:
        deleted = db.execute(
            delete(LtiLaunch).where(LtiLaunch.id == launch_id,
                                    LtiLaunch.message_type == claims.DEEP_LINKING_REQUEST,
                                    LtiLaunch.expires_at > now)
        ).rowcount
    return deleted == 1


# ---------------------------------------------------------------- plumbing





@bp.errorhandler(CSRFError)
def _csrf_error(error: CSRFError) -> tuple[str, int]:
    return render_launch_error(bad_request(
        "csrf_failed", f"The form could not be accepted: {error.description}",
        "Your session with this tool may have ended. " + REOPEN_HINT,
    ))


def _require(launch_id: str) -> DeepLinkRequest:
    """The open deep-linking request ``launch_id``, for the admin session started by it."""
    account_id = session.get("account_id")
    if not isinstance(account_id, int):
        raise forbidden("no_session",
                        "This content picker needs the session your LMS started, and this request carries none "
                        "(it ended, or the link is incomplete).", REOPEN_HINT, title="Session ended")
    if not session.get("is_admin"):
        raise forbidden("admins_only", "Only instructors and administrators can add this tool's courses to the LMS.",
                        title="Not allowed")
    if not launch_id or session.get("launch_id") != launch_id:
        raise forbidden("not_your_launch", "This content picker belongs to another LMS session.", REOPEN_HINT,
                        title="Not allowed")
    if session.get(ANSWERED_KEY) == launch_id:
        raise LaunchError(409, "deep_link_answered",
                          "The courses for this “add content” request were already sent to the LMS (or it was "
                          "cancelled): an LMS accepts one answer per request.", REOPEN_HINT,
                          title="Already sent")
    request_ = load_request(services().sessions, launch_id, account_id, utcnow())
    if request_ is None:
        raise LaunchError(404, "deep_link_expired",
                          "This “add content” request is unknown or has expired.", REOPEN_HINT,
                          title="Content selection expired")
    return request_


@dataclass(frozen=True)
class View:
    q: str
    license_type: str  # "" = all
    page: int

    def args(self) -> dict[str, Any]:
        return {k: v for k, v in (("q", self.q), ("type", self.license_type), ("page", self.page))
                if v and v != 1}


def _license_filter(value: str | None) -> str:
    value = (value or "").strip()
    if value and value not in LICENSE_TYPES:
        raise bad_request("invalid_filter", f"Unknown license type filter {value[:40]!r}: use plus, volume or ppu.")
    return value


def _page_number(value: str | None) -> int:
    try:
        page = int(value or 1)
    except ValueError:
        return 1
    return min(max(page, 1), 100_000)


def _view_from(values: Mapping[str, str]) -> View:
    return View((values.get("q") or "").strip()[:MAX_QUERY_CHARS], _license_filter(values.get("type")),
                _page_number(values.get("page")))


def _selection(launch_id: str) -> dict[str, str]:
    """The selection kept in the web session: catalog id → chosen license type ("" = not chosen),
    in the order picked."""
    data = session.get(SESSION_KEY)
    if not isinstance(data, dict) or data.get("launch") != launch_id:
        return {}
    out: dict[str, str] = {}
    for entry in data.get("items") or []:
        if isinstance(entry, list) and len(entry) == 2 and all(isinstance(x, str) for x in entry):
            out[entry[0]] = entry[1]
    return out


def _save_selection(launch_id: str, selection: Mapping[str, str]) -> None:
    session[SESSION_KEY] = {"launch": launch_id, "items": [[cid, lt] for cid, lt in selection.items()]}


def _labels(types: tuple[str, ...] | list[str]) -> str:
    labels = [ci.license_label(t) for t in types]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " or " + labels[-1]


# ---------------------------------------------------------------- pages


@dataclass(frozen=True)
class SelectedRow:
    catalog_id: str
    title: str
    publisher: str
    license_types: tuple[str, ...]
    choice: str
    problem: str | None


def _selected_rows(selection: Mapping[str, str], found: Mapping[str, offers.CourseOffer]) -> list[SelectedRow]:
    rows = []
    for cid, choice in selection.items():
        offer = found.get(cid)
        if offer is None:
            rows.append(SelectedRow(cid, cid, "", (), choice, "This course is not in the catalog."))
            continue
        problem = None
        if not offer.license_types:
            problem = "Your organization can no longer deliver this course (its license expired or was removed)."
        elif choice and choice not in offer.license_types:
            problem = (f"It cannot be delivered under {ci.license_label(choice)} now; "
                       f"it can under {_labels(offer.license_types)}.")
        rows.append(SelectedRow(cid, offer.title, offer.publisher, offer.license_types, choice, problem))
    return rows


def _render_picker(req: DeepLinkRequest, view: View, selection: Mapping[str, str], errors: list[str] | None = None,
                   status: int = 200) -> Response:
    now = utcnow()
    with services().read_sessions() as db:
        result = offers.search_licensed_courses(db, req.account_id, now, view.q,
                                                license_type=view.license_type or None, page=view.page,
                                                per_page=PER_PAGE)
        found = offers.offers_for(db, req.account_id, selection.keys(), now)
    page = render_template("deeplink/picker.html", req=req, view=view, result=result,
                           selected=_selected_rows(selection, found), selected_ids=set(selection),
                           errors=errors or [], max_items=MAX_ITEMS)
    response = Response(page, status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/lti/deep-link")
def picker() -> Response:
    launch_id = request.args.get("launch", "")[:100]
    req = _require(launch_id)
    return _render_picker(req, _view_from(request.args), _selection(launch_id))


@bp.post("/lti/deep-link")
def update() -> Response:
    form = request.form
    launch_id = form.get("launch", "")[:100]
    req = _require(launch_id)
    view = _view_from(form)
    if form.get("goto"):
        view = View(view.q, view.license_type, _page_number(form.get("goto")))
    elif (view.q, view.license_type) != ((form.get("current_q") or "").strip(), (form.get("current_type") or "")):
        view = View(view.q, view.license_type, 1)  # a new search starts at its first page
    action = form.get("action", "update")
    if action == "cancel":
        return _send(req, [], msg="No course selected")

    selection = _selection(launch_id)
    errors = _apply_form(req, selection, form)
    _save_selection(launch_id, selection)
    if errors:
        return _render_picker(req, view, selection, errors, status=422)
    if action == "respond":
        return _respond(req, view, selection)
    return redirect(url_for("deeplink.picker", launch=launch_id, s=session.token,  # type: ignore[attr-defined]
                            **view.args()), 303)


def _apply_form(req: DeepLinkRequest, selection: dict[str, str], form: MultiDict[str, str]) -> list[str]:
    """Apply the page's license choices and ticks to the selection; the problems found."""
    errors: list[str] = []
    for cid in list(selection):
        choice = form.get(f"license-{cid}")
        if choice is not None:
            selection[cid] = choice if choice in LICENSE_TYPES else ""
    shown = set(form.getlist("shown")[:offers.MAX_PER_PAGE])
    picks = list(dict.fromkeys(p for p in form.getlist("pick")[:offers.MAX_PER_PAGE] if p and len(p) <= 200))
    if not req.accept_multiple and len(picks) > 1:
        errors.append("This LMS accepts one course at a time here: select just one.")
        return errors  # nothing picked changes
    new = [p for p in picks if p not in selection]
    if new:
        with services().read_sessions() as db:
            found = offers.offers_for(db, req.account_id, new, utcnow())
        for cid in new:
            offer = found.get(cid)
            if offer is None:
                errors.append(f"Course {cid} is not in the catalog.")
            elif not offer.license_types:
                errors.append(f"“{offer.title}” is not covered by any license your organization holds now.")
            elif not req.accept_multiple:
                selection.clear()
                selection[cid] = offer.license_types[0] if len(offer.license_types) == 1 else ""
            elif len(selection) >= MAX_ITEMS:
                errors.append(f"At most {MAX_ITEMS} courses can be added at once: add these, then the others.")
                break
            else:
                selection[cid] = offer.license_types[0] if len(offer.license_types) == 1 else ""
    for cid in shown:
        if cid in selection and cid not in picks:
            del selection[cid]
    removed = form.get("remove")
    if removed:
        selection.pop(removed, None)
    return errors


def _respond(req: DeepLinkRequest, view: View, selection: Mapping[str, str]) -> Response:
    with services().read_sessions() as db:
        found = offers.offers_for(db, req.account_id, selection.keys(), utcnow())
    errors: list[str] = []
    picks: list[ci.Pick] = []
    if not selection:
        errors.append("Select at least one course, or choose Cancel.")
    if not req.accept_multiple and len(selection) > 1:
        errors.append("This LMS accepts one course at a time here: keep just one.")
    for cid, choice in selection.items():
        offer = found.get(cid)
        if offer is None:
            errors.append(f"Course {cid} is not in the catalog: remove it.")
        elif not offer.license_types:
            errors.append(f"“{offer.title}” can no longer be delivered under any license your organization holds "
                          "(its license expired or was removed): remove it.")
        elif not choice:
            errors.append(f"Choose the license type for “{offer.title}”: it can be delivered under "
                          f"{_labels(offer.license_types)}.")
        elif choice not in offer.license_types:
            errors.append(f"“{offer.title}” cannot be delivered under {ci.license_label(choice)} now; "
                          f"choose {_labels(offer.license_types)}.")
        else:
            picks.append(ci.Pick(cid, offer.title, choice, offer.description))
    if errors:
        return _render_picker(req, view, selection, errors, status=422)
    launch_url = services().settings.public_base_url.rstrip("/") + url_for("lti_launch.launch")
    count = len(picks)
    return _send(req, ci.content_items(picks, launch_url),
                 msg=f"{count} course{'s' if count != 1 else ''} added", titles=[ci.item_title(p.title, p.license_type)
                                                                            for p in picks])


def _send(req: DeepLinkRequest, items: list[dict[str, Any]], *, msg: str,
          titles: list[str] | None = None) -> Response:
    """Sign the response, use the launch up, and auto-post the JWT to the LMS."""
    now = utcnow()
    body = ci.response_claims(client_id=req.client_id, platform_issuer=req.platform_issuer,
                              deployment_id=req.deployment_id, items=items, settings=req.settings,
                              nonce=secrets.token_urlsafe(24), now=now, msg=msg)
    token = current_signing_key(services().sessions, services().settings, now).sign(body, headers={"typ": "JWT"})
    if not consume_request(services().sessions, req.launch_id, now):
        raise LaunchError(409, "deep_link_answered",
                          "This “add content” request was already answered (or it expired meanwhile).",
                          REOPEN_HINT, title="Already sent")
    session.pop(SESSION_KEY, None)
    session[ANSWERED_KEY] = req.launch_id
    log.info("deep linking %s answered for account %s: %d item(s) to %s", req.launch_id, req.account_id,
             len(items), req.return_url)
    page = render_template("deeplink/return.html", return_url=req.return_url, jwt=token, titles=titles or [],
                           cancelled=not items)
    response = Response(page)
    response.headers["Cache-Control"] = "no-store"
    return response

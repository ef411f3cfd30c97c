"""The account's settings (blueprint ``dashboard_settings``), linked as **Settings** from every
dashboard page.

- ``GET /dashboard/settings``: two forms.
  **Identity linking**: the checkbox "Treat the same person as one learner across delivery
  methods" with what it does and its trade-off (``store.accounts.identities.LINKING_HELP``'s
  facts), button **Save settings** (``store.accounts.linking.set_identity_linking``).
  **Close the account**: "Reason (optional)", a required confirmation checkbox and the button
  **Request account closure** (``store.closure.service.request_account_closure``; staff see it
  in ``lti-tool staff requests`` and close the account with ``lti-tool staff close-account``);
  a request staff have not acted on yet is shown with its date.
- ``POST /dashboard/settings``: the field ``form`` says which (``linking`` | ``closure``). Done:
  a 303 back to the page with its message. Refused (no confirmation, a reason too long): the page
  with the message next to the field, status 400, nothing stored.

Admins only (``current_admin``: 403 for learners, 401 or the sign-in page without a session);
every form carries the session token and a CSRF token.
"""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request
from flask_wtf.csrf import CSRFError

from lti_tool.dashboard.tabs import SETTINGS_PATH
from lti_tool.lti.errors import LaunchError
from lti_tool.lti.websession import url_for_s
from lti_tool.services import services
from lti_tool.storefront import views as store_pages
from lti_tool.dashboard.access import current_admin
from lti_tool.storefront.access import Buyer, session_ended
from store.accounts.linking import is_identity_linking, set_identity_linking
from store.base import utcnow
from store.closure.service import MESSAGE_MAX, ClosureRequestView, list_closure_requests, request_account_closure
from store.errors import InvalidInput, NotFound

bp = Blueprint("dashboard_settings", __name__)
bp.register_error_handler(CSRFError, store_pages.csrf_error)

FLASH_SAVED = "settings-saved"
FLASH_CLOSURE = "closure-requested"
CONFIRM_MISSING = "Tick the box to confirm that you want the account closed."


def _linking(buyer: Buyer) -> bool:
    try:
        return is_identity_linking(services().read_sessions, buyer.account_id)
    except NotFound:
        raise session_ended() from None


def _pending(buyer: Buyer) -> ClosureRequestView | None:
    """The account's latest closure request that staff have not acted on, if any."""
    with services().read_sessions() as session:
        return next(iter(list_closure_requests(session, buyer.account_id)), None)


def _page(buyer: Buyer, *, errors: dict[str, str] | None = None, reason: str = "", confirmed: bool = False) -> Response:
    errors = errors or {}
    response = Response(render_template(
        "dashboard/settings.html", settings_current=True, linking=_linking(buyer), pending=_pending(buyer),
        errors=errors, reason=reason, confirmed=confirmed, reason_max=MESSAGE_MAX,
    ), status=400 if errors else 200)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route(SETTINGS_PATH, methods=["GET", "POST"])
def settings() -> Response:
    buyer = current_admin()
    if request.method == "GET":
        return _page(buyer)
    which = request.form.get("form", "")
    if which == "linking":
        return _save_linking(buyer)
    if which == "closure":
        return _request_closure(buyer)
    raise LaunchError(400, "invalid_form", "This form asked for something the settings page does not do.",
                      "Go back to the settings page and use its buttons.", title="Not a settings form")


def _save_linking(buyer: Buyer) -> Response:
    enabled = request.form.get("link_identities") == "on"
    try:
        set_identity_linking(services().sessions, buyer.account_id, enabled)
    except NotFound:
        raise session_ended() from None
    flash("Settings saved: the same person is now treated as one learner across delivery methods." if enabled
          else "Settings saved: each delivery method now counts its learners separately.", FLASH_SAVED)
    return redirect(url_for_s("dashboard_settings.settings"), 303)


def _request_closure(buyer: Buyer) -> Response:
    reason = request.form.get("reason", "")
    confirmed = request.form.get("confirm") == "yes"
    if not confirmed:
        return _page(buyer, errors={"confirm": CONFIRM_MISSING}, reason=reason[:MESSAGE_MAX])
    try:
        request_account_closure(services().sessions, buyer.account_id, buyer.learner_id, reason, utcnow())
    except NotFound:
        raise session_ended() from None
    except InvalidInput as exc:  # too long
        message = f"The reason is too long: at most {MESSAGE_MAX:,} characters." \
            if exc.reason == "text_too_long" else "The reason cannot be stored as written; remove unusual characters."
        return _page(buyer, errors={"reason": message}, reason=reason[:MESSAGE_MAX], confirmed=True)
    flash("Your request to close the account was sent to vendor staff, who will act on it. Until they close it, "
          "everything keeps working.", FLASH_CLOSURE)
    return redirect(url_for_s("dashboard_settings.settings"), 303)


__all__ = ["bp"]

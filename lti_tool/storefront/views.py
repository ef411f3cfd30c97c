"""The store pages (blueprint ``storefront``). Each view finds the buyer (``access.py``: a 403 for
learners, a 401 or the sign-in page without a session), parses its input, calls one function of
``service.py`` and renders. Pages work inside an LMS iframe without cookies: every link and form
keeps the session token (``url_for_s``, ``session_field()``), every form has a CSRF token.

- ``GET /store``: the catalog: search, "Plus courses only", Publisher, Language, Duration,
  20 courses a page, each with a badge of what the account holds for it; Pay Per Use accounts
  tick courses and press **Add to Library**.
- ``GET|POST /store/courses/<catalog_id>``: a course with its prices, discount tiers and buttons
  (**Buy Now**, **Deliver Course** + **Buy More Seats**, **Add to Library**); POST is the
  **Show price** preview of a Volume quantity (nothing is stored).
- ``GET|POST /store/plus``: the Plus subscription (term, seats, price; **Add Seats** pro rata
  with an active subscription); POST is the **Show price** preview.
- ``GET /store/library``, ``POST /store/library``: the Pay Per Use library, and adding courses.

**Add to Cart** / **Add Seats** post to ``/store/cart`` (the cart's page, phase 2) with the
fields ``item`` (``volume`` | ``plus``), ``catalog_id`` (Volume), ``term`` (Plus: ``annual`` |
``monthly``) and ``quantity``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Response, flash, redirect, render_template, request
from flask_wtf.csrf import CSRFError

from lti_tool.lti.errors import LaunchError, bad_request
from lti_tool.lti.views import render_launch_error
from lti_tool.lti.websession import url_for_s
from lti_tool.services import services
from lti_tool.storefront import rules, service
from lti_tool.storefront.access import Buyer, current_buyer, session_ended
from lti_tool.storefront.nav import path_s
from store.base import utcnow
from store.errors import InvalidInput, NotFound, StoreError
from store.pricing import PLUS_MAX_SEATS_PER_ORDER, PLUS_TERMS, VOLUME_MAX_SEATS_PER_COURSE_ORDER

bp = Blueprint("storefront", __name__)

CART_PATH = "/store/cart"
QUOTE_PATH = "/store/quote"
MAX_PAGE = 100_000
FLASH_LIBRARY_ADDED = "library-added"
FLASH_LIBRARY_ERROR = "library-error"


@bp.errorhandler(CSRFError)
def csrf_error(error: CSRFError) -> tuple[str, int]:
    return render_launch_error(bad_request(
        "csrf_failed", f"The form could not be accepted: {error.description}",
        "Go back, reload the page and submit it again; if that fails too, open Course Licenses again "
        "(from your LMS, or sign in again).",
    ))


def _render(template: str, *, status: int = 200, nav_current: str | None = None, **context: Any) -> Response:
    context.setdefault("cart_action", path_s(CART_PATH))
    context.setdefault("quote_url", path_s(QUOTE_PATH))
    page = render_template(template, nav_current=nav_current, language_name=rules.language_name,
                           duration_text=rules.duration_text, **context)
    response = Response(page, status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _text(value: str | None, limit: int) -> str:
    return (value or "").strip()[:limit]


def _page_number(value: str | None) -> int:
    try:
        page = int(value or 1)
    except ValueError:
        return 1
    return min(max(page, 1), MAX_PAGE)


# ---------------------------------------------------------------- the catalog


def _catalog_args(query: service.CatalogQuery) -> dict[str, Any]:
    """The query as URL arguments (for the pager and the way back after Add to Library)."""
    values = {"q": query.q, "plus": "1" if query.plus_only else "", "publisher": query.publisher,
              "language": query.language, "duration": query.duration}
    return {k: v for k, v in values.items() if v}


@bp.get("/store")
def catalog() -> Response:
    buyer = current_buyer()
    args = request.args
    query = service.CatalogQuery(
        q=_text(args.get("q"), service.MAX_QUERY_CHARS), plus_only=bool(args.get("plus")),
        publisher=_text(args.get("publisher"), 200), language=_text(args.get("language"), 20),
        duration=_text(args.get("duration"), 20), page=_page_number(args.get("page")))
    read_sessions = services().read_sessions
    filters = service.catalog_filters(read_sessions)
    errors: dict[str, str] = {}
    if query.publisher and query.publisher not in filters.publishers:
        errors["publisher"] = "Choose a publisher from the list."
    if query.language and query.language not in filters.languages:
        errors["language"] = "Choose a language from the list."
    if query.duration and query.duration not in rules.DURATIONS_BY_KEY:
        errors["duration"] = "Choose a duration from the list."
    page = None if errors else service.catalog_page(read_sessions, buyer.account_id, query, utcnow())
    base_args = _catalog_args(query)
    return _render("storefront/catalog.html", status=400 if errors else 200, nav_current="store", query=query,
                   filters=filters, page=page, errors=errors, durations=rules.DURATIONS, base_args=base_args,
                   back=url_for_s("storefront.catalog", **base_args, **({"page": query.page} if query.page > 1
                                                                          else {})))


# ---------------------------------------------------------------- a course


def _course_page(buyer: Buyer, catalog_id: str) -> service.CoursePage:
    try:
        return service.course_page(services().read_sessions, services().settings, buyer.account_id, catalog_id,
                                   utcnow())
    except NotFound:
        raise LaunchError(404, "course_not_found", "There is no course with this catalog id in the store.",
                          "Go back to the store and search for the course.", title="Course not found") from None


def course_response(buyer: Buyer, catalog_id: str, *, show_buy: bool = False, quantity_text: str = "",
                    error: str | None = None, error_reason: str | None = None,
                    price: rules.VolumePrice | None = None, status: int | None = None,
                    quote_url: str | None = None) -> Response:
    """The course page, with the "Buy seats" part open when ``show_buy``; ``error`` goes next to
    its Quantity field (also after a refused **Add to Cart**, see ``lti_tool.storefront.buying``)."""
    page = _course_page(buyer, catalog_id[:200])
    extra = {"quote_url": quote_url} if quote_url else {}
    return _render("storefront/course.html", status=status or (422 if error else 200), nav_current="store",
                   page=page, course=page.course, offer=page.offer, show_buy=show_buy or bool(error),
                   quantity_text=quantity_text, error=error, error_reason=error_reason, price=price,
                   max_volume=VOLUME_MAX_SEATS_PER_COURSE_ORDER, **extra)


@bp.route("/store/courses/<path:catalog_id>", methods=["GET", "POST"])
def course(catalog_id: str) -> Response:
    buyer = current_buyer()
    if request.method == "GET":
        return course_response(buyer, catalog_id, show_buy=request.args.get("buy") == "1")
    # Show price: a preview; nothing is stored.
    page = _course_page(buyer, catalog_id[:200])
    quantity_text = _text(request.form.get("quantity"), 50)
    error: str | None = None
    error_reason: str | None = None
    price: rules.VolumePrice | None = None
    if not page.offer.buy_volume:
        error, error_reason = "This course cannot be bought as Volume seats here.", "not_for_sale"
    else:
        try:
            price = rules.volume_price(page.course.volume_price_cents, rules.read_quantity(quantity_text, rules.VOLUME))
        except InvalidInput as exc:
            error, error_reason = exc.message, exc.reason
    return course_response(buyer, catalog_id, show_buy=True, quantity_text=quantity_text, error=error,
                           error_reason=error_reason, price=price,
                           quote_url=quote_link("volume", page.course.catalog_id, None, quantity_text)
                           if error_reason == "quote_required" else None)


# ---------------------------------------------------------------- the Plus subscription


def quote_link(item: str, catalog_id: str | None, term: str | None, quantity: str) -> str:
    """The quote form for what was asked beyond the store limit (it comes filled in)."""
    url = path_s(QUOTE_PATH)
    args = {"item": item, "catalog_id": catalog_id or "", "term": term or "", "quantity": quantity}
    query = urlencode({k: v for k, v in args.items() if v})
    return f"{url}{'&' if '?' in url else '?'}{query}" if query else url


def plus_response(buyer: Buyer, *, seats_text: str = "", term: str | None = None,
                  errors: dict[str, str] | None = None, error_reason: str | None = None, previewed: bool = False,
                  status: int | None = None) -> Response:
    """The Plus page; ``errors`` (``quantity``, ``term``) go next to their fields (also after a
    refused **Add to Cart** / **Add Seats**)."""
    now = utcnow()
    settings = services().settings
    page = service.plus_page(services().read_sessions, settings, buyer.account_id, now)
    annual, monthly = settings.plus_annual_seat_cents, settings.plus_monthly_seat_cents
    errors = dict(errors or {})
    offer = page.offer
    sub = page.subscription
    term = offer.term if offer.add_seats else (term or (sub.term if sub is not None else "annual"))
    price: rules.PlusPrice | None = None
    seats = 1
    if previewed and not errors:
        seats = rules.read_quantity(seats_text, rules.PLUS)
    if offer.add_seats and not errors:
        # Each added seat's price is shown before anything is typed.
        assert offer.term is not None and offer.prorated_seat_cents is not None and offer.proration is not None
        assert offer.period_end is not None
        price = rules.plus_added_seats_price(offer.term, seats, annual, monthly, offer.prorated_seat_cents,
                                             offer.proration, offer.period_end)
    elif previewed and not errors:
        price = rules.plus_price(term, seats, annual, monthly)
    quote = quote_link("plus", None, term, seats_text) if error_reason == "quote_required" else None
    return _render("storefront/plus.html", status=status or (422 if errors else 200), nav_current="store",
                   page=page, sub=sub, offer=offer, term=term, seats_text=seats_text, errors=errors,
                   error_reason=error_reason, price=price, annual_cents=annual, monthly_cents=monthly,
                   max_seats=PLUS_MAX_SEATS_PER_ORDER, previewed=previewed and not errors,
                   **({"quote_url": quote} if quote else {}))


@bp.route("/store/plus", methods=["GET", "POST"])
def plus() -> Response:
    buyer = current_buyer()
    if request.method == "GET":
        return plus_response(buyer)
    # Show price: a preview; nothing is stored.
    settings = services().settings
    offer = service.plus_page(services().read_sessions, settings, buyer.account_id, utcnow()).offer
    seats_text = _text(request.form.get("quantity"), 50)
    errors: dict[str, str] = {}
    error_reason: str | None = None
    if offer.problem is not None:
        errors["quantity"] = offer.problem.message
        error_reason = offer.problem.reason
    term = None
    if not offer.add_seats:
        term = _text(request.form.get("term"), 20)
        if term not in PLUS_TERMS:
            errors["term"] = "Choose the term: monthly or annual."
    try:
        rules.read_quantity(seats_text, rules.PLUS)
    except InvalidInput as exc:
        errors.setdefault("quantity", exc.message)
        error_reason = error_reason or exc.reason
    return plus_response(buyer, seats_text=seats_text, term=term if term in PLUS_TERMS else None, errors=errors,
                         error_reason=error_reason, previewed=True)


# ---------------------------------------------------------------- the Pay Per Use library


@bp.get("/store/library")
def library() -> Response:
    buyer = current_buyer()
    try:
        page = service.library_page(services().read_sessions, buyer.account_id, utcnow())
    except NotFound:
        raise session_ended() from None
    return _render("storefront/library.html", nav_current="store", page=page)


def _safe_back(value: str | None) -> str:
    """Where to return after Add to Library: a page of the store (a path of this app), else the
    library page."""
    value = (value or "").strip()
    parts = urlsplit(value)
    if (not value or parts.scheme or parts.netloc or value.startswith("//") or "\\" in value
            or not (parts.path == "/store" or parts.path.startswith("/store/"))):
        return url_for_s("storefront.library")
    return value


def _library_error(exc: StoreError) -> str:
    reason = exc.reason
    if reason == "nothing_selected":
        return "Tick at least one course to add to the library."
    if reason == "ppu_not_configured":
        return ("Your organization does not use Pay Per Use: it starts with a contract and a deposit, set up by "
                "vendor support.")
    return f"Nothing was added: {exc.message}."


@bp.post("/store/library")
def add_library() -> Response:
    buyer = current_buyer()
    form = request.form
    picked = [_text(value, 200) for value in form.getlist("catalog_id")[:service.MAX_LIBRARY_ADDS + 1]]
    picked = [value for value in picked if value]
    back = _safe_back(form.get("back"))
    sessions = services().sessions
    try:
        added = service.add_to_library(sessions, buyer.account_id, picked, utcnow())
    except NotFound as exc:
        if exc.reason == "unknown_account":
            raise session_ended() from None
        flash(_library_error(exc), FLASH_LIBRARY_ERROR)
        return redirect(back, 303)
    except StoreError as exc:
        flash(_library_error(exc), FLASH_LIBRARY_ERROR)
        return redirect(back, 303)
    titles = service.course_titles(services().read_sessions, picked)
    if not added:
        flash("Already in your Pay Per Use library: nothing to add.", FLASH_LIBRARY_ADDED)
    else:
        names = ", ".join(f"“{titles.get(cid, cid)}”" for cid in added)
        flash(f"Added to your Pay Per Use library: {names}.", FLASH_LIBRARY_ADDED)
    return redirect(back, 303)


__all__ = ["bp"]

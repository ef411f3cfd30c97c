"""The store's buying pages (blueprint ``buying``, beside ``storefront``): the cart, the quote
request, checkout with its confirmation, and the Order History. Each view finds the buyer
(``access.py``: a 403 for learners, a 401 or the sign-in page without a session), parses its
form, calls one use case of ``store.orders.service`` and renders. Every form carries the session
token and a CSRF token; nothing needs a script (the Stripe card field excepted).

- ``GET /store/cart``: one line per item with its **Quantity**, **Update** and **Remove**, prices
  (tier discounts, proration), the subtotal and **Checkout**.
- ``POST /store/cart``: ``action=add`` (the course and Plus pages' **Add to Cart** / **Add Seats**:
  fields ``item``, ``catalog_id``, ``term``, ``quantity``; 303 to the cart, or the page it came
  from again with the message next to its field), ``action=update`` / ``action=remove``
  (``line_id``, ``quantity``: the cart page's buttons).
- ``GET|POST /store/quote``: **Request a Quote** (name, email, message, and the items asked for).
- ``GET|POST /store/checkout``: billing details, the gateway's card form (or the card on file),
  the consent to recurring charges, **Complete Purchase**; the cart's checkout key and the total
  shown travel in hidden fields, so a double click, a retry or two tabs pay once.
  ``POST /store/checkout/resume``: **Try again** when the payment could not be confirmed.
- ``GET /store/orders``, ``GET /store/orders/<number>``, ``GET /store/orders/<number>/confirmation``.

**The card number** lives only in the POST that carries it: it is turned into the gateway's token
right here (``tokenize``) and then dropped; it is never stored, logged, put in the web session,
or written back into a page (a refused form comes back without it).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response, flash, get_flashed_messages, redirect, render_template, request
from flask_wtf.csrf import CSRFError

from lti_tool.lti.errors import LaunchError
from lti_tool.lti.websession import url_for_s
from lti_tool.services import services
from lti_tool.storefront import service as store_service
from lti_tool.storefront import views as store_pages
from lti_tool.storefront.access import Buyer, current_buyer, session_ended
from lti_tool.storefront.nav import path_s
from store.base import utcnow
from store.errors import InvalidInput, NotFound, StoreError
from store.orders import rules as order_rules
from store.orders import service as orders
from store.payments.cards import read_card
from store.payments.errors import CardInvalid, PaymentDeclined, PaymentError, PaymentUnavailable
from store.pricing import PLUS_TERMS

log = logging.getLogger(__name__)

bp = Blueprint("buying", __name__)
bp.register_error_handler(CSRFError, store_pages.csrf_error)

FLASH_CART = "cart-notice"
FLASH_QUOTE = "quote-sent"
STRIPE_JS = "https://js.stripe.com/v3/"
# The checkout page with Stripe's card field: Stripe.js and its frames, and its API for the
# PaymentMethod; on that page only (the app-wide policy allows nothing but the tool itself).
STRIPE_POLICY = ("script-src 'self' https://js.stripe.com; frame-src https://js.stripe.com; "
                 "connect-src 'self' https://api.stripe.com")
BILLING_FIELDS = ("name", "email", "company", "address", "country")
TEXT_LIMIT = 5_000


def _owner(buyer: Buyer) -> orders.CartOwner:
    return orders.CartOwner(buyer.account_id, buyer.learner_id)


def _text(name: str, limit: int = 300) -> str:
    value = request.form.get(name, "")
    return value[:limit]


def _render(template: str, *, status: int = 200, nav_current: str | None = None,
            policy: str | None = None, **context: Any) -> Response:
    response = Response(render_template(template, nav_current=nav_current, quote_url=path_s(store_pages.QUOTE_PATH),
                                        term_word=term_word, **context), status=status)
    response.headers["Cache-Control"] = "no-store"  # prices, billing details, order numbers
    if policy:
        response.headers["Content-Security-Policy"] = policy
    return response


def term_word(term: str | None) -> str:
    return "month" if term == "monthly" else "year"


def _unknown_buyer(exc: StoreError) -> None:
    """A session whose learner or account is gone reads as an ended session."""
    if isinstance(exc, NotFound) and exc.reason in ("unknown_buyer", "unknown_account"):
        raise session_ended() from None


# ---------------------------------------------------------------- the cart


def _cart_view(buyer: Buyer) -> orders.CartView:
    with services().read_sessions() as session:
        return orders.get_cart(session, services().settings, _owner(buyer), utcnow())


def _cart_page(buyer: Buyer, *, status: int = 200, line_errors: Mapping[int, tuple[str, str, str]] | None = None,
               notice_error: str | None = None) -> Response:
    cart = _cart_view(buyer)
    quote_links = {line_id: _quote_for_line(cart, line_id, typed)
                   for line_id, (_message, reason, typed) in (line_errors or {}).items() if reason == "quote_required"}
    return _render("storefront/cart.html", status=status, nav_current="cart", cart=cart,
                   line_errors=line_errors or {}, quote_links=quote_links, notice_error=notice_error,
                   checkout_url=url_for_s("buying.checkout_page"))


def _quote_for_line(cart: orders.CartView, line_id: int, typed: str) -> str:
    line = next((x for x in cart.lines if x.id == line_id), None)
    if line is None:
        return path_s(store_pages.QUOTE_PATH)
    return store_pages.quote_link(line.kind, line.catalog_id, line.term, typed.strip())


@bp.get("/store/cart")
def cart() -> Response:
    return _cart_page(current_buyer())


def _line_id(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 12 else None


@bp.post("/store/cart")
def change_cart() -> Response:
    buyer = current_buyer()
    action = request.form.get("action", "add")
    if action in ("add", "price"):  # "price" only reaches here from a browser that ignores formaction
        return _add(buyer)
    if action not in ("update", "remove"):
        raise LaunchError(400, "invalid_action", "This form asked for something the cart does not do.",
                          "Go back to your cart and use its buttons.", title="Not a cart action")
    line_id = _line_id(request.form.get("line_id"))
    typed = _text("quantity", 50)
    now = utcnow()
    sessions, settings = services().sessions, services().settings
    try:
        if line_id is None:
            raise NotFound("That item is not in your cart (any more).", reason="unknown_line")
        if action == "update":
            orders.update_quantity(sessions, settings, _owner(buyer), line_id, typed, now)
            flash("Your cart was updated.", FLASH_CART)
        else:
            orders.remove_line(sessions, settings, _owner(buyer), line_id, now)
            flash("The item was removed from your cart.", FLASH_CART)
    except NotFound as exc:
        _unknown_buyer(exc)
        return _cart_page(buyer, status=404, notice_error=exc.message)
    except InvalidInput as exc:  # bad quantity, over the limit, a line the account may not buy, checkout running
        if line_id is not None and action == "update" and exc.reason != "checkout_in_progress":
            return _cart_page(buyer, status=422, line_errors={line_id: (exc.message, exc.reason, typed)})
        return _cart_page(buyer, status=409, notice_error=exc.message)
    return redirect(path_s(store_pages.CART_PATH), 303)


def _add(buyer: Buyer) -> Response:
    """**Add to Cart** / **Add Seats** from a course page or the Plus page: into the cart (303 to
    it), or that page again with the reason next to its Quantity field (nothing changed)."""
    item_kind = _text("item", 20)
    typed = _text("quantity", 50)
    if item_kind == "volume":
        catalog_id = _text("catalog_id", 200).strip()
        item: orders.PlusItem | orders.VolumeItem = orders.VolumeItem(catalog_id, typed)
    elif item_kind == "plus":
        term = _text("term", 20).strip()
        item = orders.PlusItem(term, typed)
    else:
        raise LaunchError(400, "invalid_item", "Choose a course or the Plus subscription to add to your cart.",
                          "Go back to the store and use Add to Cart on a course or the Plus page.",
                          title="Nothing to add")
    try:
        orders.add_to_cart(services().sessions, services().settings, _owner(buyer), item, utcnow())
    except NotFound as exc:
        _unknown_buyer(exc)
        raise LaunchError(404, "course_not_found", "There is no course with this catalog id in the store.",
                          "Go back to the store and search for the course.", title="Course not found") from None
    except InvalidInput as exc:
        status = 409 if exc.reason == "checkout_in_progress" else 422
        if isinstance(item, orders.VolumeItem):
            quote = store_pages.quote_link("volume", item.catalog_id, None, typed.strip()) \
                if exc.reason == "quote_required" else None
            return store_pages.course_response(buyer, item.catalog_id, quantity_text=typed.strip(), error=exc.message,
                                               error_reason=exc.reason, status=status, quote_url=quote)
        field = "term" if exc.reason == "invalid_term" else "quantity"
        return store_pages.plus_response(buyer, seats_text=typed.strip(),
                                         term=item.term if item.term in PLUS_TERMS else None,
                                         errors={field: exc.message}, error_reason=exc.reason, status=status)
    flash("Added to your cart." if item_kind == "volume" else "Plus seats added to your cart.", FLASH_CART)
    return redirect(path_s(store_pages.CART_PATH), 303)


# ---------------------------------------------------------------- quotes


def _wanted_item(values: Mapping[str, str]) -> orders.PlusItem | orders.VolumeItem | None:
    """The item a quote link carries (what was asked beyond the store limit), if any."""
    kind = (values.get("item") or "")[:20]
    quantity = (values.get("quantity") or "")[:20].strip()
    if not quantity:
        return None
    if kind == "volume" and values.get("catalog_id"):
        return orders.VolumeItem((values.get("catalog_id") or "")[:200], quantity)
    if kind == "plus":
        term = (values.get("term") or "annual")[:20]
        return orders.PlusItem(term, quantity)
    return None


def _quote_items(buyer: Buyer, wanted: orders.PlusItem | orders.VolumeItem | None) -> list[
        orders.PlusItem | orders.VolumeItem]:
    """The cart's items, with the wanted item in place of the cart's line for the same thing."""
    items = orders.items_of_cart(_cart_view(buyer))
    if wanted is None:
        return items

    def same(a: orders.PlusItem | orders.VolumeItem, b: orders.PlusItem | orders.VolumeItem) -> bool:
        if isinstance(a, orders.VolumeItem) and isinstance(b, orders.VolumeItem):
            return a.catalog_id == b.catalog_id
        return isinstance(a, orders.PlusItem) and isinstance(b, orders.PlusItem)

    return [*(i for i in items if not same(i, wanted)), wanted]


def _item_rows(items: list[orders.PlusItem | orders.VolumeItem]) -> list[dict[str, str]]:
    titles: dict[str, str] = {}
    volume_ids = [i.catalog_id for i in items if isinstance(i, orders.VolumeItem)]
    if volume_ids:
        titles = store_service.course_titles(services().read_sessions, volume_ids)
    rows = []
    for item in items:
        seats = str(item.seats)
        if isinstance(item, orders.VolumeItem):
            rows.append({"title": titles.get(item.catalog_id, item.catalog_id), "what": "Volume seats",
                         "seats": seats})
        else:
            rows.append({"title": f"Plus subscription ({item.term})", "what": "Plus seats", "seats": seats})
    return rows


def _quote_page(buyer: Buyer, *, status: int = 200, form: Mapping[str, str] | None = None,
                errors: Mapping[str, str] | None = None) -> Response:
    values = request.values
    wanted = _wanted_item(values)
    items = _quote_items(buyer, wanted)
    if form is None:
        with services().read_sessions() as session:
            billing = orders.last_billing(session, buyer.account_id)
        form = {"name": billing.name, "email": billing.email} if billing else {}
    carried = {k: (values.get(k) or "")[:200] for k in ("item", "catalog_id", "term", "quantity")} if wanted else {}
    sent = [str(m) for m in _flashed(FLASH_QUOTE)]
    return _render("storefront/quote.html", status=status, nav_current="cart", items=_item_rows(items),
                   form=form, errors=errors or {}, carried=carried, sent=sent)


def _flashed(category: str) -> list[str]:
    return [str(m) for m in get_flashed_messages(category_filter=[category])]


@bp.get("/store/quote")
def quote_form() -> Response:
    return _quote_page(current_buyer())


@bp.post("/store/quote")
def quote() -> Response:
    buyer = current_buyer()
    form = {"name": _text("name", 300), "email": _text("email", 400), "message": _text("message", TEXT_LIMIT + 1)}
    items = _quote_items(buyer, _wanted_item(request.form))
    try:
        orders.request_quote(services().sessions, _owner(buyer), form["name"], form["email"], form["message"], items,
                             utcnow())
    except orders.InvalidQuote as exc:
        return _quote_page(buyer, status=422, form=form, errors=exc.fields)
    except NotFound as exc:
        _unknown_buyer(exc)
        return _quote_page(buyer, status=422, form=form, errors={"items": exc.message})
    flash(f"Thank you: your request for a quote was sent. We will answer at {form['email'].strip()}.", FLASH_QUOTE)
    return redirect(path_s(store_pages.QUOTE_PATH), 303)


# ---------------------------------------------------------------- checkout


def _checkout_page(buyer: Buyer, *, status: int = 200, form: Mapping[str, str] | None = None,
                   errors: Mapping[str, str] | None = None, notice_error: str | None = None,
                   notice_reason: str | None = None, pending: str | None = None) -> Response:
    gateway = services().payments
    with services().read_sessions() as session:
        owner = _owner(buyer)
        cart = orders.get_cart(session, services().settings, owner, utcnow())
        on_file = orders.card_on_file(session, buyer.account_id)
        if form is None:
            form = store_service.billing_defaults(session, buyer.account_id, buyer.learner_id)
    form = dict(form)
    form.setdefault("card_choice", "on_file" if on_file else "new")
    is_stripe = gateway.name == "stripe"
    return _render("storefront/checkout.html", status=status, nav_current="cart", cart=cart, on_file=on_file,
                   form=form, errors=errors or {}, notice_error=notice_error, notice_reason=notice_reason,
                   pending=pending or cart.pending_order_number, gateway=gateway.name,
                   publishable_key=gateway.publishable_key if is_stripe else None,
                   stripe_js=STRIPE_JS if is_stripe else None, cart_url=path_s(store_pages.CART_PATH),
                   policy=STRIPE_POLICY if is_stripe else None)


@bp.get("/store/checkout")
def checkout_page() -> Response:
    return _checkout_page(current_buyer())


def _read_billing() -> tuple[dict[str, str], orders.Billing]:
    form = {name: _text(name, 1_100 if name == "address" else 400) for name in BILLING_FIELDS}
    billing = orders.Billing(name=form["name"], email=form["email"], address=form["address"],
                             country=form["country"], company=form["company"])
    return form, billing


def _expected_total(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 15 else None


@bp.post("/store/checkout")
def checkout() -> Response:
    buyer = current_buyer()
    gateway = services().payments
    now = utcnow()
    form, billing = _read_billing()
    form["card_choice"] = "on_file" if request.form.get("card_choice") == "on_file" else "new"
    form["card_expiry"] = _text("card_expiry", 20)  # never the number or the CVC: those are not sent back
    form["card_name"] = _text("card_name", 200)
    consent = request.form.get("consent_recurring") == "yes"
    form["consent_recurring"] = "yes" if consent else ""
    key = _text("checkout_key", 100)
    expected = _expected_total(request.form.get("expected_total"))
    errors: dict[str, str] = {}
    try:
        billing = order_rules.check_billing(billing)
    except orders.InvalidBilling as exc:
        errors.update(exc.fields)
    payment: orders.Payment = None
    if form["card_choice"] == "new":
        if gateway.name == "stripe":
            method = _text("payment_method", 100).strip()
            if not method:
                errors["card"] = "Enter your card details."
            payment = method or None
        else:
            if not form["card_name"].strip():
                errors["card_name"] = "Enter the name on the card."
            try:
                card = read_card(request.form.get("card_number", "")[:40], form["card_expiry"],
                                 request.form.get("card_cvc", "")[:10], now)
                if not errors:  # the card becomes a token only for a form that can go through
                    payment = gateway.tokenize(card, now)
            except CardInvalid as exc:
                errors[f"card_{exc.field}"] = exc.message
    if errors:
        return _checkout_page(buyer, status=422, form=form, errors=errors,
                              notice_error="Check the highlighted fields: nothing was charged.")
    if expected is None:
        return _checkout_page(buyer, status=409, form=form, notice_reason="cart_changed",
                              notice_error="This checkout page is out of date. Check your order and press "
                                           "Complete Purchase again.")
    try:
        order = orders.checkout(services().sessions, services().settings, gateway, _owner(buyer), billing, payment,
                                key, consent, now, expected_total_cents=expected)
    except PaymentDeclined as exc:
        log.info("checkout declined for account %s: %s", buyer.account_id, exc.reason)
        return _checkout_page(buyer, status=402, form=form, notice_reason=exc.reason,
                              notice_error=f"{exc.message} Your order was not completed and nothing was charged.")
    except PaymentUnavailable as exc:
        return _checkout_page(buyer, status=503, form=form, notice_reason=exc.reason, notice_error=exc.message)
    except CardInvalid as exc:
        return _checkout_page(buyer, status=422, form=form, errors={f"card_{exc.field}": exc.message},
                              notice_error="Check the highlighted fields: nothing was charged.")
    except orders.InvalidBilling as exc:
        return _checkout_page(buyer, status=422, form=form, errors=exc.fields,
                              notice_error="Check the highlighted fields: nothing was charged.")
    except orders.CartProblem as exc:
        if exc.reason == "consent_required":
            return _checkout_page(buyer, status=422, form=form, errors={"consent_recurring": exc.message},
                                  notice_error="Check the highlighted fields: nothing was charged.")
        return _checkout_page(buyer, status=409, form=form, notice_reason=exc.reason, notice_error=exc.message)
    except NotFound as exc:
        _unknown_buyer(exc)
        return _checkout_page(buyer, status=409, form=form, notice_reason=exc.reason, notice_error=exc.message)
    except InvalidInput as exc:  # payment_required, a Stripe id that is not one
        field = "card" if gateway.name == "stripe" else "card_number"
        return _checkout_page(buyer, status=422, form=form, errors={field: exc.message},
                              notice_error="Check the highlighted fields: nothing was charged.")
    except PaymentError as exc:
        return _checkout_page(buyer, status=502, form=form, notice_reason=exc.reason, notice_error=exc.message)
    return redirect(_confirmation_url(order.number), 303)


@bp.post("/store/checkout/resume")
def resume() -> Response:
    """**Try again** after a payment that could not be confirmed: the same order and key."""
    buyer = current_buyer()
    try:
        order = orders.resume_checkout(services().sessions, services().payments, _owner(buyer),
                                       _text("checkout_key", 100), utcnow())
    except PaymentDeclined as exc:
        return _checkout_page(buyer, status=402, notice_reason=exc.reason,
                              notice_error=f"{exc.message} Your order was not completed and nothing was charged.")
    except PaymentUnavailable as exc:
        return _checkout_page(buyer, status=503, notice_reason=exc.reason, notice_error=exc.message)
    except NotFound as exc:
        _unknown_buyer(exc)
        return _checkout_page(buyer, status=404, notice_reason=exc.reason, notice_error=exc.message)
    except StoreError as exc:
        return _checkout_page(buyer, status=409, notice_reason=exc.reason, notice_error=exc.message)
    return redirect(_confirmation_url(order.number), 303)


def _confirmation_url(number: str) -> str:
    return url_for_s("buying.confirmation", number=number)


# ---------------------------------------------------------------- orders


def _order(buyer: Buyer, number: str) -> orders.OrderView:
    try:
        with services().read_sessions() as session:
            return orders.get_order(session, buyer.account_id, number[:40])
    except NotFound:
        raise LaunchError(404, "unknown_order", "There is no order with this number for your organization.",
                          "Open Order History to see your orders.", title="Order not found") from None


@bp.get("/store/orders")
def order_history() -> Response:
    buyer = current_buyer()
    with services().read_sessions() as session:
        found = orders.list_orders(session, buyer.account_id)
    return _render("storefront/orders.html", nav_current="orders", orders=found)


@bp.get("/store/orders/<path:number>/confirmation")
def confirmation(number: str) -> Response:
    buyer = current_buyer()
    order = _order(buyer, number)
    return _render("storefront/confirmation.html", order=order, independent=buyer.is_independent,
                   delivery=_delivery_links(order))


@bp.get("/store/orders/<path:number>")
def order_page(number: str) -> Response:
    buyer = current_buyer()
    return _render("storefront/order.html", nav_current="orders", order=_order(buyer, number))


def _delivery_links(order: orders.OrderView) -> list[dict[str, str]]:
    """What the order bought, each with the page that delivers it: **Deliver Course** (Volume:
    the dashboard's delivery page, ``lti_tool.delivery``), the Plus courses of the catalog (a
    subscription or its added seats)."""
    out = []
    for line in order.lines:
        if line.catalog_id:
            out.append({"title": line.title, "kind": "course",
                        "href": url_for_s("delivery.choose", course=line.catalog_id, license_type="volume")})
        elif not any(x["kind"] == "plus" for x in out):
            out.append({"title": line.title, "kind": "plus", "href": url_for_s("storefront.catalog", plus=1)})
    return out


__all__ = ["bp"]

"""The store's use cases: carts, checkout, orders, quotes, renewals, reconciliation. Views and
CLI commands call one of these and render its result; each owns its transactions (one short
transaction per change; checkout and renewals never hold one across a gateway call).

Who buys: ``CartOwner(account_id, learner_id)`` (from the web session's buyer). Prices come from
``settings`` (``PLUS_*_SEAT_CENTS``, ``CURRENCY``); payments from ``gateway`` (``services().payments``).

Carts (:mod:`store.orders.carts`)::

    get_cart(session, settings, owner, now) -> CartView
    add_to_cart(sessions, settings, owner, PlusItem(term, seats) | VolumeItem(catalog_id, seats), now) -> CartView
    update_quantity(sessions, settings, owner, line_id, quantity, now) -> CartView
    remove_line(sessions, settings, owner, line_id, now) -> CartView

What the account may buy, before the cart (:mod:`store.orders.offers`)::

    plus_offer(session, settings, account_id, now) -> PlusOffer      # the Plus page
    volume_offer(session, settings, account_id, catalog_id, now) -> VolumeOffer   # a course page
    card_on_file(session, account_id) -> CardOnFile | None           # "pay with the card ending 4242"

Checkout (:mod:`store.orders.checkout`)::

    checkout(sessions, settings, gateway, owner, billing: Billing, payment, idempotency_key,
             consent_recurring, now, *, expected_total_cents=None) -> OrderView
    resume_checkout(sessions, gateway, owner, idempotency_key, now) -> OrderView   # "Try again" after
                                                         # PaymentUnavailable: the same key, never a second charge
    update_payment_method(sessions, gateway, owner, payment, email, now) -> CardToken

    payment: the CardToken from gateway.tokenize(read_card(number, expiry, cvc, now), now) (local
    card form), a Stripe PaymentMethod id "pm_…", or None for the card on file;
    idempotency_key: CartView.checkout_key as shown on the checkout page.

Orders and notices (:mod:`store.orders.queries`)::

    list_orders(session, account_id) -> list[OrderSummary]
    get_order(session, account_id, number) -> OrderView
    last_billing(session, account_id) -> Billing | None      # to fill the checkout form
    renewal_notices(session, account_id, now) -> list[RenewalNotice]

Quotes (:mod:`store.orders.quotes`)::

    request_quote(sessions, owner, name, email, message, items, now) -> QuoteView
    items_of_cart(cart_view) -> list[PlusItem | VolumeItem]
    list_quotes(session) -> list[QuoteView]

Operations (``lti-tool billing …``, ``lti-tool staff cancel-renewal``)::

    renew_due(sessions, settings, gateway, now) -> RenewalReport
    reconcile_pending(sessions, gateway, now, *, older_than=timedelta(minutes=1)) -> ReconcileReport
    cancel_renewal(sessions, account_ref, now) -> list[CancelledRenewal]

Errors, each a StoreError with a stable ``reason``: InvalidInput (``invalid_quantity``,
``quote_required``, ``invalid_term``, ``contact_support``, ``course_retired``, ``bundle_excluded``,
``cart_full``, ``payment_required``), NotFound (``unknown_course``, ``unknown_line``,
``unknown_order``, ``unknown_buyer``), CartProblem (``empty_cart``, ``cart_changed``,
``checkout_in_progress``, ``consent_required``, ``price_changed``, ``order_cancelled``, or a
line's problem), InvalidBilling / InvalidQuote (``.fields``: a message per form field),
CardInvalid (``.field``: number, expiry or cvc), PaymentDeclined (the order failed: ``reason``
and message), PaymentUnavailable (the outcome is unknown: the order stays pending).
"""

from __future__ import annotations

from store.orders.carts import (
    CartLineView,
    CartOwner,
    CartView,
    PlusItem,
    VolumeItem,
    add_to_cart,
    get_cart,
    remove_line,
    update_quantity,
)
from store.orders.checkout import Payment, checkout, resume_checkout, update_payment_method
from store.orders.errors import CartProblem, InvalidBilling, InvalidFields, InvalidQuote
from store.orders.offers import CardOnFile, PlusOffer, VolumeOffer, card_on_file, plus_offer, volume_offer
from store.orders.queries import (
    OrderLineView,
    OrderSummary,
    OrderView,
    QuoteItemView,
    QuoteView,
    RenewalNotice,
    find_order,
    get_order,
    last_billing,
    list_orders,
    list_quotes,
    renewal_notices,
)
from store.orders.quotes import items_of_cart, request_quote
from store.orders.reconcile import ReconcileReport, reconcile_pending
from store.orders.renewals import CancelledRenewal, RenewalReport, cancel_renewal, renew_due
from store.orders.rules import Billing, Problem
from store.payments.errors import CardInvalid, PaymentDeclined, PaymentUnavailable

__all__ = [
    "Billing", "CancelledRenewal", "CardInvalid", "CardOnFile", "PlusOffer", "VolumeOffer", "card_on_file",
    "plus_offer", "volume_offer", "CartLineView", "CartOwner", "CartProblem", "CartView",
    "InvalidBilling", "InvalidFields", "InvalidQuote", "OrderLineView", "OrderSummary", "OrderView", "Payment",
    "PaymentDeclined", "PaymentUnavailable", "PlusItem", "Problem", "QuoteItemView", "QuoteView", "ReconcileReport",
    "RenewalNotice", "RenewalReport", "VolumeItem", "add_to_cart", "cancel_renewal", "checkout", "find_order",
    "get_cart", "get_order", "items_of_cart", "last_billing", "list_orders", "list_quotes", "reconcile_pending", "remove_line",
    "renew_due", "renewal_notices", "request_quote", "resume_checkout", "update_payment_method", "update_quantity",
]

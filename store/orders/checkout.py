"""Checkout: one cart, paid once.

1. The payment method is made reusable at the gateway (outside any transaction).
2. **Transaction 1** locks the account and the cart, prices the cart again, and writes the order
   ``pending`` under the checkout's idempotency key (the cart's key: its nonce and revision), with
   copies of the prices and billing details; the cart is frozen while the order is pending.
3. The gateway is charged under the same key, with no transaction open.
4. **Transaction 2** records the outcome (:func:`store.orders.fulfillment.record_outcome`):
   paid and fulfilled with the licenses, the card on file, the cart emptied; or failed with the
   gateway's reason, the cart free again.

The same key again — a double click, a browser retry, a second tab showing the same cart —
finds the order of step 2 and continues it: the gateway is asked again under the same key and
answers with the first charge. A crash between steps 3 and 4 leaves the order pending; the next
submit or ``lti-tool billing reconcile`` completes it.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from store.accounts.models import Account
from store.base import require_aware
from store.errors import InvalidInput, NotFound
from store.money import format_money
from store.orders import carts, facts, fulfillment, rules
from store.orders.carts import CartOwner
from store.orders.errors import CartProblem
from store.orders.models import Order, OrderLine, SubscriptionRenewal
from store.orders.queries import OrderView, order_view
from store.payments.errors import PaymentDeclined, PaymentUnavailable
from store.payments.gateway import CardToken, Charge, PaymentGateway, decline

log = logging.getLogger(__name__)

_KEY = re.compile(r"^co_[0-9a-f]{16}_\d{1,12}$")

#: A payment method for checkout: a token from the local gateway's card form (``tokenize``), a
#: Stripe PaymentMethod id (``pm_…``), or None for the card on file.
Payment = CardToken | str | None


def _check_key(idempotency_key: str) -> str:
    if not isinstance(idempotency_key, str) or not _KEY.match(idempotency_key):
        raise CartProblem("This checkout page is out of date. Review your cart and try again.", reason="cart_changed")
    return idempotency_key


def _order_by_key(session: Session, account_id: int, key: str) -> Order | None:
    return session.scalars(select(Order).where(Order.idempotency_key == key, Order.account_id == account_id)).first()


def checkout(sessions: sessionmaker[Session], settings: Settings, gateway: PaymentGateway, owner: CartOwner,
             billing: rules.Billing, payment: Payment, idempotency_key: str, consent_recurring: bool,
             now: datetime, *, expected_total_cents: int | None = None) -> OrderView:
    """Pay for the owner's cart (**Complete Purchase**) and return the order.

    ``idempotency_key`` is the ``checkout_key`` of the CartView the checkout page showed;
    ``expected_total_cents`` (optional) is the total it showed: a different total now (a Plus
    proration that moved on) is refused with ``price_changed`` before anything is charged.

    Returns the order ``fulfilled`` (licenses created, starting now), or still ``pending`` when the
    gateway is processing. Raises, changing nothing else: InvalidBilling (fields),
    CardInvalid/InvalidInput (``payment_required``), CartProblem (``empty_cart``,
    ``cart_changed``, ``checkout_in_progress``, ``consent_required``, ``price_changed``, a
    line's problem such as ``contact_support``); PaymentDeclined (the order is ``failed`` with the
    gateway's reason: no license); PaymentUnavailable (the outcome is unknown: the order stays
    pending, and the same key later finishes it without a second charge)."""
    now = require_aware(now, "now")
    billing = rules.check_billing(billing)
    key = _check_key(idempotency_key)
    with sessions() as session:
        existing = _order_by_key(session, owner.account_id, key)
        if existing is None:
            facts.check_buyer(session, owner.account_id, owner.learner_id)
            card_on_file = session.get_one(Account, owner.account_id)
            on_file = (card_on_file.payment_token, card_on_file.card_last4)
    if existing is not None:
        return _continue(sessions, gateway, existing.id, now)
    method = _payment_method(gateway, payment, on_file, billing, key)
    try:
        order_id = _place_order(sessions, settings, gateway, owner, billing, method, key, consent_recurring, now,
                                expected_total_cents)
    except IntegrityError:  # a concurrent submit of the same key placed it first
        with sessions() as session:
            found = _order_by_key(session, owner.account_id, key)
        if found is None:
            raise
        order_id = found.id
    return _continue(sessions, gateway, order_id, now)


def resume_checkout(sessions: sessionmaker[Session], gateway: PaymentGateway, owner: CartOwner, idempotency_key: str,
                    now: datetime) -> OrderView:
    """Finish the order placed under ``idempotency_key`` whose payment was left unconfirmed (the
    gateway could not be reached: PaymentUnavailable): the gateway is asked again under the same
    key, so a charge that did happen is found and never repeated. The customer's **Try again**
    on the checkout page. Returns or raises as :func:`checkout` does; NotFound
    ``unknown_order`` when no order of the owner's account has that key."""
    now = require_aware(now, "now")
    key = _check_key(idempotency_key)
    with sessions() as session:
        facts.check_buyer(session, owner.account_id, owner.learner_id)
        existing = _order_by_key(session, owner.account_id, key)
    if existing is None:
        raise NotFound("There is no order for this checkout.", reason="unknown_order")
    return _continue(sessions, gateway, existing.id, now)


def _payment_method(gateway: PaymentGateway, payment: Payment, on_file: tuple[str | None, str | None],
                    billing: rules.Billing, key: str) -> CardToken:
    if payment is None:
        token, last4 = on_file
        if not token:
            raise InvalidInput("Enter a card to pay with.", reason="payment_required")
        return CardToken(token, last4 or "0000", "card", 0, 0)
    ref = payment.token if isinstance(payment, CardToken) else payment
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidInput("Enter a card to pay with.", reason="payment_required")
    return gateway.save_method(ref.strip(), email=billing.email, idempotency_key=key)


def _place_order(sessions: sessionmaker[Session], settings: Settings, gateway: PaymentGateway, owner: CartOwner,
                 billing: rules.Billing, method: CardToken, key: str, consent_recurring: bool, now: datetime,
                 expected_total_cents: int | None) -> int:
    """Transaction 1: the pending order, the cart frozen."""
    with sessions.begin() as session:
        session.scalars(select(Account.id).where(Account.id == owner.account_id).with_for_update()).first()
        cart = carts.locked_cart(session, owner)
        existing = _order_by_key(session, owner.account_id, key)
        if existing is not None:
            return existing.id
        if cart is None:
            raise CartProblem("Your cart is empty.", reason="empty_cart")
        session.refresh(cart)
        if cart.pending_order_id is not None:
            raise CartProblem("Your payment for this cart is being processed.", reason="checkout_in_progress")
        if key != carts.checkout_key(cart):
            raise CartProblem("Your cart changed since this checkout page was opened. Review it and try again.",
                              reason="cart_changed")
        other = session.scalars(select(Order.id).where(Order.account_id == owner.account_id,
                                                        Order.status == rules.PENDING,
                                                        Order.kind == rules.PURCHASE)).first()
        if other is not None:
            raise CartProblem("Another purchase for your organization is being paid for right now. "
                              "Try again in a minute.", reason="checkout_in_progress")
        priced = carts.price(session, settings, cart, now)
        problems = priced.problems + priced.line_problems
        if problems:
            raise CartProblem(problems[0].message, reason=problems[0].reason)
        if priced.needs_recurring_consent and not consent_recurring:
            raise CartProblem("Agree to the recurring charges of the subscription to continue.",
                              reason="consent_required")
        if expected_total_cents is not None and expected_total_cents != priced.subtotal_cents:
            raise CartProblem(f"The total is now {format_money(priced.subtotal_cents, settings.currency)}. "
                              "Check it and press Complete Purchase again.", reason="price_changed")
        order = Order(account_id=owner.account_id, learner_id=owner.learner_id, kind=rules.PURCHASE,
                      status=rules.PENDING, currency=settings.currency, total_cents=priced.subtotal_cents,
                      idempotency_key=key, gateway=gateway.name, payment_token=method.token,
                      card_brand=method.brand[:20], card_last4=method.last4, attempts=0,
                      billing_name=billing.name, billing_email=billing.email, billing_company=billing.company or None,
                      billing_address=billing.address, billing_country=billing.country,
                      consent_recurring=bool(consent_recurring and priced.needs_recurring_consent),
                      created_at=now, updated_at=now)
        session.add(order)
        session.flush()
        for position, line in enumerate(priced.lines, start=1):
            session.add(OrderLine(
                order_id=order.id, position=position, kind=line.order_kind, title=line.title,
                course_pk=line.course_pk, catalog_id=line.catalog_id, term=line.term, quantity=line.quantity,
                list_unit_cents=line.list_unit_cents, unit_cents=line.unit_cents,
                discount_percent=line.discount_percent,
                proration_numerator=line.proration.numerator if line.proration is not None else None,
                proration_denominator=line.proration.denominator if line.proration is not None else None,
                line_total_cents=line.line_total_cents, subscription_id=line.subscription_id,
                period_start=line.period_start, period_end=line.period_end))
        cart.pending_order_id = order.id
        session.flush()
        log.info("order %s placed: %d cents, %d lines", rules.order_number(order.id), order.total_cents,
                 len(priced.lines))
        return order.id


def _continue(sessions: sessionmaker[Session], gateway: PaymentGateway, order_id: int, now: datetime) -> OrderView:
    """Charge a pending order under its key and record the outcome; an order already decided is
    returned (fulfilled, pending elsewhere) or raised (failed, cancelled) as it is."""
    with sessions.begin() as session:
        order = fulfillment.lock_order(session, order_id)
        if order.status == rules.PENDING:
            order.attempts += 1
            order.last_attempt_at = now
            order.updated_at = now
        attempt = (order.status, order.total_cents, order.currency, order.payment_token, order.idempotency_key)
    status, total, currency, token, key = attempt
    if status != rules.PENDING:
        return _settled(sessions, order_id)
    if total == 0:
        charge = Charge(None, "succeeded", 0)
    elif not token:
        charge = Charge.declined("no_payment_method", total)
    else:
        charge = gateway.charge(total, currency, token, key, off_session=False,
                                description=f"Order {rules.order_number(order_id)}")
    with sessions.begin() as session:
        fulfillment.record_outcome(session, order_id, charge, now)
    if charge.status == "processing":
        log.info("order %s: payment processing at the gateway", rules.order_number(order_id))
    return _settled(sessions, order_id)


def _settled(sessions: sessionmaker[Session], order_id: int) -> OrderView:
    with sessions() as session:
        view = order_view(session, session.get_one(Order, order_id))
    if view.status == rules.FAILED:
        reason, message = decline(view.failure_reason)
        raise PaymentDeclined(view.failure_reason or reason, view.failure_message or message)
    if view.status == rules.CANCELLED:
        raise CartProblem("This checkout was cancelled because no payment was made. Review your cart and "
                          "try again.", reason="order_cancelled")
    return view


def update_payment_method(sessions: sessionmaker[Session], gateway: PaymentGateway, owner: CartOwner,
                          payment: CardToken | str, email: str | None, now: datetime) -> CardToken:
    """Put another card on file (e.g. after a declined renewal): it is made reusable at the
    gateway, becomes the account's card on file, and a renewal waiting for a retry is tried
    again at the next ``billing renew``."""
    now = require_aware(now, "now")
    ref = payment.token if isinstance(payment, CardToken) else payment
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidInput("Enter a card.", reason="payment_required")
    with sessions() as session:
        facts.check_buyer(session, owner.account_id, owner.learner_id)
    method = gateway.save_method(ref.strip(), email=email, idempotency_key=f"card_{owner.account_id}_{ref.strip()}"[:200])
    with sessions.begin() as session:
        account = session.get_one(Account, owner.account_id)
        account.payment_token, account.card_last4 = method.token, method.last4
        for renewal in session.scalars(select(SubscriptionRenewal).where(
                SubscriptionRenewal.account_id == owner.account_id, SubscriptionRenewal.status == "open")):
            renewal.next_attempt_at = None
            renewal.updated_at = now
    return method


__all__ = ["Payment", "PaymentDeclined", "PaymentUnavailable", "checkout", "resume_checkout", "update_payment_method"]

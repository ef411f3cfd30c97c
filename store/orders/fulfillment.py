"""An order's state changes and what they bring: the one transition function, the licenses a
paid order creates, and what a charge's outcome does to a purchase or a renewal. Functions take
the caller's Session (the caller owns the transaction) and never call the gateway.

States (:mod:`store.orders.rules`): ``pending`` → ``paid`` → ``fulfilled``; ``pending`` →
``failed`` | ``cancelled``; ``cancelled`` → ``paid`` (a charge found to have succeeded after
all). A paid order is fulfilled in the same transaction that marks it paid, so no committed
state has money taken and no license, nor a license without money.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from store.accounts.models import Account
from store.base import require_aware
from store.clock import add_months
from store.licenses import rules as license_rules
from store.licenses import service as licenses
from store.orders import carts, rules
from store.orders.models import Order, OrderLine, SubscriptionRenewal
from store.payments.gateway import Charge
from store.pricing import term_months

log = logging.getLogger(__name__)


class StaleOrder(Exception):
    """The order was not in the state the caller saw (another process moved it first)."""


def lock_order(session: Session, order_id: int) -> Order:
    order = session.scalars(select(Order).where(Order.id == order_id).with_for_update()).first()
    if order is None:
        raise StaleOrder(f"order {order_id} is gone")
    session.refresh(order)
    return order


def transition(session: Session, order: Order, new_status: str, now: datetime, *,
               expect_attempts: int | None = None, **fields: Any) -> None:
    """Move ``order`` to ``new_status`` (with ``fields``), only from the state it has and only
    along :data:`rules.TRANSITIONS`: one guarded UPDATE, so a concurrent change makes it raise
    StaleOrder instead of overwriting. ``expect_attempts`` also requires that no charge attempt
    started since the caller looked (reconciliation must not cancel an order that a customer's
    retry is charging right now)."""
    rules.check_transition(order.status, new_status)
    stmt = update(Order).where(Order.id == order.id, Order.status == order.status)
    if expect_attempts is not None:
        stmt = stmt.where(Order.attempts == expect_attempts)
    changed = session.execute(stmt.values(status=new_status, updated_at=now, **fields)).rowcount
    if changed != 1:
        raise StaleOrder(f"order {order.id} is no longer {order.status}")
    session.refresh(order)
    log.info("order %s: %s", rules.order_number(order.id), new_status)


def order_lines(session: Session, order_id: int) -> list[OrderLine]:
    return list(session.scalars(select(OrderLine).where(OrderLine.order_id == order_id).order_by(OrderLine.position)))


# ---------------------------------------------------------------- fulfilment


def _purchase_moment(order: Order, months: int, now: datetime) -> datetime:
    """A term begins at the moment of purchase: when the order was placed. Only an order
    completed so late that that term would already be over begins now."""
    placed = require_aware(order.created_at, "order time")
    return placed if add_months(placed, months) > now else now


def fulfil(session: Session, order: Order, now: datetime) -> None:
    """The licenses of a paid order (in the caller's transaction), then ``fulfilled``."""
    for line in order_lines(session, order.id):
        if line.kind == rules.LINE_PLUS_NEW or (line.kind == rules.LINE_PLUS_SEATS and line.subscription_id is None):
            assert line.term is not None
            start = _purchase_moment(order, term_months(line.term), now)
            sub = licenses.open_subscription(session, order.account_id, line.term, line.quantity, start, now)
            line.subscription_id, line.period_start, line.period_end = sub.id, sub.started_at, sub.current_period_end
        elif line.kind == rules.LINE_PLUS_SEATS:
            assert line.subscription_id is not None
            licenses.add_subscription_seats(session, line.subscription_id, line.quantity)
        elif line.kind == rules.LINE_PLUS_RENEWAL:
            assert line.subscription_id is not None and line.period_end is not None
            licenses.set_subscription_period_end(session, line.subscription_id, line.period_end)
        elif line.kind == rules.LINE_VOLUME:
            assert line.course_pk is not None
            start = _purchase_moment(order, license_rules.SEAT_TERM_MONTHS, now)
            lot = licenses.open_volume_lot(session, order.account_id, line.course_pk, line.quantity, start, now)
            line.lot_id, line.period_start, line.period_end = lot.id, lot.purchased_at, lot.expires_at
    transition(session, order, rules.FULFILLED, now, fulfilled_at=now)


def _keep_payment_method(session: Session, order: Order) -> None:
    """A paid purchase's card becomes the account's card on file (renewals charge it)."""
    if order.kind == rules.PURCHASE and order.payment_token:
        account = session.get_one(Account, order.account_id)
        account.payment_token = order.payment_token
        account.card_last4 = order.card_last4


# ---------------------------------------------------------------- renewals


def open_renewal(session: Session, subscription_id: int) -> SubscriptionRenewal | None:
    return session.scalars(select(SubscriptionRenewal).where(
        SubscriptionRenewal.subscription_id == subscription_id, SubscriptionRenewal.status == "open")
        .with_for_update()).first()


def end_renewal(session: Session, renewal: SubscriptionRenewal, now: datetime, *, reason: str | None = None,
                message: str | None = None) -> None:
    """Renewal over without payment: the subscription no longer renews and its access ends with
    the last paid term (the grace period is taken back)."""
    renewal.status = "ended"
    renewal.next_attempt_at = None
    renewal.updated_at = now
    if reason is not None:
        renewal.failure_reason, renewal.failure_message = reason, message
    licenses.stop_subscription_renewal(session, renewal.subscription_id, now)
    licenses.set_subscription_period_end(session, renewal.subscription_id, renewal.period_end)


def _renewal_of(session: Session, order: Order) -> SubscriptionRenewal | None:
    if order.subscription_id is None or order.renews_period_end is None:
        return None
    return session.scalars(select(SubscriptionRenewal).where(
        SubscriptionRenewal.subscription_id == order.subscription_id,
        SubscriptionRenewal.period_end == order.renews_period_end).with_for_update()).first()


def _renewal_paid(session: Session, order: Order, now: datetime) -> None:
    renewal = _renewal_of(session, order)
    if renewal is not None:
        renewal.status, renewal.next_attempt_at, renewal.updated_at = "renewed", None, now
        renewal.failure_reason = renewal.failure_message = None


def _renewal_declined(session: Session, order: Order, now: datetime) -> None:
    renewal = _renewal_of(session, order)
    if renewal is None or renewal.status != "open":
        return
    renewal.failure_reason, renewal.failure_message = order.failure_reason, order.failure_message
    renewal.updated_at = now
    if now >= renewal.grace_until:
        end_renewal(session, renewal, now)
    else:
        renewal.next_attempt_at = now + rules.RENEWAL_RETRY_INTERVAL


def _renewal_cancelled(session: Session, order: Order, now: datetime) -> None:
    renewal = _renewal_of(session, order)
    if renewal is not None and renewal.status == "open":
        renewal.next_attempt_at, renewal.updated_at = None, now  # no charge happened: the next run tries again


# ---------------------------------------------------------------- outcomes


def record_outcome(session: Session, order_id: int, charge: Charge, now: datetime) -> Order:
    """What the gateway said about an order's charge, in the caller's transaction:

    - succeeded: ``paid`` (from pending, or from cancelled: a charge that went through after all)
      and at once ``fulfilled`` with its licenses; a purchase's card goes on file and its cart is
      emptied; a renewal is marked renewed;
    - failed: ``failed`` with the gateway's reason; a purchase's cart may change again; a
      renewal is retried later or, past its grace period, ends;
    - processing: nothing changes (the order stays pending for reconciliation).

    An order another process already moved is left as it is."""
    order = lock_order(session, order_id)
    if charge.succeeded:
        if order.status in (rules.PENDING, rules.CANCELLED):
            if order.status == rules.CANCELLED:
                log.warning("order %s: a charge succeeded after the order was cancelled; completing it",
                            rules.order_number(order.id))
            transition(session, order, rules.PAID, now, charge_id=charge.id, paid_at=now, closed_at=None,
                       failure_reason=None, failure_message=None)
            fulfil(session, order, now)
            _keep_payment_method(session, order)
            carts.empty_after_order(session, order, now)
            if order.kind == rules.RENEWAL:
                _renewal_paid(session, order, now)
        elif order.status == rules.FAILED:
            log.error("order %s: the gateway reports charge %s succeeded, but the order failed earlier",
                      rules.order_number(order.id), charge.id)
    elif charge.failed and order.status == rules.PENDING:
        transition(session, order, rules.FAILED, now, charge_id=charge.id, failure_reason=charge.failure_reason,
                   failure_message=(charge.failure_message or "")[:300], closed_at=now)
        carts.release_after_order(session, order, now)
        if order.kind == rules.RENEWAL:
            _renewal_declined(session, order, now)
    return order


def cancel_unpaid(session: Session, order_id: int, attempts: int, now: datetime) -> Order:
    """Cancel a pending order no charge was made for (reconciliation), unless a charge attempt
    started since it looked (StaleOrder then)."""
    order = lock_order(session, order_id)
    if order.status != rules.PENDING:
        raise StaleOrder(f"order {order.id} is {order.status} now")
    transition(session, order, rules.CANCELLED, now, expect_attempts=attempts, closed_at=now,
               failure_reason="no_charge", failure_message="No payment was made; the order was cancelled.")
    carts.release_after_order(session, order, now)
    if order.kind == rules.RENEWAL:
        _renewal_cancelled(session, order, now)
    return order

"""Renewals (``lti-tool billing renew``) and cancelling them (``lti-tool staff cancel-renewal``).

A Plus subscription bought in the store renews at the end of each term while auto-renew is on:
the card on file is charged off-session for the seats it has at the current seat price, a
renewal order appears in the order history, and the term moves on by one (counted from the
subscription's start). Subscriptions granted by staff (``staff grant-plus``) are not charged by
this command: they were never bought with a card and consent to recurring charges; they end
with their term unless staff grant again.

For each due subscription (term over, or a renewal open):

1. **Transaction A** locks the subscription row (``SELECT … FOR UPDATE`` on PostgreSQL; on
   SQLite every write transaction is ``BEGIN IMMEDIATE``), decides with
   :func:`store.orders.rules.renewal_step` and, to charge, writes the renewal record (one per
   subscription and term end), keeps access until the grace end (``RENEWAL_GRACE_DAYS`` after
   the term end) while it is tried, and writes the renewal order ``pending`` under a key of
   subscription, term end and attempt number.
2. The card is charged off-session under that key (no transaction open).
3. **Transaction B** records the outcome: paid → the next term; declined → a failed order and a
   notice the admin sees (:func:`store.orders.queries.renewal_notices`), retried on later runs
   (at most every 20 hours) until the grace period is over, then access ends with the paid term
   and auto-renew is off.

Running it twice, or from two hosts at once, charges once: the second run waits for the row
lock, then finds the renewal pending or done. A run that dies after the charge leaves the
renewal order pending; ``billing reconcile`` completes it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from store.accounts.models import Account
from store.accounts.queries import get_account
from store.base import require_aware
from store.errors import InvalidInput
from store.licenses import service as licenses
from store.licenses.models import PlusSubscription
from store.orders import facts, fulfillment, rules
from store.orders.models import Order, OrderLine, SubscriptionRenewal
from store.payments.errors import PaymentError, PaymentUnavailable
from store.payments.gateway import Charge, PaymentGateway

log = logging.getLogger(__name__)


@dataclass
class RenewalReport:
    """What one run did, by subscription id."""

    renewed: list[int] = field(default_factory=list)
    declined: list[int] = field(default_factory=list)
    ended: list[int] = field(default_factory=list)  # grace over, or the term lapsed long ago
    waiting: list[int] = field(default_factory=list)  # a retry not due yet, or a charge in flight
    unknown: list[int] = field(default_factory=list)  # the gateway could not be reached: order pending
    orders: list[str] = field(default_factory=list)  # renewal orders written

    @property
    def has_errors(self) -> bool:
        return bool(self.unknown)


@dataclass(frozen=True)
class _Attempt:
    subscription_id: int
    order_id: int
    total_cents: int
    currency: str
    token: str | None
    key: str


def store_bought_condition() -> object:
    """SQL: the subscription was started by a fulfilled store order."""
    return exists().where(OrderLine.subscription_id == PlusSubscription.id, OrderLine.kind == rules.LINE_PLUS_NEW,
                          OrderLine.order_id == Order.id, Order.status == rules.FULFILLED)


def due_subscriptions(session: Session, now: datetime) -> list[int]:
    """Store-bought subscriptions with auto-renew on whose term is over, or whose renewal is open."""
    open_renewal = exists().where(SubscriptionRenewal.subscription_id == PlusSubscription.id,
                                  SubscriptionRenewal.status == "open")
    return list(session.scalars(
        select(PlusSubscription.id)
        .where(PlusSubscription.auto_renew.is_(True), PlusSubscription.cancelled_at.is_(None),
               or_(PlusSubscription.current_period_end <= now, open_renewal), store_bought_condition())  # type: ignore[arg-type]
        .order_by(PlusSubscription.current_period_end, PlusSubscription.id)))


def renew_due(sessions: sessionmaker[Session], settings: Settings, gateway: PaymentGateway,
              now: datetime) -> RenewalReport:
    """Renew every due subscription (see the module docstring); one short transaction before and
    one after each charge."""
    now = require_aware(now, "now")
    report = RenewalReport()
    with sessions() as session:
        due = due_subscriptions(session, now)
    for subscription_id in due:
        attempt = _begin(sessions, settings, gateway, subscription_id, now, report)
        if attempt is None:
            continue
        report.orders.append(rules.order_number(attempt.order_id))
        if attempt.total_cents == 0:
            charge = Charge(None, "succeeded", 0)
        elif not attempt.token:
            charge = Charge.declined("no_payment_method", attempt.total_cents)
        else:
            try:
                charge = gateway.charge(attempt.total_cents, attempt.currency, attempt.token, attempt.key,
                                        off_session=True,
                                        description=f"Plus renewal, order {rules.order_number(attempt.order_id)}")
            except (PaymentUnavailable, PaymentError) as exc:
                log.warning("renewal of subscription %d: %s [%s]; the order stays pending", subscription_id,
                            exc.message, exc.reason)
                report.unknown.append(subscription_id)
                continue
        with sessions.begin() as session:
            order = fulfillment.record_outcome(session, attempt.order_id, charge, now)
            status = order.status
            renewal = session.scalars(select(SubscriptionRenewal).where(
                SubscriptionRenewal.subscription_id == subscription_id,
                SubscriptionRenewal.last_order_id == attempt.order_id)).first()
            ended = renewal is not None and renewal.status == "ended"
        if status == rules.FULFILLED:
            report.renewed.append(subscription_id)
        elif ended:
            report.ended.append(subscription_id)
        elif status == rules.FAILED:
            report.declined.append(subscription_id)
        else:
            report.waiting.append(subscription_id)
    return report


def _billing_from_last_purchase(session: Session, account_id: int) -> dict[str, object]:
    last = session.scalars(select(Order).where(Order.account_id == account_id, Order.kind == rules.PURCHASE,
                                               Order.status == rules.FULFILLED, Order.billing_name.is_not(None))
                           .order_by(Order.created_at.desc(), Order.id.desc())).first()
    if last is None:
        return {}
    return {"billing_name": last.billing_name, "billing_email": last.billing_email,
            "billing_company": last.billing_company, "billing_address": last.billing_address,
            "billing_country": last.billing_country}


def _begin(sessions: sessionmaker[Session], settings: Settings, gateway: PaymentGateway, subscription_id: int,
           now: datetime, report: RenewalReport) -> _Attempt | None:
    """Transaction A: decide, and to charge write the renewal record and the pending order."""
    with sessions.begin() as session:
        sub = session.scalars(select(PlusSubscription).where(PlusSubscription.id == subscription_id)
                              .with_for_update()).first()
        if sub is None:
            return None
        session.refresh(sub)
        renewal = fulfillment.open_renewal(session, sub.id)
        if not sub.auto_renew or sub.cancelled_at is not None or (renewal is None and sub.current_period_end > now):
            return None  # cancelled, or renewed meanwhile by another run
        period_end = renewal.period_end if renewal is not None else sub.current_period_end
        in_flight = session.scalar(select(exists().where(
            Order.subscription_id == sub.id, Order.kind == rules.RENEWAL, Order.status == rules.PENDING)))
        next_end = rules.next_term_end(sub.started_at, period_end, sub.term)
        grace_end = renewal.grace_until if renewal is not None else rules.grace_until(period_end,
                                                                                      settings.renewal_grace_days)
        step = rules.renewal_step(rules.RenewalFacts(period_end, next_end, grace_end,
                                                     renewal.next_attempt_at if renewal is not None else None,
                                                     bool(in_flight)), now)
        if step == rules.RENEW_WAIT:
            report.waiting.append(sub.id)
            return None
        if step in (rules.RENEW_END, rules.RENEW_LAPSE):
            if renewal is None:
                renewal = SubscriptionRenewal(account_id=sub.account_id, subscription_id=sub.id, period_end=period_end,
                                              status="open", attempts=0, grace_until=grace_end, created_at=now,
                                              updated_at=now)
                session.add(renewal)
                session.flush()
            fulfillment.end_renewal(session, renewal, now)
            report.ended.append(sub.id)
            log.info("subscription %d: renewal ended (%s)", sub.id, step)
            return None
        if renewal is None:
            renewal = SubscriptionRenewal(account_id=sub.account_id, subscription_id=sub.id, period_end=period_end,
                                          status="open", attempts=0, grace_until=grace_end, created_at=now,
                                          updated_at=now)
            session.add(renewal)
            session.flush()
        renewal.attempts += 1
        renewal.last_attempt_at, renewal.next_attempt_at, renewal.updated_at = now, None, now
        if sub.current_period_end < grace_end:  # access continues while the renewal is tried
            licenses.set_subscription_period_end(session, sub.id, grace_end)
        account = session.get_one(Account, sub.account_id)
        seat_cents = facts.price_list(settings).plus_seat_cents(sub.term)
        total = seat_cents * sub.seats_total
        key = f"renew_{sub.id}_{period_end:%Y%m%dT%H%M%S}_{renewal.attempts}"
        order = Order(account_id=sub.account_id, learner_id=None, kind=rules.RENEWAL, status=rules.PENDING,
                      currency=settings.currency, total_cents=total, idempotency_key=key, gateway=gateway.name,
                      payment_token=account.payment_token, card_last4=account.card_last4, attempts=1,
                      last_attempt_at=now, consent_recurring=True, subscription_id=sub.id,
                      renews_period_end=period_end, created_at=now, updated_at=now,
                      **_billing_from_last_purchase(session, sub.account_id))  # type: ignore[arg-type]
        session.add(order)
        session.flush()
        session.add(OrderLine(order_id=order.id, position=1, kind=rules.LINE_PLUS_RENEWAL,
                              title=f"Plus subscription ({sub.term}): renewal", term=sub.term,
                              quantity=sub.seats_total, list_unit_cents=seat_cents, unit_cents=seat_cents,
                              discount_percent=0, line_total_cents=total, subscription_id=sub.id,
                              period_start=period_end, period_end=next_end))
        renewal.last_order_id = order.id
        return _Attempt(sub.id, order.id, total, settings.currency, account.payment_token, key)


# ---------------------------------------------------------------- cancelling


@dataclass(frozen=True)
class CancelledRenewal:
    subscription_id: int
    term: str
    access_until: datetime  # access ends then (the end of the paid term)


def cancel_renewal(sessions: sessionmaker[Session], account_ref: str | int, now: datetime) -> list[CancelledRenewal]:
    """Stop the renewal of the account's subscriptions that would renew: auto-renew off, access
    until the end of the paid term (a renewal being retried after a decline ends now, with its
    grace period). Refused while a renewal payment is in flight (``renewal_in_progress``) and
    when nothing would renew (``no_renewing_subscription``)."""
    now = require_aware(now, "now")
    with sessions.begin() as session:
        account = get_account(session, account_ref)
        subs = list(session.scalars(
            select(PlusSubscription).where(PlusSubscription.account_id == account.id,
                                           PlusSubscription.auto_renew.is_(True),
                                           PlusSubscription.cancelled_at.is_(None),
                                           or_(PlusSubscription.current_period_end > now,
                                               exists().where(and_(
                                                   SubscriptionRenewal.subscription_id == PlusSubscription.id,
                                                   SubscriptionRenewal.status == "open"))))
            .order_by(PlusSubscription.id).with_for_update()))
        if not subs:
            raise InvalidInput(f"account {account.name!r} has no subscription that renews", reason="no_renewing_subscription")
        out = []
        for sub in subs:
            in_flight = session.scalar(select(exists().where(
                Order.subscription_id == sub.id, Order.kind == rules.RENEWAL, Order.status == rules.PENDING)))
            if in_flight:
                raise InvalidInput("a renewal payment is being made right now; try again in a minute",
                                   reason="renewal_in_progress")
            renewal = fulfillment.open_renewal(session, sub.id)
            if renewal is not None:
                fulfillment.end_renewal(session, renewal, now)
            else:
                licenses.stop_subscription_renewal(session, sub.id, now)
            session.refresh(sub)
            out.append(CancelledRenewal(sub.id, sub.term, sub.current_period_end))
            log.info("subscription %d: renewal cancelled, access until %s", sub.id, sub.current_period_end)
        return out


__all__ = ["CancelledRenewal", "RenewalReport", "cancel_renewal", "due_subscriptions", "renew_due"]

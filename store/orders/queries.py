"""Read models of the store: orders and their lines, renewal notices, quote requests. Functions
take a Session and never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from store.accounts.models import Account
from store.errors import NotFound
from store.licenses.models import PlusSubscription
from store.orders import rules
from store.orders.models import Order, OrderLine, QuoteRequest, SubscriptionRenewal

RECENT_ENDED_RENEWALS = timedelta(days=30)


@dataclass(frozen=True)
class OrderLineView:
    position: int
    kind: str  # plus_new | plus_seats | plus_renewal | volume
    title: str
    catalog_id: str | None
    term: str | None
    quantity: int
    list_unit_cents: int
    unit_cents: int
    discount_percent: int
    proration: Fraction | None
    line_total_cents: int
    period_start: datetime | None
    period_end: datetime | None

    @property
    def proration_percent(self) -> int | None:
        return None if self.proration is None else round(self.proration * 100)


@dataclass(frozen=True)
class OrderSummary:
    """One row of the Order History."""

    number: str
    kind: str  # purchase | renewal
    status: str
    status_label: str
    created_at: datetime
    total_cents: int
    currency: str
    line_count: int


@dataclass(frozen=True)
class OrderView:
    id: int
    number: str
    account_id: int
    kind: str
    status: str
    status_label: str
    currency: str
    total_cents: int
    created_at: datetime
    paid_at: datetime | None
    fulfilled_at: datetime | None
    card_brand: str | None
    card_last4: str | None
    failure_reason: str | None
    failure_message: str | None
    billing: rules.Billing | None
    consent_recurring: bool
    lines: tuple[OrderLineView, ...]

    @property
    def is_complete(self) -> bool:
        return self.status == rules.FULFILLED

    @property
    def is_pending(self) -> bool:
        return self.status == rules.PENDING


def _line_view(line: OrderLine) -> OrderLineView:
    proration = (Fraction(line.proration_numerator, line.proration_denominator)
                 if line.proration_numerator is not None and line.proration_denominator else None)
    return OrderLineView(line.position, line.kind, line.title, line.catalog_id, line.term, line.quantity,
                         line.list_unit_cents, line.unit_cents, line.discount_percent, proration,
                         line.line_total_cents, line.period_start, line.period_end)


def order_view(session: Session, order: Order) -> OrderView:
    lines = session.scalars(select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.position))
    billing = None
    if order.billing_name is not None:
        billing = rules.Billing(order.billing_name, order.billing_email or "", order.billing_address or "",
                                order.billing_country or "", order.billing_company or "")
    return OrderView(order.id, rules.order_number(order.id), order.account_id, order.kind, order.status,
                     rules.status_label(order.status), order.currency, order.total_cents, order.created_at,
                     order.paid_at, order.fulfilled_at, order.card_brand, order.card_last4, order.failure_reason,
                     order.failure_message, billing, order.consent_recurring, tuple(_line_view(x) for x in lines))


def list_orders(session: Session, account_id: int) -> list[OrderSummary]:
    """Every order of the account, newest first: purchases and renewals, whatever their state
    (a failed payment shows as "Payment failed")."""
    counts = (select(OrderLine.order_id, func.count().label("n")).group_by(OrderLine.order_id).subquery())
    rows = session.execute(
        select(Order, func.coalesce(counts.c.n, 0)).outerjoin(counts, counts.c.order_id == Order.id)
        .where(Order.account_id == account_id).order_by(Order.created_at.desc(), Order.id.desc()))
    return [OrderSummary(rules.order_number(o.id), o.kind, o.status, rules.status_label(o.status), o.created_at,
                         o.total_cents, o.currency, int(n)) for o, n in rows]


def get_order(session: Session, account_id: int, number: str) -> OrderView:
    """One order of the account by its number (``ORD-000123``); NotFound ``unknown_order`` for
    a malformed number or another account's order."""
    order_id = rules.parse_order_number(number)
    order = session.get(Order, order_id) if order_id is not None else None
    if order is None or order.account_id != account_id:
        raise NotFound(f"There is no order {number[:40]!r} for this account.", reason="unknown_order")
    return order_view(session, order)


def find_order(session: Session, number: str) -> OrderView:
    """Any account's order by number (staff: ``lti-tool orders show``)."""
    order_id = rules.parse_order_number(number)
    order = session.get(Order, order_id) if order_id is not None else None
    if order is None:
        raise NotFound(f"There is no order {number[:40]!r}.", reason="unknown_order")
    return order_view(session, order)


def last_billing(session: Session, account_id: int) -> rules.Billing | None:
    """The billing details of the account's latest paid purchase (to fill the checkout form)."""
    order = session.scalars(select(Order).where(Order.account_id == account_id, Order.kind == rules.PURCHASE,
                                                Order.status == rules.FULFILLED, Order.billing_name.is_not(None))
                            .order_by(Order.created_at.desc(), Order.id.desc())).first()
    return None if order is None else order_view(session, order).billing


# ---------------------------------------------------------------- renewal notices


@dataclass(frozen=True)
class RenewalNotice:
    """A subscription renewal that needs the admin's attention: its payment was declined and is
    being retried until ``grace_until`` (status ``open``), or it ended for non-payment (``ended``)."""

    subscription_id: int
    term: str
    status: str  # open | ended
    period_end: datetime  # the end of the last paid term
    grace_until: datetime  # access lasts until then while the payment is retried
    attempts: int
    failure_reason: str | None
    failure_message: str | None
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None

    @property
    def message(self) -> str:
        when = f"{self.period_end:%Y-%m-%d}"
        if self.status == "ended":
            return (f"Your Plus subscription was not renewed: the renewal payment failed ({self.failure_message}) "
                    f"and access ended with the term on {when}.")
        return (f"The renewal payment for your Plus subscription failed: {self.failure_message} We will try again; "
                f"access continues until {self.grace_until:%Y-%m-%d}. Contact support to change the card.")


def renewal_notices(session: Session, account_id: int, now: datetime) -> list[RenewalNotice]:
    """Failed renewals of the account to show on its dashboard: those being retried, and those
    that ended for non-payment in the last 30 days; newest first."""
    rows = session.execute(
        select(SubscriptionRenewal, PlusSubscription.term)
        .join(PlusSubscription, PlusSubscription.id == SubscriptionRenewal.subscription_id)
        .where(SubscriptionRenewal.account_id == account_id, SubscriptionRenewal.failure_reason.is_not(None),
               or_(SubscriptionRenewal.status == "open",
                   (SubscriptionRenewal.status == "ended")
                   & (SubscriptionRenewal.updated_at >= now - RECENT_ENDED_RENEWALS)))
        .order_by(SubscriptionRenewal.updated_at.desc(), SubscriptionRenewal.id.desc()))
    return [RenewalNotice(r.subscription_id, term, r.status, r.period_end, r.grace_until, r.attempts,
                          r.failure_reason, r.failure_message, r.last_attempt_at, r.next_attempt_at)
            for r, term in rows]


# ---------------------------------------------------------------- quotes


@dataclass(frozen=True)
class QuoteItemView:
    kind: str  # plus | volume
    catalog_id: str | None
    title: str
    term: str | None
    seats: int


@dataclass(frozen=True)
class QuoteView:
    id: int
    account_id: int
    account_name: str
    name: str
    email: str
    message: str
    items: tuple[QuoteItemView, ...]
    created_at: datetime


def _quote_items(raw: object) -> tuple[QuoteItemView, ...]:
    items = []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, dict):
            items.append(QuoteItemView(str(item.get("kind", "")), item.get("course_id"), str(item.get("title", "")),
                                       item.get("term"), int(item.get("seats", 0))))
    return tuple(items)


def list_quotes(session: Session) -> list[QuoteView]:
    """Every quote request, newest first (staff)."""
    rows = session.execute(select(QuoteRequest, Account.name).join(Account, Account.id == QuoteRequest.account_id)
                           .order_by(QuoteRequest.created_at.desc(), QuoteRequest.id.desc()))
    return [QuoteView(q.id, q.account_id, name, q.name, q.email, q.message, _quote_items(q.items), q.created_at)
            for q, name in rows]

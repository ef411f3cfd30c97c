"""Carts, orders and their lines, quote requests, and subscription renewals.

Invariants the schema keeps: one cart per buyer (account, learner) and one line per item in it
(one Plus line; one line per Volume course); one order per idempotency key (a double submit, a
retry or two tabs find the same order); order states, kinds and line kinds from a known list;
one renewal record per subscription and term end.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, utcnow
from store.catalog.limits import CATALOG_ID_MAX, TITLE_MAX


class Order(Base):
    """A purchase from the store or a subscription renewal. The number people see is derived
    from the id (``ORD-000123``, :func:`store.orders.rules.order_number`). Billing details and
    prices are copies, as they were when the order was placed."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_orders_idempotency_key"),
        CheckConstraint("status IN ('pending', 'paid', 'fulfilled', 'failed', 'cancelled')", name="status_known"),
        CheckConstraint("kind IN ('purchase', 'renewal')", name="kind_known"),
        CheckConstraint("total_cents >= 0", name="total_not_negative"),
        CheckConstraint("card_last4 IS NULL OR length(card_last4) = 4", name="card_last4_is_four_digits"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        Index("ix_orders_account_created", "account_id", "created_at"),
        Index("ix_orders_status_attempt", "status", "last_attempt_at"),
        Index("ix_orders_subscription", "subscription_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    learner_id: Mapped[int | None] = mapped_column(ForeignKey("learners.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(12))
    currency: Mapped[str] = mapped_column(String(3))
    total_cents: Mapped[int] = mapped_column(BigInteger)
    idempotency_key: Mapped[str] = mapped_column(String(200))
    gateway: Mapped[str] = mapped_column(String(10))
    # The gateway's reusable reference to the card charged (never the card number).
    payment_token: Mapped[str | None] = mapped_column(String(200))
    card_brand: Mapped[str | None] = mapped_column(String(20))
    card_last4: Mapped[str | None] = mapped_column(String(4))
    charge_id: Mapped[str | None] = mapped_column(String(100))
    attempts: Mapped[int] = mapped_column(default=0)
    last_attempt_at: Mapped[datetime | None] = mapped_column()
    failure_reason: Mapped[str | None] = mapped_column(String(40))
    failure_message: Mapped[str | None] = mapped_column(String(300))
    billing_name: Mapped[str | None] = mapped_column(String(200))
    billing_email: Mapped[str | None] = mapped_column(String(320))
    billing_company: Mapped[str | None] = mapped_column(String(200))
    billing_address: Mapped[str | None] = mapped_column(String(1000))
    billing_country: Mapped[str | None] = mapped_column(String(2))
    consent_recurring: Mapped[bool] = mapped_column(Boolean, default=False)
    # Renewals: the subscription and the end of the term being renewed.
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("plus_subscriptions.id", ondelete="SET NULL"))
    renews_period_end: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    paid_at: Mapped[datetime | None] = mapped_column()
    fulfilled_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()  # failed or cancelled


class OrderLine(Base):
    __tablename__ = "order_lines"
    __table_args__ = (
        UniqueConstraint("order_id", "position", name="uq_order_lines_order_position"),
        CheckConstraint("kind IN ('plus_new', 'plus_seats', 'plus_renewal', 'volume')", name="kind_known"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("line_total_cents >= 0 AND unit_cents >= 0 AND list_unit_cents >= 0", name="money_not_negative"),
        CheckConstraint("(kind = 'volume') = (course_pk IS NOT NULL)", name="course_only_for_volume"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column()
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    course_pk: Mapped[int | None] = mapped_column(ForeignKey("courses.id"))
    catalog_id: Mapped[str | None] = mapped_column(String(CATALOG_ID_MAX))
    term: Mapped[str | None] = mapped_column(String(10))
    quantity: Mapped[int] = mapped_column()
    list_unit_cents: Mapped[int] = mapped_column(BigInteger)
    unit_cents: Mapped[int] = mapped_column(BigInteger)
    discount_percent: Mapped[int] = mapped_column(default=0)
    proration_numerator: Mapped[int | None] = mapped_column(BigInteger)
    proration_denominator: Mapped[int | None] = mapped_column(BigInteger)
    line_total_cents: Mapped[int] = mapped_column(BigInteger)
    # What the line bought (set when the order is fulfilled) and the term it covers.
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("plus_subscriptions.id", ondelete="SET NULL"))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("volume_lots.id", ondelete="SET NULL"))
    period_start: Mapped[datetime | None] = mapped_column()
    period_end: Mapped[datetime | None] = mapped_column()


class Cart(Base):
    """One buyer's cart. ``revision`` changes with every change to it, and the checkout key is
    made of it, so a checkout page shows exactly what is bought. While ``pending_order_id`` is
    set the cart is being paid for and cannot change."""

    __tablename__ = "carts"
    __table_args__ = (
        UniqueConstraint("account_id", "learner_id", name="uq_carts_account_learner"),
        CheckConstraint("revision >= 0", name="revision_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    learner_id: Mapped[int] = mapped_column(ForeignKey("learners.id", ondelete="CASCADE"))
    revision: Mapped[int] = mapped_column(default=0)
    nonce: Mapped[str] = mapped_column(String(32))
    pending_order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CartLine(Base):
    __tablename__ = "cart_lines"
    __table_args__ = (
        UniqueConstraint("cart_id", "line_key", name="uq_cart_lines_cart_item"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(
            "(kind = 'plus' AND term IN ('annual', 'monthly') AND course_pk IS NULL)"
            " OR (kind = 'volume' AND course_pk IS NOT NULL AND term IS NULL)",
            name="item_matches_kind",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cart_id: Mapped[int] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    line_key: Mapped[str] = mapped_column(String(40))  # "plus" or "volume:<course_pk>"
    term: Mapped[str | None] = mapped_column(String(10))
    course_pk: Mapped[int | None] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    quantity: Mapped[int] = mapped_column()
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class QuoteRequest(Base):
    """A customer asks for more than the store sells in one order; staff answer it."""

    __tablename__ = "quote_requests"
    __table_args__ = (Index("ix_quote_requests_created", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    learner_id: Mapped[int | None] = mapped_column(ForeignKey("learners.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    message: Mapped[str] = mapped_column(Text, default="")
    # What was asked: [{"kind": "plus"|"volume", "course_id": ..., "term": ..., "seats": N}, ...]
    items: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SubscriptionRenewal(Base):
    """The renewal of one subscription term (``period_end``: the end of the last paid term).
    ``open`` while it is being charged or retried after a decline (then ``failure_*`` say why and
    access lasts until ``grace_until``), ``renewed`` once paid, ``ended`` when retries ran out or
    renewal was cancelled. The admin dashboard shows the open and ended ones with a failure."""

    __tablename__ = "subscription_renewals"
    __table_args__ = (
        UniqueConstraint("subscription_id", "period_end", name="uq_subscription_renewals_term"),
        CheckConstraint("status IN ('open', 'renewed', 'ended')", name="status_known"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        Index("ix_subscription_renewals_account", "account_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    subscription_id: Mapped[int] = mapped_column(ForeignKey("plus_subscriptions.id", ondelete="CASCADE"))
    period_end: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(default=0)
    last_attempt_at: Mapped[datetime | None] = mapped_column()
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    grace_until: Mapped[datetime] = mapped_column()
    failure_reason: Mapped[str | None] = mapped_column(String(40))
    failure_message: Mapped[str | None] = mapped_column(String(300))
    last_order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

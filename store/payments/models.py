"""The local gateway's own ledger: the cards it tokenized (never their numbers), its charges and
refunds. These tables stand for a processor's records: the store's orders never join them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, utcnow


class LocalPaymentMethod(Base):
    """A tokenized test card: its token, brand, last four digits, expiry and test behaviour."""

    __tablename__ = "local_gateway_methods"
    __table_args__ = (
        UniqueConstraint("token", name="uq_local_gateway_methods_token"),
        CheckConstraint("length(last4) = 4", name="last4_is_four_digits"),
        CheckConstraint("behavior IN ('succeed', 'decline', 'insufficient_funds', 'decline_off_session')",
                        name="behavior_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64))
    brand: Mapped[str] = mapped_column(String(20))
    last4: Mapped[str] = mapped_column(String(4))
    exp_month: Mapped[int] = mapped_column()
    exp_year: Mapped[int] = mapped_column()
    behavior: Mapped[str] = mapped_column(String(30))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LocalCharge(Base):
    """One charge per idempotency key (the unique constraint makes a second charge impossible)."""

    __tablename__ = "local_gateway_charges"
    __table_args__ = (
        UniqueConstraint("charge_id", name="uq_local_gateway_charges_charge_id"),
        UniqueConstraint("idempotency_key", name="uq_local_gateway_charges_idempotency_key"),
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        CheckConstraint("status IN ('succeeded', 'failed')", name="status_known"),
        CheckConstraint("refunded_cents >= 0 AND refunded_cents <= amount_cents", name="refund_within_amount"),
        CheckConstraint("status = 'succeeded' OR refunded_cents = 0", name="refund_only_if_succeeded"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    charge_id: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    token: Mapped[str] = mapped_column(String(200))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    off_session: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(20))
    failure_reason: Mapped[str | None] = mapped_column(String(40))
    refunded_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LocalRefund(Base):
    __tablename__ = "local_gateway_refunds"
    __table_args__ = (
        UniqueConstraint("refund_id", name="uq_local_gateway_refunds_refund_id"),
        UniqueConstraint("idempotency_key", name="uq_local_gateway_refunds_idempotency_key"),
        CheckConstraint("amount_cents > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    refund_id: Mapped[str] = mapped_column(String(64))
    charge_pk: Mapped[int] = mapped_column(ForeignKey("local_gateway_charges.id", ondelete="CASCADE"))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

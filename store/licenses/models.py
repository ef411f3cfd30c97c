"""Licenses (Plus subscriptions, Volume lots, Pay Per Use) and the seats learners occupy.

The schema holds the invariants, so no code path can break them even under races:
seat counters never exceed seats bought, one seat per learner per scope and attempt, and a
Pay Per Use deposit balance never below zero.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, utcnow

TERMS = ("monthly", "annual")


class PlusSubscription(Base):
    __tablename__ = "plus_subscriptions"
    __table_args__ = (
        CheckConstraint("term IN ('monthly', 'annual')", name="term_known"),
        CheckConstraint("seats_total > 0", name="seats_total_positive"),
        CheckConstraint("seats_used >= 0", name="seats_used_not_negative"),
        CheckConstraint("seats_used <= seats_total", name="seats_used_within_total"),
        CheckConstraint("current_period_end > started_at", name="period_after_start"),
        Index("ix_plus_subscriptions_account_period", "account_id", "current_period_end"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    term: Mapped[str] = mapped_column(String(10))
    seats_total: Mapped[int] = mapped_column()
    seats_used: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[datetime] = mapped_column()
    # End of the term paid for; renewal moves it forward by one term.
    current_period_end: Mapped[datetime] = mapped_column()
    auto_renew: Mapped[bool] = mapped_column(Boolean, default=True)
    cancelled_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class VolumeLot(Base):
    """One Volume purchase: N seats for one course, valid 12 months from purchase."""

    __tablename__ = "volume_lots"
    __table_args__ = (
        CheckConstraint("seats_total > 0", name="seats_total_positive"),
        CheckConstraint("seats_used >= 0", name="seats_used_not_negative"),
        CheckConstraint("seats_used <= seats_total", name="seats_used_within_total"),
        CheckConstraint("expires_at > purchased_at", name="expires_after_purchase"),
        Index("ix_volume_lots_account_course", "account_id", "course_pk", "purchased_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    course_pk: Mapped[int] = mapped_column(ForeignKey("courses.id"))
    seats_total: Mapped[int] = mapped_column()
    seats_used: Mapped[int] = mapped_column(default=0)
    purchased_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PpuConfig(Base):
    """Pay Per Use: configured by vendor staff after a contract; seats are bought from the
    deposit at each learner's first launch."""

    __tablename__ = "ppu_configs"
    __table_args__ = (
        UniqueConstraint("account_id", name="uq_ppu_configs_account_id"),
        CheckConstraint("balance_cents >= 0", name="balance_not_negative"),
        CheckConstraint("length(trim(contract_ref)) > 0", name="contract_ref_not_blank"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    contract_ref: Mapped[str] = mapped_column(String(200))
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    balance_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DepositEntry(Base):
    """The deposit ledger: every credit and debit is a row; the sum equals the balance."""

    __tablename__ = "deposit_entries"
    __table_args__ = (
        CheckConstraint("amount_cents <> 0", name="amount_not_zero"),
        CheckConstraint("balance_after_cents >= 0", name="balance_after_not_negative"),
        CheckConstraint("kind IN ('deposit', 'seat', 'adjustment')", name="kind_known"),
        Index("ix_deposit_entries_account_created", "account_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    balance_after_cents: Mapped[int] = mapped_column(BigInteger)
    seat_id: Mapped[int | None] = mapped_column(ForeignKey("seats.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PpuLibraryEntry(Base):
    __tablename__ = "ppu_library_entries"
    __table_args__ = (
        UniqueConstraint("account_id", "course_pk", name="uq_ppu_library_one_per_course"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    course_pk: Mapped[int] = mapped_column(ForeignKey("courses.id"))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class Seat(Base):
    """A learner's seat. ``scope`` is what one seat covers: ``plus:<subscription id>`` (every
    Plus course), ``volume:<course id>`` or ``ppu:<course id>``. One seat per learner per scope
    and attempt; a new attempt only comes with annual retake.

    ``person_id``: set when the seat was taken with identity linking on (the learner's person);
    the unique index ``uq_seats_person_scope_attempt`` then gives one seat per person, scope and
    attempt, so two identities of one person launching at once cannot take two seats. None when
    linking was off (NULLs never collide): the learner's own constraint applies."""

    __tablename__ = "seats"
    __table_args__ = (
        UniqueConstraint(
            "account_id", "learner_id", "scope", "attempt", name="uq_seats_one_per_learner_scope_attempt"
        ),
        CheckConstraint("license_type IN ('plus', 'volume', 'ppu')", name="license_type_known"),
        CheckConstraint("attempt >= 1", name="attempt_positive"),
        CheckConstraint(
            "(license_type = 'plus' AND subscription_id IS NOT NULL AND course_pk IS NULL"
            " AND lot_id IS NULL)"
            " OR (license_type = 'volume' AND lot_id IS NOT NULL AND course_pk IS NOT NULL"
            " AND subscription_id IS NULL)"
            " OR (license_type = 'ppu' AND course_pk IS NOT NULL AND subscription_id IS NULL"
            " AND lot_id IS NULL AND price_cents IS NOT NULL)",
            name="license_reference_matches_type",
        ),
        CheckConstraint("price_cents IS NULL OR price_cents >= 0", name="price_not_negative"),
        Index("ix_seats_account_course", "account_id", "course_pk"),
        Index("ix_seats_learner", "learner_id"),
        Index("uq_seats_person_scope_attempt", "account_id", "person_id", "scope", "attempt", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    learner_id: Mapped[int] = mapped_column(ForeignKey("learners.id", ondelete="CASCADE"))
    license_type: Mapped[str] = mapped_column(String(10))
    scope: Mapped[str] = mapped_column(String(60))
    course_pk: Mapped[int | None] = mapped_column(ForeignKey("courses.id"))
    subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("plus_subscriptions.id", ondelete="CASCADE")
    )
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("volume_lots.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(default=1)
    occupied_at: Mapped[datetime] = mapped_column()
    # Volume: the lot's expiry; PPU: 12 months from first launch; Plus: None (follows the
    # subscription's term).
    expires_at: Mapped[datetime | None] = mapped_column()
    # What the seat cost from the PPU deposit.
    price_cents: Mapped[int | None] = mapped_column(BigInteger)
    person_id: Mapped[int | None] = mapped_column()


class CourseLaunch(Base):
    """First and last launch of a course under a seat (a Plus seat covers many courses)."""

    __tablename__ = "course_launches"
    __table_args__ = (
        UniqueConstraint("seat_id", "course_pk", name="uq_course_launches_seat_course"),
        CheckConstraint("launch_count >= 1", name="launch_count_positive"),
        Index("ix_course_launches_course", "course_pk"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    seat_id: Mapped[int] = mapped_column(ForeignKey("seats.id", ondelete="CASCADE"))
    course_pk: Mapped[int] = mapped_column(ForeignKey("courses.id"))
    first_launched_at: Mapped[datetime] = mapped_column()
    last_launched_at: Mapped[datetime] = mapped_column()
    launch_count: Mapped[int] = mapped_column(default=1)


class LaunchRefusal(Base):
    """A launch that was refused: by the seat engine, or by a delivery path before it (a SCORM
    dispatch launch from a domain that is not allowed, of a revoked or replaced package). The
    admin dashboard's Needs Attention list. ``learner_label`` names the learner when there is no
    learner row (the LMS's name or id as the package reported it); ``detail`` says more (e.g.
    the LMS host that is not allowed)."""

    __tablename__ = "launch_refusals"
    __table_args__ = (Index("ix_launch_refusals_account_created", "account_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    learner_id: Mapped[int | None] = mapped_column(ForeignKey("learners.id", ondelete="CASCADE"))
    course_pk: Mapped[int | None] = mapped_column(ForeignKey("courses.id"))
    license_type: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    is_resolved: Mapped[bool] = mapped_column(Boolean, default=False)
    learner_label: Mapped[str | None] = mapped_column(String(300))
    detail: Mapped[str | None] = mapped_column(String(300))

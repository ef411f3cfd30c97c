"""Invitations: an admin of a small account without an LMS emails a learner a personal launch
link. The seat is occupied when the invitation is sent; the link opens the course player
outside any LMS for as long as the seat lasts. Only the SHA-256 of the link's random token is
stored."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, utcnow


class Invitation(Base):
    __tablename__ = "invitations"
    __table_args__ = (
        UniqueConstraint("token_hash", name="uq_invitations_token_hash"),
        UniqueConstraint("account_id", "course_pk", "license_type", "email_normalized",
                         name="uq_invitations_one_per_course_and_address"),
        CheckConstraint("license_type IN ('plus', 'volume', 'ppu')", name="license_type_known"),
        CheckConstraint("open_count >= 0", name="open_count_not_negative"),
        Index("ix_invitations_account_sent", "account_id", "sent_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    course_pk: Mapped[int] = mapped_column(ForeignKey("courses.id"))
    license_type: Mapped[str] = mapped_column(String(10))
    email: Mapped[str] = mapped_column(String(320))  # as the admin typed it (trimmed)
    email_normalized: Mapped[str] = mapped_column(String(320))
    # The invited person as the seat engine knows them: identity invite:<account id> + address.
    learner_id: Mapped[int] = mapped_column(ForeignKey("learners.id", ondelete="CASCADE"))
    invited_by_learner_id: Mapped[int | None] = mapped_column(ForeignKey("learners.id", ondelete="SET NULL"))
    seat_id: Mapped[int | None] = mapped_column(ForeignKey("seats.id", ondelete="SET NULL"))
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)  # the latest (re)send: its link is the live one
    last_opened_at: Mapped[datetime | None] = mapped_column()
    open_count: Mapped[int] = mapped_column(default=0)

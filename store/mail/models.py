"""The mail outbox: every message the product sends, with its status."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, utcnow

BACKENDS = ("outbox", "smtp")
# stored: kept in the outbox (the outbox backend sends nothing); sending: handed to the SMTP
# server right now; sent: the server accepted it; failed: it did not (``error`` says why).
STATUSES = ("stored", "sending", "sent", "failed")


class MailMessage(Base):
    __tablename__ = "mail_outbox"
    __table_args__ = (
        CheckConstraint("backend IN ('outbox', 'smtp')", name="backend_known"),
        CheckConstraint("status IN ('stored', 'sending', 'sent', 'failed')", name="status_known"),
        Index("ix_mail_outbox_created_at", "created_at"),
        Index("ix_mail_outbox_account_id", "account_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The account the message was sent for (an invitation, a password reset): closing the
    # account removes it. None: mail of no account.
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    backend: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    from_address: Mapped[str] = mapped_column(String(320))
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    # The text. The SMTP backend clears it once the server accepted the message (it may hold a
    # password reset link); the outbox backend keeps it: the outbox is where the mail goes.
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(String(500))
    # Delivery attempts so far (the SMTP backend's first one included); the mail job retries a
    # failed message until MAIL_MAX_ATTEMPTS.
    attempts: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

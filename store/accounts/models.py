"""Accounts (customers), the learners who launch courses under them, and the logins of
independent learners (with their password reset links)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, utcnow

ACCOUNT_KINDS = ("organization", "individual")


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (
        UniqueConstraint("name", name="uq_accounts_name"),
        CheckConstraint("kind IN ('organization', 'individual')", name="kind_known"),
        CheckConstraint("length(trim(name)) > 0", name="name_not_blank"),
        CheckConstraint(
            "card_last4 IS NULL OR length(card_last4) = 4", name="card_last4_is_four_digits"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default="organization")
    # Staff-only setting: a learner whose seat is more than 12 months old starts a new attempt.
    annual_retake: Mapped[bool] = mapped_column(Boolean, default=False)
    # Payment method on file: a gateway token and the card's last four digits, never the number.
    payment_token: Mapped[str | None] = mapped_column(String(200))
    card_last4: Mapped[str | None] = mapped_column(String(4))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Learner(Base):
    """A person as one delivery method identifies them: (identity source, external id).

    ``identity_source`` is e.g. ``lti:<issuer>`` for an LTI launch (external id = ``sub``),
    ``package:<key>`` for a SCORM dispatch package, ``cli`` for support staff claims.
    """

    __tablename__ = "learners"
    __table_args__ = (
        UniqueConstraint(
            "account_id", "identity_source", "external_id", name="uq_learners_one_per_identity"
        ),
        CheckConstraint("length(external_id) > 0", name="external_id_not_blank"),
        Index("ix_learners_account_email", "account_id", "email"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    identity_source: Mapped[str] = mapped_column(String(300))
    external_id: Mapped[str] = mapped_column(String(4000))
    name: Mapped[str | None] = mapped_column(String(300))
    email: Mapped[str | None] = mapped_column(String(320))
    username: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Login(Base):
    """How an independent learner signs in: an email address (unique, case-insensitive) and an
    Argon2id password hash, for one account of kind ``individual`` that is theirs alone. Their
    learner in that account has the identity source ``login:<id>``."""

    __tablename__ = "logins"
    __table_args__ = (
        UniqueConstraint("email_normalized", name="uq_logins_email_normalized"),
        UniqueConstraint("account_id", name="uq_logins_account_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))  # as typed at sign-up
    email_normalized: Mapped[str] = mapped_column(String(320))  # trimmed and lowercased: the key
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_signin_at: Mapped[datetime | None] = mapped_column()


class PasswordReset(Base):
    """A password reset link: only the SHA-256 of its random token is stored; it expires and
    works once (``used_at``)."""

    __tablename__ = "password_resets"
    __table_args__ = (
        UniqueConstraint("token_hash", name="uq_password_resets_token_hash"),
        Index("ix_password_resets_login_id", "login_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    login_id: Mapped[int] = mapped_column(ForeignKey("logins.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()

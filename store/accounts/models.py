"""Accounts (customers), the learners who launch courses under them (and the keys that link one
person's identities), the logins of independent learners (with their password reset links), and
account closure requests."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
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
    # "Treat the same person as one learner across delivery methods" (store.accounts.linking):
    # off by default; staff or the account's admins switch it.
    link_identities: Mapped[bool] = mapped_column(Boolean, default=False)
    # The SCORM format the account's admins last chose for packages (scorm12 / scorm2004).
    preferred_package_format: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Learner(Base):
    """A person as one delivery method identifies them: (identity source, external id).

    ``identity_source`` is e.g. ``lti:<issuer>`` for an LTI launch (external id = ``sub``),
    ``package:<key>`` for a SCORM dispatch package, ``invite:<account id>`` for an emailed
    invitation (external id = the address, lowercased), ``login:<id>`` for an independent
    learner, ``staff`` for support staff claims. ``delivery`` names the delivery method for
    reports (``store.accounts.linking.delivery_of``).

    ``person_id``: with identity linking on, the learner id of the person this identity belongs
    to (the first identity of that person points to itself); None: never linked, the learner is
    a person of its own. Set once, at the identity's first linked launch, and never changed.
    """

    __tablename__ = "learners"
    __table_args__ = (
        UniqueConstraint(
            "account_id", "identity_source", "external_id", name="uq_learners_one_per_identity"
        ),
        CheckConstraint("length(external_id) > 0", name="external_id_not_blank"),
        Index("ix_learners_account_email", "account_id", "email"),
        Index("ix_learners_account_person", "account_id", "person_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    identity_source: Mapped[str] = mapped_column(String(300))
    external_id: Mapped[str] = mapped_column(String(4000))
    name: Mapped[str | None] = mapped_column(String(300))
    email: Mapped[str | None] = mapped_column(String(320))
    username: Mapped[str | None] = mapped_column(String(300))
    delivery: Mapped[str | None] = mapped_column(String(20))
    person_id: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PersonKey(Base):
    """How linked identities find their person: one row per (account, kind, normalized value),
    ``kind`` ``email`` or ``username``. The unique key makes the link race-safe: two first
    launches of one person insert the same key; one wins, the other finds it."""

    __tablename__ = "person_keys"
    __table_args__ = (
        UniqueConstraint("account_id", "kind", "value", name="uq_person_keys_account_kind_value"),
        CheckConstraint("kind IN ('email', 'username')", name="kind_known"),
        CheckConstraint("length(value) > 0", name="value_not_blank"),
        Index("ix_person_keys_person", "person_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    value: Mapped[str] = mapped_column(String(320))
    person_id: Mapped[int] = mapped_column(ForeignKey("learners.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ClosureRequest(Base):
    """An account's request to be closed (the dashboard's form); staff list them with
    ``lti-tool staff requests`` and close the account with ``lti-tool staff close-account``."""

    __tablename__ = "closure_requests"
    __table_args__ = (Index("ix_closure_requests_created", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    learner_id: Mapped[int | None] = mapped_column(ForeignKey("learners.id", ondelete="SET NULL"))
    name: Mapped[str | None] = mapped_column(String(300))  # who asked, as the LMS named them
    email: Mapped[str | None] = mapped_column(String(320))
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


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

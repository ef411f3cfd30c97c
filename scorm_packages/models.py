"""Dispatch package tables: package keys, the LMS domains an account allows, and the launches
that came through packages.

- ``dispatch_packages``: one row per (account, course, license type, format). Building the same
  package again reuses the row and its public key, so learners keep their seats (a package
  learner is identified as ``package:<key>`` + the LMS learner id). The per-package signing
  secret is stored encrypted (Fernet, key derived from KEY_ENCRYPTION_KEY or SECRET_KEY);
  ``generation`` counts the secrets the package has had: a copy of an older generation is
  refused as revoked/replaced.
- ``dispatch_allowed_domains``: an account's allowed LMS domains; none = any domain.
- ``dispatch_launches``: every launch whose signed token verified, with its outcome (seat,
  refused by the seat engine, domain not allowed, rate limited, replayed, replaced, content not
  available, busy; ``reason`` says more), the package generation it was signed for and the LMS
  origin it came from (the course player's token points at it; the player checks through it
  that the package is neither revoked nor replaced; admins can see where a package is used).
- ``dispatch_launch_tokens``: the ids (``jti``) of the launch tokens already used, per package,
  until the token expires: a launch token is accepted once (every app server sees the same rows;
  the primary key makes two identical posts give one launch).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, utcnow

PACKAGE_FORMATS = ("scorm12", "scorm2004")
KEY_MAX = 40
DOMAIN_MAX = 253
ORIGIN_MAX = 300
JTI_MAX = 128
LAUNCH_OUTCOMES = ("seat", "refused", "domain_not_allowed", "rate_limited", "replayed", "replaced",
                   "content_unavailable", "busy")


class DispatchPackage(Base):
    __tablename__ = "dispatch_packages"
    __table_args__ = (
        UniqueConstraint("public_key", name="uq_dispatch_packages_public_key"),
        UniqueConstraint("account_id", "course_pk", "license_type", "format", name="uq_dispatch_packages_one_per_kind"),
        CheckConstraint("license_type IN ('plus', 'volume', 'ppu')", name="license_type_known"),
        CheckConstraint("format IN ('scorm12', 'scorm2004')", name="format_known"),
        CheckConstraint("generation >= 1", name="generation_positive"),
        CheckConstraint("length(public_key) > 0", name="public_key_not_blank"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_key: Mapped[str] = mapped_column(String(KEY_MAX))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    course_pk: Mapped[int] = mapped_column(ForeignKey("courses.id"))
    license_type: Mapped[str] = mapped_column(String(10))
    format: Mapped[str] = mapped_column(String(10))
    secret_encrypted: Mapped[str] = mapped_column(Text)
    generation: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    built_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()


class DispatchAllowedDomain(Base):
    __tablename__ = "dispatch_allowed_domains"
    __table_args__ = (
        UniqueConstraint("account_id", "domain", name="uq_dispatch_allowed_domains_account_domain"),
        CheckConstraint("length(domain) > 0", name="domain_not_blank"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    domain: Mapped[str] = mapped_column(String(DOMAIN_MAX))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DispatchLaunch(Base):
    __tablename__ = "dispatch_launches"
    __table_args__ = (
        Index("ix_dispatch_launches_package_created", "package_id", "created_at"),
        CheckConstraint("outcome IN (" + ", ".join(f"'{o}'" for o in LAUNCH_OUTCOMES) + ")", name="outcome_known"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("dispatch_packages.id", ondelete="CASCADE"))
    learner_id: Mapped[int | None] = mapped_column(ForeignKey("learners.id", ondelete="CASCADE"))
    seat_id: Mapped[int | None] = mapped_column(ForeignKey("seats.id", ondelete="SET NULL"))
    outcome: Mapped[str] = mapped_column(String(30))
    reason: Mapped[str | None] = mapped_column(String(40))
    is_new_seat: Mapped[bool] = mapped_column(Boolean, default=False)
    lms_origin: Mapped[str | None] = mapped_column(String(ORIGIN_MAX))
    referrer_origin: Mapped[str | None] = mapped_column(String(ORIGIN_MAX))
    # The package generation the launch token was signed for (None: recorded before 0008).
    generation: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DispatchLaunchToken(Base):
    __tablename__ = "dispatch_launch_tokens"
    __table_args__ = (
        Index("ix_dispatch_launch_tokens_expires_at", "expires_at"),
        CheckConstraint("length(jti) > 0", name="jti_not_blank"),
    )

    package_id: Mapped[int] = mapped_column(ForeignKey("dispatch_packages.id", ondelete="CASCADE"),
                                            primary_key=True)
    jti: Mapped[str] = mapped_column(String(JTI_MAX), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column()  # refused as expired from then on: the row may go
    used_at: Mapped[datetime] = mapped_column(default=utcnow)

"""LTI tables: platform registrations and deployments, the tool's signing keys, and the
server-side launch state that keeps app servers stateless (login state + nonce, validated
launches, platform key sets, service tokens, the score outbox, web sessions)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, utcnow


class ToolKey(Base):
    """An RSA key the tool signs with. The private key is encrypted at rest. A rotated-out key
    (``retired_at`` set) stays in the JWKS for the overlap period so in-flight tokens verify."""

    __tablename__ = "lti_tool_keys"
    __table_args__ = (UniqueConstraint("kid", name="uq_lti_tool_keys_kid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(64))
    private_key_encrypted: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column()


class LtiRegistration(Base):
    """An LMS registered for an account: one issuer may have many client ids."""

    __tablename__ = "lti_registrations"
    __table_args__ = (
        UniqueConstraint("issuer", "client_id", name="uq_lti_registrations_issuer_client"),
        CheckConstraint("created_via IN ('cli', 'dynamic', 'demo')", name="created_via_known"),
        Index("ix_lti_registrations_account", "account_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(300))
    auth_login_url: Mapped[str] = mapped_column(String(1000))
    auth_token_url: Mapped[str] = mapped_column(String(1000))
    # Brightspace: the OAuth2 token audience differs from the token URL.
    auth_audience: Mapped[str | None] = mapped_column(String(1000))
    key_set_url: Mapped[str] = mapped_column(String(1000))
    # Origins allowed to frame the tool (frame-ancestors), besides the issuer's and login URL's.
    extra_origins: Mapped[list[str]] = mapped_column(JSON, default=list)
    label: Mapped[str] = mapped_column(String(200), default="")
    created_via: Mapped[str] = mapped_column(String(20), default="cli")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Made by an anonymous Dynamic Registration with a new account: nobody at the vendor has
    # looked at it yet (`lti-tool platform review`). Launches work; the login never sends a
    # browser's top window to its self-declared login URL without a click.
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)
    reviewed_at: Mapped[datetime | None] = mapped_column()
    # Last refetch of the key set for a launch naming an unknown kid (at most one per interval).
    jwks_refetched_at: Mapped[datetime | None] = mapped_column()


class LtiDeployment(Base):
    """A deployment of a registration. Canvas sends its deployment id only with the first
    launch: an unknown deployment of a known registration becomes ``pending`` (or is accepted,
    by setting) instead of a crash. A registration shared by several accounts (Blackboard) never
    auto-accepts: nobody could tell whose seats an unknown deployment would use."""

    __tablename__ = "lti_deployments"
    __table_args__ = (
        UniqueConstraint("registration_id", "deployment_id", name="uq_lti_deployments_registration_deployment"),
        CheckConstraint("status IN ('active', 'pending', 'disabled')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("lti_registrations.id", ondelete="CASCADE"))
    deployment_id: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20), default="active")
    # Blackboard serves every institution from one issuer and one client id: the deployment tells
    # institutions apart, so a deployment may belong to another account than its registration.
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LtiLoginState(Base):
    """OIDC login state and nonce, server side. A launch consumes the row in one DELETE, so a
    nonce is used once and any app process can finish a login another one started."""

    __tablename__ = "lti_login_states"
    __table_args__ = (
        UniqueConstraint("state", name="uq_lti_login_states_state"),
        UniqueConstraint("nonce", name="uq_lti_login_states_nonce"),
        Index("ix_lti_login_states_expires", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    state: Mapped[str] = mapped_column(String(128))
    nonce: Mapped[str] = mapped_column(String(128))
    registration_id: Mapped[int] = mapped_column(ForeignKey("lti_registrations.id", ondelete="CASCADE"))
    target_link_uri: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class LtiUsedNonce(Base):
    """Nonces of completed launches, kept until the id_token could no longer be valid, so a
    re-posted id_token is rejected even after its login state is gone."""

    __tablename__ = "lti_used_nonces"
    __table_args__ = (
        UniqueConstraint("registration_id", "nonce", name="uq_lti_used_nonces_registration_nonce"),
        Index("ix_lti_used_nonces_expires", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("lti_registrations.id", ondelete="CASCADE"))
    nonce: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column()


class LtiPlatformKeySet(Base):
    """A platform's JWKS, cached in the database for every app process; refetched once when a
    launch names an unknown ``kid``."""

    __tablename__ = "lti_platform_key_sets"
    __table_args__ = (UniqueConstraint("key_set_url", name="uq_lti_platform_key_sets_url"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key_set_url: Mapped[str] = mapped_column(String(1000))
    jwks: Mapped[dict[str, Any]] = mapped_column(JSON)
    fetched_at: Mapped[datetime] = mapped_column()


class LtiLaunch(Base):
    """A validated launch kept server side under a random id, for the steps after it (admin
    confirmation, deep-linking response, grade passback) without any cookie."""

    __tablename__ = "lti_launches"
    __table_args__ = (Index("ix_lti_launches_expires", "expires_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("lti_registrations.id", ondelete="CASCADE"))
    deployment_id: Mapped[str] = mapped_column(String(300))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    learner_id: Mapped[int | None] = mapped_column(ForeignKey("learners.id", ondelete="CASCADE"))
    message_type: Mapped[str] = mapped_column(String(100))
    claims: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class LtiServiceToken(Base):
    """OAuth2 access tokens for LTI services, keyed by (issuer, client id, token URL, scopes)."""

    __tablename__ = "lti_service_tokens"
    __table_args__ = (UniqueConstraint("cache_key", name="uq_lti_service_tokens_cache_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cache_key: Mapped[str] = mapped_column(String(64))
    access_token: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column()


class LtiScorePost(Base):
    """Outbox of AGS score posts: written after the progress commit, sent with retries."""

    __tablename__ = "lti_score_posts"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sent', 'failed')", name="status_known"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        Index("ix_lti_score_posts_status_next", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("lti_registrations.id", ondelete="CASCADE"))
    seat_id: Mapped[int | None] = mapped_column(ForeignKey("seats.id", ondelete="CASCADE"))
    lineitem_url: Mapped[str] = mapped_column(String(2000))
    lineitems_url: Mapped[str | None] = mapped_column(String(2000))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()


class WebSession(Base):
    """Server-side web session data for pages inside the LMS frame. The session id travels in
    the URL / a form field / a header (no third-party cookie needed); only its hash is stored."""

    __tablename__ = "web_sessions"
    __table_args__ = (Index("ix_web_sessions_expires", "expires_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of the token
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class AppSecret(Base):
    """A named secret the app generates once and every process shares (encrypted at rest with
    ``lti_tool.lti.keys.encrypt_secret``), e.g. the demo LMS's signing key."""

    __tablename__ = "app_secrets"
    __table_args__ = (UniqueConstraint("name", name="uq_app_secrets_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    value_encrypted: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

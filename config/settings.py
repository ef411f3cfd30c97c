"""Build one frozen Settings object from config/defaults.py plus the environment.

Each setting NAME is read from the environment as ``APP_NAME`` first, then ``NAME``
(so the conventional ``DATABASE_URL``, ``SECRET_KEY``, ``HOST`` and ``PORT`` work as-is).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from config.defaults import DEFAULTS, ENVIRONMENTS


class ConfigError(RuntimeError):
    """A setting is missing or malformed; start-up must stop with this message."""


@dataclass(frozen=True)
class Settings:
    env: str
    database_url: str
    secret_key: str
    host: str
    port: int
    public_base_url: str
    log_level: str
    seat_term_months: int
    plus_annual_seat_cents: int
    plus_monthly_seat_cents: int
    currency: str = "USD"
    lti_clock_leeway_seconds: int = 60
    lti_login_state_ttl_seconds: int = 600
    lti_auto_accept_deployments: bool = True
    lti_platform_jwks_ttl_seconds: int = 3600
    key_encryption_key: str = ""
    tool_key_overlap_days: int = 7
    player_token_ttl_seconds: int = 28800
    ags_max_attempts: int = 6
    demo_platform: bool = False
    # Courses without imported content play generated demo lessons (never in production).
    demo_content: bool = False
    dispatch_new_learners_per_minute: int = 30
    content_dir: str = "var/content"
    content_max_bytes: int = 524_288_000
    content_max_file_bytes: int = 262_144_000
    content_max_files: int = 10_000
    lti_jwks_refetch_interval_seconds: int = 60
    lti_register_per_ip_per_hour: int = 10
    trusted_proxies: int = 0
    lti_register_per_hour: int = 60
    outbound_timeout_seconds: int = 10
    outbound_max_bytes: int = 1_048_576
    outbound_allow_private: bool = False
    mail_backend: str = "outbox"
    mail_from: str = "no-reply@localhost"
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = True
    smtp_ssl: bool = False
    smtp_timeout_seconds: int = 10
    signin_per_email_per_hour: int = 10
    signin_per_ip_per_hour: int = 50
    password_reset_ttl_seconds: int = 3600
    password_reset_per_email_per_hour: int = 3
    payment_gateway: str = "local"
    stripe_secret_key: str = ""
    stripe_publishable_key: str = ""
    stripe_api_base: str = ""
    payments_test_mode: bool = False
    renewal_grace_days: int = 7
    job_cleanup_seconds: int = 600
    job_ags_flush_seconds: int = 60
    job_billing_renew_seconds: int = 3600
    job_billing_reconcile_seconds: int = 900
    job_mail_retry_seconds: int = 60
    jobs_lease_seconds: int = 900
    jobs_poll_seconds: int = 5
    mail_max_attempts: int = 5
    mail_retry_hours: int = 24
    serve_workers: int = 2

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def is_development(self) -> bool:
        return self.env == "development"

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def _lookup(environ: Mapping[str, str], name: str) -> str:
    for key in (f"APP_{name}", name):
        value = environ.get(key)
        if value is not None and value != "":
            return value
    return DEFAULTS[name]


def _int(environ: Mapping[str, str], name: str, minimum: int = 0) -> int:
    raw = _lookup(environ, name)
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"setting {name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"setting {name} must be at least {minimum}, got {value}")
    return value


def _bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = _lookup(environ, name).strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"setting {name} must be true or false, got {raw!r}")


def _currency(environ: Mapping[str, str]) -> str:
    raw = _lookup(environ, "CURRENCY").strip().upper()
    if len(raw) != 3 or not raw.isascii() or not raw.isalpha():
        raise ConfigError(f"setting CURRENCY must be a three-letter ISO 4217 code such as USD, got {raw!r}")
    return raw


MAIL_BACKENDS = ("outbox", "smtp")


def _mail(environ: Mapping[str, str], public_base_url: str) -> dict[str, Any]:
    """The mail settings, checked together: a backend we know, an SMTP host when sending by SMTP,
    STARTTLS or implicit TLS (not both), a one-line sender address."""
    backend = _lookup(environ, "MAIL_BACKEND").strip().lower()
    if backend not in MAIL_BACKENDS:
        raise ConfigError(f"setting MAIL_BACKEND must be one of {', '.join(MAIL_BACKENDS)}, got {backend!r}")
    host = _lookup(environ, "SMTP_HOST").strip()
    if backend == "smtp" and not host:
        raise ConfigError("MAIL_BACKEND is smtp but SMTP_HOST is not set: set the SMTP server's host name")
    starttls = _bool(environ, "SMTP_STARTTLS", True)
    implicit_tls = _bool(environ, "SMTP_SSL", False)
    if starttls and implicit_tls:
        raise ConfigError("set either SMTP_STARTTLS (port 587) or SMTP_SSL (port 465), not both")
    mail_from = _lookup(environ, "MAIL_FROM").strip()
    if not mail_from:
        mail_from = f"no-reply@{urlsplit(public_base_url).hostname or 'localhost'}"
    if any(ch in mail_from for ch in "\r\n\0") or "@" not in mail_from:
        raise ConfigError(f"setting MAIL_FROM must be one email address, got {mail_from!r}")
    port = _int(environ, "SMTP_PORT", minimum=1)
    if port > 65535:
        raise ConfigError(f"setting SMTP_PORT must be a TCP port (1-65535), got {port}")
    return {
        "mail_backend": backend, "mail_from": mail_from, "smtp_host": host, "smtp_port": port,
        "smtp_username": _lookup(environ, "SMTP_USERNAME"), "smtp_password": _lookup(environ, "SMTP_PASSWORD"),
        "smtp_starttls": starttls, "smtp_ssl": implicit_tls,
        "smtp_timeout_seconds": _int(environ, "SMTP_TIMEOUT_SECONDS", minimum=1),
    }


PAYMENT_GATEWAYS = ("local", "stripe")


def check_payment_settings(settings: Settings) -> Settings:
    """The payment gateway can run with these settings, or ConfigError (start-up stops): a known
    gateway; Stripe with both keys; the local gateway in production only when
    ``PAYMENTS_TEST_MODE`` says the deployment takes no real payments."""
    if settings.payment_gateway not in PAYMENT_GATEWAYS:
        raise ConfigError(f"setting PAYMENT_GATEWAY must be one of {', '.join(PAYMENT_GATEWAYS)}, "
                          f"got {settings.payment_gateway!r}")
    if settings.payment_gateway == "stripe":
        if not settings.stripe_secret_key.startswith(("sk_", "rk_")):
            raise ConfigError("PAYMENT_GATEWAY=stripe needs STRIPE_SECRET_KEY (the secret key from the Stripe "
                              "dashboard, sk_live_… or sk_test_…)")
        if not settings.stripe_publishable_key.startswith("pk_"):
            raise ConfigError("PAYMENT_GATEWAY=stripe needs STRIPE_PUBLISHABLE_KEY (pk_live_… or pk_test_…)")
    elif settings.is_production and not settings.payments_test_mode:
        raise ConfigError("PAYMENT_GATEWAY=local takes test cards only and never real money: in production set "
                          "PAYMENT_GATEWAY=stripe with STRIPE_SECRET_KEY and STRIPE_PUBLISHABLE_KEY, or "
                          "PAYMENTS_TEST_MODE=true when this deployment takes no real payments")
    return settings


JOB_SETTINGS = ("JOB_CLEANUP_SECONDS", "JOB_AGS_FLUSH_SECONDS", "JOB_BILLING_RENEW_SECONDS",
                "JOB_BILLING_RECONCILE_SECONDS", "JOB_MAIL_RETRY_SECONDS", "JOBS_LEASE_SECONDS",
                "JOBS_POLL_SECONDS", "MAIL_MAX_ATTEMPTS", "MAIL_RETRY_HOURS", "SERVE_WORKERS")


def _jobs(environ: Mapping[str, str]) -> dict[str, Any]:
    """Background jobs: each job's interval, the worker's lease and poll, mail retries, and the
    web server's worker count."""
    return {name.lower(): _int(environ, name, minimum=1) for name in JOB_SETTINGS}


def _dev_secret_key() -> str:
    """Development: a random key kept in var/dev_secret_key so encrypted tool keys and signed
    links survive restarts. Tests: a fresh random key per process."""
    path = Path(os.environ.get("APP_DEV_SECRET_FILE", "var/dev_secret_key"))
    try:
        if path.exists():
            key = path.read_text().strip()
            if len(key) >= 32:
                return key
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
        return key
    except OSError:
        return secrets.token_urlsafe(48)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read settings; raise ConfigError when a required secret is missing outside dev/test."""
    environ = os.environ if environ is None else environ
    env = _lookup(environ, "ENV").lower()
    if env not in ENVIRONMENTS:
        raise ConfigError(f"setting ENV must be one of {', '.join(ENVIRONMENTS)}, got {env!r}")
    secret_key = _lookup(environ, "SECRET_KEY")
    if not secret_key:
        if env == "production":
            raise ConfigError(
                "SECRET_KEY is not set. Set APP_SECRET_KEY (or SECRET_KEY) to a long random value, "
                "for example: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        # Never a fixed, guessable fallback: a random key (kept on disk in development).
        secret_key = (
            _dev_secret_key() if env == "development" and environ is os.environ
            else secrets.token_urlsafe(48)
        )
    elif env == "production" and len(secret_key) < 32:
        raise ConfigError("SECRET_KEY is too short for production: use at least 32 characters")
    public_base_url = _lookup(environ, "PUBLIC_BASE_URL").rstrip("/")
    settings = Settings(
        env=env,
        database_url=_lookup(environ, "DATABASE_URL"),
        secret_key=secret_key,
        host=_lookup(environ, "HOST"),
        port=_int(environ, "PORT", minimum=1),
        public_base_url=public_base_url,
        log_level=_lookup(environ, "LOG_LEVEL").upper(),
        seat_term_months=_int(environ, "SEAT_TERM_MONTHS", minimum=1),
        plus_annual_seat_cents=_int(environ, "PLUS_ANNUAL_SEAT_CENTS"),
        plus_monthly_seat_cents=_int(environ, "PLUS_MONTHLY_SEAT_CENTS"),
        currency=_currency(environ),
        lti_clock_leeway_seconds=_int(environ, "LTI_CLOCK_LEEWAY_SECONDS"),
        lti_login_state_ttl_seconds=_int(environ, "LTI_LOGIN_STATE_TTL_SECONDS", minimum=1),
        lti_auto_accept_deployments=_bool(environ, "LTI_AUTO_ACCEPT_DEPLOYMENTS", True),
        lti_platform_jwks_ttl_seconds=_int(environ, "LTI_PLATFORM_JWKS_TTL_SECONDS"),
        key_encryption_key=_lookup(environ, "KEY_ENCRYPTION_KEY"),
        tool_key_overlap_days=_int(environ, "TOOL_KEY_OVERLAP_DAYS"),
        player_token_ttl_seconds=_int(environ, "PLAYER_TOKEN_TTL_SECONDS", minimum=60),
        ags_max_attempts=_int(environ, "AGS_MAX_ATTEMPTS", minimum=1),
        dispatch_new_learners_per_minute=_int(environ, "DISPATCH_NEW_LEARNERS_PER_MINUTE", minimum=1),
        demo_platform=_bool(environ, "DEMO_PLATFORM", env == "development") and env != "production",
        demo_content=_bool(environ, "DEMO_CONTENT", env in ("development", "test")) and env != "production",
        content_dir=_lookup(environ, "CONTENT_DIR"),
        content_max_bytes=_int(environ, "CONTENT_MAX_BYTES", minimum=1),
        content_max_file_bytes=_int(environ, "CONTENT_MAX_FILE_BYTES", minimum=1),
        content_max_files=_int(environ, "CONTENT_MAX_FILES", minimum=1),
        lti_jwks_refetch_interval_seconds=_int(environ, "LTI_JWKS_REFETCH_INTERVAL_SECONDS"),
        lti_register_per_ip_per_hour=_int(environ, "LTI_REGISTER_PER_IP_PER_HOUR", minimum=1),
        trusted_proxies=_int(environ, "TRUSTED_PROXIES"),
        lti_register_per_hour=_int(environ, "LTI_REGISTER_PER_HOUR", minimum=1),
        outbound_timeout_seconds=_int(environ, "OUTBOUND_TIMEOUT_SECONDS", minimum=1),
        outbound_max_bytes=_int(environ, "OUTBOUND_MAX_BYTES", minimum=1024),
        outbound_allow_private=_bool(environ, "OUTBOUND_ALLOW_PRIVATE", env != "production") and env != "production",
        **_mail(environ, public_base_url),
        signin_per_email_per_hour=_int(environ, "SIGNIN_PER_EMAIL_PER_HOUR", minimum=1),
        signin_per_ip_per_hour=_int(environ, "SIGNIN_PER_IP_PER_HOUR", minimum=1),
        password_reset_ttl_seconds=_int(environ, "PASSWORD_RESET_TTL_SECONDS", minimum=60),
        password_reset_per_email_per_hour=_int(environ, "PASSWORD_RESET_PER_EMAIL_PER_HOUR", minimum=1),
        payment_gateway=_lookup(environ, "PAYMENT_GATEWAY").strip().lower(),
        stripe_secret_key=_lookup(environ, "STRIPE_SECRET_KEY").strip(),
        stripe_publishable_key=_lookup(environ, "STRIPE_PUBLISHABLE_KEY").strip(),
        stripe_api_base=_lookup(environ, "STRIPE_API_BASE").strip().rstrip("/"),
        payments_test_mode=_bool(environ, "PAYMENTS_TEST_MODE", False),
        renewal_grace_days=_int(environ, "RENEWAL_GRACE_DAYS"),
        **_jobs(environ),
    )
    return check_payment_settings(settings)

"""Build one frozen Settings object from config/defaults.py plus the environment.

Each setting NAME is read from the environment as ``APP_NAME`` first, then ``NAME``
(so the conventional ``DATABASE_URL``, ``SECRET_KEY``, ``HOST`` and ``PORT`` work as-is).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

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
        # Development and tests get a per-process random key: never a fixed, guessable one.
        secret_key = os.urandom(32).hex()
    elif env == "production" and len(secret_key) < 32:
        raise ConfigError("SECRET_KEY is too short for production: use at least 32 characters")
    return Settings(
        env=env,
        database_url=_lookup(environ, "DATABASE_URL"),
        secret_key=secret_key,
        host=_lookup(environ, "HOST"),
        port=_int(environ, "PORT", minimum=1),
        public_base_url=_lookup(environ, "PUBLIC_BASE_URL").rstrip("/"),
        log_level=_lookup(environ, "LOG_LEVEL").upper(),
        seat_term_months=_int(environ, "SEAT_TERM_MONTHS", minimum=1),
        plus_annual_seat_cents=_int(environ, "PLUS_ANNUAL_SEAT_CENTS"),
        plus_monthly_seat_cents=_int(environ, "PLUS_MONTHLY_SEAT_CENTS"),
    )

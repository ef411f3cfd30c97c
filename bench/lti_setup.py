"""A fresh product database for the launch benchmarks: migrated, one organization with a Volume
lot of N seats for one course, and the load generator's platform registered (active deployment).
Returns the environment the product's gunicorn runs with. PostgreSQL: the schema is dropped first."""

from __future__ import annotations

import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402

from bench.lti_load import Platform  # noqa: E402
from config import load_settings  # noqa: E402
from lti_tool.db import upgrade_database  # noqa: E402
from lti_tool.lti.registrations import PlatformDetails, add_registration  # noqa: E402
from store.accounts.service import create_account  # noqa: E402
from store.catalog.models import Course, Publisher  # noqa: E402
from store.database import make_engine, make_sessionmaker  # noqa: E402
from store.licenses import service as licenses  # noqa: E402


def product_env(database_url: str, base_url: str, secret_key: str) -> dict[str, str]:
    return {"APP_ENV": "development", "APP_DATABASE_URL": database_url, "APP_PUBLIC_BASE_URL": base_url,
            "APP_SECRET_KEY": secret_key, "APP_DEMO_CONTENT": "1", "APP_LOG_LEVEL": "WARNING",
            "APP_DEMO_PLATFORM": "0"}


def fresh_database(database_url: str):  # type: ignore[no-untyped-def]
    """A migrated, empty database (PostgreSQL: its public schema dropped first): (engine, sessions)."""
    engine = make_engine(database_url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public"))
    upgrade_database(engine)
    return engine, make_sessionmaker(engine)


def prepare_product_database(database_url: str, platform: Platform, base_url: str, *, seats: int, course: str,
                             workdir: Path, seats_per_lot: int = 1000) -> dict[str, str]:
    env = product_env(database_url, base_url, secrets.token_urlsafe(48))
    settings = load_settings(env)
    engine, sessions = fresh_database(database_url)
    now = datetime.now(UTC)
    account = create_account(sessions, "Bench Org", now)
    with sessions.begin() as s:
        publisher = Publisher(name="Bench")
        s.add(publisher)
        s.flush()
        s.add(Course(catalog_id=course, title="Bench course", publisher_id=publisher.id, description="",
                     language="en", duration_minutes=10, topics=[], volume_price_cents=1000,
                     ppu_price_cents=1000, is_plus=False, status="active"))
    left = seats
    while left > 0:
        licenses.grant_volume(sessions, account.id, course, min(left, seats_per_lot), now)
        left -= seats_per_lot
    p = platform.platform
    add_registration(sessions, settings, account.id,
                     PlatformDetails(issuer=p.issuer, client_id=p.client_id, auth_login_url=p.auth_login_url,
                                     auth_token_url=p.auth_token_url, key_set_url=platform.jwks_url,
                                     label="bench platform", deployment_ids=(p.deployment_id,)), now)
    engine.dispose()
    return env

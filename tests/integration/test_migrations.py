"""The schema is built only by Alembic; models and migrations must not drift apart."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from lti_tool.db import current_revision, head_revision, include_object
from store.models import Base


def test_database_is_at_head(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()


def test_models_match_migrations(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": include_object}
        )
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], f"models and migrations differ; add a migration: {diff}"


def test_named_invariant_constraints_exist(engine: Engine) -> None:
    insp = inspect(engine)
    checks = {c["name"] for c in insp.get_check_constraints("volume_lots")}
    assert "ck_volume_lots_seats_used_within_total" in checks
    assert "ck_ppu_configs_balance_not_negative" in {
        c["name"] for c in insp.get_check_constraints("ppu_configs")
    }
    uniques = {c["name"] for c in insp.get_unique_constraints("seats")}
    assert "uq_seats_one_per_learner_scope_attempt" in uniques


def test_read_sessions_do_not_wait_for_a_writer_on_sqlite(engine: Engine) -> None:
    """A read-only session reads while another connection holds the write lock."""
    from sqlalchemy import text

    from store.database import make_read_sessionmaker

    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL readers never wait for writers")
    with engine.connect() as writer:
        writer.begin()
        writer.execute(text("UPDATE accounts SET name = name WHERE 1 = 0"))
        with make_read_sessionmaker(engine)() as reader:
            assert reader.execute(text("SELECT count(*) FROM courses")).scalar_one() >= 0
        writer.rollback()

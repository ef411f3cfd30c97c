"""Shared fixtures.

Database tests run against SQLite (a file, migrated with Alembic) and, when
``TEST_DATABASE_URL`` is set, against PostgreSQL too: the ``engine`` fixture is parametrized per
backend, so every database test runs on both.

- ``sessions``: a sessionmaker whose sessions join one outer transaction through savepoints
  (``join_transaction_mode="create_savepoint"``); everything is rolled back after the test.
- ``committing_sessions``: real commits (race tests with threads); every table is emptied after.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.db import upgrade_database
from store.database import make_engine
from store.models import Base

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


def _reset_postgres(url: str) -> Engine:
    engine = make_engine(url, pool_size=40, max_overflow=40)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    return engine


@pytest.fixture(scope="session", params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("db") / "test.db"
        eng = make_engine(f"sqlite:///{path}")
    else:
        eng = _reset_postgres(os.environ["TEST_DATABASE_URL"])
    upgrade_database(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine: Engine) -> Iterator[sessionmaker[Session]]:
    connection = engine.connect()
    outer = connection.begin()
    factory = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    try:
        yield factory
    finally:
        outer.rollback()
        connection.close()


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as s:
        yield s


def empty_all_tables(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def committing_sessions(engine: Engine) -> Iterator[sessionmaker[Session]]:
    empty_all_tables(engine)
    try:
        yield sessionmaker(engine, expire_on_commit=False)
    finally:
        empty_all_tables(engine)

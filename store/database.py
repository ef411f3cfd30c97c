"""Engine and session factory set-up for SQLite (embedded default) and PostgreSQL.

SQLite follows SQLAlchemy's "Transactions with SQLite and the sqlite3 driver": the driver's own
transaction handling is switched off and every transaction starts with ``BEGIN IMMEDIATE``, so
writers queue on the busy timeout instead of failing with "database is locked" halfway through.
WAL lets readers proceed while one writer works; foreign keys are enforced.

PostgreSQL behind PgBouncer in transaction mode: add ``?pooler=transaction`` to the URL. The app
keeps no session state on a server connection (no session advisory locks, no ``SET``, no
``LISTEN``; the catalog import's lock is transaction-scoped), so only prepared statements need
turning off.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, bindparam, create_engine, delete, event, select, tuple_
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS = 30_000
# ``DATABASE_URL=postgresql+psycopg://…?pooler=transaction``: PostgreSQL is reached through a
# connection pooler in transaction mode (PgBouncer); the parameter is the app's, not libpq's.
POOLER_PARAM = "pooler"


def _setup_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the write lock up front; read-only sessions (make_read_sessionmaker)
        # start a deferred transaction so they read alongside a long write under WAL.
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        conn.exec_driver_sql(f"BEGIN {'DEFERRED' if mode == 'DEFERRED' else 'IMMEDIATE'}")


def make_engine(url: str, **kwargs: Any) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        connect_args = kwargs.pop("connect_args", {})
        connect_args.setdefault("check_same_thread", False)
        connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        _setup_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_timeout", 60)
    if parsed.query.get(POOLER_PARAM) == "transaction":
        # Behind a pooler in transaction mode (PgBouncer): consecutive transactions may use
        # different server connections, so no server-side prepared statements (psycopg would
        # prepare a statement run often on one connection and execute it on another).
        parsed = parsed.difference_update_query([POOLER_PARAM])
        kwargs["connect_args"] = {**kwargs.get("connect_args", {}), "prepare_threshold": None}
    return create_engine(parsed, **kwargs)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def make_read_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions for read-only work (search, reports, pages): on SQLite they don't take the
    write lock, so they never wait behind an import. Never commit writes through them."""
    return sessionmaker(engine.execution_options(sqlite_begin="DEFERRED"), expire_on_commit=False)


@contextmanager
def core_connection(sessions: sessionmaker[Session], *, begin: bool = False) -> Iterator[Connection]:
    """A Core connection of the engine a session factory is bound to, for a hot path's short
    transaction without an ORM Session around it (a read factory's engine begins SQLite
    transactions DEFERRED). ``begin``: committed at the end (rolled back on an exception), as
    ``sessions.begin()``; else rolled back at the end, as a read ``Session``. A factory bound to
    something else than an engine (a test's connection) runs it in a Session of its own."""
    bind = sessions.kw.get("bind")
    if isinstance(bind, Engine):
        with (bind.begin() if begin else bind.connect()) as conn:
            yield conn
        return
    with (sessions.begin() if begin else sessions()) as session:
        yield session.connection()


@contextmanager
def one_statement(sessions: sessionmaker[Session], *, write: bool = False) -> Iterator[Connection]:
    """A Core connection for exactly one statement (a hot path's INSERT … RETURNING or SELECT).

    On PostgreSQL it runs in autocommit: a single statement is atomic and is its own transaction
    there, so psycopg's BEGIN and the COMMIT (or ROLLBACK) are two round trips saved. Elsewhere
    (SQLite, where the engine begins every transaction itself; a factory bound to a test's
    connection) it is ``core_connection``: committed at the end when ``write``, else rolled
    back."""
    bind = sessions.kw.get("bind")
    if isinstance(bind, Engine) and bind.dialect.name == "postgresql":
        with bind.connect() as conn:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")
        return
    with core_connection(sessions, begin=write) as conn:
        yield conn


def column_snapshot(values: Sequence[Any], start: int, names: Sequence[str]) -> SimpleNamespace | None:
    """One table's columns of a Core row (``values[start:start + len(names)]``, its primary key
    first) as a read-only object with the columns as attributes, for hot paths that skip ORM
    entities; None when an outer-joined table had no row (its primary key is NULL)."""
    if values[start] is None:
        return None
    return SimpleNamespace(**dict(zip(names, values[start:start + len(names)])))


def upsert_insert(session: Session) -> Any:
    """The dialect's ``insert`` (PostgreSQL or SQLite), which offers ``on_conflict_do_*``:
    race-safe upserts in one statement instead of lookup-then-create."""
    from sqlalchemy.dialects import postgresql, sqlite

    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def dialect_insert(dialect_name: str) -> Any:
    """``upsert_insert`` by dialect name."""
    from sqlalchemy.dialects import postgresql, sqlite

    return postgresql.insert if dialect_name == "postgresql" else sqlite.insert


def built_once(build: Callable[[str], T]) -> Callable[[Session | Connection], T]:
    """A hot path's statement, built once per dialect with bind parameters (executed with a dict
    of values): no statement is built per request, and SQLAlchemy finds its compiled form in its
    cache at once. Takes the Session or the Core Connection it runs on."""
    built: dict[str, T] = {}

    def statement(session: Session | Connection) -> T:
        name = (session.dialect if isinstance(session, Connection) else session.get_bind().dialect).name
        found = built.get(name)
        if found is None:
            found = built[name] = build(name)
        return found

    return statement


def binds(table: Any, *names: str) -> dict[str, Any]:
    """``{column: bindparam(column)}`` for ``names`` of ``table``, typed as the columns are."""
    return {name: bindparam(name, type_=table.c[name].type) for name in names}


DELETE_BATCH = 5_000


def delete_in_batches(sessions: sessionmaker[Session], model: type[Any], condition: Any,
                      batch: int = DELETE_BATCH) -> int:
    """Delete the rows of ``model`` matching ``condition``, at most ``batch`` per transaction
    (short transactions: a big sweep never holds the write lock long); the number deleted."""
    keys = list(model.__mapper__.primary_key)
    key = keys[0] if len(keys) == 1 else tuple_(*keys)
    deleted = 0
    while True:
        with sessions.begin() as session:
            chosen = select(*keys).where(condition).limit(batch)
            done = session.execute(delete(model).where(key.in_(chosen))
                                   .execution_options(synchronize_session=False)).rowcount
        deleted += done
        if done < batch:
            return deleted

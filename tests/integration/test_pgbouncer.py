"""The app through PgBouncer in transaction mode (``DATABASE_URL=…?pooler=transaction``): LTI
logins and launches, a seat race from more threads than PgBouncer has server connections, and
the background jobs. Skipped without PostgreSQL or without the ``pgbouncer`` program (optional:
``apt-get install pgbouncer``); ``make test`` does not need it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.cli import cli
from lti_tool.cli.base import CliContext
from lti_tool.services import services_of
from store.base import utcnow
from store.database import make_engine, make_sessionmaker
from store.licenses.models import Seat
from store.licenses.service import grant_plus, grant_volume
from tests.factories import lti as f
from tests.factories.catalog import make_course
from tests.factories.licenses import claim, make_account
from tests.factories.lti_server import lti_env, platform_server  # noqa: F401
from tests.factories.processes import stop_process

SERVER_CONNECTIONS = 3  # PgBouncer's pool: fewer server connections than clients


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config(engine: Engine, port: int) -> str:
    url = engine.url
    return "\n".join([
        "[databases]",
        f"{url.database} = host={url.host or '127.0.0.1'} port={url.port or 5432} dbname={url.database} "
        f"user={url.username}" + (f" password={url.password}" if url.password else ""),
        "[pgbouncer]",
        "listen_addr = 127.0.0.1",
        f"listen_port = {port}",
        "auth_type = any",
        "pool_mode = transaction",
        f"default_pool_size = {SERVER_CONNECTIONS}",
        "max_client_conn = 200",
        "unix_socket_dir =",
        "ignore_startup_parameters = extra_float_digits,options",
        "",
    ])


def _wait_for_port(process: subprocess.Popen[str], port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"pgbouncer exited: {process.communicate()[1]}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    pytest.fail("pgbouncer did not listen")


@pytest.fixture
def bouncer_url(engine: Engine) -> Iterator[str]:
    """A PgBouncer in transaction mode in front of the test database; the app's URL through it."""
    if engine.dialect.name != "postgresql":
        pytest.skip("PgBouncer pools PostgreSQL connections")
    program = shutil.which("pgbouncer") or next((p for p in ("/usr/sbin/pgbouncer",) if os.path.exists(p)), None)
    if program is None:
        pytest.skip("pgbouncer is not installed (optional: apt-get install pgbouncer)")
    folder = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    folder.chmod(0o755)  # PgBouncer refuses to run as root: it runs as nobody then
    port = _free_port()
    ini = folder / "pgbouncer.ini"
    ini.write_text(_config(engine, port), encoding="utf-8")
    ini.chmod(0o644)
    command = [program] + (["-u", "nobody"] if os.geteuid() == 0 else []) + [str(ini)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_port(process, port)
        url = engine.url.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
        yield f"{url}?pooler=transaction"
    finally:
        stop_process(process)
        shutil.rmtree(folder, ignore_errors=True)


def test_launches_through_pgbouncer_in_transaction_mode(lti_env, bouncer_url: str) -> None:  # type: ignore[no-untyped-def]
    with lti_env.sessions.begin() as session:
        make_course(session, "C-100")
    grant_plus(lti_env.sessions, lti_env.account_id, 20, "annual", utcnow())
    app = lti_env.make_app(database_url=bouncer_url)
    assert services_of(app).engine.url.port != lti_env.engine.url.port  # the app talks to PgBouncer
    client = app.test_client()
    for i in range(8):  # more than psycopg's prepare threshold (5) of the same statements
        first = f.launch(client, lti_env.platform, custom=f.course_custom("C-100", "plus"), sub=f"learner-{i}")
        assert first.status_code == 303, first.get_data(as_text=True)
        again = f.launch(client, lti_env.platform, custom=f.course_custom("C-100", "plus"), sub=f"learner-{i}")
        assert again.status_code == 303, again.get_data(as_text=True)
    assert lti_env.counts().seats == 8


@pytest.mark.race
def test_a_seat_race_through_pgbouncer(committing_sessions: sessionmaker[Session], bouncer_url: str) -> None:
    engine = make_engine(bouncer_url, pool_size=20, max_overflow=20)
    sessions = make_sessionmaker(engine)
    try:
        account = make_account(sessions, "Bounced Org").id
        with sessions.begin() as session:
            make_course(session, "RACE-1", is_plus=False)
        grant_volume(sessions, account, "RACE-1", 10, utcnow())
        barrier = threading.Barrier(30, timeout=60)

        def launch(i: int) -> bool:
            barrier.wait()
            return claim(sessions, account, "volume", "RACE-1", f"L{i}", utcnow()).ok

        with ThreadPoolExecutor(max_workers=30) as pool:
            results = list(pool.map(launch, range(30)))
        assert results.count(True) == 10
        with committing_sessions() as session:
            assert session.scalar(select(func.count()).select_from(Seat)) == 10
    finally:
        engine.dispose()


def test_the_jobs_run_through_pgbouncer(committing_sessions: sessionmaker[Session], bouncer_url: str,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_ENV", "test")
    monkeypatch.setenv("APP_DATABASE_URL", bouncer_url)
    engine = make_engine(bouncer_url)
    try:
        for _ in range(3):
            result = CliRunner().invoke(cli, ["worker", "--once"], obj=CliContext(_engine=engine),
                                        catch_exceptions=False)
            assert result.exit_code == 0, result.output
        status = CliRunner().invoke(cli, ["jobs", "status"], obj=CliContext(_engine=engine), catch_exceptions=False)
        assert status.exit_code == 0 and status.output.count("  ok  ") == 5
    finally:
        engine.dispose()


def test_statements_run_often_by_many_connections_never_meet_a_prepared_statement(bouncer_url: str) -> None:
    """psycopg prepares a statement on its fifth run; behind PgBouncer the next transaction may
    land on a server connection where that name is unknown or taken. ``pooler=transaction``
    turns preparing off, so none of these fail."""
    bounced = make_engine(bouncer_url, pool_size=10, max_overflow=0)
    errors: list[str] = []

    def work(_i: int) -> None:
        for n in range(30):
            try:
                with bounced.begin() as conn:
                    conn.execute(text("SELECT count(*) FROM pg_class WHERE relname = :n"), {"n": f"x{n}"}).scalar()
            except Exception as exc:  # noqa: BLE001 - every failure is collected and shown
                errors.append(f"{type(exc).__name__}: {exc}")

    try:
        with ThreadPoolExecutor(max_workers=10) as pool:
            list(pool.map(work, range(10)))
    finally:
        bounced.dispose()
    assert errors == []

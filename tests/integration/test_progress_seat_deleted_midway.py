"""A seat deleted while a progress commit for it is running answers SeatGone (the player's 410),
never an unhandled NoResultFound (a 500).

On PostgreSQL (READ COMMITTED) a commit reads the seat, upserts the (seat, course) progress row
(``ON CONFLICT DO NOTHING``: the row exists), then locks it ``FOR UPDATE``. If another transaction
deletes the seat in between (its progress goes with it, ``ON DELETE CASCADE``) and commits, the
lock finds no row. The test makes that interleaving happen for sure: it holds the row's lock in
its own transaction, waits until the commit is blocked on that lock, then deletes the seat and
commits. SQLite serializes writers from the start of the transaction (``BEGIN IMMEDIATE``), so
the interleaving cannot happen there and the test runs on PostgreSQL only.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, delete, select, text
from sqlalchemy.orm import Session, sessionmaker

from store.licenses import service as licenses
from store.licenses.models import Seat
from store.progress import service
from store.progress.models import CourseProgress
from store.progress.rules import ProgressUpdate
from store.progress.service import SeatGone
from tests.factories.catalog import make_course
from tests.factories.licenses import T0, claim, make_account

Sessions = sessionmaker[Session]

WAITING_ON_LOCK = text(
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
    "AND wait_event_type = 'Lock' AND query ILIKE '%course_progress%FOR UPDATE%'")


def wait_until_blocked(engine: Engine, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            if conn.execute(WAITING_ON_LOCK).scalar_one():
                return
            conn.rollback()
            time.sleep(0.02)
    raise AssertionError("the progress commit never waited on the row lock")


def test_a_seat_deleted_during_a_commit_gives_seat_gone(engine: Engine, committing_sessions: Sessions) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serializes writers (BEGIN IMMEDIATE): a seat cannot vanish mid-commit there")
    account_id = make_account(committing_sessions, "Acme Learning").id
    with committing_sessions.begin() as s:
        course = make_course(s, "VOL-RACE", is_plus=False).catalog_id
    licenses.grant_volume(committing_sessions, account_id, course, 2, T0)
    seat = claim(committing_sessions, account_id, "volume", course, "L1", T0)
    assert seat.ok and seat.seat and seat.learner_id
    seat_id, learner_id = seat.seat.id, seat.learner_id
    service.start_session(committing_sessions, seat_id, course, T0, learner_id=learner_id,
                          demo_content=True)  # the row exists

    with ThreadPoolExecutor(max_workers=1) as pool, engine.connect() as other:
        deleting = other.begin()
        other.execute(select(CourseProgress.id).where(CourseProgress.seat_id == seat_id).with_for_update())
        commit = pool.submit(service.record_progress, committing_sessions, seat_id, course,
                             ProgressUpdate(location="lesson-2", session_time_seconds=5), T0,
                             learner_id=learner_id, demo_content=True)
        try:
            wait_until_blocked(engine)
            other.execute(delete(Seat).where(Seat.id == seat_id))
        finally:
            deleting.commit()
        with pytest.raises(SeatGone):
            commit.result(timeout=30)

    with committing_sessions() as s:
        assert s.scalars(select(CourseProgress)).all() == []
        assert s.get(Seat, seat_id) is None

"""Counters stay consistent when app processes die mid-claim (``kill -9``), on both databases.

Worker processes claim Plus, Volume and Pay Per Use seats for fresh learners as fast as they
can; once they are well under way every one of them gets SIGKILL, at whatever point of a
transaction it is. Afterwards each counter must equal what it counts: a subscription's and a
lot's ``seats_used`` their seats, the deposit balance the credits minus the seats' prices, and
every ledger entry its seat. A claim is one transaction, so a killed one leaves nothing behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from store.base import utcnow
from store.licenses import service
from store.licenses.models import DepositEntry, PlusSubscription, PpuConfig, Seat, VolumeLot
from tests.factories.catalog import make_course
from tests.factories.licenses import make_account

pytestmark = pytest.mark.race

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 4
SEATS_BEFORE_KILL = 60

WORKER = textwrap.dedent("""
    import itertools, sys
    from datetime import UTC, datetime
    import lti_tool.db  # noqa: F401 - every table's model
    from store.accounts.service import LearnerIdentity
    from store.database import make_engine, make_sessionmaker
    from store.licenses.service import ClaimRequest, claim_seat

    url, account_id, worker = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    sessions = make_sessionmaker(make_engine(url))
    for n in itertools.count():
        for license_type, course in (("plus", "K-PLUS"), ("volume", "K-VOL"), ("ppu", "K-PPU")):
            learner = LearnerIdentity(source="staff", external_id=f"{worker}-{n}-{license_type}")
            claim_seat(sessions, ClaimRequest(account_id, license_type, course, learner), datetime.now(UTC))
""")


def _count(sessions: sessionmaker[Session], *where: object) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Seat).where(*where)) or 0)


def test_counters_match_their_rows_after_kill_9_under_load(engine: Engine,
                                                           committing_sessions: sessionmaker[Session]) -> None:
    start = utcnow()
    account = make_account(committing_sessions, "Killed Org", start)
    with committing_sessions.begin() as session:
        make_course(session, "K-PLUS", is_plus=True)
        make_course(session, "K-VOL", is_plus=False)
        make_course(session, "K-PPU", is_plus=False, ppu_price_cents=700)
    service.grant_plus(committing_sessions, account.id, 100_000, "annual", start)
    service.grant_volume(committing_sessions, account.id, "K-VOL", 100_000, start)
    service.configure_ppu(committing_sessions, account.id, "K-1", 10_000_000, start)
    service.add_to_ppu_library(committing_sessions, account.id, "K-PPU", start)

    url = engine.url.render_as_string(hide_password=False)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, url, str(account.id), f"w{i}"], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
               for i in range(WORKERS)]
    try:
        deadline = time.monotonic() + 120
        while _count(committing_sessions) < SEATS_BEFORE_KILL:
            assert time.monotonic() < deadline, "the workers made no progress"
            for worker in workers:
                assert worker.poll() is None, worker.stderr.read().decode() if worker.stderr else ""
            time.sleep(0.05)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGKILL)
        for worker in workers:
            worker.wait(timeout=30)
            if worker.stderr:
                worker.stderr.close()
    assert all(worker.returncode == -signal.SIGKILL for worker in workers)

    with committing_sessions() as session:
        sub = session.scalars(select(PlusSubscription).where(PlusSubscription.account_id == account.id)).one()
        lot = session.scalars(select(VolumeLot).where(VolumeLot.account_id == account.id)).one()
        config = session.scalars(select(PpuConfig).where(PpuConfig.account_id == account.id)).one()
        ppu_seats = session.execute(select(func.count(), func.coalesce(func.sum(Seat.price_cents), 0))
                                    .where(Seat.account_id == account.id, Seat.license_type == "ppu")).one()
        ledger_total = session.scalar(select(func.sum(DepositEntry.amount_cents))
                                      .where(DepositEntry.account_id == account.id))
        seat_entries = session.scalar(select(func.count()).select_from(DepositEntry)
                                      .where(DepositEntry.account_id == account.id, DepositEntry.kind == "seat"))
        orphans = session.scalar(select(func.count()).select_from(DepositEntry)
                                 .where(DepositEntry.kind == "seat", DepositEntry.seat_id.is_(None)))
    assert sub.seats_used == _count(committing_sessions, Seat.subscription_id == sub.id)
    assert lot.seats_used == _count(committing_sessions, Seat.lot_id == lot.id)
    count, spent = ppu_seats
    assert config.balance_cents == 10_000_000 - spent == ledger_total
    assert seat_entries == count and orphans == 0
    assert sub.seats_used + lot.seats_used + count >= SEATS_BEFORE_KILL

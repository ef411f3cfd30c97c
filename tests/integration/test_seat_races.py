"""Race tests: real threads, real commits, on SQLite and PostgreSQL.

Each thread waits on a barrier, then claims at the same moment. The invariants must hold
exactly: no oversold lot, one seat per learner, a deposit that lands on zero, never below.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from store.licenses import service
from store.licenses.models import DepositEntry, PlusSubscription, PpuConfig, Seat, VolumeLot
from store.licenses.service import ClaimResult
from tests.factories.catalog import make_course
from tests.factories.licenses import T0, claim, make_account

pytestmark = pytest.mark.race

Sessions = sessionmaker[Session]


def run_at_once(n: int, fn: Callable[[int], ClaimResult]) -> list[ClaimResult]:
    barrier = threading.Barrier(n, timeout=60)

    def task(i: int) -> ClaimResult:
        barrier.wait()
        return fn(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(task, range(n)))


def setup_course(sessions: Sessions, is_plus: bool = False, ppu_price_cents: int = 1_000) -> tuple[int, str]:
    account_id = make_account(sessions, "Race Org").id
    with sessions.begin() as s:
        course = make_course(s, "RACE-1", is_plus=is_plus, ppu_price_cents=ppu_price_cents).catalog_id
    return account_id, course


def scalar(sessions: Sessions, stmt: object) -> int:
    with sessions() as s:
        return s.scalar(stmt)  # type: ignore[arg-type]


def test_200_first_launches_for_50_volume_seats(committing_sessions: Sessions) -> None:
    account_id, course = setup_course(committing_sessions)
    service.grant_volume(committing_sessions, account_id, course, 30, T0)
    service.grant_volume(committing_sessions, account_id, course, 20, T0)
    results = run_at_once(200, lambda i: claim(committing_sessions, account_id, "volume", course, f"L{i}", T0))
    outcome = Counter("seat" if r.ok else r.reason for r in results)
    assert outcome == {"seat": 50, "no_seats": 150}
    assert scalar(committing_sessions, select(func.count()).select_from(Seat)) == 50
    assert scalar(committing_sessions, select(func.sum(VolumeLot.seats_used))) == 50
    assert scalar(committing_sessions, select(func.count(func.distinct(Seat.learner_id)))) == 50


def test_200_first_launches_for_50_plus_seats(committing_sessions: Sessions) -> None:
    account_id, course = setup_course(committing_sessions, is_plus=True)
    service.grant_plus(committing_sessions, account_id, 50, "annual", T0)
    results = run_at_once(200, lambda i: claim(committing_sessions, account_id, "plus", course, f"L{i}", T0))
    outcome = Counter("seat" if r.ok else r.reason for r in results)
    assert outcome == {"seat": 50, "no_seats": 150}
    assert scalar(committing_sessions, select(PlusSubscription.seats_used)) == 50


@pytest.mark.parametrize("license_type", ["volume", "plus", "ppu"])
def test_same_learner_launching_20_times_at_once_gets_one_seat(committing_sessions: Sessions,
                                                               license_type: str) -> None:
    account_id, course = setup_course(committing_sessions, is_plus=True)
    service.grant_volume(committing_sessions, account_id, course, 50, T0)
    service.grant_plus(committing_sessions, account_id, 50, "annual", T0)
    service.configure_ppu(committing_sessions, account_id, "CTR", 100_000, T0)
    service.add_to_ppu_library(committing_sessions, account_id, course, T0)
    results = run_at_once(20, lambda i: claim(committing_sessions, account_id, license_type, course, "same", T0))
    assert all(r.ok for r in results)
    assert len({r.seat.id for r in results if r.seat}) == 1
    assert sum(r.is_new_seat for r in results) == 1
    assert scalar(committing_sessions, select(func.count()).select_from(Seat)) == 1
    used = {
        "volume": select(func.sum(VolumeLot.seats_used)),
        "plus": select(PlusSubscription.seats_used),
        "ppu": select(func.count()).select_from(DepositEntry).where(DepositEntry.kind == "seat"),
    }[license_type]
    assert scalar(committing_sessions, used) == 1


def test_100_ppu_launches_against_a_deposit_worth_30_seats(committing_sessions: Sessions) -> None:
    account_id, course = setup_course(committing_sessions, ppu_price_cents=1_234)
    service.configure_ppu(committing_sessions, account_id, "CTR-RACE", 30 * 1_234, T0)
    service.add_to_ppu_library(committing_sessions, account_id, course, T0)
    results = run_at_once(100, lambda i: claim(committing_sessions, account_id, "ppu", course, f"L{i}", T0))
    outcome = Counter("seat" if r.ok else r.reason for r in results)
    assert outcome == {"seat": 30, "insufficient_deposit": 70}
    assert scalar(committing_sessions, select(PpuConfig.balance_cents)) == 0
    assert scalar(committing_sessions, select(func.sum(DepositEntry.amount_cents))) == 0
    assert scalar(committing_sessions, select(func.min(DepositEntry.balance_after_cents))) == 0

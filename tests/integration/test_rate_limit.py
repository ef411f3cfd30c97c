"""Rate limits counted in the database: fixed windows, several limits counted together or not at
all, past windows deleted, and simultaneous hits from real threads never overshoot."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from store.ratelimit.models import RateLimitCounter
from store.ratelimit.service import Limit, RateLimited, hit, window_start
from tests.factories.licenses import T0

Sessions = sessionmaker[Session]
HOUR = 3600


def counts(sessions: Sessions) -> dict[tuple[str, str], int]:
    with sessions() as s:
        return {(r.scope, r.key): r.hits for r in s.scalars(select(RateLimitCounter))}


def test_a_limit_allows_its_hits_then_refuses_until_the_next_window(sessions: Sessions) -> None:
    limit = Limit("test", "ip-a", 3, HOUR)
    start = window_start(T0, HOUR)
    for minute in range(3):
        hit(sessions, [limit], start + timedelta(minutes=minute))
    with pytest.raises(RateLimited) as refused:
        hit(sessions, [limit], start + timedelta(minutes=45))
    assert refused.value.reason == "rate_limited" and refused.value.retry_after_seconds == 15 * 60
    assert counts(sessions) == {("test", "ip-a"): 3}
    hit(sessions, [Limit("test", "ip-b", 3, HOUR)], start + timedelta(minutes=46))  # another key: its own count
    hit(sessions, [limit], start + timedelta(minutes=61))  # the next window
    assert counts(sessions) == {("test", "ip-a"): 1}  # past windows of the scope are gone


def test_several_limits_count_together_or_not_at_all(sessions: Sessions) -> None:
    per_ip = [Limit("reg-ip", f"ip-{i}", 5, HOUR) for i in range(3)]
    everyone = Limit("reg-all", "*", 4, HOUR)
    for i in (0, 0, 1, 2):
        hit(sessions, [per_ip[i], everyone], T0)
    with pytest.raises(RateLimited) as refused:
        hit(sessions, [per_ip[1], everyone], T0)
    assert refused.value.limit == everyone
    assert counts(sessions) == {("reg-ip", "ip-0"): 2, ("reg-ip", "ip-1"): 1, ("reg-ip", "ip-2"): 1,
                                ("reg-all", "*"): 4}  # the refused hit counted nowhere


@pytest.mark.race
def test_simultaneous_hits_never_overshoot(committing_sessions: Sessions) -> None:
    limit = Limit("race", "*", 7, HOUR)
    barrier = threading.Barrier(20, timeout=60)

    def task(_: int) -> bool:
        barrier.wait()
        try:
            hit(committing_sessions, [limit], T0)
            return True
        except RateLimited:
            return False

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(task, range(20)))
    assert results.count(True) == 7
    with committing_sessions() as s:
        assert s.scalar(select(func.sum(RateLimitCounter.hits))) == 7

"""Count a hit against several limits at once, in one transaction.

Each limit is a fixed window (e.g. one hour from the full hour); the counter is raised with one
guarded upsert (``... ON CONFLICT DO UPDATE SET hits = hits + 1 WHERE hits < :max``), never
read-check-write, so simultaneous requests in several processes cannot overshoot. When any
limit is full nothing is counted (the transaction rolls back) and ``RateLimited`` says which
limit and when its window ends. Past windows of a scope are deleted as its hits come in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from store.base import require_aware
from store.database import upsert_insert
from store.errors import StoreError
from store.ratelimit.models import RateLimitCounter


@dataclass(frozen=True)
class Limit:
    scope: str
    key: str
    max_hits: int
    window_seconds: int


class RateLimited(StoreError):
    reason = "rate_limited"

    def __init__(self, limit: Limit, retry_after_seconds: int) -> None:
        super().__init__(f"more than {limit.max_hits} requests in {limit.window_seconds // 60} minutes "
                         f"({limit.scope})")
        self.limit = limit
        self.retry_after_seconds = retry_after_seconds


def window_start(now: datetime, window_seconds: int) -> datetime:
    stamp = int(require_aware(now).timestamp())
    return datetime.fromtimestamp(stamp - stamp % window_seconds, UTC)


def hit(sessions: sessionmaker[Session], limits: Sequence[Limit], now: datetime) -> None:
    """Count one hit against every limit, or none when one of them is full (``RateLimited``)."""
    now = require_aware(now)
    for limit in limits:
        if limit.max_hits < 1 or limit.window_seconds < 1 or len(limit.key) > 64 or len(limit.scope) > 50:
            raise ValueError(f"bad rate limit {limit!r}")
    with sessions.begin() as session:
        for limit in limits:
            start = window_start(now, limit.window_seconds)
            insert = upsert_insert(session)
            stmt = insert(RateLimitCounter).values(scope=limit.scope, key=limit.key, window_start=start, hits=1)
            stmt = stmt.on_conflict_do_update(
                index_elements=["scope", "key", "window_start"],
                set_={"hits": RateLimitCounter.hits + 1},
                where=RateLimitCounter.hits < limit.max_hits,
            ).returning(RateLimitCounter.hits)
            if session.execute(stmt).first() is None:  # the guard held: this window is full
                ends = start + timedelta(seconds=limit.window_seconds)
                raise RateLimited(limit, max(1, int((ends - now).total_seconds())))
            # past windows of this scope count for nothing any more
            session.execute(delete(RateLimitCounter).where(RateLimitCounter.scope == limit.scope,
                                                           RateLimitCounter.window_start < start))

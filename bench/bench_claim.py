"""Seat-claim throughput, as ratios against a baseline transaction in the same run.

Builds a temporary SQLite database (and PostgreSQL too when BENCH_DATABASE_URL is set), then
times, per backend:
  baseline   an empty write transaction (BEGIN; SELECT 1; COMMIT) through the same sessionmaker
  first      claim_seat for N distinct learners (each takes a new Volume seat)
  relaunch   claim_seat for the same N learners again (each reuses its seat)
and prints each as a multiple of the baseline. It never asserts on time.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402

from store.accounts.service import LearnerIdentity, create_account  # noqa: E402
from store.catalog.models import Course, Publisher  # noqa: E402
from store.licenses import service  # noqa: E402
from bench.lti_setup import fresh_database  # noqa: E402
from bench.table import row  # noqa: E402

N = int(os.environ.get("BENCH_CLAIMS", "500"))
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run(url: str, label: str) -> None:
    engine, sessions = fresh_database(url)
    account = create_account(sessions, "Bench Org", NOW)
    with sessions.begin() as s:
        publisher = Publisher(name="Bench")
        s.add(publisher)
        s.flush()
        s.add(Course(catalog_id="BENCH-1", title="Bench", publisher_id=publisher.id, description="",
                     language="en", duration_minutes=1, topics=[], volume_price_cents=100,
                     ppu_price_cents=100, is_plus=False, status="active"))
    service.grant_volume(sessions, account.id, "BENCH-1", N, NOW)

    def baseline() -> None:
        for _ in range(N):
            with sessions.begin() as s:
                s.execute(text("SELECT 1"))

    def claims() -> None:
        for i in range(N):
            req = service.ClaimRequest(account.id, "volume", "BENCH-1", LearnerIdentity("bench", f"L{i}"))
            assert service.claim_seat(sessions, req, NOW).ok

    base = timed(baseline)
    first = timed(claims)
    again = timed(claims)
    print(f"[{label}] {N} claims each: baseline {base * 1000 / N:.2f} ms/tx")
    print(f"[{label}] first launch (new seat)  {first / base:5.1f}x baseline  ({N / first:,.0f} claims/s)")
    print(f"[{label}] relaunch (reuse seat)    {again / base:5.1f}x baseline  ({N / again:,.0f} claims/s)")
    row(f"seat claim, first / reuse ({label})", f"{N / first:,.0f} / {N / again:,.0f} claims/s",
        f"empty write transaction {N / base:,.0f}/s", f"{first / base:.1f}x / {again / base:.1f}x the time")
    engine.dispose()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        run(f"sqlite:///{tmp}/bench.db", "sqlite")
    if os.environ.get("BENCH_DATABASE_URL"):
        run(os.environ["BENCH_DATABASE_URL"], "postgresql")

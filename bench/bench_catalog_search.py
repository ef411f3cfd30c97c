"""Benchmark: catalog import and full-text search against a naive LIKE baseline.

Builds a temporary SQLite database (migrated with Alembic), imports the 40,000-course demo
catalog through the real import service (printing how long that takes), then runs the same
searches with the full-text index (``store.catalog.queries.search_courses``) and with a naive
``LIKE '%term%'`` scan over title, description and publisher, and prints both timings and their
ratio. It measures, it never asserts on time.

    .venv/bin/python bench/bench_catalog_search.py [--courses 40000] [--repeat 5]

With ``BENCH_DATABASE_URL=postgresql+psycopg://...`` it also runs on that PostgreSQL database.
Careful: it empties that database's ``public`` schema first.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, and_, func, or_, select, text
from sqlalchemy.orm import Session, sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lti_tool.db import upgrade_database  # noqa: E402
from store.catalog.demo import import_demo_catalog  # noqa: E402
from store.catalog.models import Course, Publisher  # noqa: E402
from store.catalog.queries import search_courses, search_terms  # noqa: E402
from store.database import make_engine, make_sessionmaker  # noqa: E402

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
PER_PAGE = 20

# A spread of what people type: common and rare words, prefixes, several words, publisher
# names, accents and Japanese, and a few that match nothing.
QUERIES = (
    "safety",
    "fire safety",
    "leadership",
    "lead",
    "harassment prevention",
    "excel",
    "data protection",
    "gdpr",
    "manag",
    "customer service",
    "cybersecurity awareness",
    "forklift",
    "northwind",
    "summit academy",
    "führung",
    "sécurité",
    "情報",
    "ted",
    "budgeting healthcare",
    "whistleblowing supervisors",
    "quantum",
    "zzzz",
)


def naive_search(session: Session, query: str) -> tuple[int, list[str]]:
    """What one would write without a full-text index: every word LIKE '%word%' somewhere."""
    conditions = []
    for term in search_terms(query):
        pattern = f"%{term}%"
        conditions.append(
            or_(
                Course.title.ilike(pattern),
                Course.description.ilike(pattern),
                Publisher.name.ilike(pattern),
            )
        )
    where = and_(Course.status != "retired", *conditions)
    base = select(Course.catalog_id).join(Publisher, Publisher.id == Course.publisher_id).where(where)
    total = session.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    rows = session.scalars(base.order_by(Course.title, Course.id).limit(PER_PAGE)).all()
    return total, list(rows)


def full_text_search(session: Session, query: str) -> tuple[int, list[str]]:
    page = search_courses(session, query, per_page=PER_PAGE)
    return page.total, [course.course_id for course in page.courses]


def time_queries(
    sessions: sessionmaker[Session],
    search: Callable[[Session, str], tuple[int, list[str]]],
    queries: Sequence[str],
    repeat: int,
) -> tuple[float, dict[str, int]]:
    """Median over ``repeat`` rounds of the time for all queries; and each query's total."""
    rounds = []
    totals: dict[str, int] = {}
    with sessions() as session:
        for query in queries:  # warm-up: page cache, statement cache
            totals[query] = search(session, query)[0]
        for _ in range(repeat):
            started = time.perf_counter()
            for query in queries:
                search(session, query)
            rounds.append(time.perf_counter() - started)
    return statistics.median(rounds), totals


def run(engine: Engine, label: str, courses: int, repeat: int) -> None:
    print(f"== {label} ==")
    started = time.perf_counter()
    upgrade_database(engine)
    print(f"migrate: {time.perf_counter() - started:.2f} s")
    sessions = make_sessionmaker(engine)

    started = time.perf_counter()
    report = import_demo_catalog(sessions, courses, 7, NOW, full=True)
    print(f"import {courses} demo courses: {time.perf_counter() - started:.2f} s  ({report})")
    started = time.perf_counter()
    again = import_demo_catalog(sessions, courses, 7, NOW, full=True)
    print(f"re-import (nothing changes): {time.perf_counter() - started:.2f} s  ({again})")
    started = time.perf_counter()
    changed = import_demo_catalog(sessions, courses, 8, NOW, full=True)
    print(f"re-import, every course changed: {time.perf_counter() - started:.2f} s  ({changed})")
    import_demo_catalog(sessions, courses, 7, NOW, full=True)  # back to seed 7 for the searches

    fts_time, fts_totals = time_queries(sessions, full_text_search, QUERIES, repeat)
    like_time, like_totals = time_queries(sessions, naive_search, QUERIES, repeat)
    n = len(QUERIES)
    print(f"{n} searches (page of {PER_PAGE} + total), median of {repeat} rounds:")
    print(f"  full text: {fts_time * 1000:8.1f} ms  ({fts_time / n * 1000:.2f} ms per search)")
    print(f"  LIKE scan: {like_time * 1000:8.1f} ms  ({like_time / n * 1000:.2f} ms per search)")
    print(f"  LIKE / full text: {like_time / fts_time:.1f}x")
    print("  matches per query (full text / LIKE; LIKE also matches inside words):")
    for query in QUERIES:
        print(f"    {query!r:32} {fts_totals[query]:6d} / {like_totals[query]:6d}")
    browse_time, _ = time_queries(sessions, full_text_search, ("",), repeat)
    print(f"  browse (empty query, title order): {browse_time * 1000:.1f} ms")
    print()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--courses", type=int, default=40_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-catalog-") as directory:
        engine = make_engine(f"sqlite:///{Path(directory) / 'bench.db'}")
        try:
            run(engine, "SQLite (FTS5)", args.courses, args.repeat)
        finally:
            engine.dispose()

    url = os.environ.get("BENCH_DATABASE_URL")
    if url:
        engine = make_engine(url)
        try:
            with engine.begin() as conn:
                conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
            run(engine, "PostgreSQL (tsvector + GIN)", args.courses, args.repeat)
        finally:
            engine.dispose()


if __name__ == "__main__":
    main()

"""Benchmark: catalog import and full-text search against a naive LIKE baseline.

Builds a temporary SQLite database (migrated with Alembic), imports the 40,000-course demo
catalog through the real import service (printing how long that takes), then runs the same
searches with the full-text index (``store.catalog.queries.search_courses``) and with a naive
``LIKE '%term%'`` scan over title, description and publisher, and prints both timings and their
ratio. It measures, it never asserts on time.

    .venv/bin/python bench/bench_catalog_search.py [--courses 40000] [--repeat 3]

With ``BENCH_DATABASE_URL=postgresql+psycopg://...`` it also runs on that PostgreSQL database.
Careful: it empties that database's ``public`` schema first.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, and_, func, or_, select, text
from sqlalchemy.orm import Session, sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lti_tool.db import upgrade_database  # noqa: E402
from store.catalog.demo import import_demo_catalog  # noqa: E402
from store.catalog.models import Course, Publisher  # noqa: E402
from store.catalog.queries import (  # noqa: E402
    POSTGRESQL_SEARCH_CONFIG,
    postgresql_tsquery,
    search_courses,
    search_terms,
    sqlite_match_expression,
)
from store.database import make_engine, make_sessionmaker  # noqa: E402
from bench.table import row  # noqa: E402

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
# Re-importing 40,000 changed courses (and back) takes ~25 s per database: BENCH_SEARCH_REIMPORT=1.
REIMPORT_CHANGED = os.environ.get("BENCH_SEARCH_REIMPORT") == "1"
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
    return page.total, [course.catalog_id for course in page.courses]


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
    if REIMPORT_CHANGED:
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
    realistic_run(sessions, label.split(" ")[0])
    print()


# ---------------------------------------------------------------- 500 realistic queries, p95

REALISTIC_QUERIES = int(os.environ.get("BENCH_SEARCH_QUERIES", "500"))
# The LIKE scan (80-300 ms a query) runs for one pair of searches in LIKE_EVERY (a broad and a
# selective one): its p95 over 125 queries is as telling, and make bench stays under 10 minutes.
LIKE_EVERY = int(os.environ.get("BENCH_SEARCH_LIKE_EVERY", "4"))
_WORD = re.compile(r"[a-z]{4,}")


@dataclass(frozen=True)
class Search:
    kind: str  # broad | selective
    query: str
    plus_only: bool
    publisher: str | None


def realistic_queries(session: Session, n: int = REALISTIC_QUERIES, seed: int = 11) -> list[Search]:
    """Queries made of the catalog's own title words: broad ones (words in at least 5 % of the
    courses, alone or two together) and selective ones (a word in 0.05–0.5 % of them, alone or
    with a broad word); every fourth with the Plus toggle, every other pair with a publisher."""
    titles = session.scalars(select(Course.title)).all()
    df = Counter(word for title in titles for word in set(_WORD.findall(title.lower())))
    total = max(len(titles), 1)
    broad = sorted(w for w, c in df.items() if c >= 0.05 * total)
    selective = sorted(w for w, c in df.items() if 0.0005 * total <= c <= 0.005 * total)
    publishers = sorted(session.scalars(select(Publisher.name)).all())
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        if i % 2 == 0 and broad:
            kind, words = "broad", rnd.sample(broad, k=min(len(broad), 1 + (i % 4 == 2)))
        else:
            kind = "selective"
            words = [rnd.choice(selective or broad)] + ([rnd.choice(broad)] if i % 3 == 0 and broad else [])
        out.append(Search(kind, " ".join(words), plus_only=i % 4 in (1, 3),
                          publisher=rnd.choice(publishers) if i % 8 in (2, 3) and publishers else None))
    return out


def _product(session: Session, s: Search) -> int:
    return search_courses(session, s.query, plus_only=s.plus_only, publisher=s.publisher, per_page=PER_PAGE).total


def _plain_filters(s: Search, dialect: str) -> tuple[str, dict[str, object]]:
    where, params = "c.status != 'retired'", {}
    if s.plus_only:
        where += " AND c.is_plus = " + ("1" if dialect == "sqlite" else "true")
    if s.publisher is not None:
        where += " AND c.publisher_id IN (SELECT id FROM publishers WHERE lower(name) = lower(:publisher))"
        params["publisher"] = s.publisher
    return where, params


def _plain(session: Session, s: Search) -> int:
    """The same index queried plainly: one page by rank and the count, with the same filters."""
    dialect = session.get_bind().dialect.name
    terms = search_terms(s.query)
    where, params = _plain_filters(s, dialect)
    if dialect == "sqlite":
        params["m"] = sqlite_match_expression(terms)
        # CROSS JOIN keeps the full-text table the outer loop (SQLite's documented way to fix
        # the join order): left to itself the planner may walk courses by an index and run the
        # MATCH once per row.
        source = "course_fts CROSS JOIN courses c ON c.id = course_fts.rowid WHERE course_fts MATCH :m AND " + where
        order = "bm25(course_fts)"
    else:
        params["q"] = postgresql_tsquery(terms)
        tsq = f"to_tsquery('{POSTGRESQL_SEARCH_CONFIG}'::regconfig, :q)"
        source = f"course_fts f JOIN courses c ON c.id = f.course_id WHERE f.document @@ {tsq} AND " + where
        order = f"ts_rank(f.document, {tsq}, 1) DESC"
    session.execute(text(f"SELECT c.catalog_id FROM {source} ORDER BY {order} LIMIT {PER_PAGE}"), params).all()
    return int(session.execute(text(f"SELECT count(*) FROM {source}"), params).scalar_one())


def _like(session: Session, s: Search) -> int:
    conditions = [or_(Course.title.ilike(f"%{t}%"), Course.description.ilike(f"%{t}%"),
                      Publisher.name.ilike(f"%{t}%")) for t in search_terms(s.query)]
    if s.plus_only:
        conditions.append(Course.is_plus.is_(True))
    if s.publisher is not None:
        conditions.append(func.lower(Publisher.name) == s.publisher.lower())
    base = select(Course.catalog_id).join(Publisher, Publisher.id == Course.publisher_id).where(
        Course.status != "retired", *conditions)
    session.scalars(base.order_by(Course.title, Course.id).limit(PER_PAGE)).all()
    return int(session.execute(select(func.count()).select_from(base.subquery())).scalar_one())


def _percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(p / 100 * len(values)) - 1))] if values else 0.0


def realistic_run(sessions: sessionmaker[Session], label: str = "") -> None:
    with sessions() as session:
        searches = realistic_queries(session)
        ways: dict[str, Callable[[Session, Search], int]] = {"product": _product, "plain index": _plain,
                                                              "LIKE scan": _like}
        timings: dict[tuple[str, str], list[float]] = {}
        for s in searches[:6]:  # warm-up
            for way in ways.values():
                way(session, s)
        for i, s in enumerate(searches):
            for name, way in ways.items():
                if name == "LIKE scan" and (i // 2) % LIKE_EVERY:
                    continue
                started = time.perf_counter()
                way(session, s)
                timings.setdefault((name, s.kind), []).append(time.perf_counter() - started)
    print(f"{len(searches)} realistic searches (page of {PER_PAGE} + total; a quarter with Plus only, a quarter "
          f"with a publisher):")
    for kind in ("broad", "selective"):
        per_way = {name: timings.get((name, kind), []) for name in ways}
        p95 = {name: _percentile(t, 95) * 1000 for name, t in per_way.items()}
        p50 = {name: _percentile(t, 50) * 1000 for name, t in per_way.items()}
        print(f"  {kind:<9} ({len(per_way['product'])}): " + "  ".join(
            f"{name} p50 {p50[name]:6.1f} ms p95 {p95[name]:6.1f} ms" for name in ways)
            + f"  | product/plain p95 {p95['product'] / p95['plain index']:.2f}x (target: product p95 < 30 ms)")
        row(f"search p95, {kind} queries ({label})", f"{p95['product']:.0f} ms",
            f"plain index {p95['plain index']:.0f} ms; LIKE {p95['LIKE scan']:.0f} ms",
            f"{p95['product'] / p95['plain index']:.2f}x (target < 30 ms)")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--courses", type=int, default=int(os.environ.get("BENCH_SEARCH_COURSES", "40000")))
    parser.add_argument("--repeat", type=int, default=3)
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

"""Catalog search on both databases: ranking, filters, paging, totals and hostile input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from store.catalog.models import Course, Publisher
from store.catalog.queries import (
    MAX_PER_PAGE,
    SearchPage,
    postgresql_tsquery,
    search_courses,
    search_terms,
    sqlite_match_expression,
)
from store.catalog.service import import_feed
from store.errors import InvalidInput

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def rec(catalog_id: str, title: str, **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": catalog_id,
        "title": title,
        "publisher": "Northwind Learning",
        "description": "A practical course.",
        "volume_price_cents": 4_900,
        "ppu_price_cents": 7_900,
        "plus": True,
        "duration_minutes": 30,
    }
    base.update(changes)
    return base


CATALOG = [
    rec("S1", "Fire Safety Basics", description="Learn the rules."),
    rec("S2", "Ladder Work", description="Covers fire exits, fire drills and fire wardens: fire, fire.", plus=False),
    rec("S3", "Leadership for Managers", publisher="Summit Academy", plus=False, duration_minutes=60),
    rec("S4", "Führung im Team", publisher="Müller & Söhne Akademie", language="de", duration_minutes=45),
    rec("S5", "情報セキュリティ基礎", language="ja", publisher="まなびラボ出版", duration_minutes=20),
    rec("S6", "Retired Fire Course", status="retired"),
    rec("S7", 'Health & Safety: The "Why"', description="Why rules matter."),
    rec("S8", "Excel <IF> & VLOOKUP", description='Use "quotes" and * wildcards - NEAR lookups (OR not).',
        language="en-GB", duration_minutes=90),
    rec("S9", "Budgeting", publisher="Firebrand Press", description="Numbers."),
    rec("S11", "リスクマネジメント", description="個人情報保護と管理", language="ja", plus=False),
    rec("S10", "Old Leadership", status="retiring", replacement_id="S3", bundle="TED@Work",
        bundle_subscription_only=True),
    *[rec(f"P{n:02d}", f"Paging Course {n:02d}", description="Filler.", publisher="Paging House",
          plus=n % 2 == 0, duration_minutes=n) for n in range(1, 26)],
]


@pytest.fixture
def catalog(sessions: sessionmaker[Session]) -> Iterator[sessionmaker[Session]]:
    import_feed(sessions, [json.dumps(r) for r in CATALOG], full=True, now=NOW)
    yield sessions


def search(sessions: sessionmaker[Session], query: str = "", **kwargs: Any) -> SearchPage:
    with sessions() as session:
        return search_courses(session, query, **kwargs)


def ids(page: SearchPage) -> list[str]:
    return [course.catalog_id for course in page.courses]


def test_title_matches_rank_above_description_and_publisher_matches(catalog: sessionmaker[Session]) -> None:
    page = search(catalog, "fire")
    assert ids(page)[0] == "S1"
    assert set(ids(page)) == {"S1", "S2", "S9"}  # S2 by description, S9 by publisher (prefix)
    assert page.total == 3


def test_all_words_must_match_in_any_column(catalog: sessionmaker[Session]) -> None:
    assert ids(search(catalog, "fire basics")) == ["S1"]
    assert ids(search(catalog, "firebrand budgeting")) == ["S9"]  # publisher + title
    assert ids(search(catalog, "fire leadership")) == []


def test_prefix_matching(catalog: sessionmaker[Session]) -> None:
    assert set(ids(search(catalog, "lead"))) == {"S3", "S10"}
    assert ids(search(catalog, "leadership manag")) == ["S3"]
    assert ids(search(catalog, "budg")) == ["S9"]


def test_retiring_is_listed_retired_only_on_request(catalog: sessionmaker[Session]) -> None:
    assert set(ids(search(catalog, "leadership"))) == {"S3", "S10"}
    assert "S6" not in ids(search(catalog, "retired"))
    assert ids(search(catalog, "retired", include_retired=True)) == ["S6"]
    assert search(catalog, "").total == len(CATALOG) - 1
    assert search(catalog, "", include_retired=True).total == len(CATALOG)


def test_publisher_is_searchable(catalog: sessionmaker[Session]) -> None:
    assert ids(search(catalog, "summit")) == ["S3"]
    assert ids(search(catalog, "Müller")) == ["S4"]


def test_unicode_and_accents(catalog: sessionmaker[Session]) -> None:
    assert ids(search(catalog, "Führung")) == ["S4"]
    assert ids(search(catalog, "fuhrung")) == ["S4"]  # accent-insensitive
    assert ids(search(catalog, "FÜHRUNG")) == ["S4"]
    assert ids(search(catalog, "情報")) == ["S5", "S11"]  # title match first
    assert ids(search(catalog, "まなびラボ出版")) == ["S5"]


def test_cjk_words_match_inside_runs(catalog: sessionmaker[Session]) -> None:
    assert ids(search(catalog, "セキュリティ")) == ["S5"]  # in the middle of the title
    assert ids(search(catalog, "ラボ")) == ["S5"]  # in the publisher
    assert ids(search(catalog, "基礎 まなび")) == ["S5"]
    assert ids(search(catalog, "セキュリティ practical")) == ["S5"]  # with a word from the description
    assert ids(search(catalog, "セキュリティ fire")) == []
    assert ids(search(catalog, "管理")) == ["S11"]
    assert ids(search(catalog, "管理", include_retired=True, plus_only=True)) == []


def test_plus_toggle(catalog: sessionmaker[Session]) -> None:
    everything = search(catalog, "", per_page=MAX_PER_PAGE)
    plus = search(catalog, "", plus_only=True, per_page=MAX_PER_PAGE)
    assert all(course.is_plus for course in plus.courses)
    assert plus.total < everything.total
    assert "S2" in ids(search(catalog, "fire"))
    assert ids(search(catalog, "fire", plus_only=True)) == ["S1", "S9"]


def test_filters(catalog: sessionmaker[Session]) -> None:
    assert ids(search(catalog, "", publisher="summit academy")) == ["S3"]
    assert ids(search(catalog, "", publisher="MÜLLER & SÖHNE AKADEMIE")) == ["S4"]
    assert search(catalog, "", publisher="Nobody").total == 0
    assert ids(search(catalog, "", language="de")) == ["S4"]
    assert ids(search(catalog, "", language="EN", publisher="Northwind Learning", min_duration=90)) == ["S8"]
    assert ids(search(catalog, "", language="en-gb")) == ["S8"]
    assert ids(search(catalog, "", language="%")) == []  # no LIKE wildcards
    short = search(catalog, "", publisher="Paging House", min_duration=3, max_duration=5)
    assert ids(short) == ["P03", "P04", "P05"]
    assert ids(search(catalog, "paging", plus_only=True, max_duration=4)) == ["P02", "P04"]


def test_browse_is_in_title_order_and_paged(catalog: sessionmaker[Session]) -> None:
    first = search(catalog, "", publisher="Paging House", per_page=10)
    assert first.total == 25 and first.pages == 3 and first.has_next and not first.has_previous
    assert ids(first) == [f"P{n:02d}" for n in range(1, 11)]
    third = search(catalog, "", publisher="Paging House", per_page=10, page=3)
    assert ids(third) == [f"P{n:02d}" for n in range(21, 26)]
    assert not third.has_next
    beyond = search(catalog, "", publisher="Paging House", per_page=10, page=9)
    assert beyond.courses == () and beyond.total == 25

    titles = [c.title for c in search(catalog, "", per_page=MAX_PER_PAGE).courses]
    latin = [t for t in titles if t[0].isascii() and t[0].isalpha()]
    assert latin == sorted(latin, key=str.lower)


def test_search_results_are_paged_with_total(catalog: sessionmaker[Session]) -> None:
    pages = [search(catalog, "paging course", per_page=7, page=n) for n in (1, 2, 3, 4)]
    assert {p.total for p in pages} == {25}
    seen = [catalog_id for p in pages for catalog_id in ids(p)]
    assert sorted(seen) == [f"P{n:02d}" for n in range(1, 26)]
    assert len(set(seen)) == 25


def test_result_fields(catalog: sessionmaker[Session]) -> None:
    (old,) = search(catalog, "old leadership").courses
    assert old.as_dict() == {
        "catalog_id": "S10",
        "title": "Old Leadership",
        "publisher": "Northwind Learning",
        "language": "en",
        "duration_minutes": 30,
        "is_plus": True,
        "volume_price_cents": 4_900,
        "ppu_price_cents": 7_900,
        "status": "retiring",
        "bundle": "TED@Work",
        "is_subscription_only": True,
        "replacement_id": "S3",
    }


HOSTILE = [
    '"', "'", '""', "*", "**", "-", "--", "fire -safety", "fire OR safety", "NEAR", "NEAR(fire safety)",
    "fire NEAR/2 safety", "title:fire", "{title}: fire", "^fire", "fire*", "(fire", "fire)", "AND",
    "NOT fire", "'; DROP TABLE courses; --", "\\", "%", "_", "fire & safety", "fire | safety",
    "!fire", "fire:*A", "<->", "😀", "\x00", "\u200b", " ", "\t\n", "ـ", "a" * 5_000, "fire " * 200,
    "e-learning", "C++", "'fire'", '"fire safety"',
]


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_queries_are_just_text(catalog: sessionmaker[Session], query: str) -> None:
    page = search(catalog, query)
    assert page.total >= len(page.courses)
    if not search_terms(query):
        assert page.total == len(CATALOG) - 1  # nothing to search for: browse


def test_operators_are_not_operators(catalog: sessionmaker[Session]) -> None:
    assert ids(search(catalog, "fire*")) == ids(search(catalog, "fire"))
    assert ids(search(catalog, '"fire safety"')) == ["S1"]
    assert ids(search(catalog, "fire -safety")) == ["S1"]  # "-" is no NOT: both words needed
    assert ids(search(catalog, "near lookups")) == ["S8"]  # NEAR is a word in S8's description
    assert ids(search(catalog, "health & safety")) == ["S7"]
    assert ids(search(catalog, "<IF>")) == ["S8"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.text(max_size=40))
def test_any_text_is_a_safe_query(catalog: sessionmaker[Session], query: str) -> None:
    page = search(catalog, query, per_page=5)
    assert 0 <= len(page.courses) <= 5 and page.total >= len(page.courses)


def test_index_follows_changes(catalog: sessionmaker[Session]) -> None:
    changed = [r if r["id"] != "S1" else {**r, "title": "Evacuation Drills"} for r in CATALOG]
    import_feed(catalog, [json.dumps(r) for r in changed], full=True, now=NOW)
    assert ids(search(catalog, "evacuation")) == ["S1"]
    assert "S1" not in ids(search(catalog, "basics"))

    with catalog.begin() as session:
        session.execute(update(Publisher).where(Publisher.name == "Summit Academy").values(name="Apex Institute"))
    assert ids(search(catalog, "apex")) == ["S3"]
    assert ids(search(catalog, "summit")) == []
    assert search(catalog, "leadership managers").courses[0].publisher == "Apex Institute"


def _index_copies(session: Session) -> dict[int, tuple[Any, ...]]:
    """The filter columns the full-text index carries (migration 0016), by course key; the
    title key is the title on SQLite (ordered with NOCASE), lower(title) on PostgreSQL."""
    columns = "title_key, status, is_plus, publisher_id, language, duration_minutes"
    if session.get_bind().dialect.name == "sqlite":
        sql = f"SELECT course_pk, {columns} FROM course_fts_filters"
    else:
        sql = f"SELECT course_id, {columns} FROM course_fts"
    return {row[0]: (row[1], row[2], bool(row[3]), *row[4:]) for row in session.execute(text(sql))}


def _course_columns(session: Session) -> dict[int, tuple[Any, ...]]:
    title = Course.title if session.get_bind().dialect.name == "sqlite" else func.lower(Course.title)
    rows = session.execute(
        select(Course.id, title, Course.status, Course.is_plus, Course.publisher_id,
               Course.language, Course.duration_minutes)
    )
    return {row[0]: (row[1], row[2], bool(row[3]), *row[4:]) for row in rows}


def test_index_copies_of_filter_columns_follow_imports(catalog: sessionmaker[Session]) -> None:
    with catalog() as session:
        assert _index_copies(session) == _course_columns(session)

    changed = []
    for r in CATALOG:
        if r["id"] == "S1":  # Plus flag, publisher, language and duration change
            r = {**r, "plus": False, "publisher": "Summit Academy", "language": "fr", "duration_minutes": 75}
        elif r["id"] == "S3":
            r = {**r, "status": "retiring", "plus": True}
        elif r["id"] == "S6":  # a retired course comes back
            r = {**r, "status": "active", "title": "Revived Fire Course"}
        elif r["id"] == "S7":  # left out of the full feed: retired
            continue
        changed.append(r)
    import_feed(catalog, [json.dumps(r) for r in changed], full=True, now=NOW)
    with catalog() as session:
        copies = _index_copies(session)
        assert copies == _course_columns(session)
        s1 = session.scalars(select(Course).where(Course.catalog_id == "S1")).one()
        assert copies[s1.id][2:] == (False, s1.publisher_id, "fr", 75)

    assert ids(search(catalog, "fire", plus_only=True)) == ["S6", "S9"]
    assert ids(search(catalog, "fire", publisher="summit academy")) == ["S1"]
    assert ids(search(catalog, "fire", language="fr", min_duration=75, max_duration=75)) == ["S1"]
    assert set(ids(search(catalog, "leadership", plus_only=True))) == {"S3", "S10"}  # S3 is Plus now
    assert "S7" not in ids(search(catalog, "health"))
    assert ids(search(catalog, "health", include_retired=True)) == ["S7"]
    assert ids(search(catalog, "revived")) == ["S6"]

    with catalog.begin() as session:  # any writer, not only the import: the triggers follow
        session.execute(update(Course).where(Course.catalog_id == "S9").values(status="retired"))
    with catalog() as session:
        assert _index_copies(session) == _course_columns(session)
    assert ids(search(catalog, "fire", plus_only=True)) == ["S6"]
    with catalog.begin() as session:
        session.execute(delete(Course).where(Course.catalog_id == "P01"))
    with catalog() as session:
        assert _index_copies(session) == _course_columns(session)


def test_pages_past_the_last_still_count(catalog: sessionmaker[Session]) -> None:
    beyond = search(catalog, "paging", per_page=10, page=4)
    assert beyond.courses == () and beyond.total == 25
    nothing = search(catalog, "zzzz", page=2)
    assert nothing.courses == () and nothing.total == 0
    mixed = search(catalog, "セキュリティ practical", page=2)  # CJK and word terms together
    assert mixed.courses == () and mixed.total == 1


def test_bad_paging_and_durations_are_refused(catalog: sessionmaker[Session]) -> None:
    for kwargs in ({"page": 0}, {"per_page": 0}, {"per_page": MAX_PER_PAGE + 1},
                   {"min_duration": -1}, {"min_duration": 50, "max_duration": 10}):
        with pytest.raises(InvalidInput):
            search(catalog, "fire", **kwargs)


def test_query_builders_quote_every_term() -> None:
    terms = search_terms('Fire "NEAR" safety* -x ü 情報 fire')
    assert terms == ["Fire", "NEAR", "safety", "x", "ü", "情報"]
    assert sqlite_match_expression(terms) == '"Fire"* AND "NEAR"* AND "safety"* AND "x" AND "ü" AND "情報"*'
    assert postgresql_tsquery(["a", "bc"]) == "'a' & 'bc':*"
    assert postgresql_tsquery(["a", "bc"], weight="A") == "'a':A | 'bc':*A"
    assert search_terms("") == [] and search_terms(" * - \" ") == []
    assert len(search_terms(" ".join(f"w{n}" for n in range(50)))) == 12


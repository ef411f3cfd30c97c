"""The catalog import against a real database (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from store.catalog import service
from store.catalog.demo import generate_feed, import_demo_catalog
from store.catalog.feed import FeedError, parse_lines
from store.catalog.models import Bundle, Course, Publisher
from store.catalog.queries import find_course, get_course
from store.catalog.service import import_feed, import_records
from store.errors import NotFound

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=1)


def rec(catalog_id: str, **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": catalog_id,
        "title": f"Course {catalog_id}",
        "publisher": "Northwind Learning",
        "description": "A course.",
        "volume_price_cents": 4_900,
        "ppu_price_cents": 7_900,
        "plus": True,
    }
    base.update(changes)
    return base


def lines(*records: dict[str, Any]) -> list[str]:
    return [json.dumps(r) + "\n" for r in records]


CATALOG = [
    rec("A", title="Fire Safety Basics", topics=["safety"], duration_minutes=30),
    rec("B", title="Leadership 101", publisher="Summit Academy", plus=False),
    rec("C", title="TED@Work: Ideas", bundle="TED@Work", bundle_subscription_only=True),
    rec("D", title="Old Excel", status="retiring", replacement_id="E"),
    rec("E", title="Excel Today", language="de"),
]


def snapshot(sessions: sessionmaker[Session]) -> dict[str, list[tuple[Any, ...]]]:
    with sessions() as session:
        courses = session.execute(select(Course.__table__).order_by(Course.id)).all()
        publishers = session.execute(select(Publisher.__table__).order_by(Publisher.id)).all()
        bundles = session.execute(select(Bundle.__table__).order_by(Bundle.id)).all()
    return {
        "courses": [tuple(row) for row in courses],
        "publishers": [tuple(row) for row in publishers],
        "bundles": [tuple(row) for row in bundles],
    }


def statuses(sessions: sessionmaker[Session]) -> dict[str, str]:
    with sessions() as session:
        return dict(session.execute(select(Course.catalog_id, Course.status)).all())


def test_first_import_adds_everything(sessions: sessionmaker[Session]) -> None:
    report = import_feed(sessions, lines(*CATALOG), full=True, now=NOW)
    assert (report.added, report.updated, report.unchanged, report.retired) == (5, 0, 0, 0)
    assert report.courses_in_feed == 5
    assert report.publishers_added == 2
    assert report.bundles_added == 1

    with sessions() as session:
        a = get_course(session, "A")
        assert a.title == "Fire Safety Basics"
        assert a.publisher.name == "Northwind Learning"
        assert a.topics == ["safety"] and a.duration_minutes == 30 and a.language == "en"
        assert a.is_plus and a.status == "active" and a.bundle is None
        assert a.created_at == NOW and a.updated_at == NOW
        c = get_course(session, "C")
        assert c.bundle is not None and c.bundle.name == "TED@Work"
        assert c.is_subscription_only
        d = get_course(session, "D")
        assert d.status == "retiring"
        assert d.replacement is not None and d.replacement.catalog_id == "E"
        assert get_course(session, "E").language == "de"
        assert get_course(session, "B").is_plus is False


def test_reimport_is_idempotent(sessions: sessionmaker[Session]) -> None:
    import_feed(sessions, lines(*CATALOG), full=True, now=NOW)
    before = snapshot(sessions)
    report = import_feed(sessions, lines(*CATALOG), full=True, now=LATER)
    assert (report.added, report.updated, report.unchanged, report.retired) == (0, 0, 5, 0)
    assert report.publishers_added == 0 and report.bundles_added == 0
    assert snapshot(sessions) == before  # not even updated_at moved


def test_changes_are_counted_and_stamped(sessions: sessionmaker[Session]) -> None:
    import_feed(sessions, lines(*CATALOG), full=True, now=NOW)
    changed = [
        rec("A", title="Fire Safety Basics (2026)", topics=["safety"], duration_minutes=30),
        CATALOG[1],
        rec("C", title="TED@Work: Ideas", bundle="TED@Work", bundle_subscription_only=True,
            volume_price_cents=5_000),
        rec("D", title="Old Excel", status="retired", replacement_id="E"),
        CATALOG[4],
        rec("F", title="Brand New"),
    ]
    report = import_feed(sessions, lines(*changed), full=True, now=LATER)
    assert (report.added, report.updated, report.unchanged, report.retired) == (1, 3, 2, 0)
    with sessions() as session:
        assert get_course(session, "A").updated_at == LATER
        assert get_course(session, "B").updated_at == NOW
        assert get_course(session, "C").volume_price_cents == 5_000
        assert get_course(session, "D").status == "retired"
        assert get_course(session, "F").created_at == LATER


def test_replacement_change_alone_counts_as_update(sessions: sessionmaker[Session]) -> None:
    import_feed(sessions, lines(*CATALOG), full=True, now=NOW)
    moved = [*CATALOG[:3], rec("D", title="Old Excel", status="retiring", replacement_id="A"), CATALOG[4]]
    report = import_feed(sessions, lines(*moved), full=True, now=LATER)
    assert (report.added, report.updated, report.unchanged) == (0, 1, 4)
    with sessions() as session:
        d = get_course(session, "D")
        assert d.replacement is not None and d.replacement.catalog_id == "A"
        assert d.updated_at == LATER
    dropped = [*CATALOG[:3], rec("D", title="Old Excel", status="retiring"), CATALOG[4]]
    report = import_feed(sessions, lines(*dropped), full=True, now=LATER)
    assert report.updated == 1
    with sessions() as session:
        assert get_course(session, "D").replacement is None


def test_full_import_retires_missing_courses_delta_does_not(sessions: sessionmaker[Session]) -> None:
    import_feed(sessions, lines(*CATALOG), full=True, now=NOW)

    report = import_feed(sessions, lines(*CATALOG[:3]), full=False, now=LATER)
    assert (report.added, report.updated, report.unchanged, report.retired) == (0, 0, 3, 0)
    assert set(statuses(sessions).values()) <= {"active", "retiring"}

    report = import_feed(sessions, lines(*CATALOG[:3]), full=True, now=LATER)
    assert report.retired == 2
    assert statuses(sessions) == {"A": "active", "B": "active", "C": "active", "D": "retired", "E": "retired"}
    with sessions() as session:
        assert get_course(session, "E").updated_at == LATER  # retired, never deleted
        # the replacement link survives retirement
        d = get_course(session, "D")
        assert d.replacement is not None and d.replacement.catalog_id == "E"

    # Already retired courses are not counted again.
    report = import_feed(sessions, lines(*CATALOG[:3]), full=True, now=LATER)
    assert report.retired == 0 and report.unchanged == 3

    # A retired course that comes back is active again.
    report = import_feed(sessions, lines(*CATALOG), full=True, now=LATER)
    assert (report.added, report.updated, report.unchanged, report.retired) == (0, 2, 3, 0)
    assert statuses(sessions)["E"] == "active"
    assert statuses(sessions)["D"] == "retiring"


def test_malformed_line_in_the_middle_commits_nothing(sessions: sessionmaker[Session]) -> None:
    import_feed(sessions, lines(*CATALOG), full=True, now=NOW)
    before = snapshot(sessions)
    feed = lines(
        rec("A", title="Changed title"),
        rec("NEW-1", publisher="Brand New Publisher", bundle="New Bundle"),
    )
    feed.append('{"id": "broken", "title": \n')
    feed += lines(rec("NEW-2", volume_price_cents=-5), rec("NEW-3", status="gone"), rec("A"))
    with pytest.raises(FeedError) as caught:
        import_feed(sessions, feed, full=True, now=LATER)
    assert caught.value.reason == "invalid_feed"
    problems = caught.value.problems
    assert [p.split(":")[0] for p in problems] == ["line 3", "line 4", "line 5", "line 6"]
    assert "invalid JSON" in problems[0]
    assert "must not be negative" in problems[1]
    assert "unknown status" in problems[2]
    assert "duplicate id 'A' (first on line 1)" in problems[3]
    assert snapshot(sessions) == before


def test_unknown_replacement_commits_nothing(sessions: sessionmaker[Session]) -> None:
    import_feed(sessions, lines(*CATALOG), full=True, now=NOW)
    before = snapshot(sessions)
    feed = lines(rec("NEW", publisher="Someone New"), rec("X", status="retiring", replacement_id="NOPE"))
    with pytest.raises(FeedError) as caught:
        import_feed(sessions, feed, full=False, now=LATER)
    assert caught.value.problems == [
        "line 2: replacement_id 'NOPE' is not a course in the feed or the catalog"
    ]
    assert snapshot(sessions) == before


def test_replacement_may_name_a_course_already_in_the_catalog(sessions: sessionmaker[Session]) -> None:
    import_feed(sessions, lines(*CATALOG), full=True, now=NOW)
    report = import_feed(
        sessions, lines(rec("G", status="retiring", replacement_id="B")), full=False, now=LATER
    )
    assert report.added == 1
    with sessions() as session:
        g = get_course(session, "G")
        assert g.replacement is not None and g.replacement.catalog_id == "B"


def test_publishers_and_bundles_are_upserted_by_name(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        session.add(Publisher(name="Summit Academy"))
        session.add(Bundle(name="TED@Work", is_subscription_only=True))
    report = import_feed(sessions, lines(*CATALOG), full=True, now=NOW)
    assert report.publishers_added == 1  # Northwind is new, Summit existed
    assert report.bundles_added == 0
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Publisher)) == 2
        assert session.scalar(select(func.count()).select_from(Bundle)) == 1

    # A delta line that does not state the flag keeps the bundle subscription-only...
    import_feed(sessions, lines(rec("H", bundle="TED@Work")), full=False, now=LATER)
    with sessions() as session:
        assert session.scalars(select(Bundle.is_subscription_only)).one() is True
    # ...and a line that states it changes it.
    import_feed(sessions, lines(rec("H", bundle="TED@Work", bundle_subscription_only=False)), full=False, now=LATER)
    with sessions() as session:
        assert session.scalars(select(Bundle.is_subscription_only)).one() is False


def test_non_plus_course_in_subscription_only_bundle_is_refused(sessions: sessionmaker[Session]) -> None:
    import_feed(sessions, lines(*CATALOG), full=True, now=NOW)
    before = snapshot(sessions)
    with pytest.raises(FeedError) as caught:
        import_feed(sessions, lines(rec("I", bundle="TED@Work", plus=False)), full=False, now=LATER)
    assert caught.value.problems == [
        "line 1: bundle 'TED@Work' is subscription-only, so the course must have \"plus\": true"
    ]
    assert snapshot(sessions) == before


def test_empty_full_feed_is_refused_but_empty_delta_is_fine(sessions: sessionmaker[Session]) -> None:
    import_feed(sessions, lines(*CATALOG), full=True, now=NOW)
    with pytest.raises(FeedError) as caught:
        import_feed(sessions, ["\n", "  \n"], full=True, now=LATER)
    assert caught.value.reason == "empty_feed"
    assert set(statuses(sessions).values()) <= {"active", "retiring"}
    report = import_feed(sessions, [], full=False, now=LATER)
    assert (report.added, report.updated, report.unchanged, report.retired) == (0, 0, 0, 0)


def test_records_parsed_feed_and_batches(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "BATCH_SIZE", 7)
    records = list(generate_feed(60, seed=11))
    ticks: list[int] = []
    report = import_feed(sessions, parse_lines(lines(*records)), full=True, now=NOW, on_progress=ticks.append)
    assert report.added == 60 and sum(ticks) == 60
    again = import_records(sessions, records, full=True, now=LATER)
    assert again.unchanged == 60
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Course)) == 60
        retiring = session.scalars(select(Course).where(Course.status == "retiring")).all()
        assert all(course.replacement_course_pk is not None for course in retiring)


def test_import_demo_catalog(sessions: sessionmaker[Session]) -> None:
    report = import_demo_catalog(sessions, 120, 7, NOW)
    assert report.added == 120 and not report.is_full
    assert import_demo_catalog(sessions, 120, 7, LATER).unchanged == 120
    with sessions() as session:
        publishers = session.scalar(select(func.count()).select_from(Publisher))
        assert publishers is not None and publishers > 50
    assert "120 added" in str(report)


def test_find_and_get_course(sessions: sessionmaker[Session]) -> None:
    import_feed(sessions, lines(*CATALOG), full=True, now=NOW)
    with sessions() as session:
        assert find_course(session, "nope") is None
        found = find_course(session, "A")
        assert found is not None and found.catalog_id == "A"
        with pytest.raises(NotFound) as caught:
            get_course(session, "nope")
        assert caught.value.reason == "course_not_found"


def test_now_must_be_aware(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(ValueError):
        import_feed(sessions, lines(*CATALOG), full=True, now=datetime(2026, 1, 1))


def test_large_import_tidies_the_search_index_on_postgresql(
    committing_sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large import ends with VACUUM (ANALYZE) of courses and course_fts (fresh statistics:
    pg_class.reltuples is -1 until a table was first vacuumed or analysed); a small one not."""
    if committing_sessions.kw["bind"].dialect.name != "postgresql":
        pytest.skip("only PostgreSQL's search index is tidied after an import")

    def counted_rows() -> dict[str, float]:
        with committing_sessions() as session:
            rows = session.execute(
                text("SELECT relname, reltuples FROM pg_class WHERE relname IN ('courses', 'course_fts')")
            )
            return {name: float(tuples) for name, tuples in rows}

    monkeypatch.setattr(service, "TIDY_AFTER_CHANGES", 8)
    import_feed(committing_sessions, lines(*CATALOG), full=True, now=NOW)  # 5 changes: not tidied
    assert counted_rows() == {"courses": -1.0, "course_fts": -1.0}
    records = list(generate_feed(12, seed=11))
    report = import_records(committing_sessions, records, full=False, now=LATER)
    assert report.changed == 12
    assert counted_rows() == {"courses": 17.0, "course_fts": 17.0}

"""Catalog use cases: the idempotent feed import.

``import_feed`` checks the whole feed first (``store.catalog.feed``), then writes it in one
transaction: publishers and bundles upserted by name, courses upserted by catalog id in batches
(``INSERT … ON CONFLICT DO UPDATE``), replacements linked, and, for a full feed, every course
the feed no longer lists marked ``retired`` (never deleted: licenses and seats refer to it).
Any problem raises :class:`~store.catalog.feed.FeedError` and nothing is committed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Integer, Table, bindparam, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from store.base import require_aware
from store.catalog.feed import (
    FeedCourse,
    FeedError,
    ParsedFeed,
    parse_feed,
    subscription_only_problems,
    unknown_replacements,
)
from store.catalog.models import Bundle, Course, Publisher

BATCH_SIZE = 1_000
# After an import that changed at least this many courses, PostgreSQL's search index is tidied
# (see _tidy_search_index).
TIDY_AFTER_CHANGES = 1_000
# pg_advisory_xact_lock key serialising catalog imports on PostgreSQL ("catimp").
_IMPORT_LOCK_KEY = 0x636174696D70

_courses: Table = Course.__table__  # type: ignore[assignment]
_publishers: Table = Publisher.__table__  # type: ignore[assignment]
_bundles: Table = Bundle.__table__  # type: ignore[assignment]

# Course columns the feed owns (replacement_course_pk is linked in a second step).
_FEED_COLUMNS = (
    "title",
    "publisher_id",
    "description",
    "language",
    "duration_minutes",
    "topics",
    "volume_price_cents",
    "ppu_price_cents",
    "is_plus",
    "bundle_id",
    "status",
)

Progress = Callable[[int], None]


@dataclass(frozen=True)
class ImportReport:
    """What an import did. ``retired`` counts courses retired because a full feed left them out
    (a course the feed itself marks retired counts as added or updated)."""

    is_full: bool
    courses_in_feed: int
    added: int
    updated: int
    unchanged: int
    retired: int
    publishers_added: int
    bundles_added: int

    def __str__(self) -> str:
        return (
            f"{'full' if self.is_full else 'delta'} import of {self.courses_in_feed} courses: "
            f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.retired} retired"
        )

    @property
    def changed(self) -> int:
        return self.added + self.updated + self.retired

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": "full" if self.is_full else "delta",
            "courses_in_feed": self.courses_in_feed,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "retired": self.retired,
            "publishers_added": self.publishers_added,
            "bundles_added": self.bundles_added,
        }


def import_feed(
    sessions: sessionmaker[Session],
    feed: ParsedFeed | Iterable[str | bytes | Mapping[str, Any]],
    *,
    full: bool,
    now: datetime,
    on_progress: Progress | None = None,
) -> ImportReport:
    """Import a catalog feed in one transaction; raise FeedError (nothing written) if it is bad.

    ``feed`` is a :class:`ParsedFeed`, or JSON Lines text lines (``line N`` in problems is the
    line number), or already-decoded records. ``full``: the feed lists the whole catalog, so
    courses missing from it are retired; otherwise (delta) it only adds and updates.
    ``on_progress(n)`` is called as courses are written, adding up to the number in the feed.
    """
    now = require_aware(now, "now")
    parsed = feed if isinstance(feed, ParsedFeed) else parse_feed(feed)
    parsed.raise_for_problems()
    if full and not parsed.courses:
        raise FeedError(
            ["the feed lists no courses: a full import would retire the whole catalog "
             "(import it as a delta to change nothing)"],
            reason="empty_feed",
        )
    tick = on_progress or (lambda _n: None)

    with sessions.begin() as session:
        _lock_imports(session)
        existing = _load_courses(session)
        bundle_flags = dict(session.execute(select(Bundle.name, Bundle.is_subscription_only)).all())
        parsed.raise_for_problems(
            [
                *unknown_replacements(parsed, (row.catalog_id for row in existing.values())),
                *subscription_only_problems(parsed, bundle_flags),
            ]
        )

        publishers_added, publisher_ids = _upsert_publishers(session, parsed.courses)
        bundles_added, bundle_ids = _upsert_bundles(session, parsed.courses, bundle_flags)

        new_rows: list[dict[str, Any]] = []
        changed_rows: list[dict[str, Any]] = []
        for course in parsed.courses:
            values = _feed_values(course, publisher_ids, bundle_ids)
            current = existing.get(course.catalog_id)
            if current is None:
                new_rows.append(values)
            elif any(getattr(current, name) != values[name] for name in _FEED_COLUMNS):
                changed_rows.append(values)
        tick(len(parsed.courses) - len(new_rows) - len(changed_rows))

        _upsert_courses(session, new_rows, now, tick)
        _upsert_courses(session, changed_rows, now, tick)
        replacement_changed = _link_replacements(session, parsed.courses, existing, now)

        changed_ids = {row["catalog_id"] for row in changed_rows} | replacement_changed
        updated = len(changed_ids)
        unchanged = len(parsed.courses) - len(new_rows) - updated

        retired = 0
        if full:
            listed = {course.catalog_id for course in parsed.courses}
            to_retire = [
                row.id
                for catalog_id, row in existing.items()
                if catalog_id not in listed and row.status != "retired"
            ]
            retired = _retire(session, to_retire, now)

    report = ImportReport(
        is_full=full,
        courses_in_feed=len(parsed.courses),
        added=len(new_rows),
        updated=updated,
        unchanged=unchanged,
        retired=retired,
        publishers_added=publishers_added,
        bundles_added=bundles_added,
    )
    if report.changed >= TIDY_AFTER_CHANGES:
        _tidy_search_index(sessions)
    return report


def import_records(
    sessions: sessionmaker[Session],
    records: Iterable[Mapping[str, Any]],
    *,
    full: bool,
    now: datetime,
) -> ImportReport:
    """Import already-decoded feed records (e.g. the demo catalog); see :func:`import_feed`."""
    return import_feed(sessions, parse_feed(records), full=full, now=now)


# --- steps --------------------------------------------------------------------------------------


def _lock_imports(session: Session) -> None:
    """One import at a time. SQLite already has one writer (BEGIN IMMEDIATE); on PostgreSQL a
    transaction-scoped advisory lock makes a second import wait instead of racing the first."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _IMPORT_LOCK_KEY})


def _load_courses(session: Session) -> dict[str, Any]:
    columns = [_courses.c.id, _courses.c.catalog_id, _courses.c.replacement_course_pk]
    columns += [_courses.c[name] for name in _FEED_COLUMNS]
    return {row.catalog_id: row for row in session.execute(select(*columns))}


def _dialect_insert(session: Session, table: Table) -> Any:
    name = session.get_bind().dialect.name
    if name == "sqlite":
        return sqlite.insert(table)
    if name == "postgresql":
        return postgresql.insert(table)
    raise NotImplementedError(f"catalog import does not support the {name} database")


def _upsert_publishers(session: Session, courses: Sequence[FeedCourse]) -> tuple[int, dict[str, int]]:
    names = sorted({course.publisher for course in courses})
    before = set(session.scalars(select(Publisher.name)))
    missing = [{"name": name} for name in names if name not in before]
    if missing:
        stmt = _dialect_insert(session, _publishers).on_conflict_do_nothing(index_elements=["name"])
        session.execute(stmt, missing)
    ids = dict(session.execute(select(Publisher.name, Publisher.id)).all())
    return len(missing), ids


def _upsert_bundles(
    session: Session, courses: Sequence[FeedCourse], flags_in_catalog: Mapping[str, bool]
) -> tuple[int, dict[str, int]]:
    # The feed checker made sure that lines giving a bundle's flag agree with each other.
    wanted: dict[str, bool | None] = {}
    for course in courses:
        if course.bundle is None:
            continue
        if course.is_bundle_subscription_only is not None:
            wanted[course.bundle] = course.is_bundle_subscription_only
        else:
            wanted.setdefault(course.bundle, None)
    rows = []
    for name, flag in wanted.items():
        current = flags_in_catalog.get(name)
        if current is None:
            rows.append({"name": name, "is_subscription_only": bool(flag)})
        elif flag is not None and flag != current:
            rows.append({"name": name, "is_subscription_only": flag})
    if rows:
        stmt = _dialect_insert(session, _bundles)
        stmt = stmt.on_conflict_do_update(
            index_elements=["name"],
            set_={"is_subscription_only": stmt.excluded.is_subscription_only},
        )
        session.execute(stmt, rows)
    added = sum(1 for name in wanted if name not in flags_in_catalog)
    ids = dict(session.execute(select(Bundle.name, Bundle.id)).all())
    return added, ids


def _feed_values(
    course: FeedCourse, publisher_ids: Mapping[str, int], bundle_ids: Mapping[str, int]
) -> dict[str, Any]:
    return {
        "catalog_id": course.catalog_id,
        "title": course.title,
        "publisher_id": publisher_ids[course.publisher],
        "description": course.description,
        "language": course.language,
        "duration_minutes": course.duration_minutes,
        "topics": list(course.topics),
        "volume_price_cents": course.volume_price_cents,
        "ppu_price_cents": course.ppu_price_cents,
        "is_plus": course.is_plus,
        "bundle_id": bundle_ids[course.bundle] if course.bundle is not None else None,
        "status": course.status,
    }


def _upsert_courses(
    session: Session, rows: list[dict[str, Any]], now: datetime, tick: Progress
) -> None:
    if not rows:
        return
    stmt = _dialect_insert(session, _courses)
    stmt = stmt.on_conflict_do_update(
        index_elements=["catalog_id"],
        set_={**{name: stmt.excluded[name] for name in _FEED_COLUMNS}, "updated_at": now},
    )
    for start in range(0, len(rows), BATCH_SIZE):
        batch = [
            {**row, "created_at": now, "updated_at": now}
            for row in rows[start : start + BATCH_SIZE]
        ]
        session.execute(stmt, batch)
        tick(len(batch))


def _link_replacements(
    session: Session, courses: Sequence[FeedCourse], existing: Mapping[str, Any], now: datetime
) -> set[str]:
    """Point each listed course at its replacement; return the catalog ids whose link changed."""
    id_of = dict(session.execute(select(Course.catalog_id, Course.id)).all())
    changes = []
    for course in courses:
        wanted = id_of[course.replacement_id] if course.replacement_id is not None else None
        current = existing.get(course.catalog_id)
        current_link = current.replacement_course_pk if current is not None else None
        if wanted != current_link:
            changes.append(
                {"b_id": id_of[course.catalog_id], "b_replacement": wanted}
            )
    if changes:
        stmt = (
            update(_courses)
            .where(_courses.c.id == bindparam("b_id"))
            .values(
                replacement_course_pk=bindparam("b_replacement", type_=Integer), updated_at=now
            )
        )
        for start in range(0, len(changes), BATCH_SIZE):
            session.execute(stmt, changes[start : start + BATCH_SIZE])
    by_id = {course_pk: catalog_id for catalog_id, course_pk in id_of.items()}
    return {
        by_id[change["b_id"]]
        for change in changes
        if by_id[change["b_id"]] in existing
    }


def _tidy_search_index(sessions: sessionmaker[Session]) -> None:
    """After a large import on PostgreSQL: ``VACUUM (ANALYZE)`` the courses and the full-text
    table (which carries the search's filter columns, migration 0016).

    Every changed course leaves a dead row version in both tables and its new document in the
    GIN index's pending list; until a vacuum, each search reads past the dead versions and scans
    the whole pending list, and the filter columns' statistics go stale (re-imports that
    changed every course made searches about 2 times slower). Autovacuum would
    get there some time later, or never where it is off. Runs after the import committed, on
    its own autocommit connection (VACUUM cannot run in a transaction), so it holds no lock an
    import or a search waits for; skipped when the sessions are bound to a connection (one
    outer transaction, as in tests) rather than an engine. Not on SQLite, where FTS5 merges its
    segments as it writes."""
    bind = sessions.kw.get("bind")
    if not isinstance(bind, Engine) or bind.dialect.name != "postgresql":
        return
    with bind.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM (ANALYZE) courses, course_fts")


def _retire(session: Session, course_pks: list[int], now: datetime) -> int:
    for start in range(0, len(course_pks), BATCH_SIZE):
        chunk = course_pks[start : start + BATCH_SIZE]
        session.execute(
            update(_courses)
            .where(_courses.c.id.in_(chunk))
            .values(status="retired", updated_at=now)
        )
    return len(course_pks)

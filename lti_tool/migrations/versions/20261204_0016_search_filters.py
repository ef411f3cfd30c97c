"""search filters: the full-text index carries the columns search filters and orders by

Catalog search filters on a course's status (retired hidden), Plus flag, publisher, language
and duration, and orders ties by title (case-insensitive). Those lived only on the wide ``courses`` table (its
description inline), so every search joined it for each match just to filter, count and sort.
Now the index carries copies, kept in step by triggers on ``courses`` (like the documents of
migration 0002), and a search reads ``courses`` only for the page it shows:

SQLite: a narrow table ``course_fts_filters`` (course_pk = courses.id = course_fts.rowid;
title_key, status, is_plus, publisher_id, language, duration_minutes), beside the FTS5 table;
``title_key`` is the title (compared with NOCASE).

PostgreSQL: the same columns on ``course_fts`` itself, next to the document; ``title_key`` is
``lower(title)``, computed once here rather than for every match of every search.

Like 0002, these objects differ per database and live only here (``course_fts`` prefix:
``lti_tool.db.MIGRATION_ONLY_PREFIXES``).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_FILTER_COLUMNS = "title_key, status, is_plus, publisher_id, language, duration_minutes"

SQLITE_UPGRADE = [
    """
    CREATE TABLE course_fts_filters (
        course_pk INTEGER NOT NULL PRIMARY KEY,
        title_key VARCHAR(500) NOT NULL,
        status VARCHAR(20) NOT NULL,
        is_plus BOOLEAN NOT NULL,
        publisher_id INTEGER NOT NULL,
        language VARCHAR(20) NOT NULL,
        duration_minutes INTEGER NOT NULL
    )
    """,
    f"""
    CREATE TRIGGER course_fts_filters_course_inserted AFTER INSERT ON courses BEGIN
        INSERT OR REPLACE INTO course_fts_filters (course_pk, {_FILTER_COLUMNS})
        VALUES (new.id, new.title, new.status, new.is_plus, new.publisher_id, new.language,
                new.duration_minutes);
    END
    """,
    """
    CREATE TRIGGER course_fts_filters_course_updated
    AFTER UPDATE OF title, status, is_plus, publisher_id, language, duration_minutes ON courses
    WHEN old.title IS NOT new.title OR old.status IS NOT new.status
        OR old.is_plus IS NOT new.is_plus OR old.publisher_id IS NOT new.publisher_id
        OR old.language IS NOT new.language OR old.duration_minutes IS NOT new.duration_minutes
    BEGIN
        UPDATE course_fts_filters
        SET title_key = new.title, status = new.status, is_plus = new.is_plus,
            publisher_id = new.publisher_id, language = new.language,
            duration_minutes = new.duration_minutes
        WHERE course_pk = new.id;
    END
    """,
    """
    CREATE TRIGGER course_fts_filters_course_deleted AFTER DELETE ON courses BEGIN
        DELETE FROM course_fts_filters WHERE course_pk = old.id;
    END
    """,
    f"""
    INSERT INTO course_fts_filters (course_pk, {_FILTER_COLUMNS})
    SELECT id, title, status, is_plus, publisher_id, language, duration_minutes FROM courses
    """,
]

SQLITE_DOWNGRADE = [
    "DROP TRIGGER IF EXISTS course_fts_filters_course_deleted",
    "DROP TRIGGER IF EXISTS course_fts_filters_course_updated",
    "DROP TRIGGER IF EXISTS course_fts_filters_course_inserted",
    "DROP TABLE IF EXISTS course_fts_filters",
]

# Migration 0002's sync function, now writing the filter columns with the document.
_POSTGRESQL_SYNC_COURSE = f"""
    CREATE OR REPLACE FUNCTION course_fts_sync_course() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO course_fts (course_id, document, {_FILTER_COLUMNS})
        SELECT NEW.id, course_fts_document(NEW.title, NEW.description, p.name),
               lower(NEW.title), NEW.status, NEW.is_plus, NEW.publisher_id, NEW.language,
               NEW.duration_minutes
        FROM publishers AS p WHERE p.id = NEW.publisher_id
        ON CONFLICT (course_id) DO UPDATE SET
            document = EXCLUDED.document, title_key = EXCLUDED.title_key, status = EXCLUDED.status,
            is_plus = EXCLUDED.is_plus, publisher_id = EXCLUDED.publisher_id,
            language = EXCLUDED.language, duration_minutes = EXCLUDED.duration_minutes;
        RETURN NULL;
    END
    $$
"""

# As migration 0002 left it.
_POSTGRESQL_SYNC_COURSE_0002 = """
    CREATE OR REPLACE FUNCTION course_fts_sync_course() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO course_fts (course_id, document)
        SELECT NEW.id, course_fts_document(NEW.title, NEW.description, p.name)
        FROM publishers AS p WHERE p.id = NEW.publisher_id
        ON CONFLICT (course_id) DO UPDATE SET document = EXCLUDED.document;
        RETURN NULL;
    END
    $$
"""

POSTGRESQL_UPGRADE = [
    """
    ALTER TABLE course_fts
        ADD COLUMN title_key text,
        ADD COLUMN status varchar(20),
        ADD COLUMN is_plus boolean,
        ADD COLUMN publisher_id integer,
        ADD COLUMN language varchar(20),
        ADD COLUMN duration_minutes integer
    """,
    """
    UPDATE course_fts AS f
    SET title_key = lower(c.title), status = c.status, is_plus = c.is_plus, publisher_id = c.publisher_id,
        language = c.language, duration_minutes = c.duration_minutes
    FROM courses AS c WHERE c.id = f.course_id
    """,
    """
    ALTER TABLE course_fts
        ALTER COLUMN title_key SET NOT NULL,
        ALTER COLUMN status SET NOT NULL,
        ALTER COLUMN is_plus SET NOT NULL,
        ALTER COLUMN publisher_id SET NOT NULL,
        ALTER COLUMN language SET NOT NULL,
        ALTER COLUMN duration_minutes SET NOT NULL
    """,
    _POSTGRESQL_SYNC_COURSE,
    # No statistics on the documents: with them, the planner (a random read costed at 4 times a
    # sequential one) reads the whole table instead of the pages the GIN index points to once a
    # word is in a few percent of the courses; without, it assumes few matches and takes the
    # bitmap scan, 1.4x faster for a word in a quarter of 40,000 courses (the index is hot).
    "ALTER TABLE course_fts ALTER COLUMN document SET STATISTICS 0",
    # ANALYZE leaves statistics gathered before alone; a change to the same type (no rewrite)
    # drops them.
    "ALTER TABLE course_fts ALTER COLUMN document TYPE tsvector",
    """
    CREATE FUNCTION course_fts_sync_filters() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE course_fts
        SET status = NEW.status, is_plus = NEW.is_plus,
            publisher_id = NEW.publisher_id, language = NEW.language,
            duration_minutes = NEW.duration_minutes
        WHERE course_id = NEW.id;
        RETURN NULL;
    END
    $$
    """,
    # A change of title, description or publisher rewrites the whole row already (0002's
    # course_fts_course_updated, with the function above): this one only when nothing else does.
    """
    CREATE TRIGGER course_fts_filters_updated
    AFTER UPDATE OF status, is_plus, language, duration_minutes ON courses FOR EACH ROW
    WHEN ((OLD.status IS DISTINCT FROM NEW.status OR OLD.is_plus IS DISTINCT FROM NEW.is_plus
           OR OLD.language IS DISTINCT FROM NEW.language
           OR OLD.duration_minutes IS DISTINCT FROM NEW.duration_minutes)
          AND NOT (OLD.title IS DISTINCT FROM NEW.title
                   OR OLD.description IS DISTINCT FROM NEW.description
                   OR OLD.publisher_id IS DISTINCT FROM NEW.publisher_id))
    EXECUTE FUNCTION course_fts_sync_filters()
    """,
]

POSTGRESQL_DOWNGRADE = [
    "DROP TRIGGER IF EXISTS course_fts_filters_updated ON courses",
    "DROP FUNCTION IF EXISTS course_fts_sync_filters()",
    "ALTER TABLE course_fts ALTER COLUMN document SET STATISTICS -1",
    _POSTGRESQL_SYNC_COURSE_0002,
    """
    ALTER TABLE course_fts
        DROP COLUMN IF EXISTS title_key,
        DROP COLUMN IF EXISTS status,
        DROP COLUMN IF EXISTS is_plus,
        DROP COLUMN IF EXISTS publisher_id,
        DROP COLUMN IF EXISTS language,
        DROP COLUMN IF EXISTS duration_minutes
    """,
]


def _statements(upgrade: bool) -> list[str]:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        return SQLITE_UPGRADE if upgrade else SQLITE_DOWNGRADE
    if dialect == "postgresql":
        return POSTGRESQL_UPGRADE if upgrade else POSTGRESQL_DOWNGRADE
    raise NotImplementedError(f"course search has no migration for the {dialect} database")


def upgrade() -> None:
    for statement in _statements(upgrade=True):
        op.execute(statement)


def downgrade() -> None:
    for statement in _statements(upgrade=False):
        op.execute(statement)

"""course search: full-text index over title, description and publisher

SQLite: an FTS5 table ``course_fts`` (rowid = courses.id; columns title, description,
publisher), kept in sync by triggers on ``courses`` and ``publishers``.

PostgreSQL: a table ``course_fts`` (course_id, document tsvector: title weight A, publisher B,
description C) with GIN index ``ix_courses_search_document``, kept in sync by triggers. Text
search configuration ``course_search``: the ``simple`` parser and dictionary (no stemming, no
stop words, like SQLite's unicode61), plus ``unaccent`` when that extension can be installed
(so "securite" finds "Sécurité", as on SQLite).

Both: ``ix_courses_search_title``, a case-insensitive title index for browsing in title order.

These objects differ per database and live only here (``lti_tool.db.MIGRATION_ONLY_PREFIXES``).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


SQLITE_UPGRADE = [
    # unicode61 folds case and (remove_diacritics 2) accents: "fuhrung" finds "Führung".
    # The prefix indexes keep short "term*" prefix queries fast.
    """
    CREATE VIRTUAL TABLE course_fts USING fts5(
        title, description, publisher,
        tokenize = 'unicode61 remove_diacritics 2',
        prefix = '2 3'
    )
    """,
    """
    CREATE TRIGGER course_fts_course_inserted AFTER INSERT ON courses BEGIN
        INSERT INTO course_fts (rowid, title, description, publisher)
        SELECT new.id, new.title, new.description, p.name
        FROM publishers AS p WHERE p.id = new.publisher_id;
    END
    """,
    """
    CREATE TRIGGER course_fts_course_updated AFTER UPDATE OF title, description, publisher_id
    ON courses
    WHEN old.title IS NOT new.title OR old.description IS NOT new.description
        OR old.publisher_id IS NOT new.publisher_id
    BEGIN
        DELETE FROM course_fts WHERE rowid = old.id;
        INSERT INTO course_fts (rowid, title, description, publisher)
        SELECT new.id, new.title, new.description, p.name
        FROM publishers AS p WHERE p.id = new.publisher_id;
    END
    """,
    """
    CREATE TRIGGER course_fts_course_deleted AFTER DELETE ON courses BEGIN
        DELETE FROM course_fts WHERE rowid = old.id;
    END
    """,
    """
    CREATE TRIGGER course_fts_publisher_renamed AFTER UPDATE OF name ON publishers
    WHEN old.name IS NOT new.name
    BEGIN
        UPDATE course_fts SET publisher = new.name
        WHERE rowid IN (SELECT id FROM courses WHERE publisher_id = new.id);
    END
    """,
    """
    INSERT INTO course_fts (rowid, title, description, publisher)
    SELECT c.id, c.title, c.description, p.name
    FROM courses AS c JOIN publishers AS p ON p.id = c.publisher_id
    """,
    "CREATE INDEX ix_courses_search_title ON courses (title COLLATE NOCASE, id)",
]

SQLITE_DOWNGRADE = [
    "DROP INDEX IF EXISTS ix_courses_search_title",
    "DROP TRIGGER IF EXISTS course_fts_publisher_renamed",
    "DROP TRIGGER IF EXISTS course_fts_course_deleted",
    "DROP TRIGGER IF EXISTS course_fts_course_updated",
    "DROP TRIGGER IF EXISTS course_fts_course_inserted",
    "DROP TABLE IF EXISTS course_fts",
]

POSTGRESQL_UPGRADE = [
    """
    CREATE TABLE course_fts (
        course_id integer NOT NULL,
        document tsvector NOT NULL,
        CONSTRAINT course_fts_pkey PRIMARY KEY (course_id),
        CONSTRAINT course_fts_course_id_fkey FOREIGN KEY (course_id)
            REFERENCES courses (id) ON DELETE CASCADE
    )
    """,
    "CREATE INDEX ix_courses_search_document ON course_fts USING gin (document)",
    # PostgreSQL's parser reads "<IF>" as an HTML tag (dropped), "a@b.c" as an e-mail, "x/y" as
    # a path, "3.5" as a version, "-5" as a signed number: one odd token each. Turning those
    # characters into spaces first gives plain words, as SQLite's unicode61 and the query side
    # (store.catalog.queries.search_terms) see them.
    """
    CREATE FUNCTION course_fts_words(value text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT translate(coalesce(value, ''), '<>@/\\.:+-', '         ')
    $$
    """,
    """
    CREATE FUNCTION course_fts_document(title text, description text, publisher text)
    RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT setweight(to_tsvector('course_search'::regconfig, course_fts_words(title)), 'A')
            || setweight(to_tsvector('course_search'::regconfig, course_fts_words(publisher)), 'B')
            || setweight(to_tsvector('course_search'::regconfig, course_fts_words(description)), 'C')
    $$
    """,
    """
    CREATE FUNCTION course_fts_sync_course() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO course_fts (course_id, document)
        SELECT NEW.id, course_fts_document(NEW.title, NEW.description, p.name)
        FROM publishers AS p WHERE p.id = NEW.publisher_id
        ON CONFLICT (course_id) DO UPDATE SET document = EXCLUDED.document;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER course_fts_course_inserted AFTER INSERT ON courses
    FOR EACH ROW EXECUTE FUNCTION course_fts_sync_course()
    """,
    """
    CREATE TRIGGER course_fts_course_updated AFTER UPDATE OF title, description, publisher_id
    ON courses FOR EACH ROW
    WHEN (OLD.title IS DISTINCT FROM NEW.title OR OLD.description IS DISTINCT FROM NEW.description
          OR OLD.publisher_id IS DISTINCT FROM NEW.publisher_id)
    EXECUTE FUNCTION course_fts_sync_course()
    """,
    """
    CREATE FUNCTION course_fts_sync_publisher() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE course_fts AS f
        SET document = course_fts_document(c.title, c.description, NEW.name)
        FROM courses AS c
        WHERE c.id = f.course_id AND c.publisher_id = NEW.id;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER course_fts_publisher_renamed AFTER UPDATE OF name ON publishers
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION course_fts_sync_publisher()
    """,
    """
    INSERT INTO course_fts (course_id, document)
    SELECT c.id, course_fts_document(c.title, c.description, p.name)
    FROM courses AS c JOIN publishers AS p ON p.id = c.publisher_id
    """,
    "CREATE INDEX ix_courses_search_title ON courses (lower(title), id)",
]

POSTGRESQL_DOWNGRADE = [
    "DROP INDEX IF EXISTS ix_courses_search_title",
    "DROP TRIGGER IF EXISTS course_fts_publisher_renamed ON publishers",
    "DROP TRIGGER IF EXISTS course_fts_course_updated ON courses",
    "DROP TRIGGER IF EXISTS course_fts_course_inserted ON courses",
    "DROP FUNCTION IF EXISTS course_fts_sync_publisher()",
    "DROP FUNCTION IF EXISTS course_fts_sync_course()",
    "DROP FUNCTION IF EXISTS course_fts_document(text, text, text)",
    "DROP FUNCTION IF EXISTS course_fts_words(text)",
    "DROP TABLE IF EXISTS course_fts",
    "DROP TEXT SEARCH CONFIGURATION IF EXISTS course_search",
]


def _create_postgresql_search_configuration() -> None:
    """``course_search``: a copy of ``simple``, accent-insensitive when ``unaccent`` is there.

    Installing the extension needs the CREATE privilege on the database (unaccent is a trusted
    extension); without it search still works, only accents then matter. A savepoint keeps a
    refused CREATE EXTENSION from aborting the migration.
    """
    bind = op.get_bind()
    has_unaccent = bind.exec_driver_sql(
        "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'unaccent')"
    ).scalar()
    if not has_unaccent:
        available = bind.exec_driver_sql(
            "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'unaccent')"
        ).scalar()
        if available:
            savepoint = bind.begin_nested()
            try:
                bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS unaccent")
            except Exception:  # noqa: BLE001  (no privilege: go on without accent folding)
                savepoint.rollback()
            else:
                savepoint.commit()
                has_unaccent = True
    op.execute("CREATE TEXT SEARCH CONFIGURATION course_search (COPY = pg_catalog.simple)")
    if has_unaccent:
        op.execute(
            "ALTER TEXT SEARCH CONFIGURATION course_search "
            "ALTER MAPPING FOR hword, hword_part, word WITH unaccent, simple"
        )


def _statements(upgrade: bool) -> list[str]:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        return SQLITE_UPGRADE if upgrade else SQLITE_DOWNGRADE
    if dialect == "postgresql":
        return POSTGRESQL_UPGRADE if upgrade else POSTGRESQL_DOWNGRADE
    raise NotImplementedError(f"course search has no migration for the {dialect} database")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _create_postgresql_search_configuration()
    for statement in _statements(upgrade=True):
        op.execute(statement)


def downgrade() -> None:
    for statement in _statements(upgrade=False):
        op.execute(statement)

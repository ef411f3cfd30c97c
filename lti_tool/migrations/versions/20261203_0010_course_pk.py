"""course_pk: the database key of a course is named course_pk wherever it is stored

``course_id`` meant both a course's catalog id (a string, ``courses.catalog_id``) and its database
key (``courses.id``). The foreign-key columns become ``course_pk``; ``courses.replacement_course_id``
becomes ``replacement_course_pk``. Their foreign-key constraints follow the naming convention's
new names. (The full-text index's own ``course_fts.course_id`` column is internal to the search
queries and keeps its name: an FTS5 table cannot rename a column.)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

RENAMES = [  # (table, old column, new column)
    ("volume_lots", "course_id", "course_pk"),
    ("ppu_library_entries", "course_id", "course_pk"),
    ("seats", "course_id", "course_pk"),
    ("course_launches", "course_id", "course_pk"),
    ("launch_refusals", "course_id", "course_pk"),
    ("course_progress", "course_id", "course_pk"),
    ("course_contents", "course_id", "course_pk"),
    ("dispatch_packages", "course_id", "course_pk"),
    ("courses", "replacement_course_id", "replacement_course_pk"),
]


def _rename(forward: bool) -> None:
    is_postgres = op.get_bind().dialect.name == "postgresql"
    for table, old, new in RENAMES:
        column_from, column_to = (old, new) if forward else (new, old)
        # Both databases rename a column in place (SQLite 3.25+ also rewrites the indexes and
        # CHECK constraints that name it).
        op.execute(f"ALTER TABLE {table} RENAME COLUMN {column_from} TO {column_to}")
        if is_postgres:
            op.execute(f"ALTER TABLE {table} RENAME CONSTRAINT fk_{table}_{column_from}_courses "
                       f"TO fk_{table}_{column_to}_courses")


def upgrade() -> None:
    _rename(forward=True)


def downgrade() -> None:
    _rename(forward=False)

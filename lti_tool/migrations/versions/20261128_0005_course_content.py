"""course content: imported publisher SCORM packages (course_contents) and the version a
learner's progress plays (course_progress.content_id, session_seconds_reported, commit_seq)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "course_contents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("scorm_version", sa.String(length=10), nullable=False),
        sa.Column("storage_key", sa.String(length=64), nullable=False),
        sa.Column("launch_href", sa.String(length=2000), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("manifest_identifier", sa.String(length=255), nullable=False),
        sa.Column("item_identifier", sa.String(length=255), nullable=False),
        sa.Column("mastery_score", sa.Float(), nullable=True),
        sa.Column("launch_data", sa.Text(), nullable=True),
        sa.Column("completion_threshold", sa.Float(), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("file_count", sa.Integer(), nullable=False),
        sa.Column("original_filename", sa.String(length=255), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.CheckConstraint("scorm_version IN ('scorm12', 'scorm2004')",
                           name=op.f("ck_course_contents_scorm_version_known")),
        sa.CheckConstraint("version >= 1", name=op.f("ck_course_contents_version_positive")),
        sa.CheckConstraint("size_bytes >= 0 AND file_count >= 1", name=op.f("ck_course_contents_size_sane")),
        sa.CheckConstraint("mastery_score IS NULL OR (mastery_score >= 0 AND mastery_score <= 1)",
                           name=op.f("ck_course_contents_mastery_score_scaled")),
        sa.CheckConstraint(
            "completion_threshold IS NULL OR (completion_threshold >= 0 AND completion_threshold <= 1)",
            name=op.f("ck_course_contents_completion_threshold_scaled")),
        sa.CheckConstraint("length(storage_key) = 64", name=op.f("ck_course_contents_storage_key_is_sha256")),
        sa.ForeignKeyConstraint(["course_id"], ["courses.id"], name=op.f("fk_course_contents_course_id_courses"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_course_contents")),
        sa.UniqueConstraint("course_id", "version", name="uq_course_contents_course_version"),
    )
    with op.batch_alter_table("course_contents", schema=None) as batch_op:
        batch_op.create_index("ix_course_contents_storage_key", ["storage_key"], unique=False)
        batch_op.create_index("uq_course_contents_one_current", ["course_id"], unique=True,
                              sqlite_where=sa.text("is_current"), postgresql_where=sa.text("is_current"))

    with op.batch_alter_table("course_progress", schema=None) as batch_op:
        batch_op.add_column(sa.Column("content_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("session_seconds_reported", sa.Integer(), nullable=False,
                                      server_default="0"))
        batch_op.add_column(sa.Column("commit_seq", sa.Integer(), nullable=False, server_default="0"))
        batch_op.create_foreign_key(batch_op.f("fk_course_progress_content_id_course_contents"),
                                    "course_contents", ["content_id"], ["id"])
        batch_op.create_check_constraint(batch_op.f("ck_course_progress_session_seconds_not_negative"),
                                         "session_seconds_reported >= 0")
    # The default only filled existing rows; the model sets the value on every insert.
    with op.batch_alter_table("course_progress", schema=None) as batch_op:
        batch_op.alter_column("session_seconds_reported", server_default=None)
        batch_op.alter_column("commit_seq", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("course_progress", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_course_progress_session_seconds_not_negative"), type_="check")
        batch_op.drop_constraint(batch_op.f("fk_course_progress_content_id_course_contents"), type_="foreignkey")
        batch_op.drop_column("commit_seq")
        batch_op.drop_column("session_seconds_reported")
        batch_op.drop_column("content_id")
    with op.batch_alter_table("course_contents", schema=None) as batch_op:
        batch_op.drop_index("uq_course_contents_one_current")
        batch_op.drop_index("ix_course_contents_storage_key")
    op.drop_table("course_contents")

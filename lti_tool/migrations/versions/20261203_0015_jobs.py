"""jobs: the schedule state of background jobs (next slot, lease, last run); delivery attempts of mail

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_token", sa.String(length=64), nullable=True),
        sa.Column("running_by", sa.String(length=200), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_result", sa.String(length=10), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("last_summary", sa.String(length=300), nullable=True),
        sa.Column("failures_in_a_row", sa.Integer(), nullable=False),
        sa.CheckConstraint("last_result IS NULL OR last_result IN ('ok', 'error')", name=op.f("ck_jobs_result_known")),
        sa.CheckConstraint("failures_in_a_row >= 0", name=op.f("ck_jobs_failures_not_negative")),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_jobs")),
    )
    # Messages recorded before counted one delivery attempt each.
    op.add_column("mail_outbox", sa.Column("attempts", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.drop_column("attempts")
    op.drop_table("jobs")

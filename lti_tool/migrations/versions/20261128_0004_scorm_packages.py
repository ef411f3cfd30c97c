"""scorm dispatch packages: package keys, allowed LMS domains, dispatch launches

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dispatch_allowed_domains",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("length(domain) > 0", name=op.f("ck_dispatch_allowed_domains_domain_not_blank")),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"],
                                name=op.f("fk_dispatch_allowed_domains_account_id_accounts"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispatch_allowed_domains")),
        sa.UniqueConstraint("account_id", "domain", name="uq_dispatch_allowed_domains_account_domain"),
    )
    op.create_table(
        "dispatch_packages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_key", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("license_type", sa.String(length=10), nullable=False),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("format IN ('scorm12', 'scorm2004')", name=op.f("ck_dispatch_packages_format_known")),
        sa.CheckConstraint("license_type IN ('plus', 'volume', 'ppu')",
                           name=op.f("ck_dispatch_packages_license_type_known")),
        sa.CheckConstraint("generation >= 1", name=op.f("ck_dispatch_packages_generation_positive")),
        sa.CheckConstraint("length(public_key) > 0", name=op.f("ck_dispatch_packages_public_key_not_blank")),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"],
                                name=op.f("fk_dispatch_packages_account_id_accounts"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["course_id"], ["courses.id"], name=op.f("fk_dispatch_packages_course_id_courses")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispatch_packages")),
        sa.UniqueConstraint("account_id", "course_id", "license_type", "format",
                            name="uq_dispatch_packages_one_per_kind"),
        sa.UniqueConstraint("public_key", name="uq_dispatch_packages_public_key"),
    )
    op.create_table(
        "dispatch_launches",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("package_id", sa.Integer(), nullable=False),
        sa.Column("learner_id", sa.Integer(), nullable=True),
        sa.Column("seat_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=30), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column("is_new_seat", sa.Boolean(), nullable=False),
        sa.Column("lms_origin", sa.String(length=300), nullable=True),
        sa.Column("referrer_origin", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("outcome IN ('seat', 'refused', 'domain_not_allowed', 'rate_limited')",
                           name=op.f("ck_dispatch_launches_outcome_known")),
        sa.ForeignKeyConstraint(["learner_id"], ["learners.id"],
                                name=op.f("fk_dispatch_launches_learner_id_learners"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["package_id"], ["dispatch_packages.id"],
                                name=op.f("fk_dispatch_launches_package_id_dispatch_packages"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["seat_id"], ["seats.id"], name=op.f("fk_dispatch_launches_seat_id_seats"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispatch_launches")),
    )
    with op.batch_alter_table("dispatch_launches", schema=None) as batch_op:
        batch_op.create_index("ix_dispatch_launches_package_created", ["package_id", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("dispatch_launches", schema=None) as batch_op:
        batch_op.drop_index("ix_dispatch_launches_package_created")
    op.drop_table("dispatch_launches")
    op.drop_table("dispatch_packages")
    op.drop_table("dispatch_allowed_domains")

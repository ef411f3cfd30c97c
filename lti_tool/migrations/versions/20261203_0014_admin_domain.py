"""admin domain: identity linking (person keys, a person on learners and seats), invitations,
account closure requests, the delivery method of learners, the account of mail, refused launches
of other delivery paths, the account's package format

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-03

SQLite: columns are added to the parent tables (accounts, learners, seats) with plain ``ALTER
TABLE … ADD COLUMN`` (no table rebuild: dropping a parent table would cascade into its children),
hence no constraints on those columns; the person's uniqueness on seats is a unique index.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("accounts", sa.Column("link_identities", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("accounts", sa.Column("preferred_package_format", sa.String(length=10), nullable=True))

    op.add_column("learners", sa.Column("delivery", sa.String(length=20), nullable=True))
    op.add_column("learners", sa.Column("person_id", sa.Integer(), nullable=True))
    op.create_index("ix_learners_account_person", "learners", ["account_id", "person_id"], unique=False)
    # The delivery method of the learners already known, from their identity source.
    op.execute("UPDATE learners SET delivery = 'lti' WHERE identity_source LIKE 'lti:%'")
    op.execute("UPDATE learners SET delivery = 'signin' WHERE identity_source LIKE 'login:%'")
    op.execute("UPDATE learners SET delivery = 'staff' WHERE identity_source = 'staff'")
    op.execute("UPDATE learners SET delivery = COALESCE((SELECT p.format FROM dispatch_packages p "
               "WHERE 'package:' || p.public_key = learners.identity_source), 'scorm') "
               "WHERE identity_source LIKE 'package:%'")
    op.execute("UPDATE learners SET delivery = 'other' WHERE delivery IS NULL")

    op.add_column("seats", sa.Column("person_id", sa.Integer(), nullable=True))
    op.create_index("uq_seats_person_scope_attempt", "seats", ["account_id", "person_id", "scope", "attempt"],
                    unique=True)

    op.add_column("launch_refusals", sa.Column("learner_label", sa.String(length=300), nullable=True))
    op.add_column("launch_refusals", sa.Column("detail", sa.String(length=300), nullable=True))

    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("account_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_mail_outbox_account_id_accounts"), "accounts", ["account_id"],
                                    ["id"], ondelete="CASCADE")
        batch_op.create_index("ix_mail_outbox_account_id", ["account_id"], unique=False)
    # Mail sent before: a message to a login's address was that login's (password resets).
    op.execute("UPDATE mail_outbox SET account_id = (SELECT l.account_id FROM logins l "
               "WHERE l.email_normalized = lower(trim(mail_outbox.to_address))) WHERE account_id IS NULL")

    op.create_table(
        "person_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("value", sa.String(length=320), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('email', 'username')", name=op.f("ck_person_keys_kind_known")),
        sa.CheckConstraint("length(value) > 0", name=op.f("ck_person_keys_value_not_blank")),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_person_keys_account_id_accounts"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["person_id"], ["learners.id"], name=op.f("fk_person_keys_person_id_learners"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_keys")),
        sa.UniqueConstraint("account_id", "kind", "value", name="uq_person_keys_account_kind_value"),
    )
    op.create_index("ix_person_keys_person", "person_keys", ["person_id"], unique=False)

    op.create_table(
        "closure_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("learner_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=300), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"],
                                name=op.f("fk_closure_requests_account_id_accounts"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["learner_id"], ["learners.id"],
                                name=op.f("fk_closure_requests_learner_id_learners"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_closure_requests")),
    )
    op.create_index("ix_closure_requests_created", "closure_requests", ["created_at"], unique=False)

    op.create_table(
        "invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("course_pk", sa.Integer(), nullable=False),
        sa.Column("license_type", sa.String(length=10), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("email_normalized", sa.String(length=320), nullable=False),
        sa.Column("learner_id", sa.Integer(), nullable=False),
        sa.Column("invited_by_learner_id", sa.Integer(), nullable=True),
        sa.Column("seat_id", sa.Integer(), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("open_count", sa.Integer(), nullable=False),
        sa.CheckConstraint("license_type IN ('plus', 'volume', 'ppu')", name=op.f("ck_invitations_license_type_known")),
        sa.CheckConstraint("open_count >= 0", name=op.f("ck_invitations_open_count_not_negative")),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_invitations_account_id_accounts"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["course_pk"], ["courses.id"], name=op.f("fk_invitations_course_pk_courses")),
        sa.ForeignKeyConstraint(["invited_by_learner_id"], ["learners.id"],
                                name=op.f("fk_invitations_invited_by_learner_id_learners"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["learner_id"], ["learners.id"], name=op.f("fk_invitations_learner_id_learners"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["seat_id"], ["seats.id"], name=op.f("fk_invitations_seat_id_seats"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.UniqueConstraint("account_id", "course_pk", "license_type", "email_normalized",
                            name="uq_invitations_one_per_course_and_address"),
        sa.UniqueConstraint("token_hash", name="uq_invitations_token_hash"),
    )
    op.create_index("ix_invitations_account_sent", "invitations", ["account_id", "sent_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_invitations_account_sent", table_name="invitations")
    op.drop_table("invitations")
    op.drop_index("ix_closure_requests_created", table_name="closure_requests")
    op.drop_table("closure_requests")
    op.drop_index("ix_person_keys_person", table_name="person_keys")
    op.drop_table("person_keys")
    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_mail_outbox_account_id")
        batch_op.drop_constraint(batch_op.f("fk_mail_outbox_account_id_accounts"), type_="foreignkey")
        batch_op.drop_column("account_id")
    op.drop_column("launch_refusals", "detail")
    op.drop_column("launch_refusals", "learner_label")
    op.drop_index("uq_seats_person_scope_attempt", table_name="seats")
    op.drop_column("seats", "person_id")
    op.drop_index("ix_learners_account_person", table_name="learners")
    op.drop_column("learners", "person_id")
    op.drop_column("learners", "delivery")
    op.drop_column("accounts", "preferred_package_format")
    op.drop_column("accounts", "link_identities")

"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op



revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('annual_retake', sa.Boolean(), nullable=False),
    sa.Column('payment_token', sa.String(length=200), nullable=True),
    sa.Column('card_last4', sa.String(length=4), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('organization', 'individual')", name=op.f('ck_accounts_kind_known')),
    sa.CheckConstraint('card_last4 IS NULL OR length(card_last4) = 4', name=op.f('ck_accounts_card_last4_is_four_digits')),
    sa.CheckConstraint('length(trim(name)) > 0', name=op.f('ck_accounts_name_not_blank')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_accounts')),
    sa.UniqueConstraint('name', name='uq_accounts_name')
    )
    op.create_table('bundles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('is_subscription_only', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bundles')),
    sa.UniqueConstraint('name', name='uq_bundles_name')
    )
    op.create_table('publishers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_publishers')),
    sa.UniqueConstraint('name', name='uq_publishers_name')
    )
    op.create_table('courses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('catalog_id', sa.String(length=200), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('publisher_id', sa.Integer(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('language', sa.String(length=20), nullable=False),
    sa.Column('duration_minutes', sa.Integer(), nullable=False),
    sa.Column('topics', sa.JSON(), nullable=False),
    sa.Column('volume_price_cents', sa.Integer(), nullable=False),
    sa.Column('ppu_price_cents', sa.Integer(), nullable=False),
    sa.Column('is_plus', sa.Boolean(), nullable=False),
    sa.Column('bundle_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('replacement_course_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('active', 'retiring', 'retired')", name=op.f('ck_courses_status_known')),
    sa.CheckConstraint('duration_minutes >= 0', name=op.f('ck_courses_duration_not_negative')),
    sa.CheckConstraint('length(catalog_id) > 0', name=op.f('ck_courses_catalog_id_not_blank')),
    sa.CheckConstraint('ppu_price_cents >= 0', name=op.f('ck_courses_ppu_price_not_negative')),
    sa.CheckConstraint('volume_price_cents >= 0', name=op.f('ck_courses_volume_price_not_negative')),
    sa.ForeignKeyConstraint(['bundle_id'], ['bundles.id'], name=op.f('fk_courses_bundle_id_bundles')),
    sa.ForeignKeyConstraint(['publisher_id'], ['publishers.id'], name=op.f('fk_courses_publisher_id_publishers')),
    sa.ForeignKeyConstraint(['replacement_course_id'], ['courses.id'], name=op.f('fk_courses_replacement_course_id_courses'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_courses')),
    sa.UniqueConstraint('catalog_id', name='uq_courses_catalog_id')
    )
    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_courses_bundle_id'), ['bundle_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_courses_is_plus'), ['is_plus'], unique=False)
        batch_op.create_index(batch_op.f('ix_courses_language'), ['language'], unique=False)
        batch_op.create_index(batch_op.f('ix_courses_publisher_id'), ['publisher_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_courses_status'), ['status'], unique=False)

    op.create_table('learners',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('identity_source', sa.String(length=300), nullable=False),
    sa.Column('external_id', sa.String(length=4000), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('username', sa.String(length=300), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('length(external_id) > 0', name=op.f('ck_learners_external_id_not_blank')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_learners_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_learners')),
    sa.UniqueConstraint('account_id', 'identity_source', 'external_id', name='uq_learners_one_per_identity')
    )
    with op.batch_alter_table('learners', schema=None) as batch_op:
        batch_op.create_index('ix_learners_account_email', ['account_id', 'email'], unique=False)

    op.create_table('plus_subscriptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('term', sa.String(length=10), nullable=False),
    sa.Column('seats_total', sa.Integer(), nullable=False),
    sa.Column('seats_used', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('current_period_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('auto_renew', sa.Boolean(), nullable=False),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("term IN ('monthly', 'annual')", name=op.f('ck_plus_subscriptions_term_known')),
    sa.CheckConstraint('current_period_end > started_at', name=op.f('ck_plus_subscriptions_period_after_start')),
    sa.CheckConstraint('seats_total > 0', name=op.f('ck_plus_subscriptions_seats_total_positive')),
    sa.CheckConstraint('seats_used <= seats_total', name=op.f('ck_plus_subscriptions_seats_used_within_total')),
    sa.CheckConstraint('seats_used >= 0', name=op.f('ck_plus_subscriptions_seats_used_not_negative')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_plus_subscriptions_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plus_subscriptions'))
    )
    with op.batch_alter_table('plus_subscriptions', schema=None) as batch_op:
        batch_op.create_index('ix_plus_subscriptions_account_period', ['account_id', 'current_period_end'], unique=False)

    op.create_table('ppu_configs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('contract_ref', sa.String(length=200), nullable=False),
    sa.Column('is_enabled', sa.Boolean(), nullable=False),
    sa.Column('balance_cents', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('balance_cents >= 0', name=op.f('ck_ppu_configs_balance_not_negative')),
    sa.CheckConstraint('length(trim(contract_ref)) > 0', name=op.f('ck_ppu_configs_contract_ref_not_blank')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_ppu_configs_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ppu_configs')),
    sa.UniqueConstraint('account_id', name='uq_ppu_configs_account_id')
    )
    op.create_table('launch_refusals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('learner_id', sa.Integer(), nullable=True),
    sa.Column('course_id', sa.Integer(), nullable=True),
    sa.Column('license_type', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('is_resolved', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_launch_refusals_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_launch_refusals_course_id_courses')),
    sa.ForeignKeyConstraint(['learner_id'], ['learners.id'], name=op.f('fk_launch_refusals_learner_id_learners'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_launch_refusals'))
    )
    with op.batch_alter_table('launch_refusals', schema=None) as batch_op:
        batch_op.create_index('ix_launch_refusals_account_created', ['account_id', 'created_at'], unique=False)

    op.create_table('ppu_library_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_ppu_library_entries_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_ppu_library_entries_course_id_courses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ppu_library_entries')),
    sa.UniqueConstraint('account_id', 'course_id', name='uq_ppu_library_one_per_course')
    )
    op.create_table('volume_lots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('seats_total', sa.Integer(), nullable=False),
    sa.Column('seats_used', sa.Integer(), nullable=False),
    sa.Column('purchased_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('expires_at > purchased_at', name=op.f('ck_volume_lots_expires_after_purchase')),
    sa.CheckConstraint('seats_total > 0', name=op.f('ck_volume_lots_seats_total_positive')),
    sa.CheckConstraint('seats_used <= seats_total', name=op.f('ck_volume_lots_seats_used_within_total')),
    sa.CheckConstraint('seats_used >= 0', name=op.f('ck_volume_lots_seats_used_not_negative')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_volume_lots_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_volume_lots_course_id_courses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volume_lots'))
    )
    with op.batch_alter_table('volume_lots', schema=None) as batch_op:
        batch_op.create_index('ix_volume_lots_account_course', ['account_id', 'course_id', 'purchased_at'], unique=False)

    op.create_table('seats',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('learner_id', sa.Integer(), nullable=False),
    sa.Column('license_type', sa.String(length=10), nullable=False),
    sa.Column('scope', sa.String(length=60), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=True),
    sa.Column('subscription_id', sa.Integer(), nullable=True),
    sa.Column('lot_id', sa.Integer(), nullable=True),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('occupied_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('price_cents', sa.BigInteger(), nullable=True),
    sa.CheckConstraint("(license_type = 'plus' AND subscription_id IS NOT NULL AND course_id IS NULL AND lot_id IS NULL) OR (license_type = 'volume' AND lot_id IS NOT NULL AND course_id IS NOT NULL AND subscription_id IS NULL) OR (license_type = 'ppu' AND course_id IS NOT NULL AND subscription_id IS NULL AND lot_id IS NULL AND price_cents IS NOT NULL)", name=op.f('ck_seats_license_reference_matches_type')),
    sa.CheckConstraint("license_type IN ('plus', 'volume', 'ppu')", name=op.f('ck_seats_license_type_known')),
    sa.CheckConstraint('attempt >= 1', name=op.f('ck_seats_attempt_positive')),
    sa.CheckConstraint('price_cents IS NULL OR price_cents >= 0', name=op.f('ck_seats_price_not_negative')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_seats_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_seats_course_id_courses')),
    sa.ForeignKeyConstraint(['learner_id'], ['learners.id'], name=op.f('fk_seats_learner_id_learners'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['lot_id'], ['volume_lots.id'], name=op.f('fk_seats_lot_id_volume_lots'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subscription_id'], ['plus_subscriptions.id'], name=op.f('fk_seats_subscription_id_plus_subscriptions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_seats')),
    sa.UniqueConstraint('account_id', 'learner_id', 'scope', 'attempt', name='uq_seats_one_per_learner_scope_attempt')
    )
    with op.batch_alter_table('seats', schema=None) as batch_op:
        batch_op.create_index('ix_seats_account_course', ['account_id', 'course_id'], unique=False)
        batch_op.create_index('ix_seats_learner', ['learner_id'], unique=False)

    op.create_table('course_launches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seat_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('first_launched_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_launched_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('launch_count', sa.Integer(), nullable=False),
    sa.CheckConstraint('launch_count >= 1', name=op.f('ck_course_launches_launch_count_positive')),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_course_launches_course_id_courses')),
    sa.ForeignKeyConstraint(['seat_id'], ['seats.id'], name=op.f('fk_course_launches_seat_id_seats'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_course_launches')),
    sa.UniqueConstraint('seat_id', 'course_id', name='uq_course_launches_seat_course')
    )
    with op.batch_alter_table('course_launches', schema=None) as batch_op:
        batch_op.create_index('ix_course_launches_course', ['course_id'], unique=False)

    op.create_table('deposit_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.Column('balance_after_cents', sa.BigInteger(), nullable=False),
    sa.Column('seat_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('deposit', 'seat', 'adjustment')", name=op.f('ck_deposit_entries_kind_known')),
    sa.CheckConstraint('amount_cents <> 0', name=op.f('ck_deposit_entries_amount_not_zero')),
    sa.CheckConstraint('balance_after_cents >= 0', name=op.f('ck_deposit_entries_balance_after_not_negative')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_deposit_entries_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['seat_id'], ['seats.id'], name=op.f('fk_deposit_entries_seat_id_seats'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deposit_entries'))
    )
    with op.batch_alter_table('deposit_entries', schema=None) as batch_op:
        batch_op.create_index('ix_deposit_entries_account_created', ['account_id', 'created_at'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('deposit_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_deposit_entries_account_created')

    op.drop_table('deposit_entries')
    with op.batch_alter_table('course_launches', schema=None) as batch_op:
        batch_op.drop_index('ix_course_launches_course')

    op.drop_table('course_launches')
    with op.batch_alter_table('seats', schema=None) as batch_op:
        batch_op.drop_index('ix_seats_learner')
        batch_op.drop_index('ix_seats_account_course')

    op.drop_table('seats')
    with op.batch_alter_table('volume_lots', schema=None) as batch_op:
        batch_op.drop_index('ix_volume_lots_account_course')

    op.drop_table('volume_lots')
    op.drop_table('ppu_library_entries')
    with op.batch_alter_table('launch_refusals', schema=None) as batch_op:
        batch_op.drop_index('ix_launch_refusals_account_created')

    op.drop_table('launch_refusals')
    op.drop_table('ppu_configs')
    with op.batch_alter_table('plus_subscriptions', schema=None) as batch_op:
        batch_op.drop_index('ix_plus_subscriptions_account_period')

    op.drop_table('plus_subscriptions')
    with op.batch_alter_table('learners', schema=None) as batch_op:
        batch_op.drop_index('ix_learners_account_email')

    op.drop_table('learners')
    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_courses_status'))
        batch_op.drop_index(batch_op.f('ix_courses_publisher_id'))
        batch_op.drop_index(batch_op.f('ix_courses_language'))
        batch_op.drop_index(batch_op.f('ix_courses_is_plus'))
        batch_op.drop_index(batch_op.f('ix_courses_bundle_id'))

    op.drop_table('courses')
    op.drop_table('publishers')
    op.drop_table('bundles')
    op.drop_table('accounts')


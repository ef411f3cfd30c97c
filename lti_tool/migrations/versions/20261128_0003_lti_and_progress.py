"""lti and progress

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op




revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('lti_platform_key_sets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key_set_url', sa.String(length=1000), nullable=False),
    sa.Column('jwks', sa.JSON(), nullable=False),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_platform_key_sets')),
    sa.UniqueConstraint('key_set_url', name='uq_lti_platform_key_sets_url')
    )
    op.create_table('lti_service_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cache_key', sa.String(length=64), nullable=False),
    sa.Column('access_token', sa.Text(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_service_tokens')),
    sa.UniqueConstraint('cache_key', name='uq_lti_service_tokens_cache_key')
    )
    op.create_table('lti_tool_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kid', sa.String(length=64), nullable=False),
    sa.Column('private_key_encrypted', sa.Text(), nullable=False),
    sa.Column('public_jwk', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_tool_keys')),
    sa.UniqueConstraint('kid', name='uq_lti_tool_keys_kid')
    )
    op.create_table('web_sessions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_web_sessions'))
    )
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_web_sessions_expires', ['expires_at'], unique=False)

    op.create_table('lti_registrations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('issuer', sa.String(length=500), nullable=False),
    sa.Column('client_id', sa.String(length=300), nullable=False),
    sa.Column('auth_login_url', sa.String(length=1000), nullable=False),
    sa.Column('auth_token_url', sa.String(length=1000), nullable=False),
    sa.Column('auth_audience', sa.String(length=1000), nullable=True),
    sa.Column('key_set_url', sa.String(length=1000), nullable=False),
    sa.Column('extra_origins', sa.JSON(), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('created_via', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("created_via IN ('cli', 'dynamic', 'demo')", name=op.f('ck_lti_registrations_created_via_known')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_lti_registrations_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_registrations')),
    sa.UniqueConstraint('issuer', 'client_id', name='uq_lti_registrations_issuer_client')
    )
    with op.batch_alter_table('lti_registrations', schema=None) as batch_op:
        batch_op.create_index('ix_lti_registrations_account', ['account_id'], unique=False)

    op.create_table('lti_deployments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=False),
    sa.Column('deployment_id', sa.String(length=300), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('active', 'pending', 'disabled')", name=op.f('ck_lti_deployments_status_known')),
    sa.ForeignKeyConstraint(['registration_id'], ['lti_registrations.id'], name=op.f('fk_lti_deployments_registration_id_lti_registrations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_deployments')),
    sa.UniqueConstraint('registration_id', 'deployment_id', name='uq_lti_deployments_registration_deployment')
    )
    op.create_table('lti_launches',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=False),
    sa.Column('deployment_id', sa.String(length=300), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('learner_id', sa.Integer(), nullable=True),
    sa.Column('message_type', sa.String(length=100), nullable=False),
    sa.Column('claims', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_lti_launches_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['learner_id'], ['learners.id'], name=op.f('fk_lti_launches_learner_id_learners'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['registration_id'], ['lti_registrations.id'], name=op.f('fk_lti_launches_registration_id_lti_registrations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_launches'))
    )
    with op.batch_alter_table('lti_launches', schema=None) as batch_op:
        batch_op.create_index('ix_lti_launches_expires', ['expires_at'], unique=False)

    op.create_table('lti_login_states',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=128), nullable=False),
    sa.Column('nonce', sa.String(length=128), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=False),
    sa.Column('target_link_uri', sa.String(length=2000), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['registration_id'], ['lti_registrations.id'], name=op.f('fk_lti_login_states_registration_id_lti_registrations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_login_states')),
    sa.UniqueConstraint('nonce', name='uq_lti_login_states_nonce'),
    sa.UniqueConstraint('state', name='uq_lti_login_states_state')
    )
    with op.batch_alter_table('lti_login_states', schema=None) as batch_op:
        batch_op.create_index('ix_lti_login_states_expires', ['expires_at'], unique=False)

    op.create_table('lti_used_nonces',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=False),
    sa.Column('nonce', sa.String(length=128), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['registration_id'], ['lti_registrations.id'], name=op.f('fk_lti_used_nonces_registration_id_lti_registrations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_used_nonces')),
    sa.UniqueConstraint('registration_id', 'nonce', name='uq_lti_used_nonces_registration_nonce')
    )
    with op.batch_alter_table('lti_used_nonces', schema=None) as batch_op:
        batch_op.create_index('ix_lti_used_nonces_expires', ['expires_at'], unique=False)

    op.create_table('course_progress',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seat_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('location', sa.String(length=1000), nullable=False),
    sa.Column('completion_status', sa.String(length=20), nullable=False),
    sa.Column('success_status', sa.String(length=10), nullable=False),
    sa.Column('score_raw', sa.Float(), nullable=True),
    sa.Column('score_min', sa.Float(), nullable=True),
    sa.Column('score_max', sa.Float(), nullable=True),
    sa.Column('score_scaled', sa.Float(), nullable=True),
    sa.Column('total_time_seconds', sa.Integer(), nullable=False),
    sa.Column('session_count', sa.Integer(), nullable=False),
    sa.Column('suspend_data', sa.Text(), nullable=False),
    sa.Column('cmi', sa.JSON(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("completion_status IN ('not attempted', 'incomplete', 'completed')", name=op.f('ck_course_progress_completion_status_known')),
    sa.CheckConstraint("success_status IN ('unknown', 'passed', 'failed')", name=op.f('ck_course_progress_success_status_known')),
    sa.CheckConstraint('score_scaled IS NULL OR (score_scaled >= -1 AND score_scaled <= 1)', name=op.f('ck_course_progress_scaled_in_range')),
    sa.CheckConstraint('total_time_seconds >= 0', name=op.f('ck_course_progress_time_not_negative')),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_course_progress_course_id_courses')),
    sa.ForeignKeyConstraint(['seat_id'], ['seats.id'], name=op.f('fk_course_progress_seat_id_seats'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_course_progress')),
    sa.UniqueConstraint('seat_id', 'course_id', name='uq_course_progress_seat_course')
    )
    with op.batch_alter_table('course_progress', schema=None) as batch_op:
        batch_op.create_index('ix_course_progress_course', ['course_id'], unique=False)

    op.create_table('lti_score_posts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=False),
    sa.Column('seat_id', sa.Integer(), nullable=True),
    sa.Column('lineitem_url', sa.String(length=2000), nullable=False),
    sa.Column('lineitems_url', sa.String(length=2000), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'sent', 'failed')", name=op.f('ck_lti_score_posts_status_known')),
    sa.CheckConstraint('attempts >= 0', name=op.f('ck_lti_score_posts_attempts_not_negative')),
    sa.ForeignKeyConstraint(['registration_id'], ['lti_registrations.id'], name=op.f('fk_lti_score_posts_registration_id_lti_registrations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['seat_id'], ['seats.id'], name=op.f('fk_lti_score_posts_seat_id_seats'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_score_posts'))
    )
    with op.batch_alter_table('lti_score_posts', schema=None) as batch_op:
        batch_op.create_index('ix_lti_score_posts_status_next', ['status', 'next_attempt_at'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('lti_score_posts', schema=None) as batch_op:
        batch_op.drop_index('ix_lti_score_posts_status_next')

    op.drop_table('lti_score_posts')
    with op.batch_alter_table('course_progress', schema=None) as batch_op:
        batch_op.drop_index('ix_course_progress_course')

    op.drop_table('course_progress')
    with op.batch_alter_table('lti_used_nonces', schema=None) as batch_op:
        batch_op.drop_index('ix_lti_used_nonces_expires')

    op.drop_table('lti_used_nonces')
    with op.batch_alter_table('lti_login_states', schema=None) as batch_op:
        batch_op.drop_index('ix_lti_login_states_expires')

    op.drop_table('lti_login_states')
    with op.batch_alter_table('lti_launches', schema=None) as batch_op:
        batch_op.drop_index('ix_lti_launches_expires')

    op.drop_table('lti_launches')
    op.drop_table('lti_deployments')
    with op.batch_alter_table('lti_registrations', schema=None) as batch_op:
        batch_op.drop_index('ix_lti_registrations_account')

    op.drop_table('lti_registrations')
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_web_sessions_expires')

    op.drop_table('web_sessions')
    op.drop_table('lti_tool_keys')
    op.drop_table('lti_service_tokens')
    op.drop_table('lti_platform_key_sets')


"""outbound safety: registration review, JWKS refetch throttle, rate limit counters

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('lti_registrations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('needs_review', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('jwks_refetched_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table('rate_limit_counters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=50), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('hits', sa.Integer(), nullable=False),
    sa.CheckConstraint('hits >= 0', name=op.f('ck_rate_limit_counters_hits_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rate_limit_counters')),
    sa.UniqueConstraint('scope', 'key', 'window_start', name='uq_rate_limit_counters_scope_key_window')
    )


def downgrade() -> None:
    op.drop_table('rate_limit_counters')
    with op.batch_alter_table('lti_registrations', schema=None) as batch_op:
        batch_op.drop_column('jwks_refetched_at')
        batch_op.drop_column('reviewed_at')
        batch_op.drop_column('needs_review')

"""dispatch launch security: single-use launch tokens, the generation of each launch, every
refusal recorded

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

OLD_OUTCOMES = "outcome IN ('seat', 'refused', 'domain_not_allowed', 'rate_limited')"
NEW_OUTCOMES = ("outcome IN ('seat', 'refused', 'domain_not_allowed', 'rate_limited', 'replayed', 'replaced', "
                "'content_unavailable', 'busy')")


def upgrade() -> None:
    op.create_table('dispatch_launch_tokens',
    sa.Column('package_id', sa.Integer(), nullable=False),
    sa.Column('jti', sa.String(length=128), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('length(jti) > 0', name=op.f('ck_dispatch_launch_tokens_jti_not_blank')),
    sa.ForeignKeyConstraint(['package_id'], ['dispatch_packages.id'],
                            name=op.f('fk_dispatch_launch_tokens_package_id_dispatch_packages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('package_id', 'jti', name=op.f('pk_dispatch_launch_tokens'))
    )
    with op.batch_alter_table('dispatch_launch_tokens', schema=None) as batch_op:
        batch_op.create_index('ix_dispatch_launch_tokens_expires_at', ['expires_at'], unique=False)

    with op.batch_alter_table('dispatch_launches', schema=None) as batch_op:
        batch_op.add_column(sa.Column('generation', sa.Integer(), nullable=True))
        batch_op.drop_constraint(op.f('ck_dispatch_launches_outcome_known'), type_='check')
        batch_op.create_check_constraint('outcome_known', NEW_OUTCOMES)


def downgrade() -> None:
    op.execute("DELETE FROM dispatch_launches WHERE outcome NOT IN "
               "('seat', 'refused', 'domain_not_allowed', 'rate_limited')")
    with op.batch_alter_table('dispatch_launches', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_dispatch_launches_outcome_known'), type_='check')
        batch_op.create_check_constraint('outcome_known', OLD_OUTCOMES)
        batch_op.drop_column('generation')
    with op.batch_alter_table('dispatch_launch_tokens', schema=None) as batch_op:
        batch_op.drop_index('ix_dispatch_launch_tokens_expires_at')
    op.drop_table('dispatch_launch_tokens')

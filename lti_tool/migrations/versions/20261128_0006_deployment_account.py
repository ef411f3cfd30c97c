"""deployment account

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('lti_deployments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('account_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_lti_deployments_account_id_accounts'), 'accounts', ['account_id'], ['id'], ondelete='CASCADE')


def downgrade() -> None:
    with op.batch_alter_table('lti_deployments', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_lti_deployments_account_id_accounts'), type_='foreignkey')
        batch_op.drop_column('account_id')

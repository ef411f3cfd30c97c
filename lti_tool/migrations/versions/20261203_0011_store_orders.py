"""the store: carts, orders and their lines, quote requests, subscription renewals, and the local
payment gateway's ledger (its tokenized test cards, charges and refunds)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('local_gateway_charges',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('charge_id', sa.String(length=64), nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=False),
    sa.Column('token', sa.String(length=200), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('off_session', sa.Boolean(), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('failure_reason', sa.String(length=40), nullable=True),
    sa.Column('refunded_cents', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status = 'succeeded' OR refunded_cents = 0", name=op.f('ck_local_gateway_charges_refund_only_if_succeeded')),
    sa.CheckConstraint("status IN ('succeeded', 'failed')", name=op.f('ck_local_gateway_charges_status_known')),
    sa.CheckConstraint('amount_cents > 0', name=op.f('ck_local_gateway_charges_amount_positive')),
    sa.CheckConstraint('refunded_cents >= 0 AND refunded_cents <= amount_cents', name=op.f('ck_local_gateway_charges_refund_within_amount')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_local_gateway_charges')),
    sa.UniqueConstraint('charge_id', name='uq_local_gateway_charges_charge_id'),
    sa.UniqueConstraint('idempotency_key', name='uq_local_gateway_charges_idempotency_key')
    )
    op.create_table('local_gateway_methods',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('brand', sa.String(length=20), nullable=False),
    sa.Column('last4', sa.String(length=4), nullable=False),
    sa.Column('exp_month', sa.Integer(), nullable=False),
    sa.Column('exp_year', sa.Integer(), nullable=False),
    sa.Column('behavior', sa.String(length=30), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("behavior IN ('succeed', 'decline', 'insufficient_funds', 'decline_off_session')", name=op.f('ck_local_gateway_methods_behavior_known')),
    sa.CheckConstraint('length(last4) = 4', name=op.f('ck_local_gateway_methods_last4_is_four_digits')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_local_gateway_methods')),
    sa.UniqueConstraint('token', name='uq_local_gateway_methods_token')
    )
    op.create_table('local_gateway_refunds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('refund_id', sa.String(length=64), nullable=False),
    sa.Column('charge_pk', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount_cents > 0', name=op.f('ck_local_gateway_refunds_amount_positive')),
    sa.ForeignKeyConstraint(['charge_pk'], ['local_gateway_charges.id'], name=op.f('fk_local_gateway_refunds_charge_pk_local_gateway_charges'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_local_gateway_refunds')),
    sa.UniqueConstraint('idempotency_key', name='uq_local_gateway_refunds_idempotency_key'),
    sa.UniqueConstraint('refund_id', name='uq_local_gateway_refunds_refund_id')
    )
    op.create_table('orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('learner_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('total_cents', sa.BigInteger(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=False),
    sa.Column('gateway', sa.String(length=10), nullable=False),
    sa.Column('payment_token', sa.String(length=200), nullable=True),
    sa.Column('card_brand', sa.String(length=20), nullable=True),
    sa.Column('card_last4', sa.String(length=4), nullable=True),
    sa.Column('charge_id', sa.String(length=100), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failure_reason', sa.String(length=40), nullable=True),
    sa.Column('failure_message', sa.String(length=300), nullable=True),
    sa.Column('billing_name', sa.String(length=200), nullable=True),
    sa.Column('billing_email', sa.String(length=320), nullable=True),
    sa.Column('billing_company', sa.String(length=200), nullable=True),
    sa.Column('billing_address', sa.String(length=1000), nullable=True),
    sa.Column('billing_country', sa.String(length=2), nullable=True),
    sa.Column('consent_recurring', sa.Boolean(), nullable=False),
    sa.Column('subscription_id', sa.Integer(), nullable=True),
    sa.Column('renews_period_end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('fulfilled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind IN ('purchase', 'renewal')", name=op.f('ck_orders_kind_known')),
    sa.CheckConstraint("status IN ('pending', 'paid', 'fulfilled', 'failed', 'cancelled')", name=op.f('ck_orders_status_known')),
    sa.CheckConstraint('attempts >= 0', name=op.f('ck_orders_attempts_not_negative')),
    sa.CheckConstraint('card_last4 IS NULL OR length(card_last4) = 4', name=op.f('ck_orders_card_last4_is_four_digits')),
    sa.CheckConstraint('total_cents >= 0', name=op.f('ck_orders_total_not_negative')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_orders_account_id_accounts')),
    sa.ForeignKeyConstraint(['learner_id'], ['learners.id'], name=op.f('fk_orders_learner_id_learners'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['subscription_id'], ['plus_subscriptions.id'], name=op.f('fk_orders_subscription_id_plus_subscriptions'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_orders')),
    sa.UniqueConstraint('idempotency_key', name='uq_orders_idempotency_key')
    )
    op.create_index('ix_orders_account_created', 'orders', ['account_id', 'created_at'], unique=False)
    op.create_index('ix_orders_status_attempt', 'orders', ['status', 'last_attempt_at'], unique=False)
    op.create_index('ix_orders_subscription', 'orders', ['subscription_id'], unique=False)
    op.create_table('quote_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('learner_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_quote_requests_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['learner_id'], ['learners.id'], name=op.f('fk_quote_requests_learner_id_learners'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quote_requests'))
    )
    op.create_index('ix_quote_requests_created', 'quote_requests', ['created_at'], unique=False)
    op.create_table('carts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('learner_id', sa.Integer(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('nonce', sa.String(length=32), nullable=False),
    sa.Column('pending_order_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('revision >= 0', name=op.f('ck_carts_revision_not_negative')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_carts_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['learner_id'], ['learners.id'], name=op.f('fk_carts_learner_id_learners'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['pending_order_id'], ['orders.id'], name=op.f('fk_carts_pending_order_id_orders'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_carts')),
    sa.UniqueConstraint('account_id', 'learner_id', name='uq_carts_account_learner')
    )
    op.create_table('order_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('course_pk', sa.Integer(), nullable=True),
    sa.Column('catalog_id', sa.String(length=200), nullable=True),
    sa.Column('term', sa.String(length=10), nullable=True),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('list_unit_cents', sa.BigInteger(), nullable=False),
    sa.Column('unit_cents', sa.BigInteger(), nullable=False),
    sa.Column('discount_percent', sa.Integer(), nullable=False),
    sa.Column('proration_numerator', sa.BigInteger(), nullable=True),
    sa.Column('proration_denominator', sa.BigInteger(), nullable=True),
    sa.Column('line_total_cents', sa.BigInteger(), nullable=False),
    sa.Column('subscription_id', sa.Integer(), nullable=True),
    sa.Column('lot_id', sa.Integer(), nullable=True),
    sa.Column('period_start', sa.DateTime(timezone=True), nullable=True),
    sa.Column('period_end', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("(kind = 'volume') = (course_pk IS NOT NULL)", name=op.f('ck_order_lines_course_only_for_volume')),
    sa.CheckConstraint("kind IN ('plus_new', 'plus_seats', 'plus_renewal', 'volume')", name=op.f('ck_order_lines_kind_known')),
    sa.CheckConstraint('line_total_cents >= 0 AND unit_cents >= 0 AND list_unit_cents >= 0', name=op.f('ck_order_lines_money_not_negative')),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_order_lines_quantity_positive')),
    sa.ForeignKeyConstraint(['course_pk'], ['courses.id'], name=op.f('fk_order_lines_course_pk_courses')),
    sa.ForeignKeyConstraint(['lot_id'], ['volume_lots.id'], name=op.f('fk_order_lines_lot_id_volume_lots'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_lines_order_id_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subscription_id'], ['plus_subscriptions.id'], name=op.f('fk_order_lines_subscription_id_plus_subscriptions'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_lines')),
    sa.UniqueConstraint('order_id', 'position', name='uq_order_lines_order_position')
    )
    op.create_table('subscription_renewals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('subscription_id', sa.Integer(), nullable=False),
    sa.Column('period_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('grace_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('failure_reason', sa.String(length=40), nullable=True),
    sa.Column('failure_message', sa.String(length=300), nullable=True),
    sa.Column('last_order_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('open', 'renewed', 'ended')", name=op.f('ck_subscription_renewals_status_known')),
    sa.CheckConstraint('attempts >= 0', name=op.f('ck_subscription_renewals_attempts_not_negative')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_subscription_renewals_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['last_order_id'], ['orders.id'], name=op.f('fk_subscription_renewals_last_order_id_orders'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['subscription_id'], ['plus_subscriptions.id'], name=op.f('fk_subscription_renewals_subscription_id_plus_subscriptions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscription_renewals')),
    sa.UniqueConstraint('subscription_id', 'period_end', name='uq_subscription_renewals_term')
    )
    op.create_index('ix_subscription_renewals_account', 'subscription_renewals', ['account_id', 'status'], unique=False)
    op.create_table('cart_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cart_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('line_key', sa.String(length=40), nullable=False),
    sa.Column('term', sa.String(length=10), nullable=True),
    sa.Column('course_pk', sa.Integer(), nullable=True),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(kind = 'plus' AND term IN ('annual', 'monthly') AND course_pk IS NULL) OR (kind = 'volume' AND course_pk IS NOT NULL AND term IS NULL)", name=op.f('ck_cart_lines_item_matches_kind')),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_cart_lines_quantity_positive')),
    sa.ForeignKeyConstraint(['cart_id'], ['carts.id'], name=op.f('fk_cart_lines_cart_id_carts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['course_pk'], ['courses.id'], name=op.f('fk_cart_lines_course_pk_courses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cart_lines')),
    sa.UniqueConstraint('cart_id', 'line_key', name='uq_cart_lines_cart_item')
    )


def downgrade() -> None:
    op.drop_table("cart_lines")
    op.drop_index("ix_subscription_renewals_account", table_name="subscription_renewals")
    op.drop_table("subscription_renewals")
    op.drop_table("order_lines")
    op.drop_table("carts")
    op.drop_index("ix_quote_requests_created", table_name="quote_requests")
    op.drop_table("quote_requests")
    op.drop_index("ix_orders_subscription", table_name="orders")
    op.drop_index("ix_orders_status_attempt", table_name="orders")
    op.drop_index("ix_orders_account_created", table_name="orders")
    op.drop_table("orders")
    op.drop_table("local_gateway_refunds")
    op.drop_table("local_gateway_methods")
    op.drop_table("local_gateway_charges")

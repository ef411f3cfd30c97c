"""``lti-tool billing reconcile``: orders left pending (a crash or a lost connection between the
charge and its record) are settled by asking the gateway what happened under their idempotency
key: a charge that succeeded completes the order (paid, fulfilled, licenses); a declined one
fails it; none at all cancels it (a renewal is then tried again by the next ``billing renew``).
Only orders whose last charge attempt is older than ``older_than`` (default a minute) are
looked at, so a checkout in progress is left alone; and an order a customer's retry starts
charging meanwhile is not cancelled (the attempt counter changed)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from store.base import require_aware
from store.orders import fulfillment, rules
from store.orders.models import Order
from store.payments.errors import PaymentError
from store.payments.gateway import Charge, PaymentGateway

log = logging.getLogger(__name__)

DEFAULT_AGE = timedelta(minutes=1)


@dataclass
class ReconcileReport:
    completed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    still_pending: list[str] = field(default_factory=list)  # processing at the gateway, or it could not be asked

    @property
    def has_errors(self) -> bool:
        return bool(self.still_pending)


def reconcile_pending(sessions: sessionmaker[Session], gateway: PaymentGateway, now: datetime, *,
                      older_than: timedelta = DEFAULT_AGE) -> ReconcileReport:
    now = require_aware(now, "now")
    cutoff = now - older_than
    report = ReconcileReport()
    with sessions() as session:
        pending = session.execute(
            select(Order.id, Order.idempotency_key, Order.payment_token, Order.total_cents, Order.created_at,
                   Order.attempts, Order.gateway)
            .where(Order.status == rules.PENDING, func.coalesce(Order.last_attempt_at, Order.created_at) <= cutoff)
            .order_by(Order.id)).all()
    for order_id, key, token, total, created_at, attempts, gateway_name in pending:
        number = rules.order_number(order_id)
        if gateway_name != gateway.name:
            log.warning("order %s was charged through the %s gateway, not %s: left pending", number, gateway_name,
                        gateway.name)
            report.still_pending.append(number)
            continue
        try:
            charge = _ask(gateway, key, token, total, created_at)
        except PaymentError as exc:
            log.warning("order %s: the gateway could not be asked (%s)", number, exc.reason)
            report.still_pending.append(number)
            continue
        try:
            with sessions.begin() as session:
                if charge is None:
                    fulfillment.cancel_unpaid(session, order_id, attempts, now)
                    outcome = rules.CANCELLED
                else:
                    outcome = fulfillment.record_outcome(session, order_id, charge, now).status
        except fulfillment.StaleOrder:
            report.still_pending.append(number)  # a retry is charging it right now
            continue
        {rules.FULFILLED: report.completed, rules.FAILED: report.failed,
         rules.CANCELLED: report.cancelled}.get(outcome, report.still_pending).append(number)
        log.info("order %s reconciled: %s", number, outcome)
    return report


def _ask(gateway: PaymentGateway, key: str, token: str | None, total: int, created_at: datetime) -> Charge | None:
    if total == 0:
        return Charge(None, "succeeded", 0)  # nothing to charge: the customer's order stands
    if not token:
        return None
    return gateway.find_charge(key, token, created_at)


__all__ = ["ReconcileReport", "reconcile_pending"]

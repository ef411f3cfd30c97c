"""The local gateway: the embedded default, behaving like a processor's test mode.

It takes only the test cards of :mod:`store.payments.cards` and keeps its own ledger
(``local_gateway_methods``, ``local_gateway_charges``, ``local_gateway_refunds``), written in
transactions of its own, as a processor's records would be: never inside an order's
transaction. The card number stops at :meth:`LocalGateway.tokenize`: the ledger keeps a random
token, the brand, the last four digits, the expiry and the test behaviour.

One charge per idempotency key: the key is unique in the ledger, so a double submit, a retry or
two processes asking at once get the first charge's outcome (on PostgreSQL the second insert
waits for the first and then finds it).
"""

from __future__ import annotations

import logging
import re
import secrets
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from store.base import require_aware, utcnow
from store.errors import InvalidInput, NotFound
from store.payments import cards
from store.payments.errors import PaymentDeclined, PaymentError
from store.payments.gateway import FAILED, SUCCEEDED, CardDetails, CardToken, Charge, Refund, decline
from store.payments.models import LocalCharge, LocalPaymentMethod, LocalRefund

log = logging.getLogger(__name__)

KEY_MAX = 200
_TOKEN = re.compile(r"^tok_local_[0-9a-f]{32}$")
MAX_TRIES = 3


def _check_key(idempotency_key: str) -> str:
    if not isinstance(idempotency_key, str) or not idempotency_key.strip() or len(idempotency_key) > KEY_MAX \
            or not idempotency_key.isprintable():
        raise InvalidInput("idempotency key must be 1 to 200 printable characters", reason="invalid_idempotency_key")
    return idempotency_key


def _check_amount(amount_cents: int) -> int:
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int) or amount_cents <= 0:
        raise InvalidInput(f"amount must be a positive number of cents, got {amount_cents!r}", reason="invalid_amount")
    return amount_cents


class LocalGateway:
    """:class:`~store.payments.gateway.PaymentGateway` on the local ledger tables."""

    name = "local"
    publishable_key: str | None = None

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    # -------------------------------------------------------- cards

    def tokenize(self, card: CardDetails, now: datetime) -> CardToken:
        now = require_aware(now, "now")
        brand, behavior = cards.lookup_test_card(card)  # CardInvalid for anything but a test card
        cards.check_card_expiry(card, now)
        cards.check_cvc(card.cvc)
        last4 = cards.normalize_number(card.number)[-4:]
        token = f"tok_local_{secrets.token_hex(16)}"
        with self._sessions.begin() as session:
            session.add(LocalPaymentMethod(token=token, brand=brand, last4=last4, exp_month=card.exp_month,
                                           exp_year=card.exp_year, behavior=behavior, created_at=now))
        return CardToken(token, last4, brand, card.exp_month, card.exp_year)

    def save_method(self, method_ref: str, *, email: str | None, idempotency_key: str) -> CardToken:
        with self._sessions() as session:
            method = self._method(session, method_ref)
        if method is None:
            raise PaymentDeclined(*decline("invalid_payment_method"))
        return CardToken(method.token, method.last4, method.brand, method.exp_month, method.exp_year)

    @staticmethod
    def _method(session: Session, token: str) -> LocalPaymentMethod | None:
        if not isinstance(token, str) or not _TOKEN.match(token):
            return None
        return session.scalars(select(LocalPaymentMethod).where(LocalPaymentMethod.token == token)).first()

    # -------------------------------------------------------- charges

    def charge(self, amount_cents: int, currency: str, token: str, idempotency_key: str, *,
               off_session: bool, description: str) -> Charge:
        _check_amount(amount_cents)
        _check_key(idempotency_key)
        for _attempt in range(MAX_TRIES):
            try:
                with self._sessions.begin() as session:
                    existing = self._charge_by_key(session, idempotency_key)
                    if existing is not None:
                        if existing.amount_cents != amount_cents or existing.token != token:
                            raise PaymentError("this idempotency key was used for another charge",
                                               reason="idempotency_mismatch")
                        return self._view(existing)
                    row = self._new_charge(session, amount_cents, currency, token, idempotency_key, off_session,
                                           description)
                    session.flush()
                    view = self._view(row)
                log.info("local gateway: charge %s %s (%d cents, %s)", view.id, view.status, amount_cents,
                         "off-session" if off_session else "on-session")
                return view
            except IntegrityError:
                continue  # a concurrent charge under the same key won: the next try returns it
        raise PaymentError("the charge kept colliding with a concurrent one", reason="busy")

    def _new_charge(self, session: Session, amount_cents: int, currency: str, token: str, key: str,
                    off_session: bool, description: str) -> LocalCharge:
        method = self._method(session, token)
        reason: str | None = None
        now = utcnow()
        if method is None:
            reason = "invalid_payment_method"
        elif (method.exp_year, method.exp_month) < (now.year, now.month):
            reason = "expired_card"
        elif method.behavior == cards.DECLINE or (method.behavior == cards.DECLINE_OFF_SESSION and off_session):
            reason = "card_declined"
        elif method.behavior == cards.INSUFFICIENT_FUNDS:
            reason = "insufficient_funds"
        row = LocalCharge(charge_id=f"ch_local_{secrets.token_hex(12)}", idempotency_key=key, token=token,
                          amount_cents=amount_cents, currency=currency.upper()[:3], off_session=off_session,
                          description=description[:500], status=FAILED if reason else SUCCEEDED,
                          failure_reason=reason, refunded_cents=0, created_at=now)
        session.add(row)
        return row

    @staticmethod
    def _charge_by_key(session: Session, key: str) -> LocalCharge | None:
        return session.scalars(select(LocalCharge).where(LocalCharge.idempotency_key == key)).first()

    @staticmethod
    def _view(row: LocalCharge) -> Charge:
        if row.status == SUCCEEDED:
            return Charge(row.charge_id, SUCCEEDED, row.amount_cents)
        return Charge.declined(row.failure_reason, row.amount_cents, row.charge_id)

    def find_charge(self, idempotency_key: str, token: str, since: datetime) -> Charge | None:
        with self._sessions() as session:
            row = self._charge_by_key(session, idempotency_key)
            return None if row is None else self._view(row)

    # -------------------------------------------------------- refunds

    def refund(self, charge_id: str, amount_cents: int, idempotency_key: str) -> Refund:
        _check_amount(amount_cents)
        _check_key(idempotency_key)
        for _attempt in range(MAX_TRIES):
            try:
                with self._sessions.begin() as session:
                    found = session.execute(
                        select(LocalRefund, LocalCharge.charge_id).join(LocalCharge, LocalCharge.id == LocalRefund.charge_pk)
                        .where(LocalRefund.idempotency_key == idempotency_key)).first()
                    if found is not None:
                        return Refund(found[0].refund_id, found[1], found[0].amount_cents, SUCCEEDED)
                    charge = session.scalars(select(LocalCharge).where(LocalCharge.charge_id == charge_id)).first()
                    if charge is None:
                        raise NotFound(f"unknown charge {charge_id!r}", reason="unknown_charge")
                    taken = session.execute(
                        update(LocalCharge).where(
                            LocalCharge.id == charge.id, LocalCharge.status == SUCCEEDED,
                            LocalCharge.refunded_cents + amount_cents <= LocalCharge.amount_cents)
                        .values(refunded_cents=LocalCharge.refunded_cents + amount_cents)).rowcount
                    if taken != 1:
                        raise PaymentError("the refund is more than what is left of the charge",
                                           reason="refund_exceeds_charge")
                    refund = LocalRefund(refund_id=f"re_local_{secrets.token_hex(12)}", charge_pk=charge.id,
                                         idempotency_key=idempotency_key, amount_cents=amount_cents, created_at=utcnow())
                    session.add(refund)
                    session.flush()
                    return Refund(refund.refund_id, charge_id, amount_cents, SUCCEEDED)
            except IntegrityError:
                continue
        raise PaymentError("the refund kept colliding with a concurrent one", reason="busy")


__all__ = ["LocalGateway"]

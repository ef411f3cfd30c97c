"""The local gateway on both databases: tokens instead of card numbers, one charge per
idempotency key, declines by test card, off-session declines, refunds, lookups."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.errors import InvalidInput, NotFound
from store.payments.cards import read_card
from store.payments.errors import CardInvalid, PaymentDeclined, PaymentError
from store.payments.local import LocalGateway
from store.payments.models import LocalCharge, LocalPaymentMethod
from tests.factories.orders import DECLINED, DECLINED_LATER, NO_FUNDS, T0, VISA

Sessions = sessionmaker[Session]


def token(gateway: LocalGateway, number: str) -> str:
    return gateway.tokenize(read_card(number, "12/30", "123", T0), T0).token


def test_a_token_keeps_brand_last_four_and_expiry_never_the_number(sessions: Sessions) -> None:
    gateway = LocalGateway(sessions)
    saved = gateway.tokenize(read_card("5555 5555 5555 4444", "07/31", "321", T0), T0)
    assert (saved.brand, saved.last4, saved.exp_month, saved.exp_year) == ("mastercard", "4444", 7, 2031)
    assert gateway.save_method(saved.token, email=None, idempotency_key="k") == saved
    with sessions() as s:
        row = s.scalars(select(LocalPaymentMethod)).one()
    assert row.token == saved.token and "5555555555554444" not in repr(vars(row))
    with pytest.raises(CardInvalid) as unknown:
        gateway.tokenize(read_card("4111 1111 1111 1111", "12/30", "123", T0), T0)
    assert unknown.value.reason == "unknown_test_card"
    with pytest.raises(PaymentDeclined):
        gateway.save_method("tok_local_nothing", email=None, idempotency_key="k")


def test_one_charge_per_key(sessions: Sessions) -> None:
    gateway = LocalGateway(sessions)
    visa = token(gateway, VISA)
    first = gateway.charge(1_000, "USD", visa, "key-1", off_session=False, description="x")
    assert first.succeeded and first.id and first.id.startswith("ch_local_")
    assert gateway.charge(1_000, "USD", visa, "key-1", off_session=False, description="x") == first
    with pytest.raises(PaymentError) as reused:
        gateway.charge(2_000, "USD", visa, "key-1", off_session=False, description="x")
    assert reused.value.reason == "idempotency_mismatch"
    assert gateway.find_charge("key-1", visa, T0) == first and gateway.find_charge("key-2", visa, T0) is None
    with pytest.raises(InvalidInput):
        gateway.charge(0, "USD", visa, "key-3", off_session=False, description="x")
    with sessions() as s:
        assert len(s.scalars(select(LocalCharge)).all()) == 1


@pytest.mark.parametrize("number, on_session, off_session", [
    (VISA, None, None), (DECLINED, "card_declined", "card_declined"),
    (NO_FUNDS, "insufficient_funds", "insufficient_funds"), (DECLINED_LATER, None, "card_declined"),
])
def test_test_cards(sessions: Sessions, number: str, on_session: str | None, off_session: str | None) -> None:
    gateway = LocalGateway(sessions)
    saved = token(gateway, number)
    now_charge = gateway.charge(500, "USD", saved, f"{number}-on", off_session=False, description="checkout")
    later = gateway.charge(500, "USD", saved, f"{number}-off", off_session=True, description="renewal")
    assert (now_charge.failure_reason, later.failure_reason) == (on_session, off_session)
    assert now_charge.succeeded == (on_session is None) and later.succeeded == (off_session is None)
    unknown = gateway.charge(500, "USD", "tok_local_gone", f"{number}-gone", off_session=False, description="x")
    assert unknown.failure_reason == "invalid_payment_method"


def test_refunds(sessions: Sessions) -> None:
    gateway = LocalGateway(sessions)
    charge = gateway.charge(1_000, "USD", token(gateway, VISA), "c", off_session=False, description="x")
    assert charge.id is not None
    part = gateway.refund(charge.id, 400, "r-1")
    assert (part.amount_cents, part.charge_id) == (400, charge.id)
    assert gateway.refund(charge.id, 400, "r-1") == part  # the same key: the same refund
    with pytest.raises(PaymentError) as too_much:
        gateway.refund(charge.id, 601, "r-2")
    assert too_much.value.reason == "refund_exceeds_charge"
    gateway.refund(charge.id, 600, "r-3")
    with sessions() as s:
        assert s.scalars(select(LocalCharge.refunded_cents)).one() == 1_000
    declined = gateway.charge(1_000, "USD", token(gateway, DECLINED), "d", off_session=False, description="x")
    assert declined.id is not None
    with pytest.raises(PaymentError):
        gateway.refund(declined.id, 1, "r-4")
    with pytest.raises(NotFound):
        gateway.refund("ch_local_none", 1, "r-5")

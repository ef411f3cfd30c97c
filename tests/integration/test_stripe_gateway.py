"""The Stripe adapter (the official ``stripe`` package) against a local HTTP double of the Stripe
endpoints it calls, pointed to by ``STRIPE_API_BASE``: saving a card, charges under idempotency
keys, declines, off-session renewals, a network error, a lost answer settled by reconciliation,
refunds, and the outbound policy applied to every request."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from config import ConfigError
from store.base import utcnow
from store.errors import InvalidInput
from store.orders import service as store
from store.payments import gateway_for
from store.payments.errors import PaymentDeclined, PaymentError, PaymentUnavailable
from store.payments.stripe_gateway import StripeGateway
from tests.factories.catalog import make_course
from tests.factories.orders import Shop, make_buyer, store_settings
from tests.factories.stripe_double import PUBLISHABLE_KEY, SECRET_KEY, StripeDouble, serve_stripe_double

Sessions = sessionmaker[Session]


@pytest.fixture
def double() -> Iterator[StripeDouble]:
    with serve_stripe_double() as running:
        yield running


def stripe_settings(double: StripeDouble, **overrides: object):  # type: ignore[no-untyped-def]
    values: dict[str, object] = {"payment_gateway": "stripe", "stripe_secret_key": SECRET_KEY,
                                 "stripe_publishable_key": PUBLISHABLE_KEY, "stripe_api_base": double.url}
    return store_settings(**{**values, **overrides})


@pytest.fixture
def gateway(double: StripeDouble, sessions: Sessions) -> StripeGateway:
    built = gateway_for(stripe_settings(double), sessions)
    assert isinstance(built, StripeGateway) and built.publishable_key == PUBLISHABLE_KEY
    return built


def posts(double: StripeDouble, path: str) -> list[dict[str, object]]:
    return [r for r in double.requests if r["method"] == "POST" and r["path"] == path]


def test_a_saved_card_is_a_customer_with_its_payment_method(gateway: StripeGateway, double: StripeDouble) -> None:
    saved = gateway.save_method("pm_card_visa", email="ann@example.com", idempotency_key="co_1")
    customer, method = saved.token.split(":")
    assert customer.startswith("cus_") and method == "pm_card_visa"
    assert (saved.brand, saved.last4, saved.exp_month, saved.exp_year) == ("visa", "4242", 12, 2034)
    (created,) = posts(double, "/v1/customers")
    assert created["form"] == {"payment_method": "pm_card_visa", "email": "ann@example.com",
                               "invoice_settings[default_payment_method]": "pm_card_visa"}
    assert created["idempotency_key"] == "co_1:customer" and created["authorization"] == f"Bearer {SECRET_KEY}"
    assert gateway.save_method("pm_card_visa", email="ann@example.com", idempotency_key="co_1") == saved  # replayed
    with pytest.raises(PaymentDeclined) as unknown:
        gateway.save_method("pm_card_nothing", email=None, idempotency_key="co_2")
    assert unknown.value.reason == "invalid_payment_method"
    with pytest.raises(InvalidInput):
        gateway.save_method("4242424242424242", email=None, idempotency_key="co_3")  # never a card number
    with pytest.raises(PaymentError) as no_numbers:
        gateway.tokenize(None, utcnow())  # type: ignore[arg-type]
    assert no_numbers.value.reason == "tokenize_not_supported"


def test_a_charge_is_a_confirmed_payment_intent_under_our_key(gateway: StripeGateway, double: StripeDouble) -> None:
    token = gateway.save_method("pm_card_visa", email=None, idempotency_key="co_1").token
    charge = gateway.charge(12_345, "USD", token, "co_abc_1", off_session=False, description="Order ORD-000001")
    assert charge.succeeded and charge.id and charge.id.startswith("pi_") and charge.amount_cents == 12_345
    (sent,) = posts(double, "/v1/payment_intents")
    assert sent["idempotency_key"] == "co_abc_1"
    form = sent["form"]
    assert isinstance(form, dict)
    assert (form["amount"], form["currency"], form["confirm"], form["off_session"]) == ("12345", "usd", "true", "false")
    assert form["metadata[idempotency_key]"] == "co_abc_1" and form["payment_method_types[0]"] == "card"
    again = gateway.charge(12_345, "USD", token, "co_abc_1", off_session=False, description="Order ORD-000001")
    assert again == charge and len(double.intents) == 1  # the same key: Stripe replays, never a second charge
    assert gateway.find_charge("co_abc_1", token, utcnow()) == charge
    assert gateway.find_charge("co_other", token, utcnow()) is None


@pytest.mark.parametrize("method, off_session, reason", [
    ("pm_card_visa_chargeDeclined", False, "card_declined"),
    ("pm_card_visa_chargeDeclinedInsufficientFunds", False, "insufficient_funds"),
    ("pm_card_chargeCustomerFail", True, "card_declined"),
])
def test_declines(gateway: StripeGateway, method: str, off_session: bool, reason: str) -> None:
    token = gateway.save_method(method, email=None, idempotency_key=f"save-{method}").token
    charge = gateway.charge(500, "USD", token, f"k-{method}", off_session=off_session, description="x")
    assert charge.failed and charge.failure_reason == reason and charge.id and charge.id.startswith("pi_")
    assert gateway.find_charge(f"k-{method}", token, utcnow()) == charge


def test_a_network_error_is_an_unknown_outcome_and_the_retry_charges_once(gateway: StripeGateway,
                                                                          double: StripeDouble) -> None:
    token = gateway.save_method("pm_card_visa", email=None, idempotency_key="s").token
    double.fail_next("drop")
    with pytest.raises(PaymentUnavailable):
        gateway.charge(700, "USD", token, "k-net", off_session=False, description="x")
    double.fail_next("500")
    with pytest.raises(PaymentUnavailable):
        gateway.charge(700, "USD", token, "k-net", off_session=False, description="x")
    assert gateway.charge(700, "USD", token, "k-net", off_session=False, description="x").succeeded
    assert len(double.intents) == 1


def test_a_wrong_key_or_a_forged_token_charges_nothing(double: StripeDouble, sessions: Sessions) -> None:
    wrong = gateway_for(stripe_settings(double, stripe_secret_key="sk_test_wrong"), sessions)
    charge = wrong.charge(700, "USD", "cus_abc:pm_card_visa", "k", off_session=False, description="x")
    assert charge.failed and charge.failure_reason == "gateway_error" and double.intents == {}
    forged = wrong.charge(700, "USD", "tok_local_x", "k2", off_session=False, description="x")
    assert forged.failure_reason == "invalid_payment_method" and len(double.requests) == 1
    assert wrong.find_charge("k2", "tok_local_x", utcnow()) is None


def test_refunds(gateway: StripeGateway, double: StripeDouble) -> None:
    token = gateway.save_method("pm_card_visa", email=None, idempotency_key="s").token
    charge = gateway.charge(1_000, "USD", token, "k", off_session=False, description="x")
    assert charge.id is not None
    refund = gateway.refund(charge.id, 400, "r-1")
    assert (refund.amount_cents, refund.charge_id, refund.status) == (400, charge.id, "succeeded")
    assert posts(double, "/v1/refunds")[0]["idempotency_key"] == "r-1"
    with pytest.raises(PaymentError) as too_much:
        gateway.refund(charge.id, 700, "r-2")
    assert too_much.value.reason == "refund_refused"


def test_requests_follow_the_outbound_policy(double: StripeDouble, sessions: Sessions) -> None:
    """In production plain http and loopback addresses are refused before anything is sent."""
    production = stripe_settings(double, env="production", outbound_allow_private=False)
    gateway = gateway_for(production, sessions)
    with pytest.raises(PaymentUnavailable):
        gateway.charge(700, "USD", "cus_abc:pm_card_visa", "k", off_session=False, description="x")
    assert double.requests == []


def test_stripe_needs_its_keys(double: StripeDouble, sessions: Sessions) -> None:
    for missing in ({"stripe_secret_key": ""}, {"stripe_publishable_key": ""}):
        with pytest.raises(ConfigError, match="STRIPE_"):
            gateway_for(stripe_settings(double, **missing), sessions)


# ---------------------------------------------------------------- the store on Stripe


@pytest.fixture
def shop(committing_sessions: Sessions, double: StripeDouble) -> Shop:
    with committing_sessions.begin() as s:
        make_course(s, "VOL-1", is_plus=False, volume_price_cents=1_000)
    settings = stripe_settings(double)
    return Shop(committing_sessions, settings, gateway_for(settings, committing_sessions), make_buyer(committing_sessions))


def test_checkout_and_renewal_on_stripe(shop: Shop, double: StripeDouble) -> None:
    now = utcnow()
    shop.add(store.PlusItem("monthly", 2), now)
    order = shop.checkout(now=now, payment="pm_card_visa")
    assert order.status == "fulfilled" and order.card_last4 == "4242" and order.total_cents == 7_800
    (intent,) = double.intents.values()
    assert (intent["amount"], intent["off_session"]) == (7_800, False)
    with shop.sessions() as s:
        (line,) = store.get_order(s, shop.owner.account_id, order.number).lines
    assert line.period_end is not None
    report = store.renew_due(shop.sessions, shop.settings, shop.gateway, line.period_end + timedelta(minutes=5))
    assert len(report.renewed) == 1
    assert [i["off_session"] for i in double.intents.values()] == [False, True]


def test_a_lost_answer_on_stripe_is_completed_by_reconcile(shop: Shop, double: StripeDouble) -> None:
    now = utcnow()
    shop.add(store.VolumeItem("VOL-1", 3), now)
    double.fail_next("drop_after", "/v1/payment_intents")  # the PaymentIntent is made, its answer lost
    with pytest.raises(PaymentUnavailable):
        shop.checkout(now=now, payment="pm_card_visa")
    with shop.sessions() as s:
        (pending,) = store.list_orders(s, shop.owner.account_id)
    assert pending.status == "pending" and len(double.intents) == 1
    report = store.reconcile_pending(shop.sessions, shop.gateway, now + timedelta(minutes=2))
    assert report.completed == [pending.number]
    assert len(double.intents) == 1

"""Checkout with PAYMENT_GATEWAY=stripe, against the local HTTP double of Stripe's endpoints: the page
shows Stripe's card element container and loads Stripe.js under a policy that allows
js.stripe.com (script, frame) and api.stripe.com (connect) on that page only; the browser posts a
PaymentMethod id; declines, an unreachable gateway (the order waits, Try again completes it with
one charge) and an order cancelled by reconciliation each get a clear message."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.services import services_of
from store.base import utcnow
from store.catalog.service import import_records
from store.licenses.models import VolumeLot
from store.orders import service as orders
from store.orders.models import Order
from store.orders.rules import order_number
from store.payments import gateway_for
from tests.factories.app import override_services
from tests.factories.licenses import make_account
from tests.factories.store import Buyer, Form, Page, make_buyer
from tests.factories.stripe_double import PUBLISHABLE_KEY, SECRET_KEY, StripeDouble, serve_stripe_double

BILLING = {"name": "Ann Admin", "email": "ann@example.com", "company": "", "address": "1 Main Street",
           "country": "GB"}


@pytest.fixture
def double() -> Iterator[StripeDouble]:
    with serve_stripe_double() as running:
        yield running


@pytest.fixture
def stripe_app(app: Flask, double: StripeDouble) -> Flask:
    settings = services_of(app).settings.with_overrides(
        payment_gateway="stripe", stripe_secret_key=SECRET_KEY, stripe_publishable_key=PUBLISHABLE_KEY,
        stripe_api_base=double.url)
    override_services(app, settings=settings, payments=gateway_for(settings, services_of(app).sessions))
    return app


@pytest.fixture
def buyer(stripe_app: Flask, committing_sessions: sessionmaker[Session]) -> Buyer:
    import_records(committing_sessions, [{"id": "C-200", "title": "Advanced Forklift", "publisher": "Safe Co",
                                          "volume_price_cents": 1_000, "ppu_price_cents": 2_500}],
                   full=True, now=utcnow())
    account = make_account(committing_sessions, now=utcnow()).id
    buyer = make_buyer(stripe_app, committing_sessions, account)
    assert buyer.post("/store/cart", {"item": "volume", "catalog_id": "C-200", "quantity": "10"}).status_code == 303
    return buyer


def pay(buyer: Buyer, page: Page | None = None, **changes: str) -> Any:
    page = page or buyer.page("/store/checkout")
    return buyer.submit(page.form_of(page.button("Complete Purchase")), "Complete Purchase", **{**BILLING, **changes})


def intents(double: StripeDouble) -> int:
    return sum(1 for r in double.requests if r["method"] == "POST" and r["path"] == "/v1/payment_intents")


def numbers(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as session:
        return [order_number(i) for i in session.scalars(select(Order.id).order_by(Order.id))]


def orders_of(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(Order.status).order_by(Order.id)))


def test_the_page_has_stripes_card_element_and_its_policy(buyer: Buyer) -> None:
    page = buyer.page("/store/checkout")
    element = page.by_id("card-element")
    assert element.get("data-publishable-key") == PUBLISHABLE_KEY
    assert page.doc.xpath('//*[@id="card-element"]/@aria-labelledby') == ["checkout-card-label"]
    assert page.doc.xpath('//input[@name="payment_method" and @type="hidden"]')
    assert page.doc.xpath('//input[@name="card_number"]') == []  # no card field of ours
    scripts = page.doc.xpath("//script/@src")
    assert scripts == ["https://js.stripe.com/v3/", "/static/js/stripe-checkout.js"]
    assert all(not (s.text or "").strip() for s in page.doc.xpath("//script"))  # no inline script
    policy = page.response.headers["Content-Security-Policy"]
    assert "script-src 'self' https://js.stripe.com;" in policy and "frame-src https://js.stripe.com;" in policy
    assert "connect-src 'self' https://api.stripe.com;" in policy and "frame-ancestors" in policy
    assert "'unsafe-inline'" not in policy
    # Only that page: the cart and the store allow nothing from Stripe.
    for other in ("/store/cart", "/store"):
        assert "stripe" not in buyer.get(other).headers["Content-Security-Policy"]


def test_a_payment_method_id_pays(committing_sessions: sessionmaker[Session], buyer: Buyer,
                                  double: StripeDouble) -> None:
    done = pay(buyer, payment_method="pm_card_visa")
    assert done.status_code == 303 and "/confirmation" in done.headers["Location"]
    assert orders_of(committing_sessions) == ["fulfilled"] and intents(double) == 1
    assert "Visa •••• 4242" in buyer.page(f"/store/orders/{numbers(committing_sessions)[0]}").text


def test_without_a_payment_method_the_card_is_asked_for(committing_sessions: sessionmaker[Session],
                                                        buyer: Buyer) -> None:
    page = Page(pay(buyer))
    assert page.status == 422 and page.by_id("card-errors").text_content() == "Enter your card details."
    not_an_id = Page(pay(buyer, payment_method="4242424242424242"))
    assert not_an_id.status == 422 and "not a Stripe PaymentMethod id" in not_an_id.by_id("card-errors").text_content()
    assert "4242424242424242" not in not_an_id.html
    assert orders_of(committing_sessions) == []


def test_a_decline(committing_sessions: sessionmaker[Session], buyer: Buyer) -> None:
    page = Page(pay(buyer, payment_method="pm_card_visa_chargeDeclined"))
    assert page.status == 402 and "Your card was declined." in page.by_id("checkout-error").text_content()
    assert orders_of(committing_sessions) == ["failed"]
    with committing_sessions() as session:
        assert session.scalar(select(func.count()).select_from(VolumeLot)) == 0


def test_an_unreachable_gateway_waits_and_try_again_charges_once(committing_sessions: sessionmaker[Session],
                                                                 buyer: Buyer, double: StripeDouble) -> None:
    double.fail_next("drop_after", "/v1/payment_intents")  # charged, but the answer is lost
    page = Page(pay(buyer, payment_method="pm_card_visa"))
    assert page.status == 503
    assert "could not be reached" in page.by_id("checkout-error").text_content()
    (number,) = numbers(committing_sessions)
    assert "Payment not confirmed yet" in page.text and number in page.text
    assert orders_of(committing_sessions) == ["pending"]
    # The cart waits for the payment; the checkout page says so and offers Try again.
    assert f"Your payment for this cart is being processed (order {number})" in buyer.page("/store/cart").text
    again = buyer.page("/store/checkout")
    assert again.buttons("Complete Purchase") == []
    done = buyer.submit(again.form_of(again.button("Try again")), "Try again")
    assert done.status_code == 303 and done.headers["Location"].startswith(f"/store/orders/{number}/confirmation")
    assert orders_of(committing_sessions) == ["fulfilled"]
    assert len(double.intents) == 1  # the charge that was made is found, never repeated


def test_try_again_while_still_unreachable(committing_sessions: sessionmaker[Session], buyer: Buyer,
                                           double: StripeDouble) -> None:
    double.fail_next("drop", "/v1/payment_intents")
    assert Page(pay(buyer, payment_method="pm_card_visa")).status == 503
    double.fail_next("drop", "/v1/payment_intents")
    page = buyer.page("/store/checkout")
    still = Page(buyer.submit(page.form_of(page.button("Try again")), "Try again"))
    assert still.status == 503 and "could not be reached" in still.text and still.buttons("Try again")
    assert orders_of(committing_sessions) == ["pending"] and len(double.intents) == 0


def test_an_order_cancelled_by_reconciliation(app: Flask, committing_sessions: sessionmaker[Session], buyer: Buyer,
                                              double: StripeDouble) -> None:
    double.fail_next("drop", "/v1/payment_intents")  # nothing was charged
    checkout = buyer.page("/store/checkout")
    form = checkout.form_of(checkout.button("Complete Purchase"))
    assert Page(buyer.submit(form, "Complete Purchase", **BILLING, payment_method="pm_card_visa")).status == 503
    report = orders.reconcile_pending(services_of(app).sessions, services_of(app).payments,
                                      utcnow() + timedelta(minutes=5))
    assert orders_of(committing_sessions) == ["cancelled"], report
    # The same form again (a retry of the old page): the order was cancelled, the cart is free again.
    page = Page(buyer.submit(form, "Complete Purchase", **BILLING, payment_method="pm_card_visa"))
    assert page.status == 409 and page.by_id("checkout-error").get("data-reason") == "order_cancelled"
    assert "This checkout was cancelled because no payment was made." in page.text
    assert len(double.intents) == 0
    assert pay(buyer, page, payment_method="pm_card_visa").status_code == 303  # a fresh checkout goes through


def test_the_checkout_key_form_field_is_the_carts(buyer: Buyer) -> None:
    page = buyer.page("/store/checkout")
    fields = dict(Form(page.form_of(page.button("Complete Purchase"))).fields())
    assert fields["checkout_key"].startswith("co_") and fields["expected_total"] == "9500"


def test_a_gateway_that_refuses_our_keys(stripe_app: Flask, committing_sessions: sessionmaker[Session],
                                         buyer: Buyer) -> None:
    settings = services_of(stripe_app).settings.with_overrides(stripe_secret_key="sk_test_not_ours")
    override_services(stripe_app, settings=settings, payments=gateway_for(settings, services_of(stripe_app).sessions))
    page = Page(pay(buyer, payment_method="pm_card_visa"))
    assert page.status == 502 and page.by_id("checkout-error").get("data-reason") == "gateway_error"
    assert "Payments are not available right now; nothing was charged. Try again later." in page.text
    assert orders_of(committing_sessions) == []

"""Checkout (/store/checkout) with the local gateway: billing details, the card form ("Card
number", "Expiry", "CVC", "Name on card") or the card on file, the consent to recurring charges,
Complete Purchase, the confirmation with Deliver Course; licenses from the moment of purchase.
Every error gets its message: bad billing fields, each card error, each CartProblem reason, a
decline; a double submit pays once; the card number is in no table, log line or response."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.lti.models import WebSession
from store.accounts.models import Account
from store.base import utcnow
from store.catalog.service import import_records
from store.licenses.models import PlusSubscription, VolumeLot
from store.licenses.service import grant_plus
from store.models import Base
from store.orders.models import Order
from store.orders.rules import order_number
from store.payments.models import LocalCharge
from tests.factories.licenses import make_account
from tests.factories.store import Buyer, Form, Page, make_buyer, query_of

VISA = "4242 4242 4242 4242"
DECLINED = "4000 0000 0000 0002"
NO_FUNDS = "4000 0000 0000 9995"
MASTERCARD = "5555 5555 5555 4444"
CARD = {"card_number": VISA, "card_expiry": "12/34", "card_cvc": "123", "card_name": "Ann Admin"}
BILLING = {"name": "Ann Admin", "email": "ann@example.com", "company": "Acme Learning",
           "address": "1 Main Street\nSpringfield", "country": "us"}


def rec(catalog_id: str, title: str, **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"id": catalog_id, "title": title, "publisher": "Safe Co", "volume_price_cents": 1_000,
                            "ppu_price_cents": 2_500, "plus": False, "duration_minutes": 30, "language": "en"}
    base.update(changes)
    return base


@pytest.fixture
def account(app: Flask, committing_sessions: sessionmaker[Session]) -> int:
    import_records(committing_sessions, [rec("C-100", "Workplace Safety", plus=True), rec("C-200", "Advanced Forklift")],
                   full=True, now=utcnow())
    return make_account(committing_sessions, name="Acme Learning", now=utcnow()).id


@pytest.fixture
def buyer(app: Flask, committing_sessions: sessionmaker[Session], account: int) -> Buyer:
    return make_buyer(app, committing_sessions, account)


def add(buyer: Buyer, item: str = "volume", quantity: str = "10", **fields: str) -> None:
    data = {"item": item, "quantity": quantity, "action": "add", **fields}
    if item == "volume":
        data.setdefault("catalog_id", "C-200")
    else:
        data.setdefault("term", "annual")
    response = buyer.post("/store/cart", data)
    assert response.status_code == 303, response.get_data(as_text=True)[:500]


def checkout_page(buyer: Buyer, status: int = 200) -> Page:
    return buyer.page("/store/checkout", status=status)


def checkout_form(page: Page) -> Any:
    return page.form_of(page.button("Complete Purchase"))


def pay(buyer: Buyer, page: Page | None = None, **changes: str) -> Any:
    page = page or checkout_page(buyer)
    return buyer.submit(checkout_form(page), "Complete Purchase", **{**BILLING, **CARD, **changes})


def count(sessions: sessionmaker[Session], model: Any) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def numbers(sessions: sessionmaker[Session]) -> list[str]:
    """The order numbers, oldest first (ids come from the database: PostgreSQL's sequences are not
    reset between tests)."""
    with sessions() as session:
        return [order_number(i) for i in session.scalars(select(Order.id).order_by(Order.id))]


def orders_of(sessions: sessionmaker[Session]) -> list[tuple[str, int]]:
    with sessions() as session:
        return [(o.status, o.total_cents) for o in session.scalars(select(Order).order_by(Order.id))]


# ---------------------------------------------------------------- the page


def test_the_checkout_page(buyer: Buyer) -> None:
    add(buyer, quantity="10")
    page = checkout_page(buyer)
    assert page.h1 == "Checkout" and page.current_nav() == ["Cart"]
    assert page.by_id("checkout-total").text_content() == "$95.00"
    for label in ("Billing name", "Billing email", "Company (optional)", "Billing address", "Country", "Card number",
                  "Expiry", "CVC", "Name on card"):
        page.field(label)
    # Filled in from what the LMS said of the admin and the organization's name.
    assert page.field("Billing name").get("value") == "admin-1" and page.field("Company (optional)").get(
        "value") == "Acme Learning"
    assert page.field("Card number").get("autocomplete") == "cc-number"
    form = Form(checkout_form(page))
    fields = dict(form.fields())
    with buyer.sessions() as session:
        from store.orders.models import Cart
        cart = session.scalars(select(Cart)).one()
    assert fields["checkout_key"] == f"co_{cart.nonce}_{cart.revision}" and fields["expected_total"] == "9500"
    assert form.method == "post" and form.action == "/store/checkout"
    assert {"csrf_token", "s"} <= set(fields)
    assert page.doc.xpath('//input[@name="consent_recurring"]') == []  # nothing recurs
    assert page.doc.xpath('//input[@name="card_choice" and @type="radio"]') == []  # no card on file yet
    assert "Use 4242 4242 4242 4242" in page.described_by(page.field("Card number"))


def test_an_empty_cart_has_nothing_to_check_out(buyer: Buyer) -> None:
    page = checkout_page(buyer)
    assert "Your cart is empty: there is nothing to pay for." in page.text and page.buttons("Complete Purchase") == []


# ---------------------------------------------------------------- paying


def test_complete_purchase_volume(committing_sessions: sessionmaker[Session], account: int, buyer: Buyer) -> None:
    add(buyer, quantity="30")
    before = utcnow()
    response = pay(buyer)
    after = utcnow()
    assert response.status_code == 303
    (number,) = numbers(committing_sessions)
    assert response.headers["Location"] == f"/store/orders/{number}/confirmation?s={buyer.token}"
    page = Page(buyer.client.get(response.headers["Location"]))
    assert page.h1 == "Thank you for your purchase"
    assert page.by_id("confirmation-number").text_content() == number
    assert "$270.00 was charged to the card ending 4242" in page.text
    deliver = page.link("Deliver Course")
    assert deliver.startswith("/dashboard/deliver?")
    assert query_of(deliver) == {"course": "C-200", "license_type": "volume", "s": buyer.token}
    assert "Advanced Forklift" in page.described_by(page.doc.xpath('//a[normalize-space()="Deliver Course"]')[0])
    # The license starts at the moment of purchase.
    with committing_sessions() as session:
        lot = session.scalars(select(VolumeLot)).one()
        assert lot.seats_total == 30 and before <= lot.purchased_at <= after
        assert session.get_one(Account, account).card_last4 == "4242"
    assert orders_of(committing_sessions) == [("fulfilled", 27_000)]
    # The course page now delivers it; the cart is empty.
    course = buyer.page("/store/courses/C-200")
    assert course.links("Deliver Course")
    assert "Your cart is empty." in buyer.page("/store/cart").text


def test_a_plus_subscription_needs_the_consent_to_recurring_charges(committing_sessions: sessionmaker[Session],
                                                                    buyer: Buyer) -> None:
    add(buyer, item="plus", quantity="2", term="monthly")
    page = checkout_page(buyer)
    consent = page.field("I agree to recurring charges: the Plus subscription renews automatically at the end of "
                         "each term and the card is charged for its seats then, until renewal is cancelled.")
    assert consent.get("type") == "checkbox" and consent.get("checked") is None
    refused = Page(pay(buyer, page))
    assert refused.status == 422
    box = refused.doc.xpath('//input[@name="consent_recurring"]')[0]
    assert box.get("aria-invalid") == "true"
    assert "Agree to the recurring charges of the subscription to continue." in refused.described_by(box)
    assert orders_of(committing_sessions) == [] and count(committing_sessions, PlusSubscription) == 0
    before = utcnow()
    done = pay(buyer, refused, consent_recurring="yes")
    assert done.status_code == 303
    with committing_sessions() as session:
        sub = session.scalars(select(PlusSubscription)).one()
        assert (sub.seats_total, sub.term) == (2, "monthly") and sub.started_at >= before
    confirmation = Page(buyer.client.get(done.headers["Location"]))
    assert confirmation.link("Browse the Plus courses").startswith("/store?")


def test_a_declined_card(committing_sessions: sessionmaker[Session], buyer: Buyer) -> None:
    add(buyer, quantity="10")
    first = checkout_page(buyer)
    key = dict(Form(checkout_form(first)).fields())["checkout_key"]
    page = Page(pay(buyer, first, card_number=DECLINED))
    assert page.status == 402
    assert page.by_id("checkout-error").text_content().strip() == (
        "Your card was declined. Use another card, or ask your bank why. Your order was not completed and nothing "
        "was charged.")
    # Billing details are kept; the card number is not (nor the CVC).
    assert page.field("Billing name").get("value") == "Ann Admin"
    assert page.field("Billing address").text_content() == "1 Main Street\nSpringfield"
    assert page.field("Card number").get("value") == "" and page.field("CVC").get("value") == ""
    assert "4000" not in page.html
    # No order completed, no license; the cart is free again under a new key.
    assert orders_of(committing_sessions) == [("failed", 9_500)] and count(committing_sessions, VolumeLot) == 0
    assert dict(Form(checkout_form(page)).fields())["checkout_key"] != key
    history = buyer.page("/store/orders")
    assert "Payment failed" in history.text
    # Another card then goes through.
    assert pay(buyer, page).status_code == 303
    assert [s for s, _ in orders_of(committing_sessions)] == ["failed", "fulfilled"]


def test_insufficient_funds(committing_sessions: sessionmaker[Session], buyer: Buyer) -> None:
    add(buyer)
    page = Page(pay(buyer, card_number=NO_FUNDS))
    assert page.status == 402 and "Your card has insufficient funds. Use another card." in page.text
    assert page.by_id("checkout-error").get("data-reason") == "insufficient_funds"
    assert count(committing_sessions, VolumeLot) == 0


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"card_number": ""}, "Card number", "Enter the card number."),
    ({"card_number": "1234 5678"}, "Card number", "The card number is not valid."),
    ({"card_number": "4242 4242 4242 4241"}, "Card number", "The card number is not valid."),
    ({"card_number": "4111 1111 1111 1111"}, "Card number", "This is a test payment system: use a test card"),
    ({"card_expiry": "13/30"}, "Expiry", "Enter the expiry date as MM/YY."),
    ({"card_expiry": "1230"}, "Expiry", "Enter the expiry date as MM/YY."),
    ({"card_expiry": "01/20"}, "Expiry", "The card has expired."),
    ({"card_cvc": "12"}, "CVC", "Enter the 3-digit security code (CVC) from the back of the card."),
    ({"card_name": " "}, "Name on card", "Enter the name on the card."),
])
def test_each_card_error_is_next_to_its_field(committing_sessions: sessionmaker[Session], buyer: Buyer,
                                              changes: dict[str, str], field: str, message: str) -> None:
    add(buyer)
    page = Page(pay(buyer, **changes))
    assert page.status == 422
    element = page.field(field)
    assert element.get("aria-invalid") == "true" and message in page.described_by(element)
    assert "Check the highlighted fields: nothing was charged." in page.text
    assert page.field("Card number").get("value") == ""
    assert orders_of(committing_sessions) == [] and count(committing_sessions, LocalCharge) == 0


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"name": ""}, "Billing name", "Enter the name."),
    ({"email": ""}, "Billing email", "Enter the email address."),
    ({"email": "not-an-address"}, "Billing email", "Enter an email address like name@example.com."),
    ({"address": "  "}, "Billing address", "Enter the billing address."),
    ({"country": "USA"}, "Country", "Enter the country as its two-letter code, e.g. US or DE."),
    ({"country": ""}, "Country", "Enter the country."),
    ({"name": "Ann\nAdmin"}, "Billing name", "must be one line"),
    ({"company": "x" * 201}, "Company (optional)", "Company is longer than 200 characters (201)."),
])
def test_each_billing_error_is_next_to_its_field(committing_sessions: sessionmaker[Session], buyer: Buyer,
                                                 changes: dict[str, str], field: str, message: str) -> None:
    add(buyer)
    page = Page(pay(buyer, **changes))
    assert page.status == 422
    element = page.field(field)
    assert element.get("aria-invalid") == "true" and message in page.described_by(element)
    assert orders_of(committing_sessions) == [] and count(committing_sessions, LocalCharge) == 0


def test_a_double_submit_charges_once(committing_sessions: sessionmaker[Session], buyer: Buyer) -> None:
    add(buyer, quantity="10")
    page = checkout_page(buyer)
    first = pay(buyer, page)
    second = pay(buyer, page)  # the same form again: a double click, a retry, the other tab
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert orders_of(committing_sessions) == [("fulfilled", 9_500)]
    assert count(committing_sessions, LocalCharge) == 1 and count(committing_sessions, VolumeLot) == 1


def test_two_tabs_pay_once(app: Flask, committing_sessions: sessionmaker[Session], buyer: Buyer) -> None:
    add(buyer, quantity="10")
    tab_one, tab_two = checkout_page(buyer), checkout_page(buyer)
    assert pay(buyer, tab_one).status_code == 303
    again = pay(buyer, tab_two)
    (number,) = numbers(committing_sessions)
    assert again.status_code == 303 and again.headers["Location"].startswith(f"/store/orders/{number}/confirmation")
    assert count(committing_sessions, LocalCharge) == 1


def test_the_card_on_file(committing_sessions: sessionmaker[Session], account: int, buyer: Buyer) -> None:
    add(buyer, quantity="2")
    assert pay(buyer).status_code == 303
    add(buyer, quantity="3")
    page = checkout_page(buyer)
    on_file = page.field("Use the card on file (•••• 4242)")
    assert on_file.get("type") == "radio" and on_file.get("checked") is not None
    assert page.field("Use a new card").get("checked") is None
    # The billing details of the last purchase fill the form.
    assert page.field("Billing email").get("value") == "ann@example.com"
    assert page.field("Country").get("value") == "US"
    done = buyer.submit(checkout_form(page), "Complete Purchase")
    assert done.status_code == 303
    assert orders_of(committing_sessions) == [("fulfilled", 2_000), ("fulfilled", 3_000)]
    assert count(committing_sessions, LocalCharge) == 2


def test_a_new_card_without_a_number_when_there_is_none_on_file(committing_sessions: sessionmaker[Session],
                                                                 buyer: Buyer) -> None:
    add(buyer)
    page = Page(pay(buyer, card_choice="on_file", card_number=""))  # tampered: there is no card on file
    assert page.status == 422 and "Enter a card to pay with." in page.described_by(page.field("Card number"))
    assert orders_of(committing_sessions) == []


# ---------------------------------------------------------------- the cart's problems


def test_empty_cart(committing_sessions: sessionmaker[Session], buyer: Buyer) -> None:
    add(buyer)
    page = checkout_page(buyer)
    cart = buyer.page("/store/cart")
    assert buyer.submit(cart.form_of(cart.field("Quantity")), "Remove").status_code == 303
    with committing_sessions() as session:  # the key of the cart as it is now: empty
        from store.orders.models import Cart
        row = session.scalars(select(Cart)).one()
    refused = Page(pay(buyer, page, checkout_key=f"co_{row.nonce}_{row.revision}", expected_total="0"))
    assert refused.status == 409 and refused.by_id("checkout-error").get("data-reason") == "empty_cart"
    assert "Your cart is empty." in refused.text
    assert orders_of(committing_sessions) == [] and count(committing_sessions, LocalCharge) == 0


def test_cart_changed_since_the_page_was_opened(committing_sessions: sessionmaker[Session], buyer: Buyer) -> None:
    add(buyer, quantity="10")
    page = checkout_page(buyer)
    add(buyer, quantity="5")  # another tab added seats
    refused = Page(pay(buyer, page))
    assert refused.status == 409 and refused.by_id("checkout-error").get("data-reason") == "cart_changed"
    assert "Your cart changed since this checkout page was opened." in refused.text
    assert refused.by_id("checkout-total").text_content() == "$142.50"  # the page shows the cart as it is now
    assert orders_of(committing_sessions) == [] and count(committing_sessions, LocalCharge) == 0
    assert pay(buyer, refused).status_code == 303


def test_price_changed(committing_sessions: sessionmaker[Session], buyer: Buyer) -> None:
    add(buyer, quantity="10")
    refused = Page(pay(buyer, expected_total="100"))
    assert refused.status == 409 and refused.by_id("checkout-error").get("data-reason") == "price_changed"
    assert "The total is now $95.00. Check it and press Complete Purchase again." in refused.text
    assert orders_of(committing_sessions) == []


def test_a_garbled_total_or_key(committing_sessions: sessionmaker[Session], buyer: Buyer) -> None:
    add(buyer)
    stale = Page(pay(buyer, expected_total="abc"))
    assert stale.status == 409 and stale.by_id("checkout-error").get("data-reason") == "cart_changed"
    bad_key = Page(pay(buyer, checkout_key="co_not_a_key"))
    assert bad_key.status == 409 and bad_key.by_id("checkout-error").get("data-reason") == "cart_changed"
    assert orders_of(committing_sessions) == []


def test_a_line_problem_blocks_checkout(committing_sessions: sessionmaker[Session], account: int,
                                       buyer: Buyer) -> None:
    add(buyer)
    page = checkout_page(buyer)
    grant_plus(committing_sessions, account, 5, "annual", utcnow())  # Plus granted meanwhile: Volume is for support
    refused = Page(pay(buyer, page))
    assert refused.status == 409 and refused.by_id("checkout-error").get("data-reason") == "contact_support"
    assert refused.buttons("Complete Purchase") == [] and "Review your cart" in refused.text
    assert orders_of(committing_sessions) == [] and count(committing_sessions, LocalCharge) == 0
    assert checkout_page(buyer).buttons("Complete Purchase") == []


def test_another_purchase_in_progress(app: Flask, committing_sessions: sessionmaker[Session], account: int,
                                      buyer: Buyer) -> None:
    other = make_buyer(app, committing_sessions, account, external_id="admin-2")
    add(buyer)
    add(other, quantity="3")
    page = checkout_page(other)
    with committing_sessions.begin() as session:  # the first admin's payment is under way
        session.add(Order(account_id=account, learner_id=_learner_of(committing_sessions, "admin-1"),
                          kind="purchase", status="pending", currency="USD", total_cents=9_500,
                          idempotency_key="co_0123456789abcdef_1", gateway="local", attempts=1,
                          consent_recurring=False, created_at=utcnow(), updated_at=utcnow()))
    refused = Page(pay(other, page))
    assert refused.status == 409 and refused.by_id("checkout-error").get("data-reason") == "checkout_in_progress"
    assert "Another purchase for your organization is being paid for right now." in refused.text
    assert count(committing_sessions, LocalCharge) == 0


def _learner_of(sessions: sessionmaker[Session], external_id: str) -> int:
    from store.accounts.models import Learner

    with sessions() as session:
        return int(session.scalar(select(Learner.id).where(Learner.external_id == external_id)))


# ---------------------------------------------------------------- the card number goes nowhere


def test_the_card_number_is_in_no_table_no_log_line_and_no_response(committing_sessions: sessionmaker[Session],
                                                                     buyer: Buyer,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    add(buyer, quantity="2")
    # (The page names the test card 4242 4242 4242 4242 as a hint: these checks use two others.)
    declined = pay(buyer, card_number=DECLINED, card_cvc="987")
    refused = pay(buyer, card_number=MASTERCARD, card_cvc="987", card_expiry="13/99")  # a card error: the form again
    done = pay(buyer, Page(refused), card_number=MASTERCARD, card_cvc="987")
    assert done.status_code == 303
    confirmation = buyer.client.get(done.headers["Location"])
    order = buyer.get(f"/store/orders/{numbers(committing_sessions)[1]}")
    assert "Mastercard •••• 4444" in Page(order).text
    cards = ("5555555555554444", "5555 5555 5555 4444", "4000000000000002", "4000 0000 0000 0002")
    for response in (declined, refused, done, confirmation, order):
        body = response.get_data(as_text=True)
        assert not any(n in body for n in cards) and 'value="987"' not in body
    for n in cards:
        assert n not in caplog.text
    with committing_sessions() as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table)):
                dumped = repr(tuple(row))
                assert not any(n in dumped for n in cards), (table.name, dumped)
        sessions_data = repr(session.scalars(select(WebSession.data)).all())
        assert not any(n in sessions_data for n in cards)
        if session.bind is not None and session.bind.dialect.name == "sqlite":
            assert session.execute(text("PRAGMA integrity_check")).scalar() == "ok"


# ---------------------------------------------------------------- orders of other accounts


def test_another_accounts_confirmation_is_not_found(app: Flask, committing_sessions: sessionmaker[Session],
                                                    buyer: Buyer) -> None:
    add(buyer)
    assert pay(buyer).status_code == 303
    stranger_account = make_account(committing_sessions, name="Other Org", now=utcnow()).id
    stranger = make_buyer(app, committing_sessions, stranger_account, external_id="stranger")
    (number,) = numbers(committing_sessions)
    for path in (f"/store/orders/{number}/confirmation", f"/store/orders/{number}"):
        page = stranger.page(path, status=404)
        assert page.h1 == "Order not found" and "<code>unknown_order</code>" in page.html


def test_licenses_start_now_not_at_midnight(committing_sessions: sessionmaker[Session], buyer: Buyer) -> None:
    add(buyer)
    before = utcnow()
    pay(buyer)
    with committing_sessions() as session:
        lot = session.scalars(select(VolumeLot)).one()
    assert lot.purchased_at - before < timedelta(minutes=5) and lot.purchased_at >= before

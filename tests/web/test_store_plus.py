"""The Plus subscription page (/store/plus): term and seats with Show price before Add to Cart; with
an active subscription, Add Seats priced pro rata for the rest of the term; bad input gets a
message next to its field; an account holding Volume is told to contact support."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from store.base import utcnow
from store.catalog.service import import_records
from store.clock import add_months
from store.licenses.models import PlusSubscription, VolumeLot
from store.licenses.service import configure_ppu, grant_plus, grant_volume
from store.pricing import prorated_seat_price_cents
from store.money import format_money
from tests.factories.licenses import make_account
from tests.factories.store import Buyer, Form, Page, make_buyer

COURSE = {"id": "C-200", "title": "Advanced Forklift", "publisher": "Safe Co", "volume_price_cents": 1_000,
          "ppu_price_cents": 2_000}


@pytest.fixture
def account(app: Flask, committing_sessions: sessionmaker[Session]) -> int:
    import_records(committing_sessions, [COURSE], full=True, now=utcnow())
    return make_account(committing_sessions, now=utcnow()).id


@pytest.fixture
def buyer(app: Flask, committing_sessions: sessionmaker[Session], account: int) -> Buyer:
    return make_buyer(app, committing_sessions, account)


def preview(buyer: Buyer, **fields: str) -> Page:
    page = buyer.page("/store/plus")
    form = page.form_of(page.field("Seats"))
    return Page(buyer.submit(form, "Show price", **fields))


def test_a_new_subscription_term_seats_and_add_to_cart(buyer: Buyer) -> None:
    page = buyer.page("/store/plus")
    assert page.h1 == "Plus subscription" and page.current_nav() == ["Store"]
    annual, monthly = page.field("Annual ($399.00 per seat per year)"), page.field("Monthly ($39.00 per seat per month)")
    assert annual.get("checked") is not None and monthly.get("checked") is None
    assert page.by_id("store-buy").xpath("following::legend")[0].text == "Term"
    seats = page.field("Seats")
    form = page.form_of(seats)
    assert form.get("method") == "post" and form.get("action").split("?")[0] == "/store/cart"
    assert {name for name, _value in Form(form).fields()} == {"csrf_token", "s", "item", "term", "quantity"}
    assert form.xpath('.//input[@name="item"]')[0].get("value") == "plus"
    assert page.button("Add to Cart").get("formaction") is None
    assert page.button("Show price").get("formaction").split("?")[0] == "/store/plus"
    assert page.buttons("Add Seats") == []


@pytest.mark.parametrize(("term", "seats", "expected"), [
    ("annual", "10", "10 seats: $3,990.00 per year"),
    ("monthly", "3", "3 seats: $117.00 per month"),
    ("annual", "100", "100 seats: $39,900.00 per year"),
])
def test_show_price_for_a_new_subscription(buyer: Buyer, term: str, seats: str, expected: str) -> None:
    page = preview(buyer, term=term, quantity=seats)
    assert page.status == 200
    assert expected in " ".join(page.by_id("store-price").text_content().split())
    assert page.field("Seats").get("value") == seats
    checked = [i.get("value") for i in page.doc.xpath('//input[@name="term"]') if i.get("checked") is not None]
    assert checked == [term]


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"quantity": "0"}, "Seats", "Enter the number of seats as a whole number, 1 or more."),
    ({"quantity": "-1"}, "Seats", "Enter the number of seats as a whole number, 1 or more."),
    ({"quantity": "101"}, "Seats", "The store sells up to 100 Plus seats per order. For more seats, request a quote"),
    ({"quantity": "abc"}, "Seats", "Enter the number of seats as a whole number, 1 or more."),
    ({"quantity": "5", "term": "weekly"}, None, "Choose the term: monthly or annual."),
])
def test_bad_input_gets_a_message_next_to_its_field(committing_sessions: sessionmaker[Session], buyer: Buyer,
                                                    fields: dict[str, str], field: str | None, message: str) -> None:
    page = Page(buyer.post("/store/plus", {"term": "annual", **fields}))
    assert page.status == 422
    if field is not None:
        element = page.field(field)
        assert element.get("aria-invalid") == "true" and message in page.described_by(element)
    else:
        fieldset = page.doc.xpath("//fieldset")[0]
        assert page.described_by(fieldset) == message
    assert page.doc.xpath('//*[@id="store-price"]') == []
    if fields["quantity"] == "101":
        assert page.link("Request a Quote").startswith("/store/quote?s=")
    with committing_sessions() as session:
        assert session.scalar(select(func.count()).select_from(PlusSubscription)) == 0


def test_with_an_active_subscription_add_seats_is_priced_pro_rata(committing_sessions: sessionmaker[Session],
                                                                 account: int, buyer: Buyer) -> None:
    now = utcnow()
    start = add_months(now, -3)
    grant_plus(committing_sessions, account, 5, "annual", now, start=start)
    expected = {format_money(prorated_seat_price_cents(39_900, start, add_months(start, 12), at), "USD")
                for at in (now, utcnow() + timedelta(minutes=1))}  # the page reads the clock in between
    page = buyer.page("/store/plus")
    assert "Annual term, 0 of 5 seats used" in page.text and "renews automatically" in page.text
    assert page.buttons("Add to Cart") == [] and page.doc.xpath('//input[@name="term" and @type="radio"]') == []
    form = page.form_of(page.button("Add Seats"))
    assert form.get("action").split("?")[0] == "/store/cart"
    assert form.xpath('.//input[@name="term"]')[0].get("value") == "annual"
    shown = " ".join(page.by_id("store-price").text_content().split())
    assert any(f"Each added seat costs {price} for the rest of this term" in shown for price in expected), shown
    assert f"until {add_months(start, 12):%Y-%m-%d}" in shown
    previewed = Page(buyer.submit(form, "Show price", quantity="4"))
    text = " ".join(previewed.by_id("store-price").text_content().split())
    assert "4 seats:" in text and "every seat costs $399.00 per year" in text


def test_the_term_in_progress_of_a_renewed_subscription(committing_sessions: sessionmaker[Session], account: int,
                                                        buyer: Buyer) -> None:
    """Renewed monthly: the current month is the term whose rest is priced, not the first one."""
    now = utcnow()
    start = add_months(now, -1) - timedelta(days=3)  # bought a month and three days ago, renewed once
    grant_plus(committing_sessions, account, 2, "monthly", now, start=add_months(now, -1) + timedelta(days=1))
    with committing_sessions.begin() as session:
        session.execute(update(PlusSubscription).values(started_at=start, current_period_end=add_months(start, 2)))
    period_start = add_months(start, 1)
    expected = {format_money(prorated_seat_price_cents(3_900, period_start, add_months(start, 2), at), "USD")
                for at in (now, utcnow() + timedelta(minutes=1))}
    shown = " ".join(buyer.page("/store/plus").by_id("store-price").text_content().split())
    assert any(f"costs {price} for the rest" in shown for price in expected), shown


def test_an_account_holding_volume_is_told_to_contact_support(committing_sessions: sessionmaker[Session],
                                                              account: int, buyer: Buyer) -> None:
    grant_volume(committing_sessions, account, "C-200", 5, utcnow())
    page = buyer.page("/store/plus")
    message = "Your organization already has Volume licenses. To add Plus licenses, contact support"
    assert message in page.by_id("store-contact-support").text_content()
    assert page.buttons("Add to Cart") == [] and page.buttons("Add Seats") == []
    refused = Page(buyer.post("/store/plus", {"term": "annual", "quantity": "5"}))
    assert refused.status == 422 and message in refused.text
    with committing_sessions() as session:
        assert session.scalar(select(func.count()).select_from(VolumeLot)) == 1


def test_a_pay_per_use_account_may_subscribe(committing_sessions: sessionmaker[Session], account: int,
                                            buyer: Buyer) -> None:
    configure_ppu(committing_sessions, account, "PPU-1", 10_000, utcnow())
    page = buyer.page("/store/plus")
    assert page.buttons("Add to Cart") and page.doc.xpath('//*[@id="store-contact-support"]') == []




def test_who_may_buy_is_the_orders_domains_rule(committing_sessions: sessionmaker[Session], account: int,
                                                buyer: Buyer) -> None:
    """A Volume lot that starts next month delivers nothing yet, but the account holds Volume (the
    orders domain's rule, the one the cart enforces): the Plus page says so before the cart would."""
    grant_volume(committing_sessions, account, "C-200", 5, utcnow(), start=utcnow() + timedelta(days=30))
    page = buyer.page("/store/plus")
    assert "To add Plus licenses, contact support" in page.by_id("store-contact-support").text_content()
    assert page.buttons("Add to Cart") == []
    refused = Page(buyer.post("/store/cart", {"item": "plus", "term": "annual", "quantity": "1"}))
    assert refused.status == 422 and "To add Plus licenses, contact support" in refused.text

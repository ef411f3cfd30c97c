"""Order History (/store/orders: every order, renewals and failed payments included, with number,
date, total and status), an order's page (/store/orders/<number>: its lines with discounts and
proration, the total, the card's last four digits, who was billed) — only the buyer's account's
orders — and the quote request (/store/quote: name, email, message and the items asked for;
staff list them)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.services import services_of
from store.base import utcnow
from store.catalog.service import import_records
from store.clock import add_months
from store.licenses.models import PlusSubscription
from store.licenses.service import grant_plus
from store.orders import service as orders
from store.orders.models import Order, QuoteRequest
from store.orders.rules import order_number
from tests.factories.licenses import make_account
from tests.factories.store import Buyer, Page, make_buyer, query_of

CARD = {"card_number": "4242 4242 4242 4242", "card_expiry": "12/34", "card_cvc": "123", "card_name": "Ann Admin"}
BILLING = {"name": "Ann Admin", "email": "ann@example.com", "company": "Acme Learning",
           "address": "1 Main Street\nSpringfield", "country": "US"}


@pytest.fixture
def account(app: Flask, committing_sessions: sessionmaker[Session]) -> int:
    import_records(committing_sessions, [{"id": "C-200", "title": "Advanced Forklift", "publisher": "Safe Co",
                                          "volume_price_cents": 1_000, "ppu_price_cents": 2_500}],
                   full=True, now=utcnow())
    return make_account(committing_sessions, name="Acme Learning", now=utcnow()).id


@pytest.fixture
def buyer(app: Flask, committing_sessions: sessionmaker[Session], account: int) -> Buyer:
    return make_buyer(app, committing_sessions, account)


def buy(buyer: Buyer, *items: dict[str, str], **changes: str) -> Any:
    for item in items:
        assert buyer.post("/store/cart", {"action": "add", **item}).status_code == 303
    page = buyer.page("/store/checkout")
    fields = {**BILLING, **CARD, **changes}
    if page.doc.xpath('//input[@name="consent_recurring"]'):
        fields["consent_recurring"] = "yes"
    return buyer.submit(page.form_of(page.button("Complete Purchase")), "Complete Purchase", **fields)


def numbers(sessions: sessionmaker[Session]) -> list[str]:
    """The order numbers, oldest first (PostgreSQL's sequences are not reset between tests)."""
    with sessions() as session:
        return [order_number(i) for i in session.scalars(select(Order.id).order_by(Order.id))]


def rows(page: Page) -> list[list[str]]:
    return [[" ".join(" ".join(td.itertext()).split()) for td in tr.xpath("td")] for tr in page.doc.xpath("//tbody/tr")]


def test_no_orders_yet(buyer: Buyer) -> None:
    page = buyer.page("/store/orders")
    assert page.h1 == "Order History" and page.current_nav() == ["Order History"]
    assert "No orders yet." in page.text


def test_every_order_with_number_date_total_and_status(app: Flask, committing_sessions: sessionmaker[Session],
                                                       account: int, buyer: Buyer) -> None:
    assert buy(buyer, {"item": "plus", "term": "monthly", "quantity": "2"},
               card_number="4000 0000 0000 0002").status_code == 402
    assert buy(buyer).status_code == 303  # the same cart, another card
    # The monthly subscription renews: a renewal order appears too.
    with committing_sessions() as session:
        end = session.scalars(select(PlusSubscription.current_period_end)).one()
    services = services_of(app)
    report = orders.renew_due(services.sessions, services.settings, services.payments, end + timedelta(hours=1))
    assert report.renewed, report
    page = buyer.page("/store/orders")
    today = f"{utcnow():%Y-%m-%d}"
    assert [h.text_content() for h in page.doc.xpath("//thead//th")] == ["Order", "Date", "Total", "Status"]
    found = rows(page)
    first, second, third = numbers(committing_sessions)
    assert found[1:] == [[second, today, "$78.00", "Completed"], [first, today, "$78.00", "Payment failed"]]
    assert found[0][0] == f"{third} renewal" and found[0][2:] == ["$78.00", "Completed"]
    assert page.link(third).startswith(f"/store/orders/{third}?s=")
    renewal = buyer.page(f"/store/orders/{third}")
    assert "Subscription renewal" in renewal.text and renewal.by_id("order-card").text_content().endswith("•••• 4242")
    failed = buyer.page(f"/store/orders/{first}")
    assert failed.by_id("order-status").text_content() == "Payment failed"
    assert "Your card was declined." in failed.by_id("order-failure").text_content()


def test_an_order_page_shows_lines_discounts_proration_total_and_card(committing_sessions: sessionmaker[Session],
                                                                      account: int, buyer: Buyer) -> None:
    assert buy(buyer, {"item": "volume", "catalog_id": "C-200", "quantity": "30"}).status_code == 303
    (number,) = numbers(committing_sessions)
    page = buyer.page(f"/store/orders/{number}")
    assert page.h1 == f"Order {number}" and page.current_nav() == ["Order History"]
    assert page.by_id("order-status").text_content() == "Completed"
    assert page.by_id("order-card").text_content() == "Visa •••• 4242"
    start, end = utcnow(), add_months(utcnow(), 12)
    assert rows(page) == [["Advanced Forklift C-200 " + f"{start:%Y-%m-%d} to {end:%Y-%m-%d}", "30",
                           "$9.00 list $10.00, 10 % discount", "$270.00"]]
    assert page.by_id("order-total").text_content() == "$270.00"
    billed = " ".join(" ".join(page.doc.xpath('//p[@class="store-address"]')[0].itertext()).split())
    assert billed == "Ann Admin Acme Learning ann@example.com 1 Main Street Springfield US"
    # The number may be typed without the prefix or zeros; a malformed one is not found.
    assert buyer.page(f"/store/orders/{int(number[4:])}").h1 == f"Order {number}"
    assert buyer.page("/store/orders/ORD-abc", status=404).h1 == "Order not found"
    assert buyer.page(f"/store/orders/ORD-{int(number[4:]) + 1:06d}", status=404).h1 == "Order not found"


def test_added_seats_show_their_proration(committing_sessions: sessionmaker[Session], account: int,
                                          buyer: Buyer) -> None:
    start = add_months(utcnow(), -3)
    grant_plus(committing_sessions, account, 5, "annual", utcnow(), start=start)
    assert buy(buyer, {"item": "plus", "term": "annual", "quantity": "2"}).status_code == 303
    (line,) = rows(buyer.page(f"/store/orders/{numbers(committing_sessions)[0]}"))
    assert line[0].startswith("Plus subscription (annual): added seats")
    assert "prorated:" in line[2] and "% of a term's $399.00" in line[2]


def test_only_the_accounts_orders(app: Flask, committing_sessions: sessionmaker[Session], buyer: Buyer) -> None:
    assert buy(buyer, {"item": "volume", "catalog_id": "C-200", "quantity": "1"}).status_code == 303
    other = make_buyer(app, committing_sessions, make_account(committing_sessions, name="Other", now=utcnow()).id,
                       external_id="other")
    assert "No orders yet." in other.page("/store/orders").text
    (number,) = numbers(committing_sessions)
    assert other.page(f"/store/orders/{number}", status=404).h1 == "Order not found"
    # Another admin of the same account sees the organization's orders.
    colleague = make_buyer(app, committing_sessions, buyer.account_id, external_id="admin-2")
    assert rows(colleague.page("/store/orders"))[0][0] == number


# ---------------------------------------------------------------- quotes


def quotes(sessions: sessionmaker[Session]) -> list[QuoteRequest]:
    with sessions() as session:
        return list(session.scalars(select(QuoteRequest).order_by(QuoteRequest.id)))


def test_the_quote_form_from_an_over_limit_quantity(app: Flask, committing_sessions: sessionmaker[Session],
                                                    buyer: Buyer) -> None:
    assert buyer.post("/store/cart", {"item": "volume", "catalog_id": "C-200", "quantity": "5"}).status_code == 303
    cart = buyer.page("/store/cart")
    over = Page(buyer.submit(cart.form_of(cart.field("Quantity")), "Update", quantity="1500"))
    link = over.link("Request a Quote") if len(over.links("Request a Quote")) == 1 else over.links("Request a Quote")[0]
    assert query_of(link)["quantity"] == "1500"
    page = Page(buyer.client.get(link.split("?")[0], query_string=query_of(link)))
    assert page.status == 200 and page.h1 == "Request a Quote"
    items = [" ".join(li.text_content().split()) for li in page.doc.xpath('//ul[@class="quote-items"]/li')]
    assert items == ["Advanced Forklift: Volume seats, 1500"]  # the quantity asked for, not the cart's 5
    form = page.form_of(page.button("Request a Quote"))
    sent = buyer.submit(form, "Request a Quote", name="Ann Admin", email="ann@example.com",
                        message="We have 1,500 drivers.")
    assert sent.status_code == 303 and sent.headers["Location"] == f"/store/quote?s={buyer.token}"
    thanks = Page(buyer.client.get("/store/quote", query_string={"s": buyer.token}))
    assert "Thank you: your request for a quote was sent. We will answer at ann@example.com." in thanks.text
    (quote,) = quotes(committing_sessions)
    assert (quote.name, quote.email, quote.message) == ("Ann Admin", "ann@example.com", "We have 1,500 drivers.")
    assert quote.items == [{"kind": "volume", "course_id": "C-200", "title": "Advanced Forklift", "term": None,
                            "seats": 1500}]
    with committing_sessions() as session:  # what staff see (lti-tool staff quotes)
        (listed,) = orders.list_quotes(session)
    assert listed.account_name == "Acme Learning" and listed.items[0].seats == 1500
    # The cart itself did not change.
    assert buyer.page("/store/cart").field("Quantity").get("value") == "5"


def test_a_plus_quote(committing_sessions: sessionmaker[Session], buyer: Buyer) -> None:
    page = buyer.page("/store/quote", item="plus", term="monthly", quantity="250")
    assert [" ".join(li.text_content().split()) for li in page.doc.xpath('//ul[@class="quote-items"]/li')] == [
        "Plus subscription (monthly): Plus seats, 250"]
    sent = buyer.submit(page.form_of(page.button("Request a Quote")), "Request a Quote", name="Ann",
                        email="ann@example.com")
    assert sent.status_code == 303
    assert quotes(committing_sessions)[0].items[0]["seats"] == 250


@pytest.mark.parametrize(("fields", "label", "message"), [
    ({"name": "", "email": "ann@example.com", "message": "More please"}, "Your name", "Enter the name."),
    ({"name": "Ann", "email": "nope", "message": "More please"}, "Email",
     "Enter an email address like name@example.com."),
    ({"name": "Ann", "email": "ann@example.com", "message": ""}, "Message",
     "Tell us what you would like a quote for."),
    ({"name": "Ann", "email": "ann@example.com", "message": "x" * 5001}, "Message", "Message is longer than 5,000 characters (5,001)."),
])
def test_quote_errors_are_next_to_their_fields(committing_sessions: sessionmaker[Session], buyer: Buyer,
                                               fields: dict[str, str], label: str, message: str) -> None:
    page = Page(buyer.post("/store/quote", fields))
    assert page.status == 422
    field = page.field(label)
    assert field.get("aria-invalid") == "true" and message in page.described_by(field)
    assert quotes(committing_sessions) == []


def test_a_quote_for_an_unknown_course(committing_sessions: sessionmaker[Session], buyer: Buyer) -> None:
    page = Page(buyer.post("/store/quote", {"name": "Ann", "email": "ann@example.com", "message": "",
                                            "item": "volume", "catalog_id": "NOPE", "quantity": "2000"}))
    assert page.status == 422 and "There is no course 'NOPE' in the catalog." in page.text
    with committing_sessions() as session:
        assert session.scalar(select(func.count()).select_from(QuoteRequest)) == 0

"""The cart (/store/cart): Add to Cart / Add Seats from the course and Plus pages (303 to the cart),
one line per item with its Quantity, Update and Remove, tier discounts and proration, the
subtotal and Checkout; every bad quantity gets a message next to its field and changes nothing;
above the store limits the cart offers Request a Quote; a second license type is for support,
except for a Pay Per Use account; learners get the 403."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from store.base import utcnow
from store.catalog.service import import_records
from store.clock import add_months
from store.licenses.service import configure_ppu, grant_plus, grant_volume
from store.money import format_money
from store.orders.models import Cart, CartLine
from store.pricing import prorated_seat_price_cents
from tests.factories.licenses import make_account
from tests.factories.store import Buyer, Page, make_buyer, query_of


def rec(catalog_id: str, title: str, **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"id": catalog_id, "title": title, "publisher": "Safe Co", "volume_price_cents": 1_000,
                            "ppu_price_cents": 2_500, "plus": False, "duration_minutes": 30, "language": "en"}
    base.update(changes)
    return base


CATALOG = [
    rec("C-100", "Workplace Safety", plus=True),
    rec("C-200", "Advanced Forklift"),
    rec("C-400", "Ideas Worth Spreading", plus=True, bundle="TED@Work", bundle_subscription_only=True),
]


@pytest.fixture
def account(app: Flask, committing_sessions: sessionmaker[Session]) -> int:
    import_records(committing_sessions, CATALOG, full=True, now=utcnow())
    return make_account(committing_sessions, now=utcnow()).id


@pytest.fixture
def buyer(app: Flask, committing_sessions: sessionmaker[Session], account: int) -> Buyer:
    return make_buyer(app, committing_sessions, account)


def lines(sessions: sessionmaker[Session]) -> list[tuple[str, int]]:
    with sessions() as session:
        return [(line.line_key, line.quantity) for line in session.scalars(select(CartLine).order_by(CartLine.id))]


def add_volume(buyer: Buyer, catalog_id: str = "C-200", quantity: str = "10") -> Any:
    """Add to Cart as the course page's form posts it."""
    page = buyer.page(f"/store/courses/{catalog_id}", buy="1")
    return buyer.submit(page.form_of(page.field("Quantity")), "Add to Cart", quantity=quantity)


def cart(buyer: Buyer, status: int = 200) -> Page:
    return buyer.page("/store/cart", status=status)


def line_form(page: Page, index: int = 0) -> Any:
    return page.form_of(page.doc.xpath('//input[@name="quantity"]')[index])


def test_an_empty_cart(buyer: Buyer) -> None:
    page = cart(buyer)
    assert page.h1 == "Cart" and page.current_nav() == ["Cart"]
    assert "Your cart is empty." in page.text and page.links("Checkout") == []
    assert page.link("Find courses in the Store").startswith("/store?s=")
    assert page.link("Request a Quote").startswith("/store/quote?s=")


def test_add_to_cart_from_a_course_page_goes_to_the_cart(committing_sessions: sessionmaker[Session],
                                                         buyer: Buyer) -> None:
    response = add_volume(buyer, quantity="30")
    assert response.status_code == 303 and response.headers["Location"] == f"/store/cart?s={buyer.token}"
    assert lines(committing_sessions) == [("volume:" + str(_course_pk(committing_sessions, "C-200")), 30)]
    page = cart(buyer)
    assert "Added to your cart." in page.text
    title = page.doc.xpath('//h2[@class="cart-line-title"]')[0]
    assert " ".join(title.text_content().split()) == "Advanced Forklift"
    assert title.xpath(".//a")[0].get("href").startswith("/store/courses/C-200?s=")
    quantity = page.field("Quantity")
    assert quantity.get("value") == "30" and "1 to 1,000 per order" in page.described_by(quantity)
    text = " ".join(page.doc.xpath('//li[@class="cart-line"]')[0].text_content().split())
    # 30 seats: the 25-49 tier, 10 % off a $10.00 list price.
    assert "$9.00 per seat (list $10.00, 10 % discount for 25–49 seats)" in text and "$270.00" in text
    assert page.by_id("cart-subtotal").text_content() == "$270.00"
    assert page.link("Checkout").startswith("/store/checkout?s=")
    form = line_form(page)
    assert form.get("method") == "post" and form.get("action") == "/store/cart"
    assert [b.get("value") for b in form.xpath(".//button")] == ["update", "remove"]


def test_adding_the_same_course_again_adds_to_its_line(committing_sessions: sessionmaker[Session],
                                                      buyer: Buyer) -> None:
    add_volume(buyer, quantity="4")
    add_volume(buyer, quantity="6")
    assert [q for _key, q in lines(committing_sessions)] == [10]
    text = " ".join(cart(buyer).text.split())
    assert "$9.50 per seat (list $10.00, 5 % discount for 10–24 seats)" in text and "$95.00" in text


def test_update_changes_the_quantity_and_remove_takes_the_line_out(committing_sessions: sessionmaker[Session],
                                                                  buyer: Buyer) -> None:
    add_volume(buyer, quantity="3")
    page = cart(buyer)
    updated = buyer.submit(line_form(page), "Update", quantity="100")
    assert updated.status_code == 303 and updated.headers["Location"].startswith("/store/cart?s=")
    assert [q for _key, q in lines(committing_sessions)] == [100]
    page = cart(buyer)
    assert "Your cart was updated." in page.text and page.field("Quantity").get("value") == "100"
    assert "20 % discount for 100–249 seats" in page.text and page.by_id("cart-subtotal").text_content() == "$800.00"
    removed = buyer.submit(line_form(page), "Remove")
    assert removed.status_code == 303 and lines(committing_sessions) == []
    page = cart(buyer)
    assert "The item was removed from your cart." in page.text and "Your cart is empty." in page.text


@pytest.mark.parametrize(("typed", "message", "reason"), [
    ("0", "Enter the number of seats as a whole number, 1 or more.", "invalid_quantity"),
    ("-1", "Enter the number of seats as a whole number, 1 or more.", "invalid_quantity"),
    ("abc", "Enter the number of seats as a whole number, 1 or more.", "invalid_quantity"),
    ("2.5", "Enter the number of seats as a whole number, 1 or more.", "invalid_quantity"),
    ("", "Enter the number of seats as a whole number, 1 or more.", "invalid_quantity"),
    ("1001", "The store sells up to 1000 Volume seats per course per order. For more seats, request a quote",
     "quote_required"),
])
def test_a_bad_quantity_on_update_gets_a_message_next_to_the_field(committing_sessions: sessionmaker[Session],
                                                                   buyer: Buyer, typed: str, message: str,
                                                                   reason: str) -> None:
    add_volume(buyer, quantity="5")
    before = lines(committing_sessions)
    with committing_sessions() as session:
        revision = session.scalars(select(Cart.revision)).one()
    page = Page(buyer.submit(line_form(cart(buyer)), "Update", quantity=typed))
    assert page.status == 422
    field = page.field("Quantity")
    assert field.get("aria-invalid") == "true" and field.get("value") == typed  # what was typed stays
    assert message in page.described_by(field)
    if reason == "quote_required":
        quote = page.by_id(field.get("aria-describedby").split()[-1]).xpath(".//a")[0]
        assert " ".join(quote.text_content().split()) == "Request a Quote"
        assert query_of(quote.get("href")) == {"s": buyer.token, "item": "volume", "catalog_id": "C-200",
                                               "quantity": "1001"}
    else:
        assert "Request a Quote" not in page.described_by(field)
    assert lines(committing_sessions) == before  # nothing changed
    with committing_sessions() as session:
        assert session.scalars(select(Cart.revision)).one() == revision


@pytest.mark.parametrize(("typed", "message"), [
    ("0", "Enter the number of seats as a whole number, 1 or more."),
    ("-1", "Enter the number of seats as a whole number, 1 or more."),
    ("abc", "Enter the number of seats as a whole number, 1 or more."),
    ("1001", "The store sells up to 1000 Volume seats per course per order"),
])
def test_a_bad_quantity_on_add_to_cart_comes_back_on_the_course_page(committing_sessions: sessionmaker[Session],
                                                                     buyer: Buyer, typed: str, message: str) -> None:
    page = Page(add_volume(buyer, quantity=typed))
    assert page.status == 422 and page.h1 == "Advanced Forklift"
    field = page.field("Quantity")
    assert field.get("aria-invalid") == "true" and field.get("value") == typed and message in page.described_by(field)
    if typed == "1001":
        assert query_of(page.link("Request a Quote"))["quantity"] == "1001"
    assert lines(committing_sessions) == []


def test_plus_subscription_into_the_cart(committing_sessions: sessionmaker[Session], buyer: Buyer) -> None:
    page = buyer.page("/store/plus")
    response = buyer.submit(page.form_of(page.field("Seats")), "Add to Cart", term="monthly", quantity="3")
    assert response.status_code == 303
    page = cart(buyer)
    text = " ".join(page.text.split())
    assert "Plus subscription (monthly)" in text and "A new Plus subscription" in text and "renewing every month" in text
    assert page.by_id("cart-subtotal").text_content() == "$117.00"
    assert "you agree to its recurring charges at checkout" in text


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"term": "annual", "quantity": "101"}, "Seats", "The store sells up to 100 Plus seats per order"),
    ({"term": "annual", "quantity": "0"}, "Seats", "Enter the number of seats as a whole number, 1 or more."),
    ({"term": "weekly", "quantity": "3"}, None, "Choose an annual or a monthly subscription."),
])
def test_a_refused_plus_add_comes_back_on_the_plus_page(committing_sessions: sessionmaker[Session], buyer: Buyer,
                                                        fields: dict[str, str], field: str | None,
                                                        message: str) -> None:
    page = Page(buyer.post("/store/cart", {"item": "plus", "action": "add", **fields}))
    assert page.status == 422 and page.h1 == "Plus subscription"
    if field is not None:
        element = page.field(field)
        assert element.get("aria-invalid") == "true" and message in page.described_by(element)
    else:
        assert message in page.described_by(page.doc.xpath("//fieldset")[0])
    if fields["quantity"] == "101":
        assert query_of(page.link("Request a Quote")) == {"s": buyer.token, "item": "plus", "term": "annual",
                                                          "quantity": "101"}
    assert lines(committing_sessions) == []


def test_seats_added_to_a_subscription_are_prorated_in_the_cart(committing_sessions: sessionmaker[Session],
                                                                account: int, buyer: Buyer) -> None:
    now = utcnow()
    start = add_months(now, -3)
    grant_plus(committing_sessions, account, 5, "annual", now, start=start)
    page = buyer.page("/store/plus")
    assert buyer.submit(page.form_of(page.button("Add Seats")), "Add Seats", quantity="2").status_code == 303
    page = cart(buyer)
    text = " ".join(page.text.split())
    assert "Plus subscription (annual): added seats" in text
    assert f"for the rest of its term (until {add_months(start, 12):%Y-%m-%d})" in text
    prices = {prorated_seat_price_cents(39_900, start, add_months(start, 12), at)
              for at in (now, utcnow() + timedelta(minutes=1))}
    assert any(f"{format_money(p, 'USD')} per seat" in text and format_money(2 * p, "USD") in text for p in prices)
    assert "% of a term's $399.00: the rest of the term" in text


def test_an_account_holding_plus_is_sent_to_support_for_volume(committing_sessions: sessionmaker[Session],
                                                               account: int, buyer: Buyer) -> None:
    grant_plus(committing_sessions, account, 5, "annual", utcnow())
    page = Page(buyer.post("/store/cart", {"item": "volume", "catalog_id": "C-200", "quantity": "5", "action": "add"}))
    assert page.status == 422 and page.h1 == "Advanced Forklift"
    # The course page again (it offers no Volume form to this account), with the orders domain's answer.
    assert page.doc.xpath('//input[@name="quantity"]') == []
    assert "Your organization already has Plus licenses. To add Volume licenses, contact support" in page.text
    assert lines(committing_sessions) == []


def test_an_account_holding_volume_is_sent_to_support_for_plus(committing_sessions: sessionmaker[Session],
                                                               account: int, buyer: Buyer) -> None:
    grant_volume(committing_sessions, account, "C-200", 5, utcnow())
    page = Page(buyer.post("/store/cart", {"item": "plus", "term": "annual", "quantity": "5", "action": "add"}))
    assert page.status == 422
    assert "To add Plus licenses, contact support" in page.text
    assert lines(committing_sessions) == []


def test_an_account_without_licenses_combines_plus_and_volume(committing_sessions: sessionmaker[Session],
                                                              buyer: Buyer) -> None:
    add_volume(buyer, quantity="10")
    assert buyer.post("/store/cart", {"item": "plus", "term": "annual", "quantity": "2"}).status_code == 303
    page = cart(buyer)
    assert len(page.doc.xpath('//li[@class="cart-line"]')) == 2 and page.links("Checkout")
    assert page.by_id("cart-subtotal").text_content() == "$893.00"  # 10 × $9.50 + 2 × $399.00


def test_a_pay_per_use_account_may_add_plus_and_volume(committing_sessions: sessionmaker[Session], account: int,
                                                      buyer: Buyer) -> None:
    configure_ppu(committing_sessions, account, "PPU-1", 10_000, utcnow())
    assert add_volume(buyer, quantity="2").status_code == 303
    assert buyer.post("/store/cart", {"item": "plus", "term": "monthly", "quantity": "1"}).status_code == 303
    assert len(lines(committing_sessions)) == 2


def test_a_subscription_only_course_is_never_a_volume_line(committing_sessions: sessionmaker[Session],
                                                           buyer: Buyer) -> None:
    page = Page(buyer.post("/store/cart", {"item": "volume", "catalog_id": "C-400", "quantity": "2"}))
    assert page.status == 422 and "is only offered with the Plus subscription" in page.text
    assert lines(committing_sessions) == []


def test_a_problem_that_arose_later_shows_on_the_line_and_blocks_checkout(committing_sessions: sessionmaker[Session],
                                                                         account: int, buyer: Buyer) -> None:
    add_volume(buyer, quantity="3")
    grant_plus(committing_sessions, account, 5, "annual", utcnow())  # staff granted Plus meanwhile
    page = cart(buyer)
    assert "To add Volume licenses, contact support" in page.text and page.links("Checkout") == []
    assert "Remove or change the items marked above before checking out." in page.text


def test_unknown_lines_courses_and_actions(committing_sessions: sessionmaker[Session], buyer: Buyer) -> None:
    missing = Page(buyer.post("/store/cart", {"action": "update", "line_id": "999", "quantity": "2"}))
    assert missing.status == 404 and "That item is not in your cart (any more)." in missing.text
    assert Page(buyer.post("/store/cart", {"action": "remove", "line_id": "abc"})).status == 404
    unknown = Page(buyer.post("/store/cart", {"item": "volume", "catalog_id": "NOPE", "quantity": "2"}))
    assert unknown.status == 404 and unknown.h1 == "Course not found"
    nothing = Page(buyer.post("/store/cart", {"item": "boat", "quantity": "2"}))
    assert nothing.status == 400 and "<code>invalid_item</code>" in nothing.html
    odd = Page(buyer.post("/store/cart", {"action": "explode"}))
    assert odd.status == 400 and "<code>invalid_action</code>" in odd.html
    assert lines(committing_sessions) == []


def test_another_buyers_line_is_not_yours(app: Flask, committing_sessions: sessionmaker[Session], account: int,
                                          buyer: Buyer) -> None:
    other_account = make_account(committing_sessions, name="Other Org", now=utcnow()).id
    other = make_buyer(app, committing_sessions, other_account, external_id="other-admin")
    add_volume(other, quantity="3")
    with committing_sessions() as session:
        line_id = session.scalars(select(CartLine.id)).one()
    page = Page(buyer.post("/store/cart", {"action": "update", "line_id": str(line_id), "quantity": "9"}))
    assert page.status == 404
    assert Page(buyer.post("/store/cart", {"action": "remove", "line_id": str(line_id)})).status == 404
    assert [q for _key, q in lines(committing_sessions)] == [3]


def test_changes_need_the_csrf_token(committing_sessions: sessionmaker[Session], buyer: Buyer) -> None:
    response = buyer.post("/store/cart", {"item": "volume", "catalog_id": "C-200", "quantity": "2"}, csrf=False)
    assert response.status_code == 400 and "csrf_failed" in response.get_data(as_text=True)
    assert lines(committing_sessions) == []


@pytest.mark.parametrize("path", ["/store/cart", "/store/checkout", "/store/orders", "/store/quote",
                                  "/store/orders/ORD-000001"])
def test_a_learner_gets_the_403_on_the_buying_pages(app: Flask, committing_sessions: sessionmaker[Session],
                                                    account: int, path: str) -> None:
    learner = make_buyer(app, committing_sessions, account, is_admin=False, external_id="learner-1")
    page = learner.page(path, status=403)
    assert "Only your organization's administrators can buy courses and licenses in the store." in page.text
    for post in ("/store/cart", "/store/checkout", "/store/quote", "/store/checkout/resume"):
        assert learner.post(post, {"item": "volume", "catalog_id": "C-200", "quantity": "2"}).status_code == 403
    assert lines(committing_sessions) == []


def _course_pk(sessions: sessionmaker[Session], catalog_id: str) -> int:
    from store.catalog.models import Course

    with sessions() as session:
        return int(session.scalar(select(Course.id).where(Course.catalog_id == catalog_id)))


def test_cart_count_is_one_per_buyer(committing_sessions: sessionmaker[Session], buyer: Buyer) -> None:
    add_volume(buyer, quantity="1")
    add_volume(buyer, quantity="1")
    with committing_sessions() as session:
        assert session.scalar(select(func.count()).select_from(Cart)) == 1

"""A course's store page (/store/courses/<catalog_id>): its facts, status and replacement, Volume
discount tiers and PPU price, and the buttons for what the account holds: **Buy Now**,
**Deliver Course** + **Buy More Seats**, **Add to Library**, Plus only for subscription-only
courses, contact support for a second license type; the Volume quantity with **Show price**
(every bad quantity gets a message next to the field) before **Add to Cart**."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from store.base import utcnow
from store.catalog.service import import_records
from store.licenses.models import PlusSubscription, PpuLibraryEntry, VolumeLot
from store.licenses.service import add_to_ppu_library, configure_ppu, grant_plus, grant_volume
from tests.factories.licenses import make_account
from tests.factories.store import Buyer, Form, Page, make_buyer, query_of


def rec(catalog_id: str, title: str, **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"id": catalog_id, "title": title, "publisher": "Safe Co",
                            "description": "Line one.\nLine two.", "volume_price_cents": 1_000,
                            "ppu_price_cents": 2_500, "plus": False, "duration_minutes": 90, "language": "de"}
    base.update(changes)
    return base


CATALOG = [
    rec("C-100", "Workplace Safety", plus=True),
    rec("C-200", "Advanced Forklift"),
    rec("C-300", "Old Forklift", status="retiring", replacement_id="C-200"),
    rec("C-400", "Ideas Worth Spreading", plus=True, bundle="TED@Work", bundle_subscription_only=True),
    rec("C-500", "Gone Course", status="retired", replacement_id="C-200"),
]


@pytest.fixture
def account(app: Flask, committing_sessions: sessionmaker[Session]) -> int:
    import_records(committing_sessions, CATALOG, full=True, now=utcnow())
    return make_account(committing_sessions, now=utcnow()).id


@pytest.fixture
def buyer(app: Flask, committing_sessions: sessionmaker[Session], account: int) -> Buyer:
    return make_buyer(app, committing_sessions, account)


def course(buyer: Buyer, catalog_id: str, status: int = 200, **args: Any) -> Page:
    return buyer.page(f"/store/courses/{catalog_id}", status=status, **args)


def facts(page: Page) -> dict[str, str]:
    return {" ".join(dt.text_content().split()): " ".join(dd.text_content().split())
            for dt, dd in zip(page.doc.xpath("//dl/div/dt"), page.doc.xpath("//dl/div/dd"))}


def counts(sessions: sessionmaker[Session]) -> tuple[int, ...]:
    with sessions() as session:
        return tuple(session.scalar(select(func.count()).select_from(model)) or 0
                     for model in (PlusSubscription, VolumeLot, PpuLibraryEntry))


def test_the_course_facts_prices_and_tiers(buyer: Buyer) -> None:
    page = course(buyer, "C-200")
    assert page.h1 == "Advanced Forklift" and page.current_nav() == ["Store"]
    assert facts(page) == {"Publisher": "Safe Co", "Language": "German", "Duration": "1 h 30 min",
                           "Catalog id": "C-200", "Status": "Available", "Plus": "Not in the Plus catalog"}
    assert page.doc.xpath('//div[@class="store-description"]')[0].text == "Line one.\nLine two."
    rows = [[" ".join(td.text_content().split()) for td in tr.xpath("td")]
            for tr in page.doc.xpath('//table[@class="store-tiers"]/tbody/tr')]
    assert [r[:2] for r in rows] == [["1–9", "0 %"], ["10–24", "5 %"], ["25–49", "10 %"], ["50–99", "15 %"],
                                     ["100–249", "20 %"], ["250–499", "25 %"], ["500–1000", "30 %"]]
    assert rows[0][2] == "$10.00" and rows[1][2].startswith("$9.50") and rows[6][2] == "$7.00"
    assert "never more than a larger order" in rows[1][2]  # 24 seats cost what 25 do
    assert "Pay Per Use: $25.00 per learner" in page.text
    assert page.link("request a quote").startswith("/store/quote?s=")


def test_unknown_course_is_a_404_page(buyer: Buyer) -> None:
    page = course(buyer, "C-999", status=404)
    assert page.h1 == "Course not found" and "<code>course_not_found</code>" in page.html


def test_a_retiring_course_names_its_replacement_with_a_link(buyer: Buyer) -> None:
    page = course(buyer, "C-300")
    assert facts(page)["Status"] == "Retiring: it will be withdrawn from the catalog; replaced by Advanced Forklift"
    assert page.link("Advanced Forklift").startswith("/store/courses/C-200?s=")
    assert page.links("Buy Now")  # still sold until it is retired


def test_a_retired_course_is_not_sold(buyer: Buyer) -> None:
    page = course(buyer, "C-500", buy="1")
    assert facts(page)["Status"] == "Retired: no longer sold; replaced by Advanced Forklift"
    assert page.links("Buy Now") == [] and page.buttons("Add to Cart") == [] and page.buttons("Show price") == []
    assert page.links("Buy More Seats") == [] and page.buttons("Add to Library") == []


def test_no_license_offers_buy_now_and_the_volume_quantity(buyer: Buyer) -> None:
    page = course(buyer, "C-200")
    assert page.links("Deliver Course") == [] and page.links("Buy More Seats") == []
    assert page.buttons("Add to Cart") == []  # the purchase form opens with Buy Now
    href = page.link("Buy Now")
    assert href.startswith("/store/courses/C-200?") and href.endswith("#buy")
    assert query_of(href.split("#")[0]) == {"buy": "1", "s": buyer.token}
    buying = course(buyer, "C-200", buy="1")
    quantity = buying.field("Quantity")
    assert quantity.get("name") == "quantity" and "1 to 1,000" in buying.described_by(quantity)
    form = buying.form_of(quantity)
    assert form.get("method") == "post" and form.get("action").split("?")[0] == "/store/cart"
    assert {name for name, _value in Form(form).fields()} == {
        "csrf_token", "s", "item", "catalog_id", "quantity"}
    assert form.xpath('.//input[@name="item"]')[0].get("value") == "volume"
    assert form.xpath('.//input[@name="catalog_id"]')[0].get("value") == "C-200"
    add = buying.button("Add to Cart")
    assert add.get("formaction") is None and add.get("type") == "submit"
    show = buying.button("Show price")
    assert show.get("formaction").split("?")[0] == "/store/courses/C-200"


@pytest.mark.parametrize(("quantity", "total", "detail"), [
    ("1", "$10.00", "$10.00 per seat"),
    ("10", "$95.00", "$9.50 per seat, 5 % discount"),
    ("24", "$225.00", "capped at the price of 25 seats"),
    ("1000", "$7,000.00", "$7.00 per seat, 30 % discount"),
])
def test_show_price_gives_the_tier_price_before_add_to_cart(buyer: Buyer, quantity: str, total: str,
                                                           detail: str) -> None:
    buying = course(buyer, "C-200", buy="1")
    form = buying.form_of(buying.field("Quantity"))
    response = buyer.submit(form, "Show price", quantity=quantity)
    page = Page(response)
    assert page.status == 200, page.text
    price = " ".join(page.by_id("store-price").text_content().split())
    assert f": {total}" in price and detail in price
    assert page.field("Quantity").get("value") == quantity
    assert page.buttons("Add to Cart")  # still there, with the quantity kept


@pytest.mark.parametrize(("quantity", "message"), [
    ("0", "Enter the number of seats as a whole number, 1 or more."),
    ("-1", "Enter the number of seats as a whole number, 1 or more."),
    ("1001", "The store sells up to 1000 Volume seats per course per order. For more seats, request a quote"),
    ("abc", "Enter the number of seats as a whole number, 1 or more."),
    ("", "Enter the number of seats as a whole number, 1 or more."),
    ("2.5", "Enter the number of seats as a whole number, 1 or more."),
    ("99999999999999999999", "Enter the number of seats as a whole number, 1 or more."),
])
def test_a_bad_quantity_gets_a_message_next_to_the_field_and_changes_nothing(
        committing_sessions: sessionmaker[Session], buyer: Buyer, quantity: str, message: str) -> None:
    before = counts(committing_sessions)
    page = Page(buyer.post("/store/courses/C-200", {"quantity": quantity, "action": "price"}))
    assert page.status == 422
    field = page.field("Quantity")
    assert field.get("aria-invalid") == "true" and field.get("value") == quantity
    assert message in page.described_by(field)
    assert page.doc.xpath('//*[@id="store-price"]') == []
    if quantity == "1001":
        assert page.link("Request a Quote").startswith("/store/quote?s=")
    assert counts(committing_sessions) == before


def test_show_price_needs_the_csrf_token(buyer: Buyer) -> None:
    response = buyer.post("/store/courses/C-200", {"quantity": "5"}, csrf=False)
    assert response.status_code == 400 and "csrf_failed" in response.get_data(as_text=True)


def test_a_volume_holder_delivers_and_buys_more_seats(committing_sessions: sessionmaker[Session], account: int,
                                                     buyer: Buyer) -> None:
    grant_volume(committing_sessions, account, "C-200", 10, utcnow())
    page = course(buyer, "C-200")
    assert page.links("Buy Now") == []
    assert "can deliver this course under Volume" in page.text
    deliver = page.link("Deliver Course")  # the dashboard's delivery page, for this course and license
    assert deliver.startswith("/dashboard/deliver?")
    assert query_of(deliver) == {"course": "C-200", "license_type": "volume", "s": buyer.token}
    assert buyer.client.get(deliver).status_code == 200
    more = page.link("Buy More Seats")
    assert query_of(more.split("#")[0])["buy"] == "1"
    assert course(buyer, "C-200", buy="1").buttons("Add to Cart")


def test_a_plus_course_under_the_subscription_buys_more_seats_on_the_plus_page(
        committing_sessions: sessionmaker[Session], account: int, buyer: Buyer) -> None:
    grant_plus(committing_sessions, account, 5, "annual", utcnow())
    page = course(buyer, "C-100")
    assert page.links("Deliver Course") and "can deliver this course under Plus" in page.text
    assert page.link("Buy More Seats").split("?")[0] == "/store/plus"
    # Volume of another course: the account holds Plus, so that is for vendor support.
    other = course(buyer, "C-200")
    assert other.links("Buy Now") == [] and other.links("Deliver Course") == []
    # The orders domain's rule and words (one owner of "contact support").
    assert ("Your organization already has Plus licenses. To add Volume licenses, contact support"
            in other.by_id("store-contact-support").text_content())
    refused = Page(buyer.post("/store/courses/C-200", {"quantity": "5"}))
    assert refused.status == 422 and "cannot be bought as Volume seats here" in refused.text


def test_two_license_types_are_chosen_when_delivering(committing_sessions: sessionmaker[Session], account: int,
                                                     buyer: Buyer) -> None:
    grant_plus(committing_sessions, account, 5, "annual", utcnow())
    grant_volume(committing_sessions, account, "C-100", 5, utcnow())
    page = course(buyer, "C-100")
    # Deliver Course leads to the delivery page, which asks which license (tests/web/test_delivery.py).
    assert query_of(page.link("Deliver Course")) == {"course": "C-100", "s": buyer.token}
    assert "under Plus and Volume" in page.text
    assert query_of(page.link("Buy More Seats").split("#")[0])["buy"] == "1"  # Volume seats of this course


def test_a_subscription_only_course_offers_only_the_plus_subscription(buyer: Buyer) -> None:
    page = course(buyer, "C-400")
    assert page.link("Buy Now").split("?")[0] == "/store/plus"
    assert "offered only with the Plus subscription" in page.text
    assert page.doc.xpath('//table[@class="store-tiers"]') == []
    buying = course(buyer, "C-400", buy="1")
    assert buying.buttons("Add to Cart") == [] and buying.doc.xpath('//input[@name="quantity"]') == []
    refused = Page(buyer.post("/store/courses/C-400", {"quantity": "5"}))
    assert refused.status == 422


def test_pay_per_use_accounts_add_to_library(committing_sessions: sessionmaker[Session], account: int,
                                            buyer: Buyer) -> None:
    assert course(buyer, "C-200").buttons("Add to Library") == []  # no Pay Per Use: no button
    configure_ppu(committing_sessions, account, "PPU-1", 100_000, utcnow())
    page = course(buyer, "C-200")
    form = page.form_of(page.button("Add to Library"))
    assert form.get("method") == "post" and form.get("action") == "/store/library"
    response = buyer.submit(form, "Add to Library")
    assert response.status_code == 303 and response.headers["Location"].startswith("/store/courses/C-200?s=")
    after = Page(buyer.client.get(response.headers["Location"]))
    assert "Added to your Pay Per Use library: “Advanced Forklift”." in after.text
    assert after.buttons("Add to Library") == [] and "In your Pay Per Use library" in after.text
    assert after.links("Deliver Course") and "under Pay Per Use" in after.text
    # A Pay Per Use-only account may still buy Volume (and Plus) from the course page.
    assert after.links("Buy More Seats") and course(buyer, "C-200", buy="1").buttons("Add to Cart")
    assert course(buyer, "C-100", buy="1").link("see the Plus subscription").startswith("/store/plus")
    # Never for a subscription-only course.
    assert course(buyer, "C-400").buttons("Add to Library") == []


def test_add_to_library_twice_adds_once(committing_sessions: sessionmaker[Session], account: int,
                                       buyer: Buyer) -> None:
    configure_ppu(committing_sessions, account, "PPU-1", 100_000, utcnow())
    add_to_ppu_library(committing_sessions, account, "C-200", utcnow())
    response = buyer.post("/store/library", {"catalog_id": "C-200",
                                             "back": f"/store/courses/C-200?s={buyer.token}"})
    assert "Already in your Pay Per Use library" in Page(buyer.client.get(response.headers["Location"])).text
    assert counts(committing_sessions)[2] == 1

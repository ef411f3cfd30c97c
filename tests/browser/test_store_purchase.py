"""The purchase in a real Chromium, with the tool inside the demo LMS's iframe on another site and
third-party cookies blocked (a fresh incognito context): the admin's navigation launch → Store →
search → the course page → Buy Now → Quantity → Add to Cart → a new quantity → Update →
Checkout → the test card 4242 4242 4242 4242 → Complete Purchase → Order History lists the order
→ a learner's launch of that course takes one of the new seats. The same with the declined card
4000 0000 0000 0002: a clear message, no order completed, no license."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from lti_tool import create_app
from lti_tool.services import services_of
from store.base import utcnow
from store.demo import seed_demo
from store.licenses.models import Seat, VolumeLot
from store.orders.models import Order
from tests.browser.conftest import LiveServer, new_page, serve_app
from tests.browser.test_lti_demo import _course_to_buy, launch, open_demo, wait_for_player
from tests.web.conftest import settings_for

pytestmark = pytest.mark.browser

SECRET = "browser-store-tests-secret-" + "s" * 40
Sessions = sessionmaker[Session]


@pytest.fixture
def demo(engine: Engine, committing_sessions: Sessions) -> Iterator[LiveServer]:
    seed_demo(committing_sessions, utcnow(), courses=40)

    def build(base_url: str) -> Any:
        return create_app(settings_for(engine, public_base_url=base_url, demo_platform=True, secret_key=SECRET))

    with serve_app(build) as server:
        yield server
    services_of(server.app).engine.dispose()


def lots_of(sessions: Sessions, catalog_id: str) -> list[tuple[int, int, int]]:
    from store.catalog.models import Course

    with sessions() as session:
        return [(lot.id, lot.seats_total, lot.seats_used) for lot in session.scalars(
            select(VolumeLot).join(Course, Course.id == VolumeLot.course_pk).where(Course.catalog_id == catalog_id))]


def to_checkout(page: Any, title: str) -> Any:
    """Admin navigation launch → Store → search → course → Buy Now → Add to Cart → Update →
    Checkout, in the LMS frame; returns the frame."""
    frame = launch(page, person="pat-morgan", role="admin", button="#demo-launch-navigation")
    expect(frame.locator("h1")).to_have_text("Dashboard", timeout=20_000)
    bar = frame.get_by_role("navigation", name="Store")
    bar.get_by_role("link", name="Store", exact=True).click()
    expect(frame.locator("h1")).to_have_text("Store")
    frame.get_by_label("Search courses").fill(title)
    frame.get_by_role("button", name="Search", exact=True).click()
    expect(frame.get_by_label("Search courses")).to_have_value(title)
    frame.get_by_role("link", name=title, exact=True).first.click()
    expect(frame.locator("h1")).to_have_text(title)
    frame.get_by_role("link", name="Buy Now", exact=True).click()
    frame.get_by_label("Quantity").fill("5")
    frame.get_by_role("button", name="Add to Cart", exact=True).click()
    expect(frame.locator("h1")).to_have_text("Cart")
    expect(frame.get_by_role("status")).to_contain_text("Added to your cart.")
    expect(bar.get_by_role("link", name="Cart", exact=True)).to_have_attribute("aria-current", "page")
    frame.get_by_label("Quantity").fill("12")
    frame.get_by_role("button", name="Update", exact=True).click()
    expect(frame.get_by_role("status")).to_contain_text("Your cart was updated.")
    expect(frame.get_by_label("Quantity")).to_have_value("12")
    expect(frame.locator("#cart-subtotal")).not_to_be_empty()
    frame.get_by_role("link", name="Checkout", exact=True).click()
    expect(frame.locator("h1")).to_have_text("Checkout")
    return frame


def fill_card(frame: Any, number: str) -> None:
    frame.get_by_label("Billing name").fill("Pat Morgan")
    frame.get_by_label("Billing email").fill("pat.morgan@example.edu")
    frame.get_by_label("Billing address").fill("1 College Road\nSpringfield")
    frame.get_by_label("Country").fill("US")
    frame.get_by_label("Card number").fill(number)
    frame.get_by_label("Expiry").fill("12/34")
    frame.get_by_label("CVC").fill("123")
    frame.get_by_label("Name on card").fill("Pat Morgan")


def test_an_admin_buys_seats_in_the_lms_frame_and_a_learner_takes_one(chromium: Any, demo: LiveServer,
                                                                      committing_sessions: Sessions) -> None:
    catalog_id, title = _course_to_buy(committing_sessions)
    page = new_page(chromium, viewport={"width": 1000, "height": 900})  # third-party cookies blocked
    try:
        open_demo(page, demo)
        frame = to_checkout(page, title)
        total = frame.locator("#checkout-total").inner_text()
        fill_card(frame, "4242 4242 4242 4242")
        frame.get_by_role("button", name="Complete Purchase", exact=True).click()
        expect(frame.locator("h1")).to_have_text("Thank you for your purchase")
        number = frame.locator("#confirmation-number").inner_text()
        assert number.startswith("ORD-")
        expect(frame.get_by_role("link", name="Deliver Course", exact=True)).to_be_visible()

        frame.get_by_role("navigation", name="Store").get_by_role("link", name="Order History", exact=True).click()
        expect(frame.locator("h1")).to_have_text("Order History")
        row = frame.locator("tbody tr").filter(has_text=number)
        expect(row).to_contain_text(total)
        expect(row).to_contain_text("Completed")
        # Every step in the frame, without a cookie: the session token rode in links and forms.
        assert not page.context.cookies(demo.url)

        (lot_id, seats, used), = lots_of(committing_sessions, catalog_id)
        assert (seats, used) == (12, 0)
        # A learner's launch of that course, through the LMS: one of the new seats.
        page.fill("#demo-course-other", catalog_id)
        page.select_option("#demo-license", "volume")
        launch(page, person="lucas-silva")
        wait_for_player(page, demo)
        assert lots_of(committing_sessions, catalog_id) == [(lot_id, 12, 1)]
        with committing_sessions() as session:
            seat = session.scalars(select(Seat).where(Seat.lot_id == lot_id)).one()
            assert seat.license_type == "volume"
    finally:
        page.context.close()


def test_a_declined_card_completes_nothing(chromium: Any, demo: LiveServer, committing_sessions: Sessions) -> None:
    catalog_id, title = _course_to_buy(committing_sessions)
    page = new_page(chromium, viewport={"width": 800, "height": 900})
    try:
        open_demo(page, demo)
        frame = to_checkout(page, title)
        fill_card(frame, "4000 0000 0000 0002")
        with page.expect_response(lambda r: urlsplit(r.url).path == "/store/checkout" and r.status == 402):
            frame.get_by_role("button", name="Complete Purchase", exact=True).click()
        alert = frame.get_by_role("alert")
        expect(alert).to_contain_text("Your card was declined.")
        expect(alert).to_contain_text("Your order was not completed and nothing was charged.")
        expect(frame.get_by_label("Billing name")).to_have_value("Pat Morgan")  # billing kept
        expect(frame.get_by_label("Card number")).to_have_value("")  # the number never comes back
        assert lots_of(committing_sessions, catalog_id) == []
        with committing_sessions() as session:
            assert list(session.scalars(select(Order.status))) == ["failed"]
    finally:
        page.context.close()

"""Carts on both databases: adding, updating and removing items; what the cart refuses (and
then changes nothing); what an account may buy given what it holds; quote requests."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from store.errors import InvalidInput, NotFound
from store.licenses import service as licenses
from store.orders import service as store
from store.orders.models import Cart, CartLine, QuoteRequest
from tests.factories.catalog import make_bundle, make_course
from tests.factories.orders import T0, Shop, add_buyer, make_shop

Sessions = sessionmaker[Session]


@pytest.fixture
def shop(sessions: Sessions) -> Shop:
    with sessions.begin() as s:
        make_course(s, "VOL-1", is_plus=False, volume_price_cents=1_000, title="Forklift Safety")
        make_course(s, "VOL-2", is_plus=True, volume_price_cents=2_000)
        make_course(s, "OLD-1", status="retired")
        make_course(s, "TED-1", is_plus=True, bundle=make_bundle(s, "TED@Work"))
    return make_shop(sessions)


def cart_state(sessions: Sessions) -> tuple[int, ...]:
    with sessions() as s:
        revision = s.scalar(select(func.coalesce(func.max(Cart.revision), -1)))
        lines = s.execute(select(CartLine.kind, CartLine.quantity).order_by(CartLine.id)).all()
        return (revision, *[q for _k, q in lines])


def test_add_update_remove(shop: Shop) -> None:
    cart = shop.add(store.PlusItem("annual", "10"))
    assert [(l.kind, l.quantity, l.line_total_cents) for l in cart.lines] == [("plus", 10, 399_000)]
    cart = shop.add(store.VolumeItem("VOL-1", 20))
    cart = shop.add(store.VolumeItem("VOL-1", "4"))  # the same course again: seats add up
    volume = cart.lines[1]
    assert (volume.quantity, volume.unit_cents, volume.capped_by, volume.line_total_cents) == (24, 950, 25, 22_500)
    assert cart.subtotal_cents == 421_500 and cart.can_checkout and cart.needs_recurring_consent
    cart = store.update_quantity(shop.sessions, shop.settings, shop.owner, volume.id, " 50 ", T0)
    assert cart.lines[1].discount_percent == 15 and cart.lines[1].line_total_cents == 42_500
    key = cart.checkout_key
    cart = store.remove_line(shop.sessions, shop.settings, shop.owner, cart.lines[0].id, T0)
    assert [l.kind for l in cart.lines] == ["volume"] and not cart.needs_recurring_consent
    assert cart.checkout_key != key  # every change makes a new checkout key


@pytest.mark.parametrize("seats, reason", [("0", "invalid_quantity"), ("-3", "invalid_quantity"),
                                           ("1001", "quote_required"), ("ten", "invalid_quantity"),
                                           ("2.5", "invalid_quantity"), (0, "invalid_quantity")])
def test_bad_volume_quantities_change_nothing(shop: Shop, seats: object, reason: str) -> None:
    shop.add(store.VolumeItem("VOL-1", 3))
    before = cart_state(shop.sessions)
    with pytest.raises(InvalidInput) as refused:
        shop.add(store.VolumeItem("VOL-1", seats))  # type: ignore[arg-type]
    assert refused.value.reason == reason
    line_id = shop.cart().lines[0].id
    with pytest.raises(InvalidInput) as refused_update:
        store.update_quantity(shop.sessions, shop.settings, shop.owner, line_id, seats, T0)  # type: ignore[arg-type]
    assert refused_update.value.reason == reason
    assert cart_state(shop.sessions) == before


def test_limits_count_what_is_in_the_cart(shop: Shop) -> None:
    shop.add(store.VolumeItem("VOL-1", 600))
    with pytest.raises(InvalidInput) as refused:
        shop.add(store.VolumeItem("VOL-1", 401))  # 1001 in all
    assert refused.value.reason == "quote_required"
    shop.add(store.PlusItem("monthly", 100))
    with pytest.raises(InvalidInput) as plus:
        shop.add(store.PlusItem("monthly", 1))
    assert plus.value.reason == "quote_required"
    assert [l.quantity for l in shop.cart().lines] == [600, 100]


@pytest.mark.parametrize("catalog_id, reason, error", [("OLD-1", "course_retired", InvalidInput),
                                                       ("TED-1", "bundle_excluded", InvalidInput),
                                                       ("NOPE", "unknown_course", NotFound)])
def test_courses_the_store_does_not_sell_as_volume(shop: Shop, catalog_id: str, reason: str, error: type) -> None:
    with pytest.raises(error) as refused:
        shop.add(store.VolumeItem(catalog_id, 1))
    assert refused.value.reason == reason
    assert shop.cart().is_empty


@pytest.mark.parametrize("catalog_id", ["VOL\x00", "\ud800", "x" * 201])
def test_text_the_input_rule_refuses_is_an_unknown_course(shop: Shop, catalog_id: str) -> None:
    with pytest.raises(NotFound) as refused:
        shop.add(store.VolumeItem(catalog_id, 1))
    assert refused.value.reason == "unknown_course"
    with pytest.raises(NotFound):
        store.request_quote(shop.sessions, shop.owner, "Ann", "a@b.co", "", [store.VolumeItem(catalog_id, 1)], T0)


def test_an_unknown_term_or_another_accounts_line(shop: Shop, sessions: Sessions) -> None:
    with pytest.raises(InvalidInput) as term:
        shop.add(store.PlusItem("weekly", 1))
    assert term.value.reason == "invalid_term"
    other = make_shop(sessions, "Other Org")
    line = other.add(store.VolumeItem("VOL-1", 2)).lines[0]
    with pytest.raises(NotFound) as foreign:
        store.remove_line(sessions, shop.settings, shop.owner, line.id, T0)
    assert foreign.value.reason == "unknown_line"
    with pytest.raises(NotFound):  # a learner of another account is nobody's buyer here
        store.add_to_cart(sessions, shop.settings, store.CartOwner(shop.owner.account_id, other.owner.learner_id),
                          store.VolumeItem("VOL-1", 1), T0)


def test_two_admins_of_one_account_have_a_cart_each(shop: Shop) -> None:
    colleague = add_buyer(shop.sessions, shop.owner.account_id, "admin-2")
    shop.add(store.VolumeItem("VOL-1", 2))
    theirs = store.add_to_cart(shop.sessions, shop.settings, colleague, store.PlusItem("annual", 1), T0)
    assert [l.kind for l in theirs.lines] == ["plus"] and [l.kind for l in shop.cart().lines] == ["volume"]


# ---------------------------------------------------------------- what the account holds


def test_a_plus_account_adds_seats_and_is_told_to_contact_support_for_volume(shop: Shop) -> None:
    licenses.grant_plus(shop.sessions, shop.owner.account_id, 5, "annual", T0)
    april = datetime(2026, 4, 1, 12, tzinfo=UTC)
    cart = shop.add(store.PlusItem("monthly", 4), april)
    line = cart.lines[0]
    assert line.is_add_seats and line.term == "annual" and line.proration_percent == 75
    assert line.line_total_cents == 4 * 29_925
    with pytest.raises(InvalidInput) as refused:
        shop.add(store.VolumeItem("VOL-1", 1), april)
    assert refused.value.reason == "contact_support" and "contact support" in refused.value.message


def test_a_volume_account_buys_more_volume_but_not_plus(shop: Shop) -> None:
    licenses.grant_volume(shop.sessions, shop.owner.account_id, "VOL-1", 10, T0)
    shop.add(store.VolumeItem("VOL-2", 5))  # another course: Volume is what it holds
    with pytest.raises(InvalidInput) as refused:
        shop.add(store.PlusItem("annual", 1))
    assert refused.value.reason == "contact_support"


def test_a_ppu_only_account_may_add_plus_and_volume(shop: Shop) -> None:
    licenses.configure_ppu(shop.sessions, shop.owner.account_id, "CTR-1", 10_000, T0)
    cart = shop.add(store.PlusItem("annual", 2))
    cart = shop.add(store.VolumeItem("VOL-1", 2))
    assert cart.can_checkout and len(cart.lines) == 2


def test_an_expired_license_no_longer_counts(shop: Shop) -> None:
    licenses.grant_volume(shop.sessions, shop.owner.account_id, "VOL-1", 10, T0)
    later = datetime(2027, 2, 1, tzinfo=UTC)  # the lot's 12 months are over
    assert shop.add(store.PlusItem("annual", 1), later).can_checkout


def test_a_problem_that_arises_later_shows_on_the_line(shop: Shop) -> None:
    shop.add(store.PlusItem("annual", 1))
    shop.add(store.VolumeItem("VOL-1", 1))
    licenses.grant_volume(shop.sessions, shop.owner.account_id, "VOL-2", 3, T0)  # staff granted Volume meanwhile
    cart = shop.cart()
    assert not cart.can_checkout
    assert [[p.reason for p in line.problems] for line in cart.lines] == [["contact_support"], []]


# ---------------------------------------------------------------- quotes


def test_a_quote_request_stores_who_asked_and_what(shop: Shop) -> None:
    shop.add(store.VolumeItem("VOL-1", 800))
    items = store.items_of_cart(shop.cart()) + [store.VolumeItem("VOL-2", 5000), store.PlusItem("monthly", "250")]
    quote = store.request_quote(shop.sessions, shop.owner, " Ann Admin ", "ann@example.com",
                                "We need seats for 5,000 drivers.\nCall us.", items, T0)
    assert (quote.name, quote.account_name) == ("Ann Admin", "Acme Learning")
    assert [(i.kind, i.catalog_id, i.seats) for i in quote.items] == [
        ("volume", "VOL-1", 800), ("volume", "VOL-2", 5000), ("plus", None, 250)]
    with shop.sessions() as s:
        (listed,) = store.list_quotes(s)
    assert listed.items[0].title == "Forklift Safety" and "5,000 drivers" in listed.message


def test_a_bad_quote_request_names_its_fields_and_stores_nothing(shop: Shop) -> None:
    with pytest.raises(store.InvalidQuote) as refused:
        store.request_quote(shop.sessions, shop.owner, "", "nobody", "x" * 5001, [store.VolumeItem("VOL-1", "0")], T0)
    assert set(refused.value.fields) == {"name", "email", "message", "items"}
    with pytest.raises(NotFound):
        store.request_quote(shop.sessions, shop.owner, "Ann", "a@b.co", "", [store.VolumeItem("NOPE", 1)], T0)
    with shop.sessions() as s:
        assert s.scalar(select(func.count()).select_from(QuoteRequest)) == 0

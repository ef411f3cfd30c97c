"""What the store offers an account before its cart: the Plus page and a course's Volume
offer, refused by the same rules as the cart; the card on file."""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction

import pytest
from sqlalchemy.orm import Session, sessionmaker

from store.errors import NotFound
from store.licenses import service as licenses
from store.orders import service as store
from tests.factories.catalog import make_bundle, make_course
from tests.factories.orders import T0, Shop, make_shop

Sessions = sessionmaker[Session]


@pytest.fixture
def shop(sessions: Sessions) -> Shop:
    with sessions.begin() as s:
        make_course(s, "VOL-1", is_plus=False, volume_price_cents=1_000, title="Forklift Safety")
        make_course(s, "OLD-1", status="retired")
        make_course(s, "TED-1", is_plus=True, bundle=make_bundle(s, "TED@Work"))
    return make_shop(sessions)


def test_the_plus_page(shop: Shop) -> None:
    with shop.sessions() as s:
        offer = store.plus_offer(s, shop.settings, shop.owner.account_id, T0)
        assert (offer.can_buy, offer.add_seats, offer.annual_seat_cents, offer.max_seats) == (True, False, 39_900, 100)
        assert store.card_on_file(s, shop.owner.account_id) is None
    shop.buy(store.PlusItem("annual", 3))
    april = datetime(2026, 4, 1, 12, tzinfo=UTC)
    with shop.sessions() as s:
        offer = store.plus_offer(s, shop.settings, shop.owner.account_id, april)
        assert (offer.add_seats, offer.term, offer.proration, offer.prorated_seat_cents) == (
            True, "annual", Fraction(3, 4), 29_925)
        assert offer.period_end == datetime(2027, 1, 1, 9, tzinfo=UTC)
        on_file = store.card_on_file(s, shop.owner.account_id)
        assert on_file is not None and on_file.last4 == "4242"
        volume = store.volume_offer(s, shop.settings, shop.owner.account_id, "VOL-1", april)
        assert not volume.can_buy and volume.problem is not None and volume.problem.reason == "contact_support"


def test_a_course_offer(shop: Shop) -> None:
    with shop.sessions() as s:
        offer = store.volume_offer(s, shop.settings, shop.owner.account_id, "VOL-1", T0)
        assert offer.can_buy and offer.list_price_cents == 1_000 and offer.max_seats == 1_000
        assert [(t.min_quantity, t.discount_percent) for t in offer.tiers][:3] == [(1, 0), (10, 5), (25, 10)]
        assert offer.tiers[-1].max_quantity == 1_000
        for catalog_id, reason in (("OLD-1", "course_retired"), ("TED-1", "bundle_excluded")):
            problem = store.volume_offer(s, shop.settings, shop.owner.account_id, catalog_id, T0).problem
            assert problem is not None and problem.reason == reason
        with pytest.raises(NotFound):
            store.volume_offer(s, shop.settings, shop.owner.account_id, "NOPE", T0)
    licenses.grant_volume(shop.sessions, shop.owner.account_id, "VOL-1", 5, T0)
    with shop.sessions() as s:
        plus = store.plus_offer(s, shop.settings, shop.owner.account_id, T0)
        assert not plus.can_buy and plus.problem is not None and plus.problem.reason == "contact_support"

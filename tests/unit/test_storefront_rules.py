"""The store pages' pure rules: what a course page offers (from the orders domain's answer of who
must contact support), quantity input (the orders domain's), price previews, durations, languages
and the deposit notice."""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lti_tool.storefront import rules
from lti_tool.storefront.rules import CourseFacts, course_offer
from store.clock import add_months
from store.errors import InvalidInput
from store.orders import rules as order_rules

T0 = datetime(2026, 1, 1, tzinfo=UTC)


PLUS_COURSE = CourseFacts(is_plus=True, status="active", is_subscription_only=False)
VOLUME_COURSE = CourseFacts(is_plus=False, status="active", is_subscription_only=False)
TED = CourseFacts(is_plus=True, status="active", is_subscription_only=True)


def refusals(position: order_rules.AccountPosition, course: order_rules.CourseOffer | None = None) -> dict[
        str, order_rules.Problem | None]:
    """The orders domain's answer per license type, as ``store.orders.offers`` gives it."""
    course = course or order_rules.CourseOffer(1, "C-1", "Course", 1_000, "active", False)
    found = {t: order_rules.line_problems(t, position, course) for t in ("plus", "volume")}
    return {t: problems[0] if problems else None for t, problems in found.items()}


NOTHING = order_rules.AccountPosition()
HOLDS_PLUS = order_rules.AccountPosition(frozenset({"plus"}))
HOLDS_VOLUME = order_rules.AccountPosition(frozenset({"volume"}))
HOLDS_BOTH = order_rules.AccountPosition(frozenset({"plus", "volume"}))
PPU_ONLY = order_rules.AccountPosition(frozenset({"ppu"}))


def test_no_license_buy_now_with_every_sold_type() -> None:
    offer = course_offer(PLUS_COURSE, (), refusals(NOTHING), ppu_enabled=False, in_library=False)
    assert offer.buy_now and offer.buy_volume and offer.buy_plus and not offer.holds
    assert not offer.buy_now_goes_to_plus and offer.support_types == () and not offer.add_to_library


def test_a_held_course_delivers_and_buys_more() -> None:
    volume = course_offer(VOLUME_COURSE, ("volume",), refusals(HOLDS_VOLUME), ppu_enabled=False, in_library=False)
    assert volume.holds and not volume.buy_now and not volume.buy_more_goes_to_plus
    plus = course_offer(PLUS_COURSE, ("plus",), refusals(HOLDS_PLUS), ppu_enabled=False, in_library=False)
    assert plus.buy_more_goes_to_plus and plus.support_types == ("volume",)
    assert plus.support_messages == ("Your organization already has Plus licenses. To add Volume licenses, contact "
                                     "support and we will set them up for you.",)
    both = course_offer(PLUS_COURSE, ("plus", "volume"), refusals(HOLDS_BOTH), ppu_enabled=False, in_library=False)
    assert not both.buy_more_goes_to_plus


def test_a_pay_per_use_account_may_buy_plus_and_volume() -> None:
    offer = course_offer(PLUS_COURSE, (), refusals(PPU_ONLY), ppu_enabled=True, in_library=False)
    assert offer.buy_volume and offer.buy_plus and offer.support_types == () and offer.add_to_library


def test_a_subscription_only_course_is_plus_only() -> None:
    offer = course_offer(TED, (), refusals(NOTHING), ppu_enabled=True, in_library=False)
    assert offer.plus_only and offer.buy_now_goes_to_plus and not offer.buy_volume and not offer.add_to_library
    refused = course_offer(TED, (), refusals(HOLDS_VOLUME), ppu_enabled=False, in_library=False)
    assert not refused.buy_now and refused.support_types == ("plus",)


def test_only_contact_support_is_a_support_notice() -> None:
    retired = order_rules.CourseOffer(1, "C-1", "Old", 1_000, "retired", False)
    offer = course_offer(VOLUME_COURSE, (), refusals(NOTHING, retired), ppu_enabled=False, in_library=False)
    assert not offer.buy_volume and offer.support_types == ()


def test_retired_and_library() -> None:
    retired = course_offer(CourseFacts(False, "retired", False), (), refusals(NOTHING), ppu_enabled=True,
                           in_library=False)
    assert retired.retired and not retired.buy_now and not retired.add_to_library and retired.support_types == ()
    library = course_offer(VOLUME_COURSE, ("ppu",), refusals(PPU_ONLY), ppu_enabled=True, in_library=True)
    assert library.in_library and not library.add_to_library and library.buy_volume
    assert course_offer(VOLUME_COURSE, (), refusals(PPU_ONLY), ppu_enabled=True, in_library=False).add_to_library


@pytest.mark.parametrize(("text", "license_type", "expected"), [
    ("1", "volume", 1), (" 25 ", "volume", 25), ("1000", "volume", 1000), ("0100", "plus", 100), (7, "plus", 7),
])
def test_read_quantity(text: str | int, license_type: str, expected: int) -> None:
    assert rules.read_quantity(text, license_type) == expected


@pytest.mark.parametrize(("text", "license_type", "reason"), [
    ("0", "volume", "invalid_quantity"), ("-1", "volume", "invalid_quantity"), ("abc", "volume", "invalid_quantity"),
    ("", "volume", "invalid_quantity"), (None, "plus", "invalid_quantity"), ("1.5", "volume", "invalid_quantity"),
    ("1e3", "volume", "invalid_quantity"), ("٣", "volume", "invalid_quantity"), ("+7", "volume", "invalid_quantity"),
    ("1001", "volume", "quote_required"), ("101", "plus", "quote_required"), ("9" * 40, "volume", "invalid_quantity"),
])
def test_read_quantity_refusals(text: str | None, license_type: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        rules.read_quantity(text, license_type)
    assert refused.value.reason == reason


def test_volume_price_uses_the_tiers_and_the_cap() -> None:
    ten = rules.volume_price(1_000, 10)
    assert (ten.unit_price_cents, ten.discount_percent, ten.total_cents, ten.capped_by) == (950, 5, 9_500, None)
    assert ten.saving_cents == 500
    capped = rules.volume_price(1_000, 24)
    assert capped.total_cents == 22_500 and capped.capped_by == 25


def test_added_seats_at_the_domains_prorated_price() -> None:
    price = rules.plus_added_seats_price("annual", 2, 39_900, 3_900, 29_925, Fraction(9, 12),
                                         add_months(T0, 12))
    assert price.fraction == Fraction(9, 12) and price.seat_price_cents == 29_925 and price.total_cents == 59_850
    assert price.is_prorated and price.percent_left == 75 and price.term_price_cents == 39_900
    new = rules.plus_price("monthly", 3, 39_900, 3_900)
    assert (new.seat_price_cents, new.total_cents, new.is_prorated) == (3_900, 11_700, False)


@given(st.integers(min_value=0, max_value=10_000))
def test_duration_text_is_never_empty(minutes: int) -> None:
    assert rules.duration_text(minutes)


def test_durations_and_languages() -> None:
    assert [rules.duration_text(m) for m in (1, 45, 60, 90, 120)] == ["1 minute", "45 minutes", "1 hour",
                                                                      "1 h 30 min", "2 hours"]
    assert rules.language_name("de") == "German" and rules.language_name("pt-BR") == "Portuguese (pt-BR)"
    assert rules.language_name("tlh") == "tlh"
    bounds = [(d.min_minutes, d.max_minutes) for d in rules.DURATIONS]
    assert bounds == [(None, 30), (31, 60), (61, 120), (121, None)]  # no gap, no overlap


def test_low_balance_names_the_dearest_course() -> None:
    assert rules.low_balance(10_000, []) is None
    assert rules.low_balance(0, [("Free", 0)]) is None
    low = rules.low_balance(89_999, [("Cheap", 2_000), ("Dear", 9_000)])
    assert low is not None and (low.title, low.ten_seats_cents) == ("Dear", 90_000)
    assert rules.low_balance(90_000, [("Dear", 9_000)]) is None

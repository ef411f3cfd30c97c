"""Pure seat rules: lot choice, validity, retake, seat coverage, refusal texts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from store.clock import add_months
from store.licenses import rules
from store.licenses.rules import CourseFacts, Lot, Next, SeatFacts, Subscription

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)

aware = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)


@st.composite
def lots(draw: st.DrawFn) -> Lot:
    purchased = draw(aware)
    total = draw(st.integers(1, 50))
    return Lot(
        id=draw(st.integers(1, 10_000)),
        purchased_at=purchased,
        expires_at=add_months(purchased, 12),
        seats_total=total,
        seats_used=draw(st.integers(0, total)),
        course_pk=7,
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(lots(), max_size=12), aware)
def test_candidate_lots_are_never_expired_or_full_and_oldest_first(all_lots: list[Lot], now: datetime) -> None:
    chosen = rules.candidate_lots(all_lots, now)
    for lot in chosen:
        assert lot.seats_left > 0
        assert lot.purchased_at <= now < lot.expires_at
    keys = [(lot.purchased_at, lot.id) for lot in chosen]
    assert keys == sorted(keys)
    # Nothing usable was left out.
    usable = [lot for lot in all_lots if lot.seats_left > 0 and lot.purchased_at <= now < lot.expires_at]
    assert len(chosen) == len(usable)


def _lot(id_: int, months_ago: int, total: int = 10, used: int = 0) -> Lot:
    purchased = add_months(NOW, -months_ago)
    return Lot(id_, purchased, add_months(purchased, 12), total, used, 7)


def test_oldest_valid_lot_with_seats_is_first() -> None:
    expired, full, old, new = _lot(1, 13), _lot(2, 10, used=10), _lot(3, 8), _lot(4, 1)
    assert [lot.id for lot in rules.candidate_lots([new, expired, old, full], NOW)] == [3, 4]


def test_lot_expires_exactly_twelve_months_after_purchase() -> None:
    purchased = datetime(2024, 2, 29, tzinfo=UTC)
    assert rules.volume_lot_expiry(purchased) == datetime(2025, 2, 28, tzinfo=UTC)
    lot = Lot(1, purchased, rules.volume_lot_expiry(purchased), 5, 0, 7)
    assert rules.is_lot_usable(lot, datetime(2025, 2, 27, 23, 59, tzinfo=UTC))
    assert not rules.is_lot_usable(lot, datetime(2025, 2, 28, tzinfo=UTC))


def test_active_subscription_picks_current_term() -> None:
    old = Subscription(1, add_months(NOW, -14), add_months(NOW, -2), 10, 3, "annual", True, None)
    cur = Subscription(2, add_months(NOW, -1), add_months(NOW, 11), 10, 0, "annual", True, None)
    assert rules.active_subscription([old, cur], NOW) == cur
    assert rules.active_subscription([old], NOW) is None
    assert rules.is_subscription_active(cur, cur.started_at)
    assert not rules.is_subscription_active(cur, cur.current_period_end)


COURSE = CourseFacts(id=7, is_plus=True, status="active", is_subscription_only_bundle=False, ppu_price_cents=900)


def _seat(license_type: str, *, course_pk: int | None = 7, months_ago: int = 1, attempt: int = 1,
          expires_in_months: int | None = 11, active: bool = False, id_: int = 1) -> SeatFacts:
    occupied = add_months(NOW, -months_ago)
    expires = None if expires_in_months is None else add_months(NOW, expires_in_months)
    return SeatFacts(id_, license_type, course_pk, attempt, occupied, expires, active)


def test_relaunch_reuses_a_valid_seat_of_the_same_type_first() -> None:
    plus = _seat("plus", course_pk=None, expires_in_months=None, active=True, id_=1)
    volume = _seat("volume", id_=2)
    assert rules.reusable_seat([plus, volume], COURSE, "volume", NOW) == volume
    assert rules.reusable_seat([plus, volume], COURSE, "plus", NOW) == plus
    assert rules.reusable_seat([plus, volume], COURSE, "ppu", NOW) is not None


def test_no_reuse_of_expired_or_other_course_or_lapsed_plus_seats() -> None:
    expired = _seat("volume", expires_in_months=-1)
    other = _seat("ppu", course_pk=8)
    lapsed_plus = _seat("plus", course_pk=None, expires_in_months=None, active=False)
    assert rules.reusable_seat([expired, other, lapsed_plus], COURSE, "volume", NOW) is None


def test_plus_seat_does_not_cover_a_non_plus_course() -> None:
    plus = _seat("plus", course_pk=None, expires_in_months=None, active=True)
    non_plus = CourseFacts(9, False, "active", False, 100)
    assert rules.reusable_seat([plus], non_plus, "plus", NOW) is None


def test_first_seat_is_attempt_one() -> None:
    assert rules.decide_course_seat(None, NOW, annual_retake=False) == rules.SeatDecision(Next.NEW_SEAT, 1)


def test_annual_retake_starts_a_new_attempt_after_twelve_months() -> None:
    old = _seat("volume", months_ago=13, expires_in_months=-1, attempt=2)
    assert rules.decide_course_seat(old, NOW, annual_retake=True) == rules.SeatDecision(Next.NEW_SEAT, 3)
    refused = rules.decide_course_seat(old, NOW, annual_retake=False)
    assert refused.next is Next.REFUSE and refused.reason == "retake_not_allowed"


def test_seat_expired_early_with_its_lot_is_license_expired_even_with_retake() -> None:
    young = _seat("volume", months_ago=3, expires_in_months=-1)
    for retake in (True, False):
        decision = rules.decide_course_seat(young, NOW, annual_retake=retake)
        assert decision.reason == "license_expired"


def test_decide_refuses_to_judge_a_valid_seat() -> None:
    with pytest.raises(ValueError):
        rules.decide_course_seat(_seat("volume"), NOW, annual_retake=True)


def test_ppu_seat_lasts_twelve_months_from_first_launch() -> None:
    assert rules.ppu_seat_expiry(NOW) == datetime(2027, 6, 15, 12, 0, tzinfo=UTC)


@settings(max_examples=200, deadline=None)
@given(aware, st.integers(0, 30))
def test_retake_due_exactly_at_twelve_months(occupied: datetime, extra_days: int) -> None:
    seat = SeatFacts(1, "ppu", 7, 1, occupied, rules.ppu_seat_expiry(occupied))
    due = add_months(occupied, 12)
    assert rules.is_retake_due(seat, due + timedelta(days=extra_days))
    assert not rules.is_retake_due(seat, due - timedelta(seconds=1))


def test_every_refusal_has_text_and_whom_to_ask() -> None:
    for code in ("no_seats", "license_expired", "not_covered", "bundle_excluded", "insufficient_deposit",
                 "not_in_library", "retake_not_allowed", "no_license", "course_retired", "unknown_course",
                 "not_started", "ppu_not_configured"):
        r = rules.refusal(code)
        assert r.reason == code and r.message and r.ask

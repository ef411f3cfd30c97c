"""The store's pure rules: quantities, who may buy what, prices of cart lines, order states and
numbers, billing details, subscription terms and renewal steps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from store import pricing
from store.errors import InvalidInput
from store.orders import rules
from store.orders.errors import InvalidBilling

NO_DEADLINE = settings(deadline=None)  # tests never time anything
T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
PRICES = rules.PriceList(39_900, 3_900)
COURSE = rules.CourseOffer(7, "VOL-1", "Safety Basics", 1_000, "active", False)
NOTHING = rules.AccountPosition()


def plus_term(start: datetime = T0, term: str = "annual", **kwargs: object) -> rules.PlusTerm:
    end = pricing.term_end(start, term)
    return rules.PlusTerm(11, term, start, end, **kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------- quantities


@pytest.mark.parametrize("raw", ["0", "-1", "-0", "1.5", "1e3", "", "  ", "ten", "１２", 0, -3, True, None, 2.0,
                                 "9" * 13])
def test_bad_quantities_are_refused(raw: object) -> None:
    with pytest.raises(InvalidInput) as refused:
        rules.parse_quantity(raw)  # type: ignore[arg-type]
    assert refused.value.reason == "invalid_quantity"


@NO_DEADLINE
@given(st.integers(min_value=1, max_value=10**12 - 1))
def test_any_whole_number_from_one_is_read(value: int) -> None:
    assert rules.parse_quantity(str(value)) == value == rules.parse_quantity(f" {value} ")


@pytest.mark.parametrize("kind, limit", [("plus", 100), ("volume", 1000)])
def test_store_limits_ask_for_a_quote(kind: str, limit: int) -> None:
    assert rules.check_quantity(kind, limit) == limit
    with pytest.raises(InvalidInput) as refused:
        rules.check_quantity(kind, limit + 1)
    assert refused.value.reason == "quote_required"
    assert rules.max_quantity(kind) == limit


# ---------------------------------------------------------------- who may buy what


def test_held_types_count_holdings_that_are_not_over() -> None:
    assert rules.held_types([], False) == frozenset()
    assert rules.held_types([("plus", "expired"), ("volume", "expired")], False) == frozenset()
    assert rules.held_types([("plus", "not_started")], False) == {"plus"}
    assert rules.held_types([("plus", "cancelled"), ("volume", "course_retired")], True) == {"plus", "volume", "ppu"}
    assert rules.held_types([("volume", "exhausted")], False) == {"volume"}


@pytest.mark.parametrize("held, allowed", [
    ((), {"plus", "volume"}),
    (("ppu",), {"plus", "volume"}),  # a PPU-only account may add Plus and/or Volume
    (("plus",), {"plus"}),
    (("volume",), {"volume"}),
    (("plus", "ppu"), {"plus"}),
    (("volume", "ppu"), {"volume"}),
    (("plus", "volume"), {"plus", "volume"}),
])
def test_another_license_type_means_contact_support(held: tuple[str, ...], allowed: set[str]) -> None:
    position = rules.AccountPosition(frozenset(held), plus_term() if "plus" in held else None)
    for kind in ("plus", "volume"):
        problems = rules.line_problems(kind, position, COURSE, 5)
        assert (kind in allowed) == (not problems), (held, kind, problems)
        if kind not in allowed:
            assert [p.reason for p in problems] == ["contact_support"]
            assert "contact support" in problems[0].message


def test_course_problems() -> None:
    retired = rules.CourseOffer(8, "OLD-1", "Old", 100, "retired", False)
    ted = rules.CourseOffer(9, "TED-1", "Talk", 100, "active", True)
    assert [p.reason for p in rules.line_problems("volume", NOTHING, retired, 1)] == ["course_retired"]
    assert [p.reason for p in rules.line_problems("volume", NOTHING, ted, 1)] == ["bundle_excluded"]
    assert [p.reason for p in rules.line_problems("volume", NOTHING, COURSE, 1001)] == ["quote_required"]
    for course in (retired, ted):
        with pytest.raises(InvalidInput):
            rules.check_new_line("volume", NOTHING, course, 1)


def test_plus_seats_cannot_go_to_a_subscription_in_grace_or_not_started() -> None:
    grace = rules.AccountPosition(frozenset({"plus"}), plus_term(renewal_failed=True))
    later = rules.AccountPosition(frozenset({"plus"}), None, plus_not_started=True)
    stretched = rules.AccountPosition(frozenset({"plus"}), rules.PlusTerm(11, "annual", None, T0 + timedelta(days=400)))
    for position in (grace, later, stretched):
        assert [p.reason for p in rules.line_problems("plus", position, None, 1)] == ["contact_support"]


# ---------------------------------------------------------------- prices


def test_a_new_subscription_costs_the_full_term() -> None:
    line = rules.price_line(rules.LineFacts(1, "plus", 3, "monthly"), NOTHING, PRICES, T0)
    assert (line.order_kind, line.term, line.unit_cents, line.line_total_cents) == ("plus_new", "monthly", 3_900, 11_700)
    assert not line.is_add_seats and line.proration is None


def test_seats_added_on_1_april_to_a_subscription_bought_1_january_cost_nine_twelfths() -> None:
    position = rules.AccountPosition(frozenset({"plus"}), plus_term(datetime(2026, 1, 1, tzinfo=UTC)))
    line = rules.price_line(rules.LineFacts(1, "plus", 2, "monthly"), position, PRICES,
                            datetime(2026, 4, 1, 15, tzinfo=UTC))
    assert line.is_add_seats and line.term == "annual"  # the subscription's term, whatever was asked
    assert line.proration == Fraction(9, 12)
    assert line.unit_cents == 29_925 and line.line_total_cents == 59_850
    assert line.subscription_id == 11
    assert rules.price_cart([rules.LineFacts(1, "plus", 2, "annual")], position, PRICES, T0).needs_recurring_consent
    cancelled = rules.AccountPosition(frozenset({"plus"}), plus_term(renews=False))
    assert not rules.price_cart([rules.LineFacts(1, "plus", 2, "annual")], cancelled, PRICES, T0).needs_recurring_consent


def test_volume_lines_get_the_tier_discount_and_the_cap() -> None:
    line = rules.price_line(rules.LineFacts(1, "volume", 24, course=COURSE), NOTHING, PRICES, T0)
    assert (line.unit_cents, line.discount_percent, line.tier_min, line.tier_max) == (950, 5, 10, 24)
    assert line.capped_by == 25 and line.line_total_cents == 22_500  # 25 seats at 9.00


@NO_DEADLINE
@given(st.lists(st.tuples(st.sampled_from(["plus", "volume"]), st.integers(1, 1000)), max_size=6),
       st.integers(0, 100_000))
def test_the_subtotal_is_the_sum_of_the_lines(lines: list[tuple[str, int]], price: int) -> None:
    course = rules.CourseOffer(7, "VOL-1", "Safety", price, "active", False)
    facts = [rules.LineFacts(i, kind, min(q, 100) if kind == "plus" else q, "annual", course if kind == "volume" else None)
             for i, (kind, q) in enumerate(lines)]
    cart = rules.price_cart(facts, NOTHING, PRICES, T0)
    assert cart.subtotal_cents == sum(line.line_total_cents for line in cart.lines)
    assert cart.can_checkout == bool(lines)
    assert cart.needs_recurring_consent == any(kind == "plus" for kind, _ in lines)
    for line in cart.lines:
        assert 0 <= line.line_total_cents <= line.unit_cents * line.quantity
        assert line.unit_cents <= line.list_unit_cents


@NO_DEADLINE
@given(st.integers(0, 364), st.integers(0, 364), st.integers(1, 100))
def test_added_seats_cost_less_as_the_term_goes_by(day_a: int, day_b: int, seats: int) -> None:
    position = rules.AccountPosition(frozenset({"plus"}), plus_term())
    early, late = sorted((day_a, day_b))
    costs = [rules.price_line(rules.LineFacts(1, "plus", seats, "annual"), position, PRICES,
                              T0 + timedelta(days=d)).line_total_cents for d in (early, late)]
    assert 0 <= costs[1] <= costs[0] <= 39_900 * seats


def test_an_empty_cart_cannot_be_checked_out() -> None:
    cart = rules.price_cart([], NOTHING, PRICES, T0)
    assert not cart.can_checkout and [p.reason for p in cart.problems] == ["empty_cart"]


# ---------------------------------------------------------------- order states and numbers


def test_order_states_move_only_along_the_transitions() -> None:
    allowed = {("pending", "paid"), ("paid", "fulfilled"), ("pending", "failed"), ("pending", "cancelled"),
               ("cancelled", "paid")}
    for current in rules.ORDER_STATUSES:
        for new in rules.ORDER_STATUSES:
            assert rules.can_transition(current, new) == ((current, new) in allowed)
            if (current, new) not in allowed:
                with pytest.raises(ValueError):
                    rules.check_transition(current, new)


@NO_DEADLINE
@given(st.integers(1, 10**12 - 1))
def test_order_numbers_read_back(order_id: int) -> None:
    number = rules.order_number(order_id)
    assert number.startswith("ORD-") and len(number) >= 10
    assert rules.parse_order_number(number) == order_id == rules.parse_order_number(number.lower())


@pytest.mark.parametrize("text", ["", "ORD-", "ORD-0", "ORD-12x", "INV-1", "ORD-１２", "ORD--1", "1" * 13])
def test_malformed_order_numbers(text: str) -> None:
    assert rules.parse_order_number(text) is None


# ---------------------------------------------------------------- billing


def test_billing_details_are_trimmed_and_checked() -> None:
    ok = rules.check_billing(rules.Billing(" Ann ", "ann@example.com", "1 Main St\nTown", "de", ""))
    assert (ok.name, ok.country, ok.address) == ("Ann", "DE", "1 Main St\nTown")
    with pytest.raises(InvalidBilling) as refused:
        rules.check_billing(rules.Billing("", "not-an-email", "", "Germany", "Acme\x00"))
    assert set(refused.value.fields) == {"name", "email", "address", "country", "company"}
    assert refused.value.reason == "invalid_billing"
    with pytest.raises(InvalidBilling) as long_name:
        rules.check_billing(rules.Billing("x" * 201, "a@b.co", "here", "US"))
    assert set(long_name.value.fields) == {"name"}
    with pytest.raises(InvalidBilling) as two_lines:
        rules.check_billing(rules.Billing("Ann\nAdmin", "a@b.co", "here", "US"))
    assert "one line" in two_lines.value.fields["name"]


# ---------------------------------------------------------------- terms and renewals


def test_terms_count_from_the_start() -> None:
    start = datetime(2026, 1, 31, 9, tzinfo=UTC)
    first = pricing.term_end(start, "monthly")
    assert first == datetime(2026, 2, 28, 9, tzinfo=UTC)
    second = rules.next_term_end(start, first, "monthly")
    assert second == datetime(2026, 3, 31, 9, tzinfo=UTC)  # not 28 March
    assert rules.current_term_start(start, second, "monthly") == first
    assert rules.terms_paid(start, second, "monthly") == 2
    assert rules.current_term_start(start, second + timedelta(days=7), "monthly") is None  # grace stretched it


@NO_DEADLINE
@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)),
       st.sampled_from(["annual", "monthly"]), st.integers(1, 30))
def test_renewed_terms_follow_each_other(start: datetime, term: str, renewals: int) -> None:
    end = pricing.term_end(start, term)
    for _ in range(renewals):
        nxt = rules.next_term_end(start, end, term)
        assert nxt > end
        assert rules.current_term_start(start, nxt, term) == end
        end = nxt


def test_renewal_steps() -> None:
    end = T0
    facts = rules.RenewalFacts(end, end + timedelta(days=365), end + timedelta(days=7), None, False)
    assert rules.renewal_step(facts, end) == rules.RENEW_CHARGE
    assert rules.renewal_step(facts, end + timedelta(days=30)) == rules.RENEW_CHARGE  # first try, even late
    assert rules.renewal_step(facts, end + timedelta(days=366)) == rules.RENEW_LAPSE
    in_flight = rules.RenewalFacts(end, end + timedelta(days=365), end + timedelta(days=7), None, True)
    assert rules.renewal_step(in_flight, end) == rules.RENEW_WAIT
    declined = rules.RenewalFacts(end, end + timedelta(days=365), end + timedelta(days=7), end + timedelta(hours=20),
                                  False)
    assert rules.renewal_step(declined, end + timedelta(hours=1)) == rules.RENEW_WAIT
    assert rules.renewal_step(declined, end + timedelta(days=1)) == rules.RENEW_CHARGE
    assert rules.renewal_step(declined, end + timedelta(days=7)) == rules.RENEW_END

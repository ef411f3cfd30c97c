"""Pricing rules: Volume tiers, store limits, Plus terms and proration, PPU, cart totals."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from store.errors import InvalidInput, StoreError
from store.pricing import (
    DEFAULT_TIERS,
    PLUS_MAX_SEATS_PER_ORDER,
    VOLUME_MAX_SEATS_PER_COURSE_ORDER,
    Tier,
    TierRow,
    add_months,
    cart_total_cents,
    find_capping_quantity,
    line_total_cents,
    plus_seat_price_cents,
    ppu_seat_price_cents,
    prorated_line_total_cents,
    prorated_seat_price_cents,
    remaining_term_fraction,
    select_tier,
    term_end,
    term_months,
    validate_plus_quantity,
    validate_tiers,
    validate_volume_quantity,
    volume_line_total_cents,
    volume_tier_table,
    volume_unit_price_cents,
)

UTC = timezone.utc
FAST = settings(max_examples=60, deadline=None)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def reason_of(excinfo: pytest.ExceptionInfo[InvalidInput]) -> str:
    return excinfo.value.reason


# --- strategies -------------------------------------------------------------------------------

prices = st.integers(min_value=0, max_value=10_000_000)
quantities = st.integers(min_value=1, max_value=2_000)
aware_times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2200, 12, 31), timezones=st.just(UTC)
)
terms = st.sampled_from(["annual", "monthly"])


@st.composite
def tier_tables(draw: st.DrawFn, max_min_quantity: int = 1_000) -> tuple[Tier, ...]:
    """Valid tier tables: start at 1, increasing quantities, never-decreasing discounts."""
    extra = draw(st.integers(min_value=0, max_value=6))
    mins = sorted(
        draw(st.sets(st.integers(min_value=2, max_value=max_min_quantity), min_size=extra, max_size=extra))
    )
    discounts = sorted(draw(st.lists(st.integers(0, 100), min_size=extra + 1, max_size=extra + 1)))
    return tuple(Tier(m, d) for m, d in zip([1, *mins], discounts))


# --- tiers ------------------------------------------------------------------------------------


def test_default_tiers_are_the_documented_table() -> None:
    assert [(t.min_quantity, t.discount_percent) for t in DEFAULT_TIERS] == [
        (1, 0), (10, 5), (25, 10), (50, 15), (100, 20), (250, 25), (500, 30),
    ]
    assert validate_tiers(DEFAULT_TIERS) == DEFAULT_TIERS


@pytest.mark.parametrize(
    ("quantity", "discount"),
    [(1, 0), (9, 0), (10, 5), (24, 5), (25, 10), (49, 10), (50, 15), (99, 15), (100, 20),
     (249, 20), (250, 25), (499, 25), (500, 30), (1000, 30), (5000, 30)],
)
def test_select_tier_at_boundaries(quantity: int, discount: int) -> None:
    assert select_tier(quantity).discount_percent == discount


@pytest.mark.parametrize(
    "tiers",
    [
        (),
        (Tier(2, 0),),
        (Tier(1, 0), Tier(10, 5), Tier(10, 10)),
        (Tier(1, 0), Tier(20, 5), Tier(10, 10)),
        (Tier(1, 10), Tier(10, 5)),
    ],
)
def test_validate_tiers_rejects_bad_tables(tiers: tuple[Tier, ...]) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        validate_tiers(tiers)
    assert reason_of(excinfo) == "invalid_tiers"


@pytest.mark.parametrize(
    ("min_quantity", "discount"), [(0, 0), (1, -1), (1, 101), (True, 0), (1, 5.0)]
)
def test_tier_rejects_bad_fields(min_quantity: object, discount: object) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        Tier(min_quantity, discount)  # type: ignore[arg-type]
    assert reason_of(excinfo) == "invalid_tiers"


@pytest.mark.parametrize(
    ("quantity", "unit"),
    [(1, 1000), (9, 1000), (10, 950), (23, 950), (24, 950), (25, 900), (50, 850), (100, 800),
     (250, 750), (500, 700), (1000, 700)],
)
def test_volume_unit_price_follows_tiers(quantity: int, unit: int) -> None:
    assert volume_unit_price_cents(1000, quantity) == unit


@pytest.mark.parametrize(
    ("quantity", "total", "capped_by"),
    [(1, 1000, None), (9, 9000, None), (10, 9500, None), (23, 21_850, None), (24, 22_500, 25),
     (25, 22_500, None), (47, 42_300, None), (48, 42_500, 50), (49, 42_500, 50), (99, 80_000, 100),
     (466, 349_500, None), (467, 350_000, 500), (499, 350_000, 500), (500, 350_000, None),
     (1000, 700_000, None)],
)
def test_volume_line_total_is_capped_by_larger_tiers(quantity: int, total: int, capped_by: int | None) -> None:
    assert volume_line_total_cents(1000, quantity) == total
    assert find_capping_quantity(1000, quantity) == capped_by
    assert total <= volume_unit_price_cents(1000, quantity) * quantity


def test_cap_uses_the_cheapest_larger_tier() -> None:
    # 9 seats at 10.00 = 90.00; 10 at 9.00 = 90.00 (not cheaper); 12 at 5.00 = 60.00 caps 7..11
    tiers = (Tier(1, 0), Tier(10, 10), Tier(12, 50))
    assert volume_line_total_cents(1000, 6, tiers) == 6_000
    assert volume_line_total_cents(1000, 7, tiers) == 6_000
    assert find_capping_quantity(1000, 7, tiers) == 12
    assert volume_line_total_cents(1000, 11, tiers) == 6_000
    assert volume_tier_table(1000, tiers) == [
        TierRow(1, 9, 0, 1000, 7), TierRow(10, 11, 10, 900, 10), TierRow(12, 1000, 50, 500, None),
    ]


@pytest.mark.parametrize(
    ("list_price", "quantity", "unit"),
    [(1, 10, 1), (10, 10, 10), (30, 250, 23), (50, 10, 48), (0, 10, 0), (1, 500, 1), (2, 500, 1)],
)
def test_volume_unit_price_rounds_half_up(list_price: int, quantity: int, unit: int) -> None:
    # 0.95 -> 1, 9.5 -> 10, 22.5 -> 23, 47.5 -> 48, 0.7 -> 1, 1.4 -> 1
    assert volume_unit_price_cents(list_price, quantity) == unit


@pytest.mark.parametrize("quantity", [0, -1, True, 1.0, "3", None])
def test_volume_price_rejects_bad_quantity(quantity: object) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        volume_unit_price_cents(1000, quantity)  # type: ignore[arg-type]
    assert reason_of(excinfo) == "invalid_quantity"


@pytest.mark.parametrize("list_price", [-1, 1.5, False, "100"])
def test_volume_price_rejects_bad_list_price(list_price: object) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        volume_unit_price_cents(list_price, 1)  # type: ignore[arg-type]
    assert reason_of(excinfo) == "invalid_price"


def test_volume_tier_table_rows() -> None:
    assert volume_tier_table(1000) == [
        TierRow(1, 9, 0, 1000, None),
        TierRow(10, 24, 5, 950, 24),
        TierRow(25, 49, 10, 900, 48),
        TierRow(50, 99, 15, 850, 95),
        TierRow(100, 249, 20, 800, 235),
        TierRow(250, 499, 25, 750, 467),
        TierRow(500, 1000, 30, 700, None),
    ]


def test_volume_tier_table_limits() -> None:
    assert volume_tier_table(1000, max_quantity=30)[-1] == TierRow(25, 30, 10, 900, None)
    assert len(volume_tier_table(1000, max_quantity=30)) == 3
    assert volume_tier_table(1000, max_quantity=None)[-1] == TierRow(500, None, 30, 700, None)
    assert volume_tier_table(1000, (Tier(1, 0),)) == [TierRow(1, 1000, 0, 1000, None)]
    assert volume_tier_table(0)[1] == TierRow(10, 24, 5, 0, None)


@FAST
@given(list_price=prices)
def test_tier_table_matches_prices_for_every_quantity_up_to_1000(list_price: int) -> None:
    rows = volume_tier_table(list_price)
    covered = [q for row in rows for q in range(row.min_quantity, (row.max_quantity or 0) + 1)]
    assert covered == list(range(1, VOLUME_MAX_SEATS_PER_COURSE_ORDER + 1))
    previous_unit, previous_total = list_price, 0
    for row in rows:
        assert row.max_quantity is not None
        for quantity in range(row.min_quantity, row.max_quantity + 1):
            unit = volume_unit_price_cents(list_price, quantity)
            total = volume_line_total_cents(list_price, quantity)
            assert select_tier(quantity).discount_percent == row.discount_percent
            assert unit == row.unit_price_cents
            if row.capped_from is None or quantity < row.capped_from:
                assert total == unit * quantity
            else:
                assert total < unit * quantity
            assert 0 <= unit <= previous_unit
            assert total >= previous_total
            previous_unit, previous_total = unit, total


@FAST
@given(list_price=prices, a=quantities, b=quantities, tiers=tier_tables())
def test_bigger_quantity_never_gets_higher_unit_price_or_lower_total(
    list_price: int, a: int, b: int, tiers: tuple[Tier, ...]
) -> None:
    small, big = sorted((a, b))
    assert volume_unit_price_cents(list_price, big, tiers) <= volume_unit_price_cents(list_price, small, tiers)
    assert volume_line_total_cents(list_price, big, tiers) >= volume_line_total_cents(list_price, small, tiers)


@FAST
@given(list_price=st.integers(0, 100_000), tiers=tier_tables(max_min_quantity=120))
def test_volume_prices_are_monotone_for_every_quantity(list_price: int, tiers: tuple[Tier, ...]) -> None:
    units = [volume_unit_price_cents(list_price, q, tiers) for q in range(1, 131)]
    totals = [volume_line_total_cents(list_price, q, tiers) for q in range(1, 131)]
    assert all(0 <= later <= earlier <= list_price for earlier, later in zip(units, units[1:]))
    assert all(earlier <= later for earlier, later in zip(totals, totals[1:]))
    assert all(total <= unit * q for q, (unit, total) in enumerate(zip(units, totals), start=1))
    rows = volume_tier_table(list_price, tiers, max_quantity=130)
    for row in rows:
        assert row.max_quantity is not None
        for q in range(row.min_quantity, row.max_quantity + 1):
            assert units[q - 1] == row.unit_price_cents
            is_capped = totals[q - 1] < units[q - 1] * q
            assert is_capped == (row.capped_from is not None and q >= row.capped_from)
            assert is_capped == (find_capping_quantity(list_price, q, tiers) is not None)


# --- store limits -----------------------------------------------------------------------------


def test_store_limit_constants() -> None:
    assert PLUS_MAX_SEATS_PER_ORDER == 100
    assert VOLUME_MAX_SEATS_PER_COURSE_ORDER == 1000


@pytest.mark.parametrize(
    ("quantity", "reason"),
    [(0, "invalid_quantity"), (-5, "invalid_quantity"), (101, "quote_required"),
     (1000, "quote_required"), (1001, "quote_required"), (100001, "quote_required"),
     (True, "invalid_quantity"), (2.0, "invalid_quantity"), ("2", "invalid_quantity")],
)
def test_validate_plus_quantity_rejects(quantity: object, reason: str) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        validate_plus_quantity(quantity)  # type: ignore[arg-type]
    assert reason_of(excinfo) == reason
    if reason == "quote_required":
        assert "request a quote" in excinfo.value.message
        assert "100" in excinfo.value.message


@pytest.mark.parametrize("quantity", [1, 50, 100])
def test_validate_plus_quantity_accepts(quantity: int) -> None:
    assert validate_plus_quantity(quantity) == quantity


@pytest.mark.parametrize(
    ("quantity", "reason"),
    [(0, "invalid_quantity"), (-1, "invalid_quantity"), (1001, "quote_required"),
     (100001, "quote_required"), (False, "invalid_quantity"), (None, "invalid_quantity")],
)
def test_validate_volume_quantity_rejects(quantity: object, reason: str) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        validate_volume_quantity(quantity)  # type: ignore[arg-type]
    assert reason_of(excinfo) == reason
    assert isinstance(excinfo.value, StoreError)
    if reason == "quote_required":
        assert "request a quote" in excinfo.value.message
        assert "1000" in excinfo.value.message


@pytest.mark.parametrize("quantity", [1, 100, 101, 1000])
def test_validate_volume_quantity_accepts(quantity: int) -> None:
    assert validate_volume_quantity(quantity) == quantity


# --- Plus prices and terms --------------------------------------------------------------------


def test_plus_seat_price_by_term() -> None:
    assert plus_seat_price_cents("annual", 12_000, 1_200) == 12_000
    assert plus_seat_price_cents("monthly", 12_000, 1_200) == 1_200
    assert term_months("annual") == 12
    assert term_months("monthly") == 1


@pytest.mark.parametrize("term", ["yearly", "Annual", "", None, 12])
def test_plus_seat_price_rejects_unknown_term(term: object) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        plus_seat_price_cents(term, 12_000, 1_200)  # type: ignore[arg-type]
    assert reason_of(excinfo) == "invalid_term"


def test_plus_seat_price_rejects_negative_price() -> None:
    with pytest.raises(InvalidInput) as excinfo:
        plus_seat_price_cents("annual", -1, 1_200)
    assert reason_of(excinfo) == "invalid_price"


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (utc(2023, 1, 31, 9, 30), 1, utc(2023, 2, 28, 9, 30)),
        (utc(2024, 1, 31, 9, 30), 1, utc(2024, 2, 29, 9, 30)),
        (utc(2024, 2, 29), 12, utc(2025, 2, 28)),
        (utc(2024, 2, 29), 48, utc(2028, 2, 29)),
        (utc(2024, 3, 31), 1, utc(2024, 4, 30)),
        (utc(2024, 12, 15), 1, utc(2025, 1, 15)),
        (utc(2024, 1, 31), 2, utc(2024, 3, 31)),
        (utc(2024, 3, 31), -1, utc(2024, 2, 29)),
        (utc(2024, 1, 15), -1, utc(2023, 12, 15)),
        (utc(2024, 5, 17), 0, utc(2024, 5, 17)),
    ],
)
def test_add_months_clamps_to_month_end(start: datetime, months: int, expected: datetime) -> None:
    assert add_months(start, months) == expected


def test_add_months_keeps_tzinfo() -> None:
    plus_two = timezone(timedelta(hours=2))
    moved = add_months(datetime(2024, 1, 31, 23, 0, tzinfo=plus_two), 1)
    assert moved == datetime(2024, 2, 29, 23, 0, tzinfo=plus_two)
    assert moved.tzinfo is plus_two
    assert add_months(utc(2024, 1, 1), 1).tzinfo is UTC


def test_add_months_rejects_naive_datetime() -> None:
    with pytest.raises(InvalidInput) as excinfo:
        add_months(datetime(2024, 1, 1), 1)
    assert reason_of(excinfo) == "invalid_time"


def test_term_end() -> None:
    start = utc(2024, 1, 31, 12)
    assert term_end(start, "monthly") == utc(2024, 2, 29, 12)
    assert term_end(start, "annual") == utc(2025, 1, 31, 12)
    # the n-th renewal counts from the start, so clamping does not drift
    assert term_end(start, "monthly", terms=2) == utc(2024, 3, 31, 12)
    with pytest.raises(InvalidInput) as excinfo:
        term_end(start, "weekly")
    assert reason_of(excinfo) == "invalid_term"
    with pytest.raises(InvalidInput):
        term_end(start, "monthly", terms=0)


# --- proration --------------------------------------------------------------------------------


def test_seats_added_on_1_april_cost_nine_twelfths() -> None:
    start = utc(2025, 1, 1, 10, 15)
    end = term_end(start, "annual")
    assert remaining_term_fraction(start, end, utc(2025, 4, 1, 10, 15)) == Fraction(9, 12)
    assert prorated_seat_price_cents(12_000, start, end, utc(2025, 4, 1, 10, 15)) == 9_000
    # the time of day on 1 April does not matter
    assert prorated_seat_price_cents(12_000, start, end, utc(2025, 4, 1, 0, 0)) == 9_000
    assert prorated_seat_price_cents(12_000, start, end, utc(2025, 4, 1, 23, 59, 59)) == 9_000
    # 999 * 9 / 12 = 749.25 -> 749; 1002 * 9 / 12 = 751.5 -> 752 (half up)
    assert prorated_seat_price_cents(999, start, end, utc(2025, 4, 1)) == 749
    assert prorated_seat_price_cents(1_002, start, end, utc(2025, 4, 1)) == 752
    assert prorated_line_total_cents(12_000, 5, start, end, utc(2025, 4, 1)) == 45_000


def test_proration_in_a_leap_year_and_from_month_end() -> None:
    feb = utc(2024, 2, 1)
    # monthly term in February 2024 (29 days): 15 February leaves 15 of 29 days
    assert remaining_term_fraction(feb, term_end(feb, "monthly"), utc(2024, 2, 15)) == Fraction(15, 29)
    start = utc(2023, 1, 31)
    end = term_end(start, "annual")
    assert remaining_term_fraction(start, end, utc(2023, 2, 28)) == Fraction(11, 12)
    # 1 March is 1 day into the month 28 Feb - 31 Mar (31 days)
    assert remaining_term_fraction(start, end, utc(2023, 3, 1)) == (12 - 1 - Fraction(1, 31)) / 12


def test_proration_at_the_edges() -> None:
    start = utc(2025, 1, 1, 10)
    end = term_end(start, "annual")
    assert prorated_seat_price_cents(12_000, start, end, start) == 12_000
    assert prorated_seat_price_cents(12_000, start, end, start - timedelta(days=3)) == 12_000
    assert prorated_seat_price_cents(12_000, start, end, end) == 0
    assert prorated_seat_price_cents(12_000, start, end, end + timedelta(days=40)) == 0
    assert prorated_seat_price_cents(12_000, start, end, end - timedelta(hours=1)) == 0
    assert prorated_seat_price_cents(0, start, end, utc(2025, 6, 1)) == 0
    short_end = start + timedelta(hours=2)
    assert prorated_seat_price_cents(12_000, start, short_end, start + timedelta(hours=1)) == 12_000


@pytest.mark.parametrize(
    "times",
    [
        (datetime(2025, 1, 1), utc(2026, 1, 1), utc(2025, 4, 1)),
        (utc(2025, 1, 1), datetime(2026, 1, 1), utc(2025, 4, 1)),
        (utc(2025, 1, 1), utc(2026, 1, 1), datetime(2025, 4, 1)),
    ],
)
def test_proration_rejects_naive_datetimes(times: tuple[datetime, datetime, datetime]) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        prorated_seat_price_cents(12_000, *times)
    assert reason_of(excinfo) == "invalid_time"


def test_proration_rejects_bad_period_and_price() -> None:
    with pytest.raises(InvalidInput) as excinfo:
        prorated_seat_price_cents(12_000, utc(2025, 1, 1), utc(2025, 1, 1), utc(2025, 1, 1))
    assert reason_of(excinfo) == "invalid_period"
    with pytest.raises(InvalidInput) as excinfo:
        prorated_seat_price_cents(-1, utc(2025, 1, 1), utc(2026, 1, 1), utc(2025, 1, 1))
    assert reason_of(excinfo) == "invalid_price"
    with pytest.raises(InvalidInput) as excinfo:
        prorated_line_total_cents(12_000, 0, utc(2025, 1, 1), utc(2026, 1, 1), utc(2025, 1, 1))
    assert reason_of(excinfo) == "invalid_quantity"


@FAST
@given(
    price=prices,
    start=aware_times,
    term=terms,
    a=st.timedeltas(min_value=timedelta(days=-40), max_value=timedelta(days=400)),
    b=st.timedeltas(min_value=timedelta(days=-40), max_value=timedelta(days=400)),
)
def test_proration_is_bounded_and_monotone(
    price: int, start: datetime, term: str, a: timedelta, b: timedelta
) -> None:
    end = term_end(start, term)
    early, late = sorted((start + a, start + b))
    early_price = prorated_seat_price_cents(price, start, end, early)
    late_price = prorated_seat_price_cents(price, start, end, late)
    assert 0 <= late_price <= early_price <= price
    assert prorated_seat_price_cents(price, start, end, start) == price
    assert prorated_seat_price_cents(price, start, end, end) == 0
    assert 0 <= remaining_term_fraction(start, end, early) <= 1


@FAST
@given(price=prices, start=aware_times, months=st.integers(0, 12), hours=st.integers(-23, 23))
def test_proration_on_a_term_anniversary_day_is_months_left(
    price: int, start: datetime, months: int, hours: int
) -> None:
    end = term_end(start, "annual")
    at = add_months(start, months)
    same_day = at.replace(hour=(at.hour + hours) % 24)
    expected = (2 * price * (12 - months) + 12) // 24  # price * (12 - months) / 12, half up
    assert prorated_seat_price_cents(price, start, end, same_day if months < 12 else at) == expected


# --- PPU and cart -----------------------------------------------------------------------------


def test_ppu_seat_price_is_the_full_price() -> None:
    assert ppu_seat_price_cents(4_999) == 4_999
    assert ppu_seat_price_cents(0) == 0
    for bad in (-1, True, 1.5):
        with pytest.raises(InvalidInput) as excinfo:
            ppu_seat_price_cents(bad)  # type: ignore[arg-type]
        assert reason_of(excinfo) == "invalid_price"


def test_line_and_cart_totals() -> None:
    assert line_total_cents(950, 12) == 11_400
    assert cart_total_cents([]) == 0
    start, end = utc(2025, 1, 1), utc(2026, 1, 1)
    lines = [
        volume_line_total_cents(1000, 24),  # 225.00
        prorated_line_total_cents(12_000, 2, start, end, utc(2025, 4, 1)),  # 180.00
        line_total_cents(ppu_seat_price_cents(4_999), 1),  # 49.99
    ]
    assert cart_total_cents(lines) == 45_499
    with pytest.raises(InvalidInput) as excinfo:
        line_total_cents(950, 0)
    assert reason_of(excinfo) == "invalid_quantity"
    with pytest.raises(InvalidInput) as excinfo:
        line_total_cents(-1, 1)
    assert reason_of(excinfo) == "invalid_price"
    with pytest.raises(InvalidInput) as excinfo:
        cart_total_cents([100, -1])
    assert reason_of(excinfo) == "invalid_price"


@FAST
@given(lines=st.lists(st.tuples(prices, quantities), max_size=10))
def test_cart_total_is_the_sum_of_line_totals(lines: list[tuple[int, int]]) -> None:
    totals = [line_total_cents(unit, quantity) for unit, quantity in lines]
    assert cart_total_cents(totals) == sum(unit * quantity for unit, quantity in lines)

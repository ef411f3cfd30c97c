"""Pure pricing rules: Volume discount tiers, store limits, Plus terms and proration, PPU price.

Money is integer cents; times are timezone-aware datetimes (UTC in this product), always passed in.
Nothing here reads the clock or imports Flask or SQLAlchemy.

Volume discount tiers (``DEFAULT_TIERS``), all-units: the whole line gets the tier's discount.

    ======== ========
    seats    discount
    ======== ========
    1-9      0 %
    10-24    5 %
    25-49    10 %
    50-99    15 %
    100-249  20 %
    250-499  25 %
    500+     30 %  (the store sells up to 1000 seats per course per order)
    ======== ========

A tier's unit price is the list price less the discount, rounded half up to whole cents; it never
rises with the quantity. A line's total is unit price times quantity, capped at the total of any
larger tier's first quantity, so buying more seats never costs less than buying fewer: 24 seats at
9.50 (228.00) would cost more than 25 at 9.00, so 24 seats cost 225.00. The cap only ever lowers a
price shown in the discount levels.

Proration of Plus seats added mid-term: a seat costs the term price times the fraction of the term
left, measured in calendar months from the term's start: whole months plus the current month's
fraction counted in whole UTC days. The time of day is ignored, so the day of purchase counts as a
day left, and seats added on 1 April to an annual term that began on 1 January cost exactly 9/12.
Results are rounded half up to whole cents.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from fractions import Fraction

from store.clock import shift_months
from store.errors import InvalidInput

__all__ = [
    "DEFAULT_TIERS",
    "PLUS_MAX_SEATS_PER_ORDER",
    "PLUS_TERMS",
    "TERM_ANNUAL",
    "TERM_MONTHLY",
    "VOLUME_MAX_SEATS_PER_COURSE_ORDER",
    "Tier",
    "TierRow",
    "add_months",
    "cart_total_cents",
    "find_capping_quantity",
    "line_total_cents",
    "plus_seat_price_cents",
    "ppu_seat_price_cents",
    "prorated_line_total_cents",
    "prorated_seat_price_cents",
    "remaining_term_fraction",
    "select_tier",
    "term_end",
    "term_months",
    "validate_plus_quantity",
    "validate_tiers",
    "validate_volume_quantity",
    "volume_line_total_cents",
    "volume_tier_table",
    "volume_unit_price_cents",
]

PLUS_MAX_SEATS_PER_ORDER = 100
VOLUME_MAX_SEATS_PER_COURSE_ORDER = 1000

TERM_ANNUAL = "annual"
TERM_MONTHLY = "monthly"
PLUS_TERMS: dict[str, int] = {TERM_ANNUAL: 12, TERM_MONTHLY: 1}


# --- validation helpers -----------------------------------------------------------------------


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_cents(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(f"{what} must be a whole number of cents, zero or more.", reason="invalid_price")
    return value


def _check_quantity(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(
            "The number of seats must be a whole number, 1 or more.", reason="invalid_quantity"
        )
    return value


def _check_aware(value: object, what: str) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise InvalidInput(f"{what} must be a timezone-aware datetime.", reason="invalid_time")
    return value


def _round_half_up(value: Fraction) -> int:
    """Round a non-negative fraction to the nearest integer, halves up."""
    return (2 * value.numerator + value.denominator) // (2 * value.denominator)


# --- Volume tiers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Tier:
    """A discount level: from ``min_quantity`` seats on, every seat gets ``discount_percent`` off."""

    min_quantity: int
    discount_percent: int

    def __post_init__(self) -> None:
        if not _is_int(self.min_quantity) or self.min_quantity < 1:
            raise InvalidInput("A tier's minimum quantity must be 1 or more.", reason="invalid_tiers")
        if not _is_int(self.discount_percent) or not 0 <= self.discount_percent <= 100:
            raise InvalidInput("A tier's discount must be 0 to 100 percent.", reason="invalid_tiers")


DEFAULT_TIERS: tuple[Tier, ...] = (
    Tier(1, 0),
    Tier(10, 5),
    Tier(25, 10),
    Tier(50, 15),
    Tier(100, 20),
    Tier(250, 25),
    Tier(500, 30),
)


@dataclass(frozen=True)
class TierRow:
    """One line of the "discount levels" popup.

    ``unit_price_cents`` is the tier's price. From ``capped_from`` (when set) to ``max_quantity`` the
    line total is capped: those quantities cost no more than a larger tier's first quantity.
    ``max_quantity`` is None for an open-ended last tier.
    """

    min_quantity: int
    max_quantity: int | None
    discount_percent: int
    unit_price_cents: int
    capped_from: int | None = None


def validate_tiers(tiers: Sequence[Tier]) -> tuple[Tier, ...]:
    """Return the tiers as a tuple, or raise InvalidInput (``invalid_tiers``) for a bad table.

    A table starts at 1 seat, has strictly increasing minimum quantities and never-decreasing
    discounts.
    """
    table = tuple(tiers)
    if not table or not all(isinstance(tier, Tier) for tier in table):
        raise InvalidInput("A tier table needs at least one tier.", reason="invalid_tiers")
    if table[0].min_quantity != 1:
        raise InvalidInput("The first tier must start at 1 seat.", reason="invalid_tiers")
    for lower, upper in zip(table, table[1:]):
        if upper.min_quantity <= lower.min_quantity:
            raise InvalidInput("Tier quantities must increase.", reason="invalid_tiers")
        if upper.discount_percent < lower.discount_percent:
            raise InvalidInput("Tier discounts must not decrease.", reason="invalid_tiers")
    return table


def select_tier(quantity: int, tiers: Sequence[Tier] = DEFAULT_TIERS) -> Tier:
    """Return the tier whose quantity range contains ``quantity``."""
    quantity = _check_quantity(quantity)
    table = validate_tiers(tiers)
    chosen = table[0]
    for tier in table:
        if tier.min_quantity > quantity:
            break
        chosen = tier
    return chosen


def _tier_price_cents(list_price_cents: int, tier: Tier) -> int:
    return _round_half_up(Fraction(list_price_cents * (100 - tier.discount_percent), 100))


def _price_volume(
    list_price_cents: int, table: tuple[Tier, ...], quantity: int
) -> tuple[int, int, int | None]:
    """Return (unit price, line total, capping quantity or None) for ``quantity`` seats."""
    prices = [_tier_price_cents(list_price_cents, tier) for tier in table]
    index = max(i for i, tier in enumerate(table) if tier.min_quantity <= quantity)
    unit = prices[index]
    total, capped_by = unit * quantity, None
    for tier, price in zip(table[index + 1 :], prices[index + 1 :]):
        if tier.min_quantity * price < total:
            total, capped_by = tier.min_quantity * price, tier.min_quantity
    return unit, total, capped_by


def volume_unit_price_cents(
    list_price_cents: int, quantity: int, tiers: Sequence[Tier] = DEFAULT_TIERS
) -> int:
    """Return the Volume unit price of ``quantity`` seats: the tier's price (never below 0).

    Store limits are separate: see ``validate_volume_quantity``.
    """
    list_price_cents = _check_cents(list_price_cents, "The list price")
    quantity = _check_quantity(quantity)
    return _price_volume(list_price_cents, validate_tiers(tiers), quantity)[0]


def volume_line_total_cents(
    list_price_cents: int, quantity: int, tiers: Sequence[Tier] = DEFAULT_TIERS
) -> int:
    """Return the Volume line total: unit price times quantity, capped at the cheapest larger tier.

    Use this, not ``line_total_cents``, for Volume lines: just below a tier boundary it is less than
    unit price times quantity.
    """
    list_price_cents = _check_cents(list_price_cents, "The list price")
    quantity = _check_quantity(quantity)
    return _price_volume(list_price_cents, validate_tiers(tiers), quantity)[1]


def find_capping_quantity(
    list_price_cents: int, quantity: int, tiers: Sequence[Tier] = DEFAULT_TIERS
) -> int | None:
    """Return the larger quantity whose price caps this line's total, or None when uncapped.

    The cart can say: "24 seats cost the same as 25".
    """
    list_price_cents = _check_cents(list_price_cents, "The list price")
    quantity = _check_quantity(quantity)
    return _price_volume(list_price_cents, validate_tiers(tiers), quantity)[2]


def volume_tier_table(
    list_price_cents: int,
    tiers: Sequence[Tier] = DEFAULT_TIERS,
    max_quantity: int | None = VOLUME_MAX_SEATS_PER_COURSE_ORDER,
) -> list[TierRow]:
    """Return the rows of the "discount levels" popup, up to ``max_quantity`` seats (None: no limit)."""
    list_price_cents = _check_cents(list_price_cents, "The list price")
    table = validate_tiers(tiers)
    if max_quantity is not None:
        max_quantity = _check_quantity(max_quantity)
    rows: list[TierRow] = []
    for position, tier in enumerate(table):
        if max_quantity is not None and tier.min_quantity > max_quantity:
            break
        upper = table[position + 1].min_quantity - 1 if position + 1 < len(table) else None
        if max_quantity is not None and (upper is None or upper > max_quantity):
            upper = max_quantity
        price = _tier_price_cents(list_price_cents, tier)
        capped_from = None
        if upper is not None:
            # Within a tier the total grows with the quantity while the cap stays put,
            # so the capped quantities are the tier's last ones.
            caps = [t.min_quantity * _tier_price_cents(list_price_cents, t) for t in table[position + 1 :]]
            if caps and price > 0:
                first = min(caps) // price + 1  # the first quantity with quantity * price > cap
                if max(first, tier.min_quantity) <= upper:
                    capped_from = max(first, tier.min_quantity)
        rows.append(TierRow(tier.min_quantity, upper, tier.discount_percent, price, capped_from))
    return rows


# --- store limits -----------------------------------------------------------------------------


def validate_plus_quantity(quantity: int) -> int:
    """Return ``quantity`` if the store may sell that many Plus seats in one order."""
    quantity = _check_quantity(quantity)
    if quantity > PLUS_MAX_SEATS_PER_ORDER:
        raise InvalidInput(
            f"The store sells up to {PLUS_MAX_SEATS_PER_ORDER} Plus seats per order. "
            "For more seats, request a quote and we will contact you.",
            reason="quote_required",
        )
    return quantity


def validate_volume_quantity(quantity: int) -> int:
    """Return ``quantity`` if the store may sell that many Volume seats of one course in one order."""
    quantity = _check_quantity(quantity)
    if quantity > VOLUME_MAX_SEATS_PER_COURSE_ORDER:
        raise InvalidInput(
            f"The store sells up to {VOLUME_MAX_SEATS_PER_COURSE_ORDER} Volume seats per course per "
            "order. For more seats, request a quote and we will contact you.",
            reason="quote_required",
        )
    return quantity


# --- Plus terms and proration -----------------------------------------------------------------


def term_months(term: str) -> int:
    """Return the length of a Plus term in months: 12 for 'annual', 1 for 'monthly'."""
    if not isinstance(term, str) or term not in PLUS_TERMS:
        raise InvalidInput("The subscription term must be 'annual' or 'monthly'.", reason="invalid_term")
    return PLUS_TERMS[term]


def plus_seat_price_cents(term: str, annual_seat_cents: int, monthly_seat_cents: int) -> int:
    """Return the price of one Plus seat for one full ``term``."""
    months = term_months(term)
    annual_seat_cents = _check_cents(annual_seat_cents, "The annual seat price")
    monthly_seat_cents = _check_cents(monthly_seat_cents, "The monthly seat price")
    return annual_seat_cents if months == 12 else monthly_seat_cents


def _shift_months(year: int, month: int, day: int, months: int) -> tuple[int, int, int]:
    try:
        return shift_months(year, month, day, months)
    except ValueError:
        raise InvalidInput("The date is out of range.", reason="invalid_time") from None


def _add_months_to_date(day: date, months: int) -> date:
    return date(*_shift_months(day.year, day.month, day.day, months))


def add_months(dt: datetime, months: int) -> datetime:
    """Return ``dt`` moved by whole calendar months, the day clamped to the month's end; keeps tzinfo.

    31 January + 1 month is 28 (or 29) February. Clamping does not carry over: compute the n-th
    renewal as ``add_months(start, n * term_months(term))``, not by adding to the previous one.
    """
    dt = _check_aware(dt, "The time")
    if not _is_int(months):
        raise InvalidInput("The number of months must be a whole number.", reason="invalid_term")
    year, month, day = _shift_months(dt.year, dt.month, dt.day, months)
    return dt.replace(year=year, month=month, day=day)


def term_end(start: datetime, term: str, terms: int = 1) -> datetime:
    """Return the end of ``terms`` consecutive Plus terms that begin at ``start``."""
    if not _is_int(terms) or terms < 1:
        raise InvalidInput("The number of terms must be 1 or more.", reason="invalid_term")
    return add_months(start, term_months(term) * terms)


def _utc_date(dt: datetime) -> date:
    return dt.astimezone(timezone.utc).date()


def _months_between(start: date, day: date) -> Fraction:
    """Calendar months from ``start`` to ``day`` (``day`` >= ``start``), the last one by days."""
    whole = (day.year - start.year) * 12 + day.month - start.month
    if _add_months_to_date(start, whole) > day:
        whole -= 1
    month_start = _add_months_to_date(start, whole)
    month_end = _add_months_to_date(start, whole + 1)
    return whole + Fraction((day - month_start).days, (month_end - month_start).days)


def remaining_term_fraction(period_start: datetime, period_end: datetime, at: datetime) -> Fraction:
    """Return the fraction (0 to 1) of [period_start, period_end) that is left at ``at``.

    Measured in calendar months from the start's UTC date: whole months plus the current month's
    fraction in whole days. 1 at or before the start's day; 0 at or after ``period_end``.
    """
    period_start = _check_aware(period_start, "The period start")
    period_end = _check_aware(period_end, "The period end")
    at = _check_aware(at, "The time")
    if period_end <= period_start:
        raise InvalidInput("The period must end after it starts.", reason="invalid_period")
    if at >= period_end:
        return Fraction(0)
    start_day, end_day, at_day = _utc_date(period_start), _utc_date(period_end), _utc_date(at)
    whole = _months_between(start_day, end_day)
    if whole == 0 or at_day <= start_day:
        return Fraction(1)
    return (whole - _months_between(start_day, at_day)) / whole


def prorated_seat_price_cents(
    full_term_price_cents: int, period_start: datetime, period_end: datetime, at: datetime
) -> int:
    """Return the price of a seat added at ``at`` for the rest of the term (rounded half up)."""
    full_term_price_cents = _check_cents(full_term_price_cents, "The term price")
    fraction = remaining_term_fraction(period_start, period_end, at)
    return _round_half_up(full_term_price_cents * fraction)


def prorated_line_total_cents(
    seat_price_cents: int, seats: int, period_start: datetime, period_end: datetime, at: datetime
) -> int:
    """Return the total for ``seats`` seats added at ``at``: the prorated seat price times seats."""
    seats = _check_quantity(seats)
    return prorated_seat_price_cents(seat_price_cents, period_start, period_end, at) * seats


# --- Pay Per Use ------------------------------------------------------------------------------


def ppu_seat_price_cents(course_ppu_price_cents: int) -> int:
    """Return the price of one PPU seat: the course's full PPU price, no discount."""
    return _check_cents(course_ppu_price_cents, "The Pay Per Use price")


# --- cart -------------------------------------------------------------------------------------


def line_total_cents(unit_cents: int, quantity: int) -> int:
    """Return a line's total: unit price times quantity (Volume lines: ``volume_line_total_cents``)."""
    return _check_cents(unit_cents, "The unit price") * _check_quantity(quantity)


def cart_total_cents(line_totals_cents: Iterable[int]) -> int:
    """Return the sum of the cart's line totals (0 for an empty cart)."""
    return sum((_check_cents(total, "A line total") for total in line_totals_cents), 0)

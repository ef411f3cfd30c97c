"""Pure rules of the store pages: what a course page offers, who must contact support, quantity
input, price previews, the current Plus period, the catalog's duration filter and the PPU
deposit notice. No Flask, no SQLAlchemy; frozen facts in, frozen answers out, explicit ``now``.

**Who may buy what** (the store's rule, ``may_buy``): an account that already holds a license
type and wants another is told to contact support; an account without licenses may buy Plus and
Volume together, and a Pay Per Use account may add Plus and/or Volume. So a wanted type is
allowed when the account holds it already, or holds no type but Pay Per Use.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from store.clock import add_months
from store.errors import InvalidInput
from store.pricing import (
    PLUS_MAX_SEATS_PER_ORDER,
    VOLUME_MAX_SEATS_PER_COURSE_ORDER,
    find_capping_quantity,
    plus_seat_price_cents,
    prorated_seat_price_cents,
    remaining_term_fraction,
    select_tier,
    term_months,
    validate_plus_quantity,
    validate_volume_quantity,
    volume_line_total_cents,
    volume_unit_price_cents,
)

VOLUME = "volume"
PLUS = "plus"
PPU = "ppu"
LOW_BALANCE_SEATS = 10  # the PPU notice: the deposit pays fewer learners than this
MAX_QUANTITY_DIGITS = 9


# ---------------------------------------------------------------- who may buy what


def may_buy(held: Iterable[str], wanted: str) -> bool:
    """Whether an account holding ``held`` license types may buy ``wanted`` in the store (else:
    contact support): more of a type it holds, or anything when it holds nothing but Pay Per Use
    (which is set up by staff, not bought)."""
    bought = set(held) - {PPU}
    return wanted in bought or not bought


@dataclass(frozen=True)
class CourseFacts:
    """What the course page's buttons depend on, of the course."""

    is_plus: bool
    status: str  # active | retiring | retired
    is_subscription_only: bool


@dataclass(frozen=True)
class CourseOffer:
    """What a course page offers the account.

    - ``deliver_types``: license types the account can deliver the course under now: **Deliver
      Course** (and a **Buy More Seats** link);
    - ``buy_volume``: Volume seats of this course may go into the cart;
    - ``buy_plus``: the Plus subscription covers the course and may be bought (or extended);
    - ``support_types``: license types the course is sold under that the account must ask
      support for (it holds another type);
    - ``add_to_library`` / ``in_library``: Pay Per Use (configured and switched on).
    """

    deliver_types: tuple[str, ...]
    buy_volume: bool
    buy_plus: bool
    support_types: tuple[str, ...]
    plus_only: bool
    retired: bool
    add_to_library: bool
    in_library: bool

    @property
    def holds(self) -> bool:
        return bool(self.deliver_types)

    @property
    def buy_now(self) -> bool:
        """**Buy Now**: no license for the course, and something the store may sell the account
        (what only support may arrange is said in a notice instead)."""
        return not self.holds and not self.retired and (self.buy_volume or self.buy_plus)

    @property
    def buy_more_goes_to_plus(self) -> bool:
        """**Buy More Seats** opens the Plus page (seats are added to the subscription) rather
        than this course's Volume form."""
        return PLUS in self.deliver_types and (VOLUME not in self.deliver_types or not self.buy_volume)

    @property
    def buy_now_goes_to_plus(self) -> bool:
        """A subscription-only bundle course: **Buy Now** opens the Plus subscription page."""
        return self.plus_only and self.buy_plus


def course_offer(course: CourseFacts, deliver_types: Iterable[str], held: Iterable[str], *, ppu_enabled: bool,
                 in_library: bool) -> CourseOffer:
    """The buttons of one course page (see :class:`CourseOffer`)."""
    held_types = tuple(held)
    retired = course.status == "retired"
    sold_as: list[str] = []
    if not retired:
        if course.is_plus:
            sold_as.append(PLUS)
        if not course.is_subscription_only:
            sold_as.append(VOLUME)
    allowed = [t for t in sold_as if may_buy(held_types, t)]
    library_ok = ppu_enabled and not retired and not course.is_subscription_only
    return CourseOffer(
        deliver_types=tuple(deliver_types),
        buy_volume=VOLUME in allowed,
        buy_plus=PLUS in allowed,
        support_types=tuple(t for t in sold_as if t not in allowed),
        plus_only=course.is_subscription_only,
        retired=retired,
        add_to_library=library_ok and not in_library,
        in_library=in_library,
    )


# ---------------------------------------------------------------- quantities and prices


def parse_quantity(text: str | None, license_type: str) -> int:
    """The number of seats typed into a form, checked against the store limit of
    ``license_type`` (``volume``: 1000 per course per order, ``plus``: 100 per order). Raises
    InvalidInput: ``invalid_quantity`` (not a whole number, below 1) or ``quote_required``."""
    value = (text or "").strip()
    if not re.fullmatch(r"[+-]?[0-9]+", value, flags=re.ASCII):
        raise InvalidInput("Enter the number of seats as a whole number, such as 10.", reason="invalid_quantity")
    digits = value.lstrip("+-").lstrip("0")
    if len(digits) > MAX_QUANTITY_DIGITS and not value.startswith("-"):
        quantity = 10**MAX_QUANTITY_DIGITS  # far above every limit: answered as such
    else:
        quantity = -1 if value.startswith("-") else int(value.lstrip("+"))
    if license_type == PLUS:
        return validate_plus_quantity(quantity)
    return validate_volume_quantity(quantity)


@dataclass(frozen=True)
class VolumePrice:
    quantity: int
    list_price_cents: int
    unit_price_cents: int
    discount_percent: int
    total_cents: int
    capped_by: int | None  # this many seats would cost the same: the line is capped at their price

    @property
    def saving_cents(self) -> int:
        return self.list_price_cents * self.quantity - self.total_cents


def volume_price(list_price_cents: int, quantity: int) -> VolumePrice:
    """What ``quantity`` Volume seats of a course cost, with the tier's discount."""
    return VolumePrice(quantity, list_price_cents, volume_unit_price_cents(list_price_cents, quantity),
                       select_tier(quantity).discount_percent, volume_line_total_cents(list_price_cents, quantity),
                       find_capping_quantity(list_price_cents, quantity))


def current_period_start(started_at: datetime, period_end: datetime, term: str) -> datetime:
    """When the subscription's current term began: the latest whole number of terms after
    ``started_at`` that is before ``period_end`` (renewals move ``period_end`` by one term;
    each renewal date is counted from the start, as ``store.pricing.add_months`` advises)."""
    months = term_months(term)
    start = started_at
    for n in range(1, 12 * 10_000):
        following = add_months(started_at, n * months)
        if following >= period_end:
            return start
        start = following
    return start


@dataclass(frozen=True)
class PlusPrice:
    """A Plus line: ``seats`` seats at ``seat_price_cents`` each; for seats added to the
    subscription, the term price times ``fraction`` (the share of the term left)."""

    term: str
    seats: int
    term_price_cents: int
    seat_price_cents: int
    total_cents: int
    fraction: Fraction = Fraction(1)
    period_end: datetime | None = None

    @property
    def is_prorated(self) -> bool:
        return self.period_end is not None

    @property
    def percent_left(self) -> int:
        return round(self.fraction * 100)


def plus_price(term: str, seats: int, annual_seat_cents: int, monthly_seat_cents: int) -> PlusPrice:
    """A new subscription: ``seats`` seats for one ``term``."""
    price = plus_seat_price_cents(term, annual_seat_cents, monthly_seat_cents)
    return PlusPrice(term, seats, price, price, price * seats)


def plus_added_seats_price(term: str, seats: int, annual_seat_cents: int, monthly_seat_cents: int,
                           started_at: datetime, period_end: datetime, now: datetime) -> PlusPrice:
    """Seats added now to a subscription whose current term ends at ``period_end``: each costs
    the term price pro rata for the rest of the term."""
    price = plus_seat_price_cents(term, annual_seat_cents, monthly_seat_cents)
    start = current_period_start(started_at, period_end, term)
    seat = prorated_seat_price_cents(price, start, period_end, now)
    return PlusPrice(term, seats, price, seat, seat * seats, remaining_term_fraction(start, period_end, now),
                     period_end)


# ---------------------------------------------------------------- catalog filters


@dataclass(frozen=True)
class Duration:
    key: str
    label: str
    min_minutes: int | None
    max_minutes: int | None


DURATIONS: tuple[Duration, ...] = (
    Duration("0-30", "30 minutes or less", None, 30),
    Duration("31-60", "31 to 60 minutes", 31, 60),
    Duration("61-120", "1 to 2 hours", 61, 120),
    Duration("121-", "More than 2 hours", 121, None),
)
DURATIONS_BY_KEY = {d.key: d for d in DURATIONS}

LANGUAGE_NAMES = {
    "ar": "Arabic", "cs": "Czech", "da": "Danish", "de": "German", "el": "Greek", "en": "English", "es": "Spanish",
    "fi": "Finnish", "fr": "French", "he": "Hebrew", "hi": "Hindi", "hu": "Hungarian", "id": "Indonesian",
    "it": "Italian", "ja": "Japanese", "ko": "Korean", "nl": "Dutch", "no": "Norwegian", "pl": "Polish",
    "pt": "Portuguese", "ro": "Romanian", "ru": "Russian", "sv": "Swedish", "th": "Thai", "tr": "Turkish",
    "uk": "Ukrainian", "vi": "Vietnamese", "zh": "Chinese",
}


def language_name(tag: str) -> str:
    """``de`` → "German", ``pt-BR`` → "Portuguese (pt-BR)"; an unknown tag as it is."""
    name = LANGUAGE_NAMES.get(tag.split("-")[0].lower())
    if name is None:
        return tag
    return name if "-" not in tag else f"{name} ({tag})"


def duration_text(minutes: int) -> str:
    """``45`` → "45 minutes", ``90`` → "1 h 30 min", ``120`` → "2 hours"."""
    if minutes < 60:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours, rest = divmod(minutes, 60)
    if rest == 0:
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{hours} h {rest} min"


# ---------------------------------------------------------------- the Pay Per Use deposit


@dataclass(frozen=True)
class LowBalance:
    """The deposit pays fewer than ten learners of the library's dearest course."""

    title: str
    price_cents: int
    balance_cents: int

    @property
    def ten_seats_cents(self) -> int:
        return LOW_BALANCE_SEATS * self.price_cents


def low_balance(balance_cents: int, library: Iterable[tuple[str, int]]) -> LowBalance | None:
    """``library``: (title, price per learner) of the courses that can still take seats. The
    notice when the balance is below the price of ten seats of the dearest (None otherwise, and
    for an empty library)."""
    dearest = max(library, key=lambda item: item[1], default=None)
    if dearest is None or dearest[1] <= 0 or balance_cents >= LOW_BALANCE_SEATS * dearest[1]:
        return None
    return LowBalance(dearest[0], dearest[1], balance_cents)


__all__ = ["DURATIONS", "DURATIONS_BY_KEY", "LOW_BALANCE_SEATS", "PLUS_MAX_SEATS_PER_ORDER",
           "VOLUME_MAX_SEATS_PER_COURSE_ORDER", "CourseFacts", "CourseOffer", "Duration", "LowBalance", "PlusPrice",
           "VolumePrice", "course_offer", "current_period_start", "duration_text", "language_name", "low_balance",
           "may_buy", "parse_quantity", "plus_added_seats_price", "plus_price", "volume_price"]

"""Pure rules of the store pages: what a course page offers, price previews, the catalog's
duration filter and the PPU deposit notice. No Flask, no SQLAlchemy; frozen facts in, frozen
answers out, explicit ``now``.

**Who may buy what** and **quantities** have one owner, the orders domain
(:mod:`store.orders.rules`: ``line_problems`` with its ``contact_support`` rule,
``parse_quantity`` and ``check_quantity``): the pages show its answers (a course page is given
the domain's problem for each license type) and never decide them again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from store.licenses import holdings_rules as hr
from store.orders import rules as order_rules
from store.pricing import (
    PLUS_MAX_SEATS_PER_ORDER,
    VOLUME_MAX_SEATS_PER_COURSE_ORDER,
    find_capping_quantity,
    plus_seat_price_cents,
    select_tier,
    volume_line_total_cents,
    volume_unit_price_cents,
)

VOLUME = "volume"
PLUS = "plus"
PPU = "ppu"
LOW_BALANCE_SEATS = 10  # the PPU notice: the deposit pays fewer learners than this
CONTACT_SUPPORT = "contact_support"


# ---------------------------------------------------------------- what a course page offers


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
      support for (the orders domain's ``contact_support``), with the domain's
      ``support_messages``;
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
    support_messages: tuple[str, ...] = ()

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


def course_offer(course: CourseFacts, deliver_types: Iterable[str],
                 refusals: Mapping[str, order_rules.Problem | None], *, ppu_enabled: bool,
                 in_library: bool) -> CourseOffer:
    """The buttons of one course page (see :class:`CourseOffer`). ``refusals``: for ``plus``
    and ``volume``, the orders domain's problem that keeps the account from buying that type
    (``store.orders.offers``: ``plus_offer(...).problem``, ``volume_offer(...).problem``), or
    None when it may buy it."""
    retired = course.status == "retired"
    sold_as: list[str] = []
    if not retired:
        if course.is_plus:
            sold_as.append(PLUS)
        if not course.is_subscription_only:
            sold_as.append(VOLUME)
    allowed = [t for t in sold_as if refusals.get(t) is None]
    support = [t for t in sold_as if (problem := refusals.get(t)) is not None and problem.reason == CONTACT_SUPPORT]
    messages = tuple(dict.fromkeys(problem.message for t in support if (problem := refusals.get(t)) is not None))
    library_ok = ppu_enabled and not retired and not course.is_subscription_only
    return CourseOffer(
        deliver_types=tuple(deliver_types),
        buy_volume=VOLUME in allowed,
        buy_plus=PLUS in allowed,
        support_types=tuple(support),
        plus_only=course.is_subscription_only,
        retired=retired,
        add_to_library=library_ok and not in_library,
        in_library=in_library,
        support_messages=messages,
    )


# ---------------------------------------------------------------- quantities and prices


def read_quantity(text: str | int | None, license_type: str) -> int:
    """The number of seats typed into a form, by the orders domain's rules: a whole number from
    1 (``invalid_quantity``) within the store limit of ``license_type`` (``quote_required``:
    100 Plus seats, 1000 Volume seats of a course per order). Raises InvalidInput."""
    kind = order_rules.PLUS if license_type == PLUS else order_rules.VOLUME
    return order_rules.check_quantity(kind, order_rules.parse_quantity("" if text is None else text))


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
                           prorated_seat_cents: int, fraction: Fraction, period_end: datetime) -> PlusPrice:
    """Seats added to the subscription in its term, at the prorated seat price the orders domain
    computed (``PlusOffer``: the term price times the share of the current term left)."""
    price = plus_seat_price_cents(term, annual_seat_cents, monthly_seat_cents)
    return PlusPrice(term, seats, price, prorated_seat_cents, prorated_seat_cents * seats, fraction, period_end)


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


LIBRARY_TAKES_SEATS = (hr.ACTIVE, hr.INSUFFICIENT_DEPOSIT)  # library statuses a new learner can still use


def library_low_balance(is_enabled: bool, balance_cents: int,
                        library: Iterable[tuple[str, int, str]]) -> LowBalance | None:
    """The notice of the store's library page and the dashboard's PPU Library tab: ``library``
    is (title, price per learner, holdings status) of each course; only an enabled deposit and
    the courses that can still take seats count."""
    if not is_enabled:
        return None
    return low_balance(balance_cents, ((t, price) for t, price, status in library if status in LIBRARY_TAKES_SEATS))


__all__ = ["DURATIONS", "DURATIONS_BY_KEY", "LOW_BALANCE_SEATS", "PLUS_MAX_SEATS_PER_ORDER",
           "VOLUME_MAX_SEATS_PER_COURSE_ORDER", "CourseFacts", "CourseOffer", "Duration", "LowBalance", "PlusPrice",
           "LIBRARY_TAKES_SEATS", "VolumePrice", "course_offer", "duration_text", "language_name",
           "library_low_balance", "low_balance", "plus_added_seats_price", "plus_price", "read_quantity", "volume_price"]

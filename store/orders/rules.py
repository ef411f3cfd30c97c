"""Pure store rules: cart lines and their prices, who may buy what, order states and numbers,
billing details, renewal terms. No Flask, no SQLAlchemy; frozen facts and an explicit ``now``.

**Prices** come from :mod:`store.pricing`: a Volume line gets its quantity tier's discount
(capped so that more seats never cost less); a new Plus subscription costs the seat price of
its term per seat; Plus seats added to the subscription in its term cost the seat price times
the share of the term left (``remaining_term_fraction``), computed when the cart is shown and
again at checkout.

**Store limits**: up to 100 Plus seats and up to 1000 Volume seats per course in one order;
more is ``quote_required`` (request a quote), and such a quantity never enters the cart.
Quantities are whole numbers from 1: 0, negative numbers, fractions and text are
``invalid_quantity``.

**Who may buy what.** An account *holds* a license type when it has a holding of that type
that is not over: for Plus a subscription whose status is anything but ``expired`` (active,
cancelled but still in its term, all seats taken, or not started yet); for Volume a lot (of any
course) that is not ``expired``; for Pay Per Use a PPU configuration that staff switched on.
This is the holdings module's status (:mod:`store.licenses.holdings`), read through
:func:`held_types`. A cart line of type T is allowed when the account holds T (more seats of
what it has), or holds nothing but Pay Per Use (an account without licenses may combine Plus
and Volume; a PPU-only account may add Plus and/or Volume). Otherwise the line is
``contact_support``. A course of a subscription-only bundle is never a Volume line
(``bundle_excluded``: only the Plus subscription offers it); a retired course is never sold
(``course_retired``).

**Plus: new subscription or added seats.** When the account has a subscription in its term,
a Plus line adds seats to it, with its term (the term asked for does not matter) and a prorated
price. When that subscription's renewal payment failed (it is in its grace period) or it has
not started yet, the line is ``contact_support``.

**Order states** change only through :func:`check_transition`: ``pending`` → ``paid`` →
``fulfilled``; ``pending`` → ``failed`` (the gateway declined) or ``cancelled`` (no charge
happened); and ``cancelled`` → ``paid`` when a charge is found to have succeeded after all (a
paid order is never lost).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction

from store import pricing
from store.clock import add_months
from store.errors import InvalidInput
from store.licenses.labels import license_label
from store.orders.errors import InvalidBilling
from store.text import InvalidText, check_text

# ---------------------------------------------------------------- order states

PENDING = "pending"
PAID = "paid"
FULFILLED = "fulfilled"
FAILED = "failed"
CANCELLED = "cancelled"
ORDER_STATUSES = (PENDING, PAID, FULFILLED, FAILED, CANCELLED)
TRANSITIONS: dict[str, frozenset[str]] = {
    PENDING: frozenset({PAID, FAILED, CANCELLED}),
    PAID: frozenset({FULFILLED}),
    FULFILLED: frozenset(),
    FAILED: frozenset(),
    CANCELLED: frozenset({PAID}),
}
STATUS_LABELS = {
    PENDING: "Payment pending",
    PAID: "Paid",
    FULFILLED: "Completed",
    FAILED: "Payment failed",
    CANCELLED: "Cancelled",
}

PURCHASE = "purchase"
RENEWAL = "renewal"
ORDER_KINDS = (PURCHASE, RENEWAL)

# Line kinds: in the cart ("plus", "volume"); in an order, what the line does.
PLUS = "plus"
VOLUME = "volume"
LINE_PLUS_NEW = "plus_new"
LINE_PLUS_SEATS = "plus_seats"
LINE_PLUS_RENEWAL = "plus_renewal"
LINE_VOLUME = "volume"
ORDER_LINE_KINDS = (LINE_PLUS_NEW, LINE_PLUS_SEATS, LINE_PLUS_RENEWAL, LINE_VOLUME)


def can_transition(current: str, new: str) -> bool:
    return new in TRANSITIONS.get(current, frozenset())


def check_transition(current: str, new: str) -> None:
    """Raise ValueError unless an order may go from ``current`` to ``new``."""
    if not can_transition(current, new):
        raise ValueError(f"an order cannot go from {current!r} to {new!r}")


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


# ---------------------------------------------------------------- order numbers

ORDER_PREFIX = "ORD-"
_NUMBER = re.compile(r"^\s*(?:ORD-?)?0*(\d{1,12})\s*$", re.IGNORECASE)


def order_number(order_id: int) -> str:
    """``ORD-000123``: at least six digits, unique because the order id is."""
    return f"{ORDER_PREFIX}{order_id:06d}"


def parse_order_number(text: str) -> int | None:
    """The order id in ``ORD-000123`` (any case; the prefix may be left out), or None."""
    if not isinstance(text, str) or not text.isascii():
        return None
    found = _NUMBER.match(text)
    if found is None:
        return None
    value = int(found.group(1))
    return value if value > 0 else None


# ---------------------------------------------------------------- quantities

MAX_QUANTITY_DIGITS = 12


def parse_quantity(raw: int | str) -> int:
    """A quantity typed by a person (or given as an int): a whole number from 1, or InvalidInput
    ``invalid_quantity``. Store limits are checked separately (:func:`check_quantity`)."""
    message = "Enter the number of seats as a whole number, 1 or more."
    if isinstance(raw, bool):
        raise InvalidInput(message, reason="invalid_quantity")
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str):
        text = raw.strip()
        if not text or not text.isascii() or not text.isdigit() or len(text) > MAX_QUANTITY_DIGITS:
            raise InvalidInput(message, reason="invalid_quantity")
        value = int(text)
    else:
        raise InvalidInput(message, reason="invalid_quantity")
    if value < 1:
        raise InvalidInput(message, reason="invalid_quantity")
    return value


def check_quantity(kind: str, quantity: int) -> int:
    """``quantity`` within the store's limit for a line of ``kind`` (``quote_required`` above)."""
    if kind == PLUS:
        return pricing.validate_plus_quantity(quantity)
    if kind == VOLUME:
        return pricing.validate_volume_quantity(quantity)
    raise ValueError(f"unknown line kind {kind!r}")


def max_quantity(kind: str) -> int:
    return pricing.PLUS_MAX_SEATS_PER_ORDER if kind == PLUS else pricing.VOLUME_MAX_SEATS_PER_COURSE_ORDER


# ---------------------------------------------------------------- billing details

NAME_MAX = 200
EMAIL_MAX = 320
COMPANY_MAX = 200
ADDRESS_MAX = 1000
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Billing:
    """Who pays, as printed on the order: name, email, postal address, ISO 3166 country code,
    and an optional company."""

    name: str
    email: str
    address: str
    country: str
    company: str = ""


def is_email(value: str) -> bool:
    """Looks like an email address (something@domain.tld, no spaces)."""
    return bool(_EMAIL.match(value))


def read_field(problems: dict[str, str], value: object, name: str, label: str, max_chars: int, *,
               required: bool, multiline: bool = False) -> str:
    """A form field trimmed, or "" with what is wrong put in ``problems[name]`` (the input rule,
    its length, one line unless ``multiline``, present when ``required``)."""
    if not isinstance(value, str):
        problems[name] = f"Enter the {label}."
        return ""
    try:
        check_text(value, label, max_chars=max_chars, allow_newlines=multiline)
    except InvalidText as exc:
        problems[name] = f"{exc.message[:1].upper()}{exc.message[1:]}."
        return ""
    value = value.strip()
    if required and not value:
        problems[name] = f"Enter the {label}."
    return value


def check_billing(billing: Billing) -> Billing:
    """Billing details trimmed and checked (the input rule, lengths, an email address, a
    two-letter country), or InvalidBilling naming every bad field."""
    problems: dict[str, str] = {}
    name = read_field(problems, billing.name, "name", "name", NAME_MAX, required=True)
    email = read_field(problems, billing.email, "email", "email address", EMAIL_MAX, required=True)
    if email and not is_email(email):
        problems["email"] = "Enter an email address like name@example.com."
    company = read_field(problems, billing.company, "company", "company", COMPANY_MAX, required=False)
    address = read_field(problems, billing.address, "address", "billing address", ADDRESS_MAX, required=True,
                         multiline=True)
    country = read_field(problems, billing.country, "country", "country", 100, required=True).upper()
    if country and not (len(country) == 2 and country.isascii() and country.isalpha()):
        problems["country"] = "Enter the country as its two-letter code, e.g. US or DE."
    if problems:
        raise InvalidBilling(problems)
    return Billing(name=name, email=email, address=address, country=country, company=company)


# ---------------------------------------------------------------- what the account holds


def held_types(statuses: Iterable[tuple[str, str]], ppu_enabled: bool) -> frozenset[str]:
    """The license types an account holds, from its holdings' (license type, status) pairs:
    Plus and Volume when a holding of that type is not ``expired``; Pay Per Use when staff
    configured it and it is switched on (``ppu_enabled``). PPU library entries themselves do not
    count: the configuration does."""
    held = {license_type for license_type, status in statuses
            if license_type in (PLUS, VOLUME) and status != "expired"}
    if ppu_enabled:
        held.add("ppu")
    return frozenset(held)


def type_allowed(line_type: str, held: frozenset[str]) -> bool:
    """May an account holding ``held`` buy a line of ``line_type``? Yes for more of what it
    holds, and for anything while it holds nothing but Pay Per Use."""
    return line_type in held or held <= {"ppu"}


def contact_support_message(line_type: str, held: frozenset[str]) -> str:
    names = " and ".join(license_label(t) for t in ("plus", "volume", "ppu") if t in held)
    return (f"Your organization already has {names} licenses. To add {license_label(line_type)} licenses, "
            "contact support and we will set them up for you.")


# ---------------------------------------------------------------- facts for pricing


@dataclass(frozen=True)
class PriceList:
    plus_annual_seat_cents: int
    plus_monthly_seat_cents: int
    currency: str = "USD"

    def plus_seat_cents(self, term: str) -> int:
        return pricing.plus_seat_price_cents(term, self.plus_annual_seat_cents, self.plus_monthly_seat_cents)


@dataclass(frozen=True)
class CourseOffer:
    """A course as the cart sees it."""

    course_pk: int
    catalog_id: str
    title: str
    volume_price_cents: int
    status: str
    is_subscription_only: bool


@dataclass(frozen=True)
class PlusTerm:
    """The subscription new Plus seats would be added to (in its term now). ``period_start`` is
    the start of the current paid term; None when it cannot be known (the term was stretched by
    a renewal's grace period)."""

    subscription_id: int
    term: str
    period_start: datetime | None
    period_end: datetime
    renewal_failed: bool = False
    renews: bool = True  # auto-renew on (a cancelled subscription runs to its term's end)


@dataclass(frozen=True)
class AccountPosition:
    """What the account holds, as the cart rules need it."""

    held: frozenset[str] = frozenset()
    plus: PlusTerm | None = None
    plus_not_started: bool = False


@dataclass(frozen=True)
class LineFacts:
    """A cart line: ``kind`` plus (with ``term``) or volume (with ``course``)."""

    line_id: int
    kind: str
    quantity: int
    term: str | None = None
    course: CourseOffer | None = None


@dataclass(frozen=True)
class Problem:
    reason: str
    message: str


@dataclass(frozen=True)
class PricedLine:
    line_id: int
    kind: str  # plus | volume
    order_kind: str  # plus_new | plus_seats | volume
    title: str
    catalog_id: str | None
    course_pk: int | None
    term: str | None
    quantity: int
    max_quantity: int
    list_unit_cents: int  # a full term's seat price (Plus) or the course's list price (Volume)
    unit_cents: int  # after the tier discount (Volume) or proration (added Plus seats)
    discount_percent: int
    tier_min: int | None  # Volume: the discount tier's quantity range
    tier_max: int | None
    capped_by: int | None  # Volume: this many seats would cost the same (the line is capped at it)
    proration: Fraction | None  # added Plus seats: the share of the term left
    period_start: datetime | None  # added Plus seats: the current term
    period_end: datetime | None
    subscription_id: int | None
    line_total_cents: int
    problems: tuple[Problem, ...] = ()
    renews: bool = False  # the seats are charged again at each renewal

    @property
    def is_add_seats(self) -> bool:
        return self.order_kind == LINE_PLUS_SEATS


@dataclass(frozen=True)
class PricedCart:
    lines: tuple[PricedLine, ...]
    subtotal_cents: int
    problems: tuple[Problem, ...] = ()

    @property
    def line_problems(self) -> tuple[Problem, ...]:
        return tuple(p for line in self.lines for p in line.problems)

    @property
    def can_checkout(self) -> bool:
        return bool(self.lines) and not self.problems and not self.line_problems

    @property
    def needs_recurring_consent(self) -> bool:
        """A new subscription, or seats added to one that renews: they are charged again."""
        return any(line.renews for line in self.lines)


# ---------------------------------------------------------------- line rules


def _plus_title(term: str, add_seats: bool) -> str:
    if add_seats:
        return f"Plus subscription ({term}): added seats"
    return f"Plus subscription ({term})"


def line_problems(kind: str, position: AccountPosition, course: CourseOffer | None = None,
                  quantity: int | None = None) -> list[Problem]:
    """What keeps a line of ``kind`` (for ``course``, of ``quantity`` seats) out of an order."""
    problems: list[Problem] = []
    if kind == VOLUME:
        if course is None:
            return [Problem("unknown_course", "This course is not in the catalog.")]
        if course.status == "retired":
            problems.append(Problem("course_retired", f"{course.title} has been retired from the catalog."))
        elif course.is_subscription_only:
            problems.append(Problem("bundle_excluded", f"{course.title} is only offered with the Plus subscription."))
    if not type_allowed(kind, position.held):
        problems.append(Problem("contact_support", contact_support_message(kind, position.held)))
    elif kind == PLUS:
        if position.plus is None and position.plus_not_started:
            problems.append(Problem("contact_support", "Your Plus subscription has not started yet. To change it, "
                                                       "contact support."))
        elif position.plus is not None and (position.plus.renewal_failed or position.plus.period_start is None):
            problems.append(Problem("contact_support", "Your Plus subscription's renewal payment did not go "
                                                       "through. Contact support before adding seats."))
    if quantity is not None and quantity > max_quantity(kind):
        problems.append(Problem("quote_required", f"The store sells up to {max_quantity(kind):,} seats here per "
                                                  "order. For more, request a quote."))
    return problems


def check_new_line(kind: str, position: AccountPosition, course: CourseOffer | None, quantity: int) -> None:
    """Raise InvalidInput with the first problem of a line about to enter the cart: such a
    line never enters it."""
    check_quantity(kind, quantity)
    problems = line_problems(kind, position, course, quantity)
    if problems:
        raise InvalidInput(problems[0].message, reason=problems[0].reason)


def price_line(line: LineFacts, position: AccountPosition, prices: PriceList, now: datetime) -> PricedLine:
    problems = tuple(line_problems(line.kind, position, line.course, line.quantity))
    quantity = line.quantity
    if line.kind == PLUS:
        sub = position.plus
        add_seats = sub is not None and sub.period_start is not None and not sub.renewal_failed
        term = sub.term if sub is not None else (line.term or pricing.TERM_ANNUAL)
        full = prices.plus_seat_cents(term)
        if add_seats:
            assert sub is not None and sub.period_start is not None
            fraction = pricing.remaining_term_fraction(sub.period_start, sub.period_end, now)
            unit = pricing.prorated_seat_price_cents(full, sub.period_start, sub.period_end, now)
            return PricedLine(line.line_id, PLUS, LINE_PLUS_SEATS, _plus_title(term, True), None, None, term,
                              quantity, max_quantity(PLUS), full, unit, 0, None, None, None, fraction,
                              sub.period_start, sub.period_end, sub.subscription_id, unit * quantity, problems,
                              renews=sub.renews)
        return PricedLine(line.line_id, PLUS, LINE_PLUS_NEW, _plus_title(term, False), None, None, term, quantity,
                          max_quantity(PLUS), full, full, 0, None, None, None, None, None, None, None,
                          full * quantity, problems, renews=True)
    if line.kind != VOLUME or line.course is None:
        raise ValueError(f"not a cart line: {line!r}")
    course = line.course
    list_price = course.volume_price_cents
    tier = pricing.select_tier(quantity)
    rows = pricing.volume_tier_table(list_price, max_quantity=None)
    row = next(r for r in rows if r.min_quantity == tier.min_quantity)
    return PricedLine(line.line_id, VOLUME, LINE_VOLUME, course.title, course.catalog_id, course.course_pk, None,
                      quantity, max_quantity(VOLUME), list_price, pricing.volume_unit_price_cents(list_price, quantity),
                      tier.discount_percent, row.min_quantity, row.max_quantity,
                      pricing.find_capping_quantity(list_price, quantity), None, None, None, None,
                      pricing.volume_line_total_cents(list_price, quantity), problems)


def price_cart(lines: Sequence[LineFacts], position: AccountPosition, prices: PriceList, now: datetime,
               cart_problems: Sequence[Problem] = ()) -> PricedCart:
    """Every line priced with its problems, and the subtotal (lines with problems included, so
    the page shows what they would cost)."""
    priced = tuple(price_line(line, position, prices, now) for line in lines)
    problems = list(cart_problems)
    if not priced:
        problems.append(Problem("empty_cart", "Your cart is empty."))
    return PricedCart(priced, pricing.cart_total_cents(p.line_total_cents for p in priced), tuple(problems))


# ---------------------------------------------------------------- subscription terms


def _months_between(start: datetime, end: datetime) -> int:
    return (end.year - start.year) * 12 + end.month - start.month


def terms_paid(started_at: datetime, period_end: datetime, term: str) -> int | None:
    """How many whole terms lie between a subscription's start and ``period_end``, or None when
    ``period_end`` is not a term boundary (a grace period stretched it)."""
    months = pricing.term_months(term)
    diff = _months_between(started_at, period_end)
    if diff < months or diff % months:
        return None
    count = diff // months
    return count if add_months(started_at, count * months) == period_end else None


def current_term_start(started_at: datetime, period_end: datetime, term: str) -> datetime | None:
    """The start of the term that ends at ``period_end`` (None when it is not a term boundary)."""
    count = terms_paid(started_at, period_end, term)
    if count is None:
        return None
    return add_months(started_at, (count - 1) * pricing.term_months(term))


def next_term_end(started_at: datetime, period_end: datetime, term: str) -> datetime:
    """The end of the term after the one ending at ``period_end``, counted from the start (so a
    subscription begun on 31 January renews to 28 February, then 31 March)."""
    count = terms_paid(started_at, period_end, term)
    months = pricing.term_months(term)
    if count is None:
        return add_months(period_end, months)
    return add_months(started_at, (count + 1) * months)


#: A declined renewal is tried again at most this often (a daily cron retries daily).
RENEWAL_RETRY_INTERVAL = timedelta(hours=20)


def grace_until(period_end: datetime, grace_days: int) -> datetime:
    return period_end + timedelta(days=max(0, grace_days))


@dataclass(frozen=True)
class RenewalFacts:
    """A due subscription and its open renewal, as ``billing renew`` sees it."""

    period_end: datetime  # the end of the last paid term
    next_end: datetime  # the end of the term a renewal would pay for
    grace_until: datetime  # access lasts until then while retries run
    next_attempt_at: datetime | None  # a declined renewal is not retried before this
    attempt_in_flight: bool  # a renewal order is pending (another run is charging, or crashed)


RENEW_WAIT = "wait"
RENEW_CHARGE = "charge"
RENEW_END = "end"  # grace over after declines: access ends
RENEW_LAPSE = "lapse"  # the next term is over too: renewing would charge for nothing


def renewal_step(facts: RenewalFacts, now: datetime) -> str:
    """What ``billing renew`` does with a due subscription now."""
    if facts.attempt_in_flight:
        return RENEW_WAIT
    if facts.next_end <= now:
        return RENEW_LAPSE
    if facts.next_attempt_at is not None and now < facts.next_attempt_at:
        return RENEW_WAIT if now < facts.grace_until else RENEW_END
    if facts.next_attempt_at is not None and now >= facts.grace_until:
        return RENEW_END
    return RENEW_CHARGE

"""The pure half of :mod:`store.licenses.holdings`: what an account's holdings let it deliver
now, and the status of each holding. No Flask, no SQLAlchemy; frozen facts and an explicit
``now``. The states and reason codes are defined in ``holdings.py``'s docstring; this module is
their only implementation (the SQL condition in ``holdings.py`` mirrors :func:`verdict`, and a
test runs both over the same holdings).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from store.licenses import rules
from store.licenses.rules import CourseFacts, Lot, Subscription

LICENSE_TYPES = rules.LICENSE_TYPES

# ---------------------------------------------------------------- holding statuses

ACTIVE = "active"
CANCELLED = "cancelled"  # Plus in its term, will not renew
EXHAUSTED = "exhausted"  # every seat taken: holders keep launching, new learners get no_seats
INSUFFICIENT_DEPOSIT = "insufficient_deposit"  # PPU: deposit below the course's price
NOT_STARTED = "not_started"
EXPIRED = "expired"
DISABLED = "disabled"  # PPU switched off by staff
COURSE_RETIRED = "course_retired"
BUNDLE_EXCLUDED = "bundle_excluded"

#: Statuses of a holding that delivers its course(s) now.
DELIVERING = frozenset({ACTIVE, CANCELLED, EXHAUSTED, INSUFFICIENT_DEPOSIT})

STATUS_LABELS = {
    ACTIVE: "active",
    CANCELLED: "cancelled (runs to the end of its term)",
    EXHAUSTED: "all seats taken",
    INSUFFICIENT_DEPOSIT: "deposit too low for a new learner",
    NOT_STARTED: "not started yet",
    EXPIRED: "expired",
    DISABLED: "switched off",
    COURSE_RETIRED: "course retired",
    BUNDLE_EXCLUDED: "subscription-only course",
}


# ---------------------------------------------------------------- facts


@dataclass(frozen=True)
class PpuFacts:
    """Pay Per Use as staff configured it. ``library`` holds (at least) the courses asked about,
    by ``course_pk``."""

    contract_ref: str
    is_enabled: bool
    balance_cents: int
    library: frozenset[int]


@dataclass(frozen=True)
class Holdings:
    """What an account holds. ``lots`` and ``ppu.library`` hold (at least) the courses asked
    about; ``subscriptions`` are all of the account's."""

    subscriptions: tuple[Subscription, ...] = ()
    lots: tuple[Lot, ...] = ()
    ppu: PpuFacts | None = None

    def lots_for(self, course_pk: int) -> list[Lot]:
        return [lot for lot in self.lots if lot.course_pk == course_pk]


# ---------------------------------------------------------------- deliverability


@dataclass(frozen=True)
class Verdict:
    """Whether a course is deliverable under one license type now; when not, ``reason`` says
    why (with ``starts_at`` for ``not_started`` and ``ended_at`` for ``license_expired``)."""

    license_type: str
    reason: str | None = None
    starts_at: datetime | None = None
    ended_at: datetime | None = None

    @property
    def deliverable(self) -> bool:
        return self.reason is None


@dataclass(frozen=True)
class Deliverability:
    """One course's verdicts under every license type, in the order plus, volume, ppu."""

    course_pk: int
    verdicts: tuple[Verdict, ...]

    @property
    def license_types(self) -> tuple[str, ...]:
        """The license types the course is deliverable under now."""
        return tuple(v.license_type for v in self.verdicts if v.deliverable)

    def verdict(self, license_type: str) -> Verdict:
        for v in self.verdicts:
            if v.license_type == license_type:
                return v
        raise ValueError(f"unknown license type {license_type!r}")


def course_reason(course: CourseFacts, license_type: str) -> str | None:
    """What the course alone rules out, whatever the account holds."""
    if course.status == "retired":
        return "course_retired"
    if license_type == "plus":
        return None if course.is_plus else "not_covered"
    if course.is_subscription_only_bundle:
        return "bundle_excluded"
    return None


def _term_verdict(license_type: str, terms: Iterable[tuple[datetime, datetime]], now: datetime) -> Verdict:
    """Holdings with a term (Plus subscriptions, Volume lots): deliverable when any is in its
    term now; else ``not_started`` when one is still to come, else ``license_expired``; with
    none at all ``no_license``."""
    terms = list(terms)
    if not terms:
        return Verdict(license_type, "no_license")
    if any(rules.in_term(start, end, now) for start, end in terms):
        return Verdict(license_type)
    upcoming = [start for start, _end in terms if now < start]
    if upcoming:
        return Verdict(license_type, "not_started", starts_at=min(upcoming))
    return Verdict(license_type, "license_expired", ended_at=max(end for _start, end in terms))


def verdict(course: CourseFacts, holdings: Holdings, license_type: str, now: datetime) -> Verdict:
    """Whether ``course`` is deliverable under ``license_type`` now, or why not.

    Seats left and the PPU deposit balance never decide it (the seat engine refuses only new
    learners then, with ``no_seats`` / ``insufficient_deposit``)."""
    if license_type not in LICENSE_TYPES:
        raise ValueError(f"unknown license type {license_type!r}")
    reason = course_reason(course, license_type)
    if reason is not None:
        return Verdict(license_type, reason)
    if license_type == "plus":
        return _term_verdict("plus", ((s.started_at, s.current_period_end) for s in holdings.subscriptions), now)
    if license_type == "volume":
        return _term_verdict("volume", ((lot.purchased_at, lot.expires_at) for lot in holdings.lots_for(course.id)),
                             now)
    ppu = holdings.ppu
    if ppu is None or not ppu.is_enabled:
        return Verdict("ppu", "ppu_not_configured")
    if course.id not in ppu.library:
        return Verdict("ppu", "not_in_library")
    return Verdict("ppu")


def deliverability(course: CourseFacts, holdings: Holdings, now: datetime) -> Deliverability:
    return Deliverability(course.id, tuple(verdict(course, holdings, lt, now) for lt in LICENSE_TYPES))


# ---------------------------------------------------------------- holding statuses


def subscription_status(sub: Subscription, now: datetime) -> str:
    """not_started, expired, exhausted, cancelled or active (first that applies)."""
    if now < sub.started_at:
        return NOT_STARTED
    if now >= sub.current_period_end:
        return EXPIRED
    if sub.seats_left <= 0:
        return EXHAUSTED
    if sub.is_cancelled:
        return CANCELLED
    return ACTIVE


def lot_status(lot: Lot, course: CourseFacts, now: datetime) -> str:
    """not_started, expired, course_retired, bundle_excluded, exhausted or active (first that
    applies)."""
    if now < lot.purchased_at:
        return NOT_STARTED
    if now >= lot.expires_at:
        return EXPIRED
    reason = course_reason(course, "volume")
    if reason is not None:
        return reason
    if lot.seats_left <= 0:
        return EXHAUSTED
    return ACTIVE


def library_status(ppu: PpuFacts, course: CourseFacts) -> str:
    """A course in the PPU library: disabled, course_retired, bundle_excluded,
    insufficient_deposit (the deposit cannot pay one more learner) or active (first that
    applies)."""
    if not ppu.is_enabled:
        return DISABLED
    reason = course_reason(course, "ppu")
    if reason is not None:
        return reason
    if ppu.balance_cents < course.ppu_price_cents:
        return INSUFFICIENT_DEPOSIT
    return ACTIVE


__all__ = ["DELIVERING", "Deliverability", "Holdings", "PpuFacts", "STATUS_LABELS", "Verdict", "deliverability",
           "library_status", "lot_status", "subscription_status", "verdict"]


# ---------------------------------------------------------------- room for new learners


def new_learners_left(course: CourseFacts, holdings: Holdings, license_type: str, now: datetime) -> int | None:
    """How many more new learners the account's holdings of ``license_type`` can seat in
    ``course`` now (what an admin is told before their own first launch takes one): Plus, the
    seats left of the subscriptions in their term; Volume, of the course's lots in their term;
    Pay Per Use, how many times the deposit pays the course's price (None, no limit, for a free
    course). 0 when the course is not deliverable under that type."""
    if not verdict(course, holdings, license_type, now).deliverable:
        return 0
    if license_type == "plus":
        return sum(max(0, s.seats_left) for s in holdings.subscriptions
                   if rules.in_term(s.started_at, s.current_period_end, now))
    if license_type == "volume":
        return sum(max(0, lot.seats_left) for lot in holdings.lots_for(course.id)
                   if rules.in_term(lot.purchased_at, lot.expires_at, now))
    assert holdings.ppu is not None  # deliverable under PPU: configured
    if course.ppu_price_cents <= 0:
        return None
    return max(0, holdings.ppu.balance_cents) // course.ppu_price_cents

"""Pure license and seat rules: no Flask, no SQLAlchemy, explicit ``now``.

The seat engine (service.py) loads facts into these frozen dataclasses, asks these functions
what to do, and then performs the guarded database writes that make the decision race-safe.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from store.clock import add_months
from store.licenses.labels import LICENSE_TYPES

SEAT_TERM_MONTHS = 12  # Volume lots and PPU seats last 12 months
RETAKE_AFTER_MONTHS = 12  # annual retake: a seat this old starts a new attempt
MAX_SEATS_PER_GRANT = 100_000


@dataclass(frozen=True)
class Refusal:
    reason: str
    message: str  # what happened, for the learner
    ask: str  # whom to ask


REFUSALS: dict[str, Refusal] = {
    r.reason: r
    for r in (
        Refusal("no_seats", "All seats for this course are taken.",
                "Ask your LMS administrator to buy more seats."),
        Refusal("license_expired", "Your organization's license for this course has expired.",
                "Ask your LMS administrator to renew the license."),
        Refusal("not_covered", "This course is not included in your organization's Plus subscription.",
                "Ask your LMS administrator to add this course to your organization's licenses."),
        Refusal("bundle_excluded",
                "This course belongs to a subscription-only bundle and cannot be used under this license.",
                "Ask your LMS administrator to deliver it with the Plus subscription."),
        Refusal("insufficient_deposit",
                "Your organization's Pay Per Use deposit is too low to open this course.",
                "Ask your LMS administrator to top up the deposit with the vendor."),
        Refusal("not_in_library", "This course is not in your organization's Pay Per Use library.",
                "Ask your LMS administrator to add it to the library."),
        Refusal("retake_not_allowed",
                "Your seat for this course is more than 12 months old and annual retake is off.",
                "Ask your LMS administrator; vendor support can turn on annual retake."),
        Refusal("no_license", "Your organization holds no license of this type for this course.",
                "Ask your LMS administrator to buy a license or check the course link."),
        Refusal("course_retired", "This course has been retired from the catalog.",
                "Ask your LMS administrator for the suggested replacement course."),
        Refusal("not_started", "Your organization's license for this course has not started yet.",
                "Ask your LMS administrator when it starts, and open the course again then."),
        Refusal("ppu_not_configured", "Your organization does not use Pay Per Use for this course link.",
                "Ask your LMS administrator to check the link's license type, or to set up Pay Per Use with "
                "the vendor."),
        Refusal("unknown_course", "This course link points to a course that is not in the catalog.",
                "Ask your LMS administrator to check the link's course id."),
    )
}


def refusal(reason: str) -> Refusal:
    return REFUSALS[reason]


# ---------------------------------------------------------------- facts


@dataclass(frozen=True)
class CourseFacts:
    id: int
    is_plus: bool
    status: str
    is_subscription_only_bundle: bool
    ppu_price_cents: int


@dataclass(frozen=True)
class Lot:
    """A Volume lot: seats for one course, valid from purchase for 12 months."""

    id: int
    purchased_at: datetime
    expires_at: datetime
    seats_total: int
    seats_used: int
    course_pk: int

    @property
    def seats_left(self) -> int:
        return self.seats_total - self.seats_used


@dataclass(frozen=True)
class Subscription:
    """A Plus subscription: seats for every Plus course during its current term."""

    id: int
    started_at: datetime
    current_period_end: datetime
    seats_total: int
    seats_used: int
    term: str
    auto_renew: bool
    cancelled_at: datetime | None

    @property
    def is_cancelled(self) -> bool:
        """Will not renew: auto-renew turned off or cancelled (it still runs to its term's end)."""
        return not self.auto_renew or self.cancelled_at is not None

    @property
    def seats_left(self) -> int:
        return self.seats_total - self.seats_used


@dataclass(frozen=True)
class SeatFacts:
    """A seat the learner already holds, with what decides whether it is still valid."""

    id: int
    license_type: str
    course_pk: int | None
    attempt: int
    occupied_at: datetime
    expires_at: datetime | None  # None for Plus: follows the subscription
    subscription_active: bool = False  # Plus only


# ---------------------------------------------------------------- rules


def in_term(start: datetime, end: datetime, now: datetime) -> bool:
    """The one definition of "valid now" for a license with a term: started and not over
    (``start <= now < end``). The SQL in ``holdings.py`` mirrors it."""
    return start <= now < end


def is_lot_valid(lot: Lot, now: datetime) -> bool:
    return in_term(lot.purchased_at, lot.expires_at, now)


def is_lot_usable(lot: Lot, now: datetime) -> bool:
    return lot.seats_left > 0 and is_lot_valid(lot, now)


def candidate_lots(lots: Iterable[Lot], now: datetime) -> list[Lot]:
    """Valid lots with seats left, oldest purchase first: a new learner takes the oldest seat."""
    usable = (lot for lot in lots if is_lot_usable(lot, now))
    return sorted(usable, key=lambda lot: (lot.purchased_at, lot.id))


def is_subscription_active(sub: Subscription, now: datetime) -> bool:
    return in_term(sub.started_at, sub.current_period_end, now)


def active_subscription(subs: Iterable[Subscription], now: datetime) -> Subscription | None:
    active = [s for s in subs if is_subscription_active(s, now)]
    return max(active, key=lambda s: (s.started_at, s.id), default=None)


def is_seat_valid(seat: SeatFacts, now: datetime) -> bool:
    if seat.license_type == "plus":
        return seat.subscription_active
    return seat.expires_at is not None and now < seat.expires_at


def seat_covers(seat: SeatFacts, course: CourseFacts) -> bool:
    if seat.license_type == "plus":
        return course.is_plus
    return seat.course_pk == course.id


def reusable_seat(seats: Iterable[SeatFacts], course: CourseFacts, license_type: str,
                  now: datetime) -> SeatFacts | None:
    """A valid seat of the learner that covers the course: relaunch never takes another seat.

    A seat of the requested license type wins; otherwise any other valid seat of the same
    account that covers the course (a learner is never charged twice for one course).
    """
    valid = [s for s in seats if seat_covers(s, course) and is_seat_valid(s, now)]
    valid.sort(key=lambda s: (s.license_type != license_type, s.occupied_at, s.id))
    return valid[0] if valid else None


def ppu_seat_expiry(first_launch_at: datetime) -> datetime:
    return add_months(first_launch_at, SEAT_TERM_MONTHS)


def volume_lot_expiry(purchased_at: datetime) -> datetime:
    return add_months(purchased_at, SEAT_TERM_MONTHS)


def is_retake_due(seat: SeatFacts, now: datetime) -> bool:
    return add_months(seat.occupied_at, RETAKE_AFTER_MONTHS) <= now


class Next(Enum):
    NEW_SEAT = "new_seat"
    REFUSE = "refuse"


@dataclass(frozen=True)
class SeatDecision:
    next: Next
    attempt: int = 1
    reason: str | None = None


def decide_course_seat(latest: SeatFacts | None, now: datetime, annual_retake: bool) -> SeatDecision:
    """Volume/PPU: what to do when the learner has no valid seat of this scope.

    ``latest`` is the learner's newest seat of this scope (already known not to be valid).
    No seat yet: first attempt. An expired seat older than 12 months: a new attempt when the
    account has annual retake, else ``retake_not_allowed``. An expired younger seat (its lot
    expired early): ``license_expired``.
    """
    if latest is None:
        return SeatDecision(Next.NEW_SEAT, attempt=1)
    if is_seat_valid(latest, now):
        raise ValueError("decide_course_seat is only for learners without a valid seat")
    if is_retake_due(latest, now):
        if annual_retake:
            return SeatDecision(Next.NEW_SEAT, attempt=latest.attempt + 1)
        return SeatDecision(Next.REFUSE, reason="retake_not_allowed")
    return SeatDecision(Next.REFUSE, reason="license_expired")

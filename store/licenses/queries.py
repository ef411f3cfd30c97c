"""Read functions for licenses and seats. They take a Session and never commit."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, bindparam, func, or_, select
from sqlalchemy.orm import Session

from store.accounts.linking import person_learner_ids
from store.accounts.models import Learner
from store.catalog.models import Bundle, Course
from store.content.models import CourseContentVersion
from store.database import built_once, column_snapshot
from store.errors import NotFound
from store.licenses import rules
from store.licenses.models import CourseLaunch, PlusSubscription, PpuConfig, Seat, VolumeLot


def find_course_facts(session: Session, catalog_id: str) -> tuple[Course, rules.CourseFacts] | None:
    row = session.execute(
        select(Course, func.coalesce(Bundle.is_subscription_only, False))
        .outerjoin(Bundle, Bundle.id == Course.bundle_id)
        .where(Course.catalog_id == catalog_id)
    ).first()
    if row is None:
        return None
    course, sub_only = row
    return course, rules.CourseFacts(
        id=course.id,
        is_plus=course.is_plus,
        status=course.status,
        is_subscription_only_bundle=bool(sub_only),
        ppu_price_cents=course.ppu_price_cents,
    )


def course_facts_by_catalog_id(session: Session, catalog_ids: Iterable[str]) -> dict[str, rules.CourseFacts]:
    """What decides the license types of several courses, in one query, by catalog id (unknown
    ids are left out)."""
    wanted = sorted(set(catalog_ids))
    if not wanted:
        return {}
    rows = session.execute(
        select(Course.catalog_id, Course.id, Course.is_plus, Course.status, Course.ppu_price_cents,
               func.coalesce(Bundle.is_subscription_only, False))
        .outerjoin(Bundle, Bundle.id == Course.bundle_id)
        .where(Course.catalog_id.in_(wanted))
    )
    return {
        catalog_id: rules.CourseFacts(id=course_pk, is_plus=bool(is_plus), status=status,
                                      is_subscription_only_bundle=bool(sub_only), ppu_price_cents=price)
        for catalog_id, course_pk, is_plus, status, price, sub_only in rows
    }


@dataclass(frozen=True)
class PpuSeatTotal:
    """The Pay Per Use seats one course took from the account's deposit: how many, and what
    they cost together."""

    seats: int
    cents: int


def ppu_seat_totals(session: Session, account_id: int) -> dict[str, PpuSeatTotal]:
    """Every Pay Per Use seat bought from the account's deposit, counted per course (by catalog
    id), with their total price."""
    rows = session.execute(
        select(Course.catalog_id, func.count(Seat.id), func.coalesce(func.sum(Seat.price_cents), 0))
        .join(Course, Course.id == Seat.course_pk)
        .where(Seat.account_id == account_id, Seat.license_type == "ppu")
        .group_by(Course.catalog_id)
    )
    return {str(catalog_id): PpuSeatTotal(int(seats), int(cents)) for catalog_id, seats, cents in rows}


def get_course_facts(session: Session, catalog_id: str) -> tuple[Course, rules.CourseFacts]:
    found = find_course_facts(session, catalog_id)
    if found is None:
        raise NotFound(f"unknown course {catalog_id!r} (give its catalog id)", reason="unknown_course")
    return found


def subscription_facts(s: PlusSubscription) -> rules.Subscription:
    return rules.Subscription(s.id, s.started_at, s.current_period_end, s.seats_total, s.seats_used, s.term,
                              s.auto_renew, s.cancelled_at)


def lot_facts(lot: VolumeLot) -> rules.Lot:
    return rules.Lot(lot.id, lot.purchased_at, lot.expires_at, lot.seats_total, lot.seats_used, lot.course_pk)


def subscriptions_of(session: Session, account_id: int) -> list[rules.Subscription]:
    """Every Plus subscription of the account, oldest start first."""
    subs = session.scalars(select(PlusSubscription).where(PlusSubscription.account_id == account_id)
                           .order_by(PlusSubscription.started_at, PlusSubscription.id))
    return [subscription_facts(s) for s in subs]


def find_ppu_config(session: Session, account_id: int) -> PpuConfig | None:
    return session.scalars(select(PpuConfig).where(PpuConfig.account_id == account_id)).first()


def learner_seat_facts(session: Session, account_id: int, learner_id: int, course_pk: int,
                       now: datetime, *, person_id: int | None = None) -> list[rules.SeatFacts]:
    """The learner's seats that could cover this course: its Volume/PPU seats and Plus seats.
    With a ``person_id`` (identity linking on), the seats of every identity of that person."""
    holder = (Seat.learner_id == learner_id if person_id is None
              else Seat.learner_id.in_(person_learner_ids(person_id, learner_id).where(Learner.account_id == account_id)))
    rows = session.execute(
        select(Seat, PlusSubscription.started_at, PlusSubscription.current_period_end)
        .outerjoin(PlusSubscription, PlusSubscription.id == Seat.subscription_id)
        .where(
            Seat.account_id == account_id,
            holder,
            or_(Seat.course_pk == course_pk, Seat.license_type == "plus"),
        )
    )
    return [_seat_facts(seat, sub_start, sub_end, now) for seat, sub_start, sub_end in rows]


def _seat_facts(seat: Seat, sub_start: datetime | None, sub_end: datetime | None, now: datetime) -> rules.SeatFacts:
    active = sub_start is not None and sub_end is not None and rules.in_term(sub_start, sub_end, now)
    return rules.SeatFacts(id=seat.id, license_type=seat.license_type, course_pk=seat.course_pk, attempt=seat.attempt,
                           occupied_at=seat.occupied_at, expires_at=seat.expires_at, subscription_active=active)


@dataclass(frozen=True)
class CourseAndSeats:
    """What a launch's seat decision reads, in one statement (``course_and_seat_facts``)."""

    course: rules.CourseFacts
    title: str
    has_package: bool  # the course has a current imported content version
    seats: list[rules.SeatFacts]
    seat_rows: dict[int, Seat]  # the seats' columns, by id (a reused seat needs no second read)


# The seat columns a launch's decision and its seat view read (``_seat_facts``, the service's
# ``_view``), the primary key first (NULL: no seat joined).
_SEAT_COLUMNS = ("id", "license_type", "course_pk", "attempt", "occupied_at", "expires_at", "lot_id",
                 "subscription_id", "price_cents")


def _build_course_and_seats(_dialect: str) -> Select[Any]:
    seat = Seat.__table__
    return (
        select(Course.id, Course.title, Course.is_plus, Course.status, Course.ppu_price_cents,
               func.coalesce(Bundle.is_subscription_only, False), CourseContentVersion.id,
               PlusSubscription.started_at, PlusSubscription.current_period_end,
               *(seat.c[name] for name in _SEAT_COLUMNS))
        .select_from(Course)
        .outerjoin(Bundle, Bundle.id == Course.bundle_id)
        .outerjoin(CourseContentVersion, and_(CourseContentVersion.course_pk == Course.id,
                                              CourseContentVersion.is_current.is_(True)))
        .outerjoin(Seat, and_(Seat.account_id == bindparam("account_id"), Seat.learner_id == bindparam("learner_id"),
                              or_(Seat.course_pk == Course.id, Seat.license_type == "plus")))
        .outerjoin(PlusSubscription, PlusSubscription.id == Seat.subscription_id)
        .where(Course.catalog_id == bindparam("catalog_id"))
    )


_course_and_seats = built_once(_build_course_and_seats)


def course_and_seat_facts(session: Session, account_id: int, learner_id: int, catalog_id: str,
                          now: datetime) -> CourseAndSeats | None:
    """``find_course_facts``, whether the course has imported content and ``learner_seat_facts``
    (without identity linking) in one statement: the course row joined to the learner's seats
    that could cover it (read as Core columns: each seat a snapshot of ``_SEAT_COLUMNS``, not an
    ORM entity). None for an unknown course."""
    rows = session.connection().execute(_course_and_seats(session), {
        "account_id": account_id, "learner_id": learner_id, "catalog_id": catalog_id}).all()
    if not rows:
        return None
    pk, title, is_plus, status, price, sub_only, package_id = rows[0][:7]
    course = rules.CourseFacts(id=pk, is_plus=bool(is_plus), status=status, is_subscription_only_bundle=bool(sub_only),
                               ppu_price_cents=price)
    seat_rows = {row[9]: column_snapshot(row, 9, _SEAT_COLUMNS) for row in rows if row[9] is not None}
    seats = [_seat_facts(seat_rows[row[9]], row[7], row[8], now) for row in rows if row[9] is not None]
    return CourseAndSeats(course, title, package_id is not None, seats, seat_rows)


def latest_seat_in_scope(facts: list[rules.SeatFacts], license_type: str, course_pk: int) -> rules.SeatFacts | None:
    same = [f for f in facts if f.license_type == license_type and f.course_pk == course_pk]
    return max(same, key=lambda f: f.attempt, default=None)


@dataclass(frozen=True)
class SeatRow:
    id: int
    learner_external_id: str
    learner_source: str
    learner_name: str | None
    license_type: str
    catalog_id: str | None  # catalog id; None for a Plus seat
    attempt: int
    occupied_at: datetime
    expires_at: datetime | None
    is_valid: bool
    price_cents: int | None


def _seats_select() -> Select:  # type: ignore[type-arg]
    return (
        select(Seat, Learner, Course.catalog_id, PlusSubscription.started_at, PlusSubscription.current_period_end)
        .join(Learner, Learner.id == Seat.learner_id)
        .outerjoin(Course, Course.id == Seat.course_pk)
        .outerjoin(PlusSubscription, PlusSubscription.id == Seat.subscription_id)
    )


def list_seats(session: Session, account_id: int, now: datetime, course_catalog_id: str | None = None,
               limit: int | None = None) -> list[SeatRow]:
    """Seats of an account, newest first. With a course: its Volume/PPU seats and the Plus seats
    of learners who launched it."""
    stmt = _seats_select().where(Seat.account_id == account_id)
    if course_catalog_id is not None:
        course, _facts = get_course_facts(session, course_catalog_id)
        launched = select(CourseLaunch.seat_id).where(CourseLaunch.course_pk == course.id)
        stmt = stmt.where(or_(Seat.course_pk == course.id, and_(Seat.license_type == "plus", Seat.id.in_(launched))))
    stmt = stmt.order_by(Seat.occupied_at.desc(), Seat.id.desc())
    if limit:
        stmt = stmt.limit(limit)
    out = []
    for seat, learner, catalog_id, sub_start, sub_end in session.execute(stmt):
        if seat.license_type == "plus":
            valid = sub_start is not None and rules.in_term(sub_start, sub_end, now)
        else:
            valid = seat.expires_at is not None and now < seat.expires_at
        out.append(
            SeatRow(seat.id, learner.external_id, learner.identity_source, learner.name, seat.license_type,
                    catalog_id, seat.attempt, seat.occupied_at, seat.expires_at, valid, seat.price_cents)
        )
    return out

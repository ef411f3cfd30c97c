"""License use cases: the seat engine (claim_seat) and the staff grants. Each owns its transaction.

With identity linking on (``store.accounts.linking``) the learner's person is resolved first and
the seats of every identity of that person count as the learner's; a new seat then carries the
person, and a unique index gives one seat per person, scope and attempt.

Seat claims are race-safe without read-check-write: a seat is taken by one guarded UPDATE
(``seats_used = seats_used + 1 WHERE seats_used < seats_total AND <still valid>``, or a deposit
debit ``WHERE balance_cents >= price``) followed by the seat INSERT in the same transaction.
A rowcount of 0 means "that source is exhausted". Two simultaneous first launches of one
learner collide on ``uq_seats_one_per_learner_scope_attempt``; the loser's transaction rolls
back (counter included) and is retried, finding and reusing the winner's seat.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from store.accounts import linking
from store.accounts.queries import get_account
from store.accounts.service import LearnerIdentity, check_identity, upsert_learner
from store.base import require_aware
from store.clock import add_months
from store.database import binds, built_once, dialect_insert, upsert_insert
from store.errors import InvalidInput, NotFound, StoreError
from store.licenses import holdings, holdings_rules, queries, rules
from store.licenses.models import (
    CourseLaunch,
    DepositEntry,
    LaunchRefusal,
    PlusSubscription,
    PpuConfig,
    PpuLibraryEntry,
    Seat,
    VolumeLot,
)
from store.text import check_text

log = logging.getLogger(__name__)

MAX_CLAIM_RETRIES = 5
MAX_DEPOSIT_CENTS = 10**11  # one billion in currency units: a typo guard
CONTRACT_REF_MAX = 200  # ppu_configs.contract_ref
MAX_START_AHEAD_DAYS = 366  # a grant's --start may be at most this far ahead


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class SeatView:
    id: int
    license_type: str
    catalog_id: str  # catalog id of the course launched
    attempt: int
    occupied_at: datetime
    expires_at: datetime | None
    lot_id: int | None
    subscription_id: int | None
    price_cents: int | None


@dataclass(frozen=True)
class ClaimRequest:
    account_id: int
    license_type: str
    catalog_id: str  # catalog id
    learner: LearnerIdentity


@dataclass(frozen=True)
class ClaimResult:
    learner_id: int | None
    seat: SeatView | None = None
    is_new_seat: bool = False
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.seat is not None

    @property
    def refusal(self) -> rules.Refusal | None:
        return rules.refusal(self.reason) if self.reason else None


class _Refused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ---------------------------------------------------------------- the engine


def claim_seat(sessions: sessionmaker[Session], request: ClaimRequest, now: datetime) -> ClaimResult:
    """Give the learner a seat for the course (new or existing) or a refusal with a reason code.

    One transaction; a refusal is recorded for the admin dashboard in that same transaction.
    """
    now = require_aware(now, "now")
    check_identity(request.learner)  # before the transaction: a refusal changes nothing
    if request.license_type not in rules.LICENSE_TYPES:
        raise InvalidInput(
            f"license type must be one of {', '.join(rules.LICENSE_TYPES)}, got {request.license_type!r}",
            reason="invalid_license_type",
        )
    for attempt in range(MAX_CLAIM_RETRIES):
        try:
            with sessions.begin() as session:
                return _claim(session, request, now)
        except IntegrityError as exc:
            # A concurrent first launch of the same learner won; the retry reuses its seat.
            log.info("seat claim collided (try %d): %s", attempt + 1, exc.orig)
    raise StoreError("seat claim kept colliding with concurrent launches; try again", reason="busy")


class ClaimAccount(Protocol):
    """What a seat claim reads of the account: the ORM ``Account``, or the one-pass launch's
    snapshot of these columns."""

    @property
    def id(self) -> int: ...

    @property
    def link_identities(self) -> bool: ...

    @property
    def annual_retake(self) -> bool: ...


def claim_seat_in(session: Session, request: ClaimRequest, now: datetime) -> ClaimResult:
    """``claim_seat`` inside the caller's transaction (a use case that writes more with the seat,
    e.g. an invitation). The caller retries on ``IntegrityError`` in a new transaction, as
    ``claim_seat`` does."""
    now = require_aware(now, "now")
    check_identity(request.learner)
    if request.license_type not in rules.LICENSE_TYPES:
        raise InvalidInput(
            f"license type must be one of {', '.join(rules.LICENSE_TYPES)}, got {request.license_type!r}",
            reason="invalid_license_type",
        )
    return _claim(session, request, now)


def _claim(session: Session, request: ClaimRequest, now: datetime) -> ClaimResult:
    account = get_account(session, request.account_id)
    learner_id = upsert_learner(session, account.id, request.learner, now)
    return claim_for_learner(session, account, learner_id, request, now)


def claim_for_learner(session: Session, account: ClaimAccount, learner_id: int, request: ClaimRequest, now: datetime,
                      loaded: queries.CourseAndSeats | None = None) -> ClaimResult:
    """The seat engine for a learner this transaction has already upserted (an LTI launch records
    the learner with the launch). ``loaded``: the course and the learner's seats the caller has
    already read with ``queries.course_and_seat_facts`` (only without identity linking)."""
    # Identity linking: the person this identity belongs to; their seats are the learner's.
    person_id = (linking.resolve_person(session, account.id, learner_id, request.learner, now)
                 if account.link_identities else None)
    if person_id is not None:
        loaded = None  # the person's seats, whichever identity took them
    elif loaded is None:
        loaded = queries.course_and_seat_facts(session, account.id, learner_id, request.catalog_id, now)
        if loaded is None:
            return _refuse(session, account.id, learner_id, None, request.license_type, "unknown_course", now)
    rows: dict[int, Seat] = {}
    if loaded is not None:
        course, seats, rows = loaded.course, loaded.seats, loaded.seat_rows
    else:
        found = queries.find_course_facts(session, request.catalog_id)
        if found is None:
            return _refuse(session, account.id, learner_id, None, request.license_type, "unknown_course", now)
        course = found[1]
        seats = queries.learner_seat_facts(session, account.id, learner_id, course.id, now, person_id=person_id)
    existing = rules.reusable_seat(seats, course, request.license_type, now)
    if existing is not None:
        seat = rows.get(existing.id) or session.get_one(Seat, existing.id)
        _record_launch(session, seat.id, course.id, now)
        return ClaimResult(learner_id, _view(seat, request.catalog_id), is_new_seat=False)
    holder = _Holder(learner_id, person_id)
    seat = _quick_new_seat(session, account, holder, course, seats, request.license_type, now)
    if seat is None:
        return _new_seat(session, account, holder, course, seats, request, now)
    _record_launch(session, seat.id, course.id, now)
    return ClaimResult(learner_id, _view(seat, request.catalog_id), is_new_seat=True)


def _new_seat(session: Session, account: ClaimAccount, holder: _Holder, course: rules.CourseFacts,
              seats: list[rules.SeatFacts], request: ClaimRequest, now: datetime) -> ClaimResult:
    """A new seat only for a course the account may deliver under this license type now."""
    learner_id = holder.learner_id
    held = holdings.load_holdings(session, account.id, [course.id], license_type=request.license_type)
    verdict = holdings_rules.verdict(course, held, request.license_type, now)
    if not verdict.deliverable:
        assert verdict.reason is not None
        return _refuse(session, account.id, learner_id, course.id, request.license_type, verdict.reason, now)
    try:
        if request.license_type == "plus":
            seat = _new_plus_seat(session, account, holder, held, seats, now)
        else:
            latest = queries.latest_seat_in_scope(seats, request.license_type, course.id)
            decision = rules.decide_course_seat(latest, now, account.annual_retake)
            if decision.next is rules.Next.REFUSE:
                raise _Refused(decision.reason or "license_expired")
            if request.license_type == "volume":
                seat = _new_volume_seat(session, account, holder, course, held, decision.attempt, now)
            else:
                seat = _new_ppu_seat(session, account, holder, course, decision.attempt, now)
    except _Refused as refused:
        return _refuse(session, account.id, learner_id, course.id, request.license_type, refused.reason, now)
    _record_launch(session, seat.id, course.id, now)
    return ClaimResult(learner_id, _view(seat, request.catalog_id), is_new_seat=True)


# The common case of a new seat in one guarded statement, without reading the holdings first:
# the guard picks the source ``_new_seat`` would pick (the oldest usable Volume lot; the
# subscription in its term that started last) and takes a seat from it. When the guard matches
# nothing (no usable lot, a full subscription, or a refusal to explain) ``_new_seat`` decides,
# in the same transaction, with the holdings and the verdict.


def _quick_new_seat(session: Session, account: ClaimAccount, holder: _Holder, course: rules.CourseFacts,
                    seats: list[rules.SeatFacts], license_type: str, now: datetime) -> Seat | None:
    if license_type == "ppu" or holdings_rules.course_reason(course, license_type) is not None:
        return None
    if license_type == "plus":
        return _quick_plus_seat(session, account, holder, seats, now)
    latest = queries.latest_seat_in_scope(seats, "volume", course.id)
    decision = rules.decide_course_seat(latest, now, account.annual_retake)
    if decision.next is rules.Next.REFUSE:
        return None
    lot = session.execute(_take_oldest_lot(session), {"b_account_id": account.id, "b_course_pk": course.id,
                                                       "b_now": now}).first()
    if lot is None:
        return None
    return _insert_seat(
        session,
        Seat(account_id=account.id, learner_id=holder.learner_id, person_id=holder.person_id, license_type="volume",
             scope=f"volume:{course.id}", course_pk=course.id, lot_id=lot.id, attempt=decision.attempt,
             occupied_at=now, expires_at=lot.expires_at),
    )


def _quick_plus_seat(session: Session, account: ClaimAccount, holder: _Holder, seats: list[rules.SeatFacts],
                     now: datetime) -> Seat | None:
    sub_id = session.execute(_take_current_subscription_seat(session),
                             {"b_account_id": account.id, "b_now": now}).scalar_one_or_none()
    if sub_id is None:
        return None
    return _insert_seat(session, _plus_seat(account, holder, sub_id, seats, now))


def _build_take_oldest_lot(_dialect: str) -> Any:
    lots = VolumeLot.__table__.c
    now = bindparam("b_now", type_=lots.purchased_at.type)
    oldest = (select(lots.id)
              .where(lots.account_id == bindparam("b_account_id"), lots.course_pk == bindparam("b_course_pk"),
                     lots.seats_used < lots.seats_total, lots.purchased_at <= now, lots.expires_at > now)
              .order_by(lots.purchased_at, lots.id).limit(1).scalar_subquery())
    return (update(VolumeLot.__table__)
            .where(lots.id == oldest, lots.seats_used < lots.seats_total)
            .values(seats_used=lots.seats_used + 1)
            .returning(lots.id, lots.expires_at))


def _build_take_subscription_seat(_dialect: str) -> Any:
    subs = PlusSubscription.__table__.c
    now = bindparam("b_now", type_=subs.started_at.type)
    current = (select(subs.id)
               .where(subs.account_id == bindparam("b_account_id"), subs.started_at <= now,
                      subs.current_period_end > now)
               .order_by(subs.started_at.desc(), subs.id.desc()).limit(1).scalar_subquery())
    return (update(PlusSubscription.__table__)
            .where(subs.id == current, subs.seats_used < subs.seats_total)
            .values(seats_used=subs.seats_used + 1)
            .returning(subs.id))


_take_oldest_lot = built_once(_build_take_oldest_lot)
_take_current_subscription_seat = built_once(_build_take_subscription_seat)


def _plus_seat(account: ClaimAccount, holder: _Holder, sub_id: int, seats: list[rules.SeatFacts],
               now: datetime) -> Seat:
    previous = [s.attempt for s in seats if s.license_type == "plus"]
    return Seat(account_id=account.id, learner_id=holder.learner_id, person_id=holder.person_id, license_type="plus",
                scope=f"plus:{sub_id}", subscription_id=sub_id, attempt=1 if not previous else max(previous) + 1,
                occupied_at=now, expires_at=None)


# The account may deliver the course (checked above); these take the seat with one guarded
# statement each. A guard that matches no row means that source has no seat (or deposit) left.


@dataclass(frozen=True)
class _Holder:
    """Who a new seat is for: the learner, and their person when identity linking is on."""

    learner_id: int
    person_id: int | None


def _new_plus_seat(session: Session, account: ClaimAccount, holder: _Holder, held: holdings_rules.Holdings,
                   seats: list[rules.SeatFacts], now: datetime) -> Seat:
    sub = rules.active_subscription(held.subscriptions, now)
    assert sub is not None, "the verdict found a subscription in its term"
    taken = session.execute(
        update(PlusSubscription)
        .where(
            PlusSubscription.id == sub.id,
            PlusSubscription.seats_used < PlusSubscription.seats_total,
            PlusSubscription.started_at <= now,
            PlusSubscription.current_period_end > now,
        )
        .values(seats_used=PlusSubscription.seats_used + 1)
    ).rowcount
    if taken != 1:
        raise _Refused("no_seats")
    return _insert_seat(session, _plus_seat(account, holder, sub.id, seats, now))


def _new_volume_seat(session: Session, account: ClaimAccount, holder: _Holder, course: rules.CourseFacts,
                     held: holdings_rules.Holdings, attempt: int, now: datetime) -> Seat:
    for lot in rules.candidate_lots(held.lots_for(course.id), now):
        taken = session.execute(
            update(VolumeLot)
            .where(
                VolumeLot.id == lot.id,
                VolumeLot.seats_used < VolumeLot.seats_total,
                VolumeLot.purchased_at <= now,
                VolumeLot.expires_at > now,
            )
            .values(seats_used=VolumeLot.seats_used + 1)
        ).rowcount
        if taken == 1:
            return _insert_seat(
                session,
                Seat(account_id=account.id, learner_id=holder.learner_id, person_id=holder.person_id,
                     license_type="volume", scope=f"volume:{course.id}", course_pk=course.id, lot_id=lot.id,
                     attempt=attempt, occupied_at=now, expires_at=lot.expires_at),
            )
    raise _Refused("no_seats")


def _new_ppu_seat(session: Session, account: ClaimAccount, holder: _Holder, course: rules.CourseFacts,
                  attempt: int, now: datetime) -> Seat:
    price = course.ppu_price_cents
    balance_after = session.execute(
        update(PpuConfig)
        .where(PpuConfig.account_id == account.id, PpuConfig.is_enabled.is_(True), PpuConfig.balance_cents >= price)
        .values(balance_cents=PpuConfig.balance_cents - price)
        .returning(PpuConfig.balance_cents)
    ).scalar_one_or_none()
    if balance_after is None:
        raise _Refused("insufficient_deposit")
    seat = _insert_seat(
        session,
        Seat(account_id=account.id, learner_id=holder.learner_id, person_id=holder.person_id, license_type="ppu",
             scope=f"ppu:{course.id}", course_pk=course.id, attempt=attempt, occupied_at=now,
             expires_at=rules.ppu_seat_expiry(now), price_cents=price),
    )
    if price:
        session.add(DepositEntry(account_id=account.id, kind="seat", amount_cents=-price,
                                 balance_after_cents=balance_after, seat_id=seat.id,
                                 note=f"seat for course {course.id}", created_at=now))
    return seat


_SEAT_COLUMNS = ("account_id", "learner_id", "person_id", "license_type", "scope", "course_pk", "subscription_id",
                 "lot_id", "attempt", "occupied_at", "expires_at", "price_cents")
_seat_insert = built_once(lambda _dialect: insert(Seat.__table__).values(binds(Seat.__table__, *_SEAT_COLUMNS))
                          .returning(Seat.__table__.c.id))


def _insert_seat(session: Session, seat: Seat) -> Seat:
    """The seat row inserted with one built-once statement (no unit-of-work flush); ``seat``
    gets its id. IntegrityError here = a concurrent launch of the same learner won."""
    seat.id = session.execute(_seat_insert(session), {name: getattr(seat, name) for name in _SEAT_COLUMNS}
                              ).scalar_one()
    return seat


def _record_launch(session: Session, seat_id: int, course_pk: int, now: datetime) -> None:
    session.execute(_course_launch_upsert(session), {"seat_id": seat_id, "course_pk": course_pk,
                                                     "first_launched_at": now, "last_launched_at": now})


def _build_course_launch_upsert(dialect: str) -> Any:
    table = CourseLaunch.__table__
    stmt = dialect_insert(dialect)(table).values(
        **binds(CourseLaunch.__table__, "seat_id", "course_pk", "first_launched_at", "last_launched_at"),
        launch_count=1)
    return stmt.on_conflict_do_update(
        index_elements=["seat_id", "course_pk"],
        set_={"last_launched_at": stmt.excluded.last_launched_at,
              "launch_count": table.c.launch_count + 1},
    )


_course_launch_upsert = built_once(_build_course_launch_upsert)


def add_refusal(session: Session, account_id: int, course_pk: int | None, license_type: str, reason: str,
                now: datetime, *, learner_id: int | None = None, learner_label: str | None = None,
                detail: str | None = None) -> None:
    """Record a launch that a delivery path refused before the seat engine (a SCORM package
    opened from a domain that is not allowed, a revoked or replaced copy, a course without
    content): in the caller's transaction, for the dashboard's Needs Attention list.
    ``learner_label``: the learner as the LMS named them, when there is no learner row."""
    session.add(LaunchRefusal(account_id=account_id, learner_id=learner_id, course_pk=course_pk,
                              license_type=license_type, reason=reason[:40], created_at=require_aware(now, "now"),
                              learner_label=_clip(learner_label, 300), detail=_clip(detail, 300)))


def _clip(value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value[:limit] or None


def _refuse(session: Session, account_id: int, learner_id: int | None, course_pk: int | None,
            license_type: str, reason: str, now: datetime) -> ClaimResult:
    session.add(LaunchRefusal(account_id=account_id, learner_id=learner_id, course_pk=course_pk,
                              license_type=license_type, reason=reason, created_at=now))
    return ClaimResult(learner_id, reason=reason)


def _view(seat: Seat, course_catalog_id: str) -> SeatView:
    return SeatView(seat.id, seat.license_type, course_catalog_id, seat.attempt, seat.occupied_at,
                    seat.expires_at, seat.lot_id, seat.subscription_id, seat.price_cents)


# ---------------------------------------------------------------- license records
# What the staff grants and the store's paid orders both write. Each takes the caller's Session
# (the caller owns the transaction: a grant's own, or the one that marks an order paid) and
# checks what must hold whoever calls.


def open_subscription(session: Session, account_id: int, term: str, seats: int, start: datetime,
                      now: datetime) -> PlusSubscription:
    """A new Plus subscription of ``seats`` seats whose first term begins at ``start``; it renews
    automatically until cancelled."""
    _check_seats(seats)
    if term not in ("annual", "monthly"):
        raise InvalidInput(f"term must be annual or monthly, got {term!r}", reason="invalid_term")
    start = require_aware(start, "start")
    end = add_months(start, 12 if term == "annual" else 1)
    if end <= now:
        raise InvalidInput(f"a {term} term starting {start:%Y-%m-%d} would already be over", reason="invalid_start")
    sub = PlusSubscription(account_id=account_id, term=term, seats_total=seats, seats_used=0, started_at=start,
                           current_period_end=end, auto_renew=True, created_at=now)
    session.add(sub)
    session.flush()
    return sub


def add_subscription_seats(session: Session, subscription_id: int, seats: int) -> PlusSubscription:
    """``seats`` more seats on a subscription (one guarded update: concurrent additions add up)."""
    _check_seats(seats)
    added = session.execute(
        update(PlusSubscription)
        .where(PlusSubscription.id == subscription_id,
               PlusSubscription.seats_total + seats <= rules.MAX_SEATS_PER_GRANT)
        .values(seats_total=PlusSubscription.seats_total + seats)
    ).rowcount
    if added != 1:
        raise InvalidInput(f"a subscription holds at most {rules.MAX_SEATS_PER_GRANT:,} seats",
                           reason="invalid_quantity")
    sub = session.get_one(PlusSubscription, subscription_id)
    session.refresh(sub)
    return sub


def set_subscription_period_end(session: Session, subscription_id: int, period_end: datetime) -> PlusSubscription:
    """Move the end of a subscription's access: a renewal's next term, a grace period after a
    declined renewal, or back to the end of the last paid term."""
    period_end = require_aware(period_end, "period end")
    sub = session.get_one(PlusSubscription, subscription_id)
    if period_end <= sub.started_at:
        raise InvalidInput("a subscription's term must end after it started", reason="invalid_period")
    sub.current_period_end = period_end
    session.flush()
    return sub


def stop_subscription_renewal(session: Session, subscription_id: int, now: datetime) -> PlusSubscription:
    """Auto-renew off: the subscription runs to the end of its term and then ends."""
    sub = session.get_one(PlusSubscription, subscription_id)
    sub.auto_renew = False
    if sub.cancelled_at is None:
        sub.cancelled_at = require_aware(now, "now")
    session.flush()
    return sub


def open_volume_lot(session: Session, account_id: int, course_pk: int, seats: int, purchased_at: datetime,
                    now: datetime) -> VolumeLot:
    """A Volume lot: ``seats`` seats of one course for 12 months from ``purchased_at``."""
    _check_seats(seats)
    purchased_at = require_aware(purchased_at, "purchase time")
    expires_at = rules.volume_lot_expiry(purchased_at)
    lot = VolumeLot(account_id=account_id, course_pk=course_pk, seats_total=seats, seats_used=0,
                    purchased_at=purchased_at, expires_at=expires_at, created_at=now)
    session.add(lot)
    session.flush()
    return lot


# ---------------------------------------------------------------- staff grants


def _check_start(start: datetime, now: datetime) -> None:
    """A grant's start at most a year ahead: later is almost surely a typo (and a far-future term
    end cannot even be represented: 9999-12-31 + 12 months)."""
    if start > now + timedelta(days=MAX_START_AHEAD_DAYS):
        raise InvalidInput(f"start {start:%Y-%m-%d} is more than a year from now ({now:%Y-%m-%d}); a term "
                           "starts on its purchase date", reason="invalid_start")


def _check_seats(seats: int) -> None:
    if isinstance(seats, bool) or not isinstance(seats, int) or seats < 1:
        raise InvalidInput(f"seats must be a whole number of at least 1, got {seats!r}", reason="invalid_quantity")
    if seats > rules.MAX_SEATS_PER_GRANT:
        raise InvalidInput(f"seats must be at most {rules.MAX_SEATS_PER_GRANT:,}, got {seats:,}",
                           reason="invalid_quantity")


@dataclass(frozen=True)
class SubscriptionView:
    id: int
    account_id: int
    term: str
    seats_total: int
    seats_used: int
    started_at: datetime
    current_period_end: datetime
    auto_renew: bool
    seats_added: int


def grant_plus(sessions: sessionmaker[Session], account_ref: str | int, seats: int, term: str,
               now: datetime, start: datetime | None = None) -> SubscriptionView:
    """Start a Plus subscription, or add seats to the account's active one (same term; a ``start``
    is refused then: the seats count from now). ``start`` at most a year ahead, and a new term must
    not be over already."""
    _check_seats(seats)
    if term not in ("annual", "monthly"):
        raise InvalidInput(f"term must be annual or monthly, got {term!r}", reason="invalid_term")
    now = require_aware(now, "now")
    start_given = start is not None
    start = require_aware(start, "start") if start is not None else now
    _check_start(start, now)
    with sessions.begin() as session:
        account = get_account(session, account_ref)
        active = rules.active_subscription(queries.subscriptions_of(session, account.id), now)
        if active is not None:
            sub = session.get_one(PlusSubscription, active.id)
            if start_given:
                raise InvalidInput(
                    f"account already has an active {sub.term} subscription ({sub.started_at:%Y-%m-%d} to "
                    f"{sub.current_period_end:%Y-%m-%d}): seats are added to it from now, so a start date does not "
                    "apply; leave --start out", reason="start_not_applicable")
            if sub.term != term:
                raise InvalidInput(
                    f"account already has an active {sub.term} subscription until "
                    f"{sub.current_period_end:%Y-%m-%d}; add seats with --term {sub.term}",
                    reason="term_mismatch",
                )
            sub = add_subscription_seats(session, sub.id, seats)
        else:
            sub = open_subscription(session, account.id, term, seats, start, now)
        return SubscriptionView(sub.id, account.id, sub.term, sub.seats_total, sub.seats_used, sub.started_at,
                                sub.current_period_end, sub.auto_renew, seats)


@dataclass(frozen=True)
class LotView:
    id: int
    account_id: int
    catalog_id: str
    seats_total: int
    seats_used: int
    purchased_at: datetime
    expires_at: datetime


def grant_volume(sessions: sessionmaker[Session], account_ref: str | int, catalog_id: str, seats: int,
                 now: datetime, start: datetime | None = None) -> LotView:
    """Record a Volume lot: N seats for one course, valid 12 months from its purchase (``start``,
    default now: at most a year ahead, and refused when the 12 months are already over)."""
    _check_seats(seats)
    now = require_aware(now, "now")
    purchased_at = require_aware(start, "start") if start is not None else now
    _check_start(purchased_at, now)
    expires_at = rules.volume_lot_expiry(purchased_at)
    if expires_at <= now:
        raise InvalidInput(f"a Volume lot bought {purchased_at:%Y-%m-%d} would already be over (its 12 months ended "
                           f"{expires_at:%Y-%m-%d})", reason="invalid_start")
    with sessions.begin() as session:
        account = get_account(session, account_ref)
        course, facts = queries.get_course_facts(session, catalog_id)
        if facts.is_subscription_only_bundle:
            raise InvalidInput(f"course {catalog_id!r} is in a subscription-only bundle: never sold as Volume",
                               reason="bundle_excluded")
        if facts.status == "retired":
            raise InvalidInput(f"course {catalog_id!r} is retired", reason="course_retired")
        lot = open_volume_lot(session, account.id, course.id, seats, purchased_at, now)
        return LotView(lot.id, account.id, course.catalog_id, lot.seats_total, lot.seats_used, lot.purchased_at,
                       lot.expires_at)


@dataclass(frozen=True)
class PpuView:
    account_id: int
    contract_ref: str
    is_enabled: bool
    balance_cents: int


def _check_cents(cents: int, *, allow_zero: bool) -> None:
    if isinstance(cents, bool) or not isinstance(cents, int):
        raise InvalidInput(f"amount must be whole cents, got {cents!r}", reason="invalid_amount")
    if cents < 0 or (cents == 0 and not allow_zero):
        raise InvalidInput(f"amount must be {'0 or more' if allow_zero else 'more than 0'} cents, got {cents}",
                           reason="invalid_amount")
    if cents > MAX_DEPOSIT_CENTS:
        raise InvalidInput(f"amount is above the limit of {MAX_DEPOSIT_CENTS} cents", reason="invalid_amount")


def _credit(session: Session, config: PpuConfig, cents: int, now: datetime, note: str) -> None:
    balance = session.execute(
        update(PpuConfig).where(PpuConfig.id == config.id)
        .values(balance_cents=PpuConfig.balance_cents + cents).returning(PpuConfig.balance_cents)
    ).scalar_one()
    session.add(DepositEntry(account_id=config.account_id, kind="deposit", amount_cents=cents,
                             balance_after_cents=balance, note=note, created_at=now))


def configure_ppu(sessions: sessionmaker[Session], account_ref: str | int, contract_ref: str,
                  deposit_cents: int, now: datetime) -> PpuView:
    """Configure Pay Per Use after a contract (or update its contract reference) and credit the
    initial deposit."""
    contract_ref = check_text(contract_ref.strip(), "contract reference", max_chars=CONTRACT_REF_MAX)
    if not contract_ref:
        raise InvalidInput("contract reference must not be empty", reason="invalid_contract")
    _check_cents(deposit_cents, allow_zero=True)
    now = require_aware(now, "now")
    with sessions.begin() as session:
        account = get_account(session, account_ref)
        config = queries.find_ppu_config(session, account.id)
        if config is None:
            config = PpuConfig(account_id=account.id, contract_ref=contract_ref, is_enabled=True,
                               balance_cents=0, created_at=now)
            session.add(config)
            session.flush()
        else:
            config.contract_ref = contract_ref
            config.is_enabled = True
        if deposit_cents:
            _credit(session, config, deposit_cents, now, f"deposit under contract {contract_ref}")
        session.flush()
        session.refresh(config)
        return PpuView(account.id, config.contract_ref, config.is_enabled, config.balance_cents)


def add_deposit(sessions: sessionmaker[Session], account_ref: str | int, cents: int, now: datetime) -> PpuView:
    _check_cents(cents, allow_zero=False)
    now = require_aware(now, "now")
    with sessions.begin() as session:
        account = get_account(session, account_ref)
        config = queries.find_ppu_config(session, account.id)
        if config is None:
            raise InvalidInput(f"account {account.name!r} is not configured for Pay Per Use; "
                               "run `lti-tool staff ppu-configure` first", reason="ppu_not_configured")
        _credit(session, config, cents, now, "deposit")
        session.refresh(config)
        return PpuView(account.id, config.contract_ref, config.is_enabled, config.balance_cents)


MAX_LIBRARY_ADDS = 100  # courses added to the PPU library in one go (the store's catalog page shows 20)


def add_to_ppu_library(sessions: sessionmaker[Session], account_ref: str | int, catalog_id: str,
                       now: datetime) -> bool:
    """Add a course to the account's PPU library; False when it was already there."""
    return bool(add_courses_to_ppu_library(sessions, account_ref, [catalog_id], now))


def add_courses_to_ppu_library(sessions: sessionmaker[Session], account_ref: str | int, catalog_ids: list[str],
                               now: datetime) -> list[str]:
    """Add courses to the account's PPU library in one transaction; returns the catalog ids
    that were not there yet (in the order given). Every course is checked first: an unknown,
    retired or subscription-only course (or PPU not configured) raises and adds nothing."""
    now = require_aware(now, "now")
    wanted = list(dict.fromkeys(catalog_ids))
    if not wanted:
        raise InvalidInput("choose at least one course to add to the library", reason="nothing_selected")
    if len(wanted) > MAX_LIBRARY_ADDS:
        raise InvalidInput(f"at most {MAX_LIBRARY_ADDS} courses can be added at once", reason="too_many")
    with sessions.begin() as session:
        account = get_account(session, account_ref)
        if queries.find_ppu_config(session, account.id) is None:
            raise InvalidInput(f"account {account.name!r} is not configured for Pay Per Use",
                               reason="ppu_not_configured")
        found = queries.course_facts_by_catalog_id(session, wanted)
        for catalog_id in wanted:
            facts = found.get(catalog_id)
            if facts is None:
                raise NotFound(f"unknown course {catalog_id!r} (give its catalog id)", reason="unknown_course")
            if facts.is_subscription_only_bundle:
                raise InvalidInput(f"course {catalog_id!r} is in a subscription-only bundle: never sold as Pay Per "
                                   "Use", reason="bundle_excluded")
            if facts.status == "retired":
                raise InvalidInput(f"course {catalog_id!r} is retired", reason="course_retired")
        insert = upsert_insert(session)
        added = []
        for catalog_id in wanted:
            entry_id = session.execute(
                insert(PpuLibraryEntry).values(account_id=account.id, course_pk=found[catalog_id].id, added_at=now)
                .on_conflict_do_nothing(index_elements=["account_id", "course_pk"])
                .returning(PpuLibraryEntry.id)
            ).scalar_one_or_none()
            if entry_id is not None:
                added.append(catalog_id)
        return added


def set_annual_retake(sessions: sessionmaker[Session], account_ref: str | int, enabled: bool) -> bool:
    with sessions.begin() as session:
        account = get_account(session, account_ref)
        account.annual_retake = enabled
        return enabled

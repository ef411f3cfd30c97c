"""What an account holds, and what it may deliver now: the one owner of that question.

Deep linking, packaging and export, the seat engine (and so LTI and dispatch launches), the
admin overview and the command line all ask here; none computes it itself.

**Deliverable.** A course is deliverable under a license type when a new package or course link
of that type may be handed out now and its learners may launch. Per license type:

- ``plus``: a Plus course and a subscription in its term (``started_at <= now <
  current_period_end``). Cancelled (auto-renew off or ``cancelled_at`` set) still delivers until
  the term ends.
- ``volume``: a Volume lot *for that course* in its term (``purchased_at <= now < expires_at``,
  12 months); several lots: any one in its term.
- ``ppu``: Pay Per Use configured and enabled by staff, and the course in the account's PPU
  library. The deposit balance does not decide it.

Seats left never decide it either: a full lot or subscription still delivers (seat holders keep
launching), and the seat engine refuses only a *new* learner (``no_seats``,
``insufficient_deposit``). A course of a subscription-only bundle (TED@Work) is deliverable under
Plus only; a retired course under nothing (its seat holders still relaunch through the seat
engine's reuse rule, which is separate).

**Why not** (a stable reason code per license type, checked in this order):
``course_retired``; ``not_covered`` (a non-Plus course under Plus); ``bundle_excluded``
(subscription-only course under Volume or PPU); then for Plus and Volume ``no_license`` (none
held), ``not_started`` (none in its term, one still to come; with its start date) or
``license_expired`` (all over; with the last end); for PPU ``ppu_not_configured`` (not set up,
or switched off) or ``not_in_library``.

**Holding status** (each subscription, lot and PPU library course; the first that applies):

- Plus subscription: ``not_started``, ``expired``, ``exhausted`` (every seat taken),
  ``cancelled`` (in its term, will not renew), ``active``;
- Volume lot: ``not_started``, ``expired``, ``course_retired``, ``bundle_excluded``,
  ``exhausted``, ``active``;
- PPU library course: ``disabled`` (PPU switched off), ``course_retired``, ``bundle_excluded``,
  ``insufficient_deposit`` (the deposit cannot pay one more learner of this course), ``active``.

A holding delivers now exactly when its status is ``active``, ``cancelled``, ``exhausted`` or
``insufficient_deposit`` (:data:`holdings_rules.DELIVERING`), so a course is deliverable under a
type exactly when one of its holdings of that type delivers.

The rule itself is pure (:mod:`store.licenses.holdings_rules`); this module loads the facts,
builds the one SQL condition for lists and search from the same definition
(:func:`deliverable_condition`), and reads the account overview (:func:`account_overview`).
Functions take a Session and never commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, false, func, or_, select
from sqlalchemy.orm import Session

from store.accounts.models import Account
from store.base import require_aware
from store.catalog.models import Bundle, Course
from store.errors import NotFound
from store.licenses import holdings_rules as hr
from store.licenses import queries, rules
from store.licenses.holdings_rules import Deliverability, Holdings, PpuFacts, Verdict
from store.licenses.models import PlusSubscription, PpuConfig, PpuLibraryEntry, VolumeLot
from store.licenses.rules import CourseFacts

LICENSE_TYPES = rules.LICENSE_TYPES


def _check_type(license_type: str | None) -> None:
    if license_type is not None and license_type not in LICENSE_TYPES:
        raise ValueError(f"unknown license type {license_type!r}")


# ---------------------------------------------------------------- loading the facts


def load_holdings(session: Session, account_id: int, course_pks: Iterable[int], *,
                  license_type: str | None = None) -> Holdings:
    """The account's holdings for the given courses (``courses.id``): every subscription, the
    lots and library entries of those courses, the PPU configuration. With ``license_type``
    only that type's facts are loaded (enough for a verdict of that type)."""
    _check_type(license_type)
    pks = sorted(set(course_pks))
    subscriptions: tuple[rules.Subscription, ...] = ()
    lots: tuple[rules.Lot, ...] = ()
    ppu: PpuFacts | None = None
    if license_type in (None, "plus"):
        subscriptions = tuple(queries.subscriptions_of(session, account_id))
    if license_type in (None, "volume") and pks:
        lots = tuple(queries.lot_facts(lot) for lot in session.scalars(
            select(VolumeLot).where(VolumeLot.account_id == account_id, VolumeLot.course_pk.in_(pks))
            .order_by(VolumeLot.purchased_at, VolumeLot.id)))
    if license_type in (None, "ppu"):
        config = session.scalars(select(PpuConfig).where(PpuConfig.account_id == account_id)).first()
        if config is not None:
            library: frozenset[int] = frozenset()
            if pks:
                library = frozenset(session.scalars(select(PpuLibraryEntry.course_pk).where(
                    PpuLibraryEntry.account_id == account_id, PpuLibraryEntry.course_pk.in_(pks))))
            ppu = PpuFacts(config.contract_ref, config.is_enabled, config.balance_cents, library)
    return Holdings(subscriptions, lots, ppu)


def course_facts(session: Session, catalog_id: str) -> CourseFacts | None:
    """What decides a course's license types, by catalog id (None for an unknown course)."""
    found = queries.find_course_facts(session, catalog_id)
    return None if found is None else found[1]


def deliverability_of(session: Session, account_id: int, course: CourseFacts, now: datetime) -> Deliverability:
    now = require_aware(now, "now")
    return hr.deliverability(course, load_holdings(session, account_id, [course.id]), now)


def verdict_of(session: Session, account_id: int, course: CourseFacts, license_type: str, now: datetime) -> Verdict:
    """Whether the course is deliverable under ``license_type`` for the account now, or why not."""
    now = require_aware(now, "now")
    holdings = load_holdings(session, account_id, [course.id], license_type=license_type)
    return hr.verdict(course, holdings, license_type, now)


def new_learners_left(session: Session, account_id: int, catalog_id: str, license_type: str,
                      now: datetime) -> int | None:
    """How many more new learners the account can seat in the course under ``license_type`` now
    (see :func:`holdings_rules.new_learners_left`; 0 for an unknown course)."""
    now = require_aware(now, "now")
    _check_type(license_type)
    course = course_facts(session, catalog_id)
    if course is None:
        return 0
    holdings = load_holdings(session, account_id, [course.id], license_type=license_type)
    return hr.new_learners_left(course, holdings, license_type, now)


def deliverabilities(session: Session, account_id: int, courses: Iterable[CourseFacts],
                     now: datetime) -> dict[int, Deliverability]:
    """Verdicts for several courses at once, by ``course_pk``."""
    now = require_aware(now, "now")
    courses = list(courses)
    holdings = load_holdings(session, account_id, (c.id for c in courses))
    return {c.id: hr.deliverability(c, holdings, now) for c in courses}


def deliverable_license_types(session: Session, account_id: int, catalog_id: str, now: datetime) -> tuple[str, ...]:
    """The license types course ``catalog_id`` is deliverable under now (empty when unknown)."""
    course = course_facts(session, catalog_id)
    return () if course is None else deliverability_of(session, account_id, course, now).license_types


# ---------------------------------------------------------------- the SQL condition


def _in_term_sql(start: ColumnElement[datetime], end: ColumnElement[datetime], now: datetime) -> ColumnElement[bool]:
    """``rules.in_term`` in SQL: ``start <= now < end``."""
    return and_(start <= now, end > now)


def deliverable_condition(account_id: int, now: datetime, license_type: str | None = None) -> ColumnElement[bool]:
    """SQL over ``courses``: the course is deliverable for the account now under
    ``license_type`` (under any when None). The same rule as :func:`holdings_rules.verdict`:

    - plus: a Plus course and a subscription in its term;
    - volume: a lot of that course in its term, and not a subscription-only course;
    - ppu: PPU configured and enabled, the course in the library, not subscription-only;
    - never a retired course.
    """
    now = require_aware(now, "now")
    _check_type(license_type)
    courses = Course.__table__.c
    not_sub_only = or_(
        courses.bundle_id.is_(None),
        courses.bundle_id.not_in(select(Bundle.id).where(Bundle.is_subscription_only.is_(True))),
    )
    conditions: list[ColumnElement[bool]] = []
    wanted = [license_type] if license_type else list(LICENSE_TYPES)
    if "plus" in wanted:
        conditions.append(and_(courses.is_plus.is_(True), exists().where(
            PlusSubscription.account_id == account_id,
            _in_term_sql(PlusSubscription.started_at, PlusSubscription.current_period_end, now))))
    if "volume" in wanted:
        conditions.append(and_(not_sub_only, courses.id.in_(select(VolumeLot.course_pk).where(
            VolumeLot.account_id == account_id, _in_term_sql(VolumeLot.purchased_at, VolumeLot.expires_at, now)))))
    if "ppu" in wanted:
        conditions.append(and_(
            not_sub_only,
            courses.id.in_(select(PpuLibraryEntry.course_pk).where(PpuLibraryEntry.account_id == account_id)),
            exists().where(PpuConfig.account_id == account_id, PpuConfig.is_enabled.is_(True)),
        ))
    return and_(courses.status != "retired", or_(*conditions))


def deliverable_catalog_ids(session: Session, account_id: int, license_type: str | None, now: datetime) -> list[str]:
    """Catalog ids of every course deliverable under ``license_type`` (any when None), sorted."""
    return list(session.scalars(select(Course.catalog_id).where(deliverable_condition(account_id, now, license_type))
                                .order_by(Course.catalog_id)))


def held_license_types(session: Session, account_id: int, now: datetime) -> tuple[str, ...]:
    """The license types under which the account can deliver at least one course now."""
    return tuple(
        lt for lt in LICENSE_TYPES
        if session.scalar(select(exists().where(deliverable_condition(account_id, now, lt)))) or False
    )


# ---------------------------------------------------------------- the account overview


@dataclass(frozen=True)
class Holding:
    """One holding: a Plus subscription (``catalog_id`` None), a Volume lot, or a course in the
    PPU library (``seats`` None; ``starts_at`` is when it was added; no expiry)."""

    license_type: str
    holding_id: int  # subscription id, lot id or library entry id
    catalog_id: str | None
    title: str
    seats: int | None
    seats_used: int | None
    starts_at: datetime
    expires_at: datetime | None
    status: str
    term: str | None = None  # Plus: annual / monthly
    price_cents: int | None = None  # PPU: what one new learner costs

    @property
    def delivers(self) -> bool:
        return self.status in hr.DELIVERING

    @property
    def seats_left(self) -> int | None:
        return None if self.seats is None or self.seats_used is None else self.seats - self.seats_used

    @property
    def status_label(self) -> str:
        return hr.STATUS_LABELS.get(self.status, self.status)


@dataclass(frozen=True)
class PpuOverview:
    contract_ref: str
    is_enabled: bool
    balance_cents: int


@dataclass(frozen=True)
class AccountOverview:
    account_id: int
    account_name: str
    holdings: tuple[Holding, ...]  # Plus (by start), Volume (by title, purchase), PPU (by title)
    ppu: PpuOverview | None

    def of_type(self, license_type: str) -> tuple[Holding, ...]:
        return tuple(h for h in self.holdings if h.license_type == license_type)

    @property
    def plus(self) -> tuple[Holding, ...]:
        return self.of_type("plus")

    @property
    def volume(self) -> tuple[Holding, ...]:
        return self.of_type("volume")

    @property
    def ppu_library(self) -> tuple[Holding, ...]:
        return self.of_type("ppu")

    @property
    def current_plus(self) -> Holding | None:
        """The subscription new Plus seats come from (the latest started of those in their term,
        as the seat engine chooses)."""
        delivering = [h for h in self.plus if h.delivers]
        return max(delivering, key=lambda h: (h.starts_at, h.holding_id), default=None)

    @property
    def is_empty(self) -> bool:
        return not self.holdings and self.ppu is None


def _course_columns() -> tuple[ColumnElement[object], ...]:
    return (Course.id, Course.catalog_id, Course.title, Course.is_plus, Course.status,
            func.coalesce(Bundle.is_subscription_only, false()), Course.ppu_price_cents)


def _facts(row: tuple[object, ...]) -> CourseFacts:
    course_pk, _catalog_id, _title, is_plus, status, sub_only, price = row
    return CourseFacts(int(course_pk), bool(is_plus), str(status), bool(sub_only), int(price))  # type: ignore[call-overload]


def account_overview(session: Session, account_id: int, now: datetime) -> AccountOverview:
    """Every holding of the account with its status now, and the PPU configuration. Raises
    NotFound (``unknown_account``) for an unknown account."""
    now = require_aware(now, "now")
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound(f"unknown account {account_id!r}", reason="unknown_account")
    out: list[Holding] = []
    for s in session.scalars(select(PlusSubscription).where(PlusSubscription.account_id == account_id)
                             .order_by(PlusSubscription.started_at, PlusSubscription.id)):
        sub = queries.subscription_facts(s)
        out.append(Holding("plus", sub.id, None, f"Plus subscription ({sub.term})", sub.seats_total, sub.seats_used,
                           sub.started_at, sub.current_period_end, hr.subscription_status(sub, now), term=sub.term))
    for row in session.execute(
        select(VolumeLot, *_course_columns()).join(Course, Course.id == VolumeLot.course_pk)
        .outerjoin(Bundle, Bundle.id == Course.bundle_id).where(VolumeLot.account_id == account_id)
        .order_by(Course.title, Course.catalog_id, VolumeLot.purchased_at, VolumeLot.id)
    ):
        lot, course = queries.lot_facts(row[0]), tuple(row[1:])
        out.append(Holding("volume", lot.id, str(course[1]), str(course[2]), lot.seats_total, lot.seats_used,
                           lot.purchased_at, lot.expires_at, hr.lot_status(lot, _facts(course), now)))
    config = session.scalars(select(PpuConfig).where(PpuConfig.account_id == account_id)).first()
    ppu = None
    if config is not None:
        ppu = PpuOverview(config.contract_ref, config.is_enabled, config.balance_cents)
        facts = PpuFacts(config.contract_ref, config.is_enabled, config.balance_cents, frozenset())
        for row in session.execute(
            select(PpuLibraryEntry.id, PpuLibraryEntry.added_at, *_course_columns())
            .join(Course, Course.id == PpuLibraryEntry.course_pk).outerjoin(Bundle, Bundle.id == Course.bundle_id)
            .where(PpuLibraryEntry.account_id == account_id).order_by(Course.title, Course.catalog_id)
        ):
            entry_id, added_at, course = row[0], row[1], tuple(row[2:])
            course_facts_ = _facts(course)
            out.append(Holding("ppu", entry_id, str(course[1]), str(course[2]), None, None, added_at, None,
                               hr.library_status(facts, course_facts_), price_cents=course_facts_.ppu_price_cents))
    return AccountOverview(account.id, account.name, tuple(out), ppu)


__all__ = ["AccountOverview", "Deliverability", "Holding", "Holdings", "PpuOverview", "Verdict", "account_overview",
           "course_facts", "deliverabilities", "deliverability_of", "deliverable_catalog_ids", "deliverable_condition",
           "deliverable_license_types", "held_license_types", "load_holdings", "verdict_of"]

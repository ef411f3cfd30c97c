"""What an account can deliver now: the license types under which a course can be handed to
learners today, and the account's licensed courses (searchable, paged) for the deep-linking
picker. Read functions take a Session and never commit; the rule itself is pure.

A course is **deliverable** under a license type when the account holds a license of that type
that is valid now and covers the course:

- ``plus``: an active Plus subscription (started, current period not over) and a Plus course;
- ``volume``: a Volume lot for that course that is valid now (purchased, not expired);
- ``ppu``: Pay Per Use configured and enabled, and the course in the account's PPU library.

Courses of a subscription-only bundle are offered under Plus only; retired courses never.
Seats left and the deposit balance do not matter here: a full lot or subscription still
serves the learners who hold seats, and the seat engine refuses new learners with a clear
message (no seats left, deposit too low) that tells them whom to ask.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, and_, false, func, or_, select
from sqlalchemy.orm import Session

from store.base import require_aware
from store.catalog import queries as catalog_queries
from store.catalog.models import Bundle, Course, Publisher
from store.paging import Paged
from store.errors import InvalidInput
from store.licenses.models import PlusSubscription, PpuConfig, PpuLibraryEntry, VolumeLot
from store.licenses.labels import LICENSE_TYPES

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
MAX_QUERY_CHARS = 200


# ---------------------------------------------------------------- the pure rule


@dataclass(frozen=True)
class CourseTraits:
    """What decides a course's license types."""

    id: int
    is_plus: bool
    status: str
    is_subscription_only_bundle: bool


@dataclass(frozen=True)
class Holdings:
    """The account's licenses valid now. ``volume_course_ids`` / ``ppu_library_ids`` hold (at
    least) the courses asked about."""

    has_plus: bool
    volume_course_ids: frozenset[int]
    ppu_enabled: bool
    ppu_library_ids: frozenset[int]


def license_types_for(course: CourseTraits, holdings: Holdings) -> tuple[str, ...]:
    """The license types the course can be delivered under now, in the order plus, volume, ppu."""
    if course.status == "retired":
        return ()
    types: list[str] = []
    if holdings.has_plus and course.is_plus:
        types.append("plus")
    if not course.is_subscription_only_bundle:
        if course.id in holdings.volume_course_ids:
            types.append("volume")
        if holdings.ppu_enabled and course.id in holdings.ppu_library_ids:
            types.append("ppu")
    return tuple(types)


# ---------------------------------------------------------------- reads


@dataclass(frozen=True)
class CourseOffer:
    """A course with the license types it can be delivered under now (``course_id`` is the
    catalog id)."""

    course_id: str
    title: str
    publisher: str
    description: str
    license_types: tuple[str, ...]

    @property
    def is_ambiguous(self) -> bool:
        return len(self.license_types) > 1


@dataclass(frozen=True)
class OfferPage(Paged):
    query: str
    license_type: str | None
    offers: tuple[CourseOffer, ...]
    total: int
    page: int
    per_page: int
    held_types: tuple[str, ...]  # the license types the account holds at all now


def _valid_lots(account_id: int, now: datetime) -> Select[tuple[int]]:
    return select(VolumeLot.course_id).where(
        VolumeLot.account_id == account_id, VolumeLot.purchased_at <= now, VolumeLot.expires_at > now
    )


def _library(account_id: int) -> Select[tuple[int]]:
    return select(PpuLibraryEntry.course_id).where(PpuLibraryEntry.account_id == account_id)


def _has_active_plus(session: Session, account_id: int, now: datetime) -> bool:
    return session.scalars(
        select(PlusSubscription.id).where(PlusSubscription.account_id == account_id,
                                          PlusSubscription.started_at <= now,
                                          PlusSubscription.current_period_end > now).limit(1)
    ).first() is not None


def _is_ppu_enabled(session: Session, account_id: int) -> bool:
    return bool(session.scalars(select(PpuConfig.is_enabled).where(PpuConfig.account_id == account_id)).first())


def account_holdings(session: Session, account_id: int, now: datetime, course_ids: Iterable[int]) -> Holdings:
    """The account's valid licenses now, for the given courses (database ids)."""
    now = require_aware(now, "now")
    ids = sorted(set(course_ids))
    volume: frozenset[int] = frozenset()
    library: frozenset[int] = frozenset()
    if ids:
        volume = frozenset(session.scalars(_valid_lots(account_id, now).where(VolumeLot.course_id.in_(ids))))
        library = frozenset(session.scalars(_library(account_id).where(PpuLibraryEntry.course_id.in_(ids))))
    return Holdings(_has_active_plus(session, account_id, now), volume, _is_ppu_enabled(session, account_id), library)


def held_license_types(session: Session, account_id: int, now: datetime) -> tuple[str, ...]:
    """The license types under which the account can deliver at least one course now."""
    now = require_aware(now, "now")
    held = []
    if _has_active_plus(session, account_id, now):
        held.append("plus")
    if session.scalars(_valid_lots(account_id, now).limit(1)).first() is not None:
        held.append("volume")
    if _is_ppu_enabled(session, account_id) and session.scalars(_library(account_id).limit(1)).first() is not None:
        held.append("ppu")
    return tuple(held)


def _offer_columns() -> tuple[Any, ...]:
    courses = Course.__table__
    sub_only = func.coalesce(Bundle.is_subscription_only, false()).label("is_subscription_only")
    return (courses.c.id, courses.c.catalog_id, courses.c.title, Publisher.name.label("publisher"),
            courses.c.description, courses.c.is_plus, courses.c.status, sub_only)


def _offers_from_rows(session: Session, account_id: int, now: datetime,
                      rows: Sequence[Row[Any]]) -> list[CourseOffer]:
    holdings = account_holdings(session, account_id, now, (row.id for row in rows))
    return [
        CourseOffer(row.catalog_id, row.title, row.publisher, row.description or "",
                    license_types_for(CourseTraits(row.id, bool(row.is_plus), row.status,
                                                   bool(row.is_subscription_only)), holdings))
        for row in rows
    ]


def offers_for(session: Session, account_id: int, catalog_ids: Iterable[str], now: datetime) -> dict[str, CourseOffer]:
    """The given courses (by catalog id) with their license types now. Unknown ids are left out;
    a known course the account cannot deliver has empty ``license_types``."""
    ids = sorted({c for c in catalog_ids if isinstance(c, str) and c})
    if not ids:
        return {}
    courses = Course.__table__
    rows = list(session.execute(
        select(*_offer_columns())
        .select_from(courses.join(Publisher, Publisher.id == courses.c.publisher_id)
                     .outerjoin(Bundle, Bundle.id == courses.c.bundle_id))
        .where(courses.c.catalog_id.in_(ids))
    ))
    return {offer.course_id: offer for offer in _offers_from_rows(session, account_id, now, rows)}


def deliverable_license_types(session: Session, account_id: int, catalog_id: str, now: datetime) -> tuple[str, ...]:
    """The license types course ``catalog_id`` can be delivered under for the account now (empty
    for an unknown course)."""
    offer = offers_for(session, account_id, [catalog_id], now).get(catalog_id)
    return offer.license_types if offer else ()


def _deliverable_condition(account_id: int, now: datetime, license_type: str | None, has_plus: bool,
                           ppu_enabled: bool) -> ColumnElement[bool]:
    """SQL for "deliverable under ``license_type`` (any when None)": the same rule as
    :func:`license_types_for`."""
    courses = Course.__table__
    not_sub_only = or_(
        courses.c.bundle_id.is_(None),
        courses.c.bundle_id.not_in(select(Bundle.id).where(Bundle.is_subscription_only.is_(True))),
    )
    wanted = [license_type] if license_type else list(LICENSE_TYPES)
    conditions: list[ColumnElement[bool]] = []
    if "plus" in wanted and has_plus:
        conditions.append(courses.c.is_plus.is_(True))
    if "volume" in wanted:
        conditions.append(and_(courses.c.id.in_(_valid_lots(account_id, now)), not_sub_only))
    if "ppu" in wanted and ppu_enabled:
        conditions.append(and_(courses.c.id.in_(_library(account_id)), not_sub_only))
    if not conditions:
        return false()
    return and_(courses.c.status != "retired", or_(*conditions))


def search_licensed_courses(session: Session, account_id: int, now: datetime, query: str = "", *,
                            license_type: str | None = None, page: int = 1,
                            per_page: int = DEFAULT_PER_PAGE) -> OfferPage:
    """The account's licensed courses: full-text search (the catalog's, same ranking) or, with no
    words, every licensed course in title order; filtered by license type, paged. A page past the
    last one shows the last page. Raises InvalidInput for a bad license type or page."""
    now = require_aware(now, "now")
    if license_type is not None and license_type not in LICENSE_TYPES:
        raise InvalidInput(f"license type must be one of {', '.join(LICENSE_TYPES)}, got {license_type!r}",
                           reason="invalid_license_type")
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidInput(f"page must be 1 or more and per page between 1 and {MAX_PER_PAGE}",
                           reason="invalid_page")
    query = (query or "")[:MAX_QUERY_CHARS]
    held = held_license_types(session, account_id, now)
    condition = _deliverable_condition(account_id, now, license_type, "plus" in held,
                                       _is_ppu_enabled(session, account_id))
    # The catalog's own search (terms parsed safely, FTS5 / tsvector ranking).
    ranked = catalog_queries._rank(session.get_bind().dialect.name, catalog_queries.search_terms(query))
    where = and_(ranked.match, condition)
    total = session.execute(select(func.count()).select_from(ranked.count_source).where(where)).scalar_one()
    page = min(page, max(1, math.ceil(total / per_page)))
    rows: list[Row[Any]] = []
    if total:
        courses = Course.__table__
        rows = list(session.execute(
            select(*_offer_columns())
            .select_from(ranked.source.join(Publisher, Publisher.id == courses.c.publisher_id)
                         .outerjoin(Bundle, Bundle.id == courses.c.bundle_id))
            .where(where)
            .order_by(*ranked.order_by)
            .limit(per_page)
            .offset((page - 1) * per_page)
        ))
    offers = tuple(_offers_from_rows(session, account_id, now, rows))
    return OfferPage(query, license_type, offers, total, page, per_page, held)


__all__ = ["CourseOffer", "CourseTraits", "Holdings", "OfferPage", "account_holdings", "deliverable_license_types",
           "held_license_types", "license_types_for", "offers_for", "search_licensed_courses"]

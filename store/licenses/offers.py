"""The deep-linking picker's reads: the account's deliverable courses, searchable and paged, and
the license types of a selection. Whether a course is deliverable, and under which license
types, is decided by :mod:`store.licenses.holdings` (the rule and its SQL condition); this module
only searches and pages. Read functions take a Session and never commit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, false, func, select
from sqlalchemy.orm import Session

from store.base import require_aware
from store.catalog import queries as catalog_queries
from store.catalog.models import Bundle, Course, Publisher
from store.errors import InvalidInput
from store.licenses import holdings
from store.licenses.labels import LICENSE_TYPES
from store.licenses.rules import CourseFacts
from store.paging import Paged

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
MAX_QUERY_CHARS = 200


@dataclass(frozen=True)
class CourseOffer:
    """A course with the license types it can be delivered under now (``catalog_id`` is the
    catalog id)."""

    catalog_id: str
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


def _offer_columns() -> tuple[Any, ...]:
    courses = Course.__table__
    sub_only = func.coalesce(Bundle.is_subscription_only, false()).label("is_subscription_only")
    return (courses.c.id, courses.c.catalog_id, courses.c.title, Publisher.name.label("publisher"),
            courses.c.description, courses.c.is_plus, courses.c.status, sub_only, courses.c.ppu_price_cents)


def _offers_from_rows(session: Session, account_id: int, now: datetime,
                      rows: Sequence[Row[Any]]) -> list[CourseOffer]:
    facts = [CourseFacts(row.id, bool(row.is_plus), row.status, bool(row.is_subscription_only), row.ppu_price_cents)
             for row in rows]
    verdicts = holdings.deliverabilities(session, account_id, facts, now)
    return [
        CourseOffer(row.catalog_id, row.title, row.publisher, row.description or "",
                    verdicts[row.id].license_types)
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
    return {offer.catalog_id: offer for offer in _offers_from_rows(session, account_id, now, rows)}


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
    held = holdings.held_license_types(session, account_id, now)
    condition = holdings.deliverable_condition(account_id, now, license_type)
    # The catalog's own search (terms parsed safely, FTS5 / tsvector ranking).
    ranked = catalog_queries.course_ranking(session.get_bind().dialect.name, catalog_queries.search_terms(query))
    where = and_(ranked.match, condition)
    total = session.execute(select(func.count()).select_from(ranked.source).where(where)).scalar_one()
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


__all__ = ["CourseOffer", "OfferPage", "offers_for", "search_licensed_courses"]
